/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from cdk.json context; see
 * the README for each one and its default. cdk-nag's AWS Solutions checks run on every synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RolloutStack, readSettings, SettingsError } from '../lib/rollout-stack.js';

const app = new App();
try {
  const settings = readSettings((key) => app.node.tryGetContext(key));
  new RolloutStack(app, settings.namePrefix, settings, {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'Rollout control plane for Windows server fleets and failover clusters',
  });
} catch (error) {
  // Bad context (cdk.json or -c) is the operator's to fix: the message names every key and
  // value; a stack would only hide it. ROLLOUT_DEBUG=1 shows the stack for a bug.
  if (!(error instanceof SettingsError) && process.env.ROLLOUT_DEBUG === '1') throw error;
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
