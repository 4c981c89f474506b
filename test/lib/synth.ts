/** Synthesizing the stack for tests, once per process and per variant. */
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_SETTINGS, type RolloutSettings, RolloutStack } from '../../lib/rollout-stack.js';

export interface SynthOptions {
  /** Bundle the Lambdas with esbuild (slow; proves the bundles build). @default false */
  readonly bundle?: boolean;
  /** Run aws-cdk-lib's CloudFormation validation. @default false */
  readonly validate?: boolean;
  /** Add cdk-nag's AWS Solutions checks. @default false */
  readonly nag?: boolean;
  readonly settings?: Partial<RolloutSettings>;
}

const cache = new Map<string, { template: Template; stack: RolloutStack }>();

/** Synthesizes the stack as `bin/app.ts` does, with test account and region. */
export function synth(options: SynthOptions = {}): { template: Template; stack: RolloutStack } {
  const key = JSON.stringify(options);
  const hit = cache.get(key);
  if (hit) return hit;
  const previous = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = options.validate ? 'true' : 'false';
  try {
    const app = new App({
      context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
    });
    const stack = new RolloutStack(
      app,
      'Test',
      { ...DEFAULT_SETTINGS, ...options.settings },
      {
        env: { account: '000000000000', region: 'us-east-1' },
      },
    );
    if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    app.synth();
    const result = { template: Template.fromStack(stack), stack };
    cache.set(key, result);
    return result;
  } finally {
    if (previous === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = previous;
  }
}
