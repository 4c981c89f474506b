/** Synthesizing the stack for tests, once per process and per variant. */
import { readFileSync } from 'node:fs';
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

/** The feature flags `cdk.json` sets (every `@aws-cdk…` context key), as `cdk synth` applies them. */
export const FEATURE_FLAGS: Readonly<Record<string, unknown>> = Object.fromEntries(
  Object.entries(
    (
      JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
        context: Record<string, unknown>;
      }
    ).context,
  ).filter(([key]) => key.startsWith('@aws-cdk')),
);

const cache = new Map<string, { template: Template; stack: RolloutStack }>();

/** Synthesizes the stack as `bin/app.ts` does, with cdk.json's feature flags, test account and region. */
export function synth(options: SynthOptions = {}): { template: Template; stack: RolloutStack } {
  const key = JSON.stringify(options);
  const hit = cache.get(key);
  if (hit) return hit;
  const previous = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = options.validate ? 'true' : 'false';
  try {
    const app = new App({
      context: {
        ...FEATURE_FLAGS,
        ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      },
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
