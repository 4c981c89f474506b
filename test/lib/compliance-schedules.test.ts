/**
 * Schedules of kind `assessment` (issue 13, item 8): EventBridge Scheduler starts the compliance
 * workflow (a daily read-only assessment) with the rollout's input, no window field and no
 * stopAfter; the role may start it; bad entries fail synth naming the field.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { type RolloutScheduleEntry, RolloutSchedules } from '../../lib/rollout-schedules.js';

const ACCOUNT = '000000000000';
const ROLLOUT_ARN = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Rollout`;
const COMPLIANCE_ARN = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Compliance`;

const daily: RolloutScheduleEntry = {
  name: 'daily-assessment',
  kind: 'assessment',
  schedule: {
    startDate: '2026-01-01',
    daysOfWeek: ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'],
    time: '01:00',
    timeZone: 'UTC',
    windowMinutes: 120,
  },
  rollout: {
    target: {
      kind: 'group',
      name: 'web',
      nodes: [{ name: 'WEB01', instanceId: 'i-0123456789abcdef0' }],
    },
    plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
    policy: { maxRetriesPerNode: 2 },
  },
};

function build(schedules: unknown, withCompliance = true) {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const construct = new RolloutSchedules(stack, 'Schedules', {
    rolloutStateMachine: sfn.StateMachine.fromStateMachineArn(stack, 'Rollout', ROLLOUT_ARN),
    ...(withCompliance
      ? {
          complianceStateMachine: sfn.StateMachine.fromStateMachineArn(
            stack,
            'Compliance',
            COMPLIANCE_ARN,
          ),
        }
      : {}),
    schedules: schedules as RolloutScheduleEntry[],
  });
  return { construct, template: Template.fromStack(stack) };
}

describe('RolloutSchedules: kind assessment', () => {
  it('starts the compliance workflow daily with the rollout input, without a window or stopAfter', () => {
    // Act
    const { template } = build([daily]);
    // Assert
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
      (r) =>
        (r as { Properties: { Target: { Arn: unknown; Input: string }; Description: string } })
          .Properties,
    );
    expect(schedules).toHaveLength(1);
    const [only] = schedules;
    expect(only?.Target.Arn).toBe(COMPLIANCE_ARN);
    expect(JSON.parse(only?.Target.Input ?? '{}')).toEqual(daily.rollout);
    expect(only?.Description).toMatch(/^Compliance assessment daily-assessment: /);
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(COMPLIANCE_ARN);
    expect(policies).not.toContain(ROLLOUT_ARN);
  });

  it('keeps rollout windows on the rollout workflow beside it', () => {
    const window = { ...daily, name: 'window', kind: 'rollout' as const };
    const { template } = build([daily, window]);
    const arns = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
      (r) => (r as { Properties: { Name: string; Target: { Arn: unknown } } }).Properties,
    );
    expect(arns.map((a) => [a.Name, a.Target.Arn])).toEqual([
      ['daily-assessment', COMPLIANCE_ARN],
      ['window', ROLLOUT_ARN],
    ]);
  });

  it.each([
    [
      { ...daily, kind: 'weekly' },
      true,
      /schedules\[0\]\.kind \("weekly"\): expected one of rollout, assessment/,
    ],
    [
      daily,
      false,
      /schedules\[0\]\.kind \("assessment"\): an assessment needs the compliance workflow/,
    ],
    [
      { ...daily, schedule: { ...daily.schedule, daysOfWeek: ['Monday'], intervalWeeks: 2 } },
      true,
      /schedules\[0\]\.schedule\.intervalWeeks \(2\): an assessment runs on every occurrence/,
    ],
    [
      {
        ...daily,
        rollout: { ...daily.rollout, target: { kind: 'group', name: '-web', nodes: [] } },
      },
      true,
      /schedules\[0\]\.rollout\.target\.name \("-web"\)/,
    ],
  ])('refuses %#, naming the field', (entry, withCompliance, message) => {
    expect(() => build([entry], withCompliance)).toThrow(message);
  });
});
