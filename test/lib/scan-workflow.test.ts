/**
 * ScanWorkflow (lib/scan-workflow.ts) as a construct: its props are checked, and its role may
 * invoke its five functions, run its own maps and read objects of the artifacts bucket (the group
 * map's ItemReader, as CDK grants it: s3:GetObject only), nothing else (no SSM, no S3 write: the
 * functions do the sending and the writing).
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { ScanWorkflow, type ScanWorkflowProps } from '../../lib/scan-workflow.js';

const NAMES = ['validateInput', 'resolveTarget', 'scan', 'sendCommand', 'cancelCommand'] as const;

function build(props: Partial<ScanWorkflowProps> = {}) {
  const stack = new Stack(new App(), 'ScanTest', {
    env: { account: '000000000000', region: 'eu-west-1' },
  });
  const functions = Object.fromEntries(
    NAMES.map((name) => [
      name,
      new lambda.Function(stack, name, {
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('export const handler = async () => ({});'),
      }),
    ]),
  ) as unknown as ScanWorkflowProps['functions'];
  const logGroup = new logs.LogGroup(stack, 'Logs', { removalPolicy: RemovalPolicy.DESTROY });
  const artifactsBucket = new s3.Bucket(stack, 'Artifacts');
  const workflow = new ScanWorkflow(stack, 'Scan', {
    functions,
    logGroup,
    artifactsBucket,
    ...props,
  });
  return { stack, workflow, template: Template.fromStack(stack) };
}

type Json = Record<string, unknown>;
const actionsOf = (s: Json) => [s.Action].flat() as string[];

describe('ScanWorkflow', () => {
  it('refuses bad props, listing every problem', () => {
    expect(() => build({ maxConcurrency: 0, searchTimeout: Duration.seconds(5) })).toThrow(
      'ScanWorkflow: maxConcurrency 0: expected a whole number from 1 to 1000; searchTimeout 5 s: expected 1 minute to 48 hours',
    );
  });

  it('its role invokes its five functions, runs its own maps and reads the bucket, nothing else', () => {
    const { template } = build();
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Json[] } } }).Properties.PolicyDocument
          .Statement,
    );
    const actions = new Set(statements.flatMap(actionsOf));
    for (const action of actions) {
      expect(action).toMatch(/^(lambda:InvokeFunction|states:|xray:|logs:|s3:GetObject$)/);
    }
    const reads = statements.filter((s) => actionsOf(s).includes('s3:GetObject'));
    expect(reads).toHaveLength(1);
    expect(actionsOf(reads[0] as Json)).toEqual(['s3:GetObject']);
    expect(JSON.stringify(reads[0]?.Resource)).toContain('/*');
    expect(actions.has('lambda:InvokeFunction')).toBe(true);
    const invoke = statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    const named = JSON.stringify(invoke);
    for (const name of NAMES) expect(named).toContain(name);
    expect([...actions].some((a) => a.startsWith('ssm:'))).toBe(false);
  });

  it('searches with a task token and a bounded map', () => {
    const { template } = build({ maxConcurrency: 4 });
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    const text = JSON.stringify(machine);
    expect(text).toContain('waitForTaskToken');
    expect(text).toContain('\\"MaxConcurrency\\":4');
    expect(text).toContain('\\"Mode\\":\\"DISTRIBUTED\\"');
  });
});
