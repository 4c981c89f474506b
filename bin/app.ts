/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from cdk.json context; see
 * the README for each one and its default. cdk-nag's AWS Solutions checks run on every synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RolloutStack, readSettings } from '../lib/rollout-stack.js';

const app = new App();
const settings = readSettings((key) => app.node.tryGetContext(key));
new RolloutStack(app, settings.namePrefix, settings, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Rollout control plane for Windows server fleets and failover clusters',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
