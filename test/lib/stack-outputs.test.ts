/** Issue 12 §6: the stack outputs everything the README asks the operator for. */
import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synth } from './synth.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('stack outputs', () => {
  const { template } = synth();

  it.each([
    { output: 'ApiUrl', refersTo: 'AWS::ApiGateway::RestApi' },
    { output: 'RolloutStateMachineArn', refersTo: 'AWS::StepFunctions::StateMachine' },
    { output: 'HotfixBucketName', refersTo: 'AWS::S3::Bucket' },
    { output: 'ReleaseRoleArn', refersTo: 'AWS::IAM::Role' },
    { output: 'DashboardName', refersTo: 'AWS::CloudWatch::Dashboard' },
  ])('$output names a $refersTo of the stack, and the README uses it', ({ output, refersTo }) => {
    const outputs = template.findOutputs(output);
    expect(Object.keys(outputs)).toEqual([output]);
    const value = JSON.stringify(outputs[output]?.Value);
    const ids = Object.keys(template.findResources(refersTo));
    expect(ids.some((id) => value.includes(`"${id}"`))).toBe(true);
    expect(README).toContain(output);
  });

  it('by default the release role output is the Arn of the role the stack creates', () => {
    template.hasOutput('ReleaseRoleArn', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } });
  });
});
