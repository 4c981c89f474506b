/**
 * Staging ahead of the windows (issue 13 item 5) as synthesized by RolloutSchedules: an entry
 * whose rollout has staging.hoursBeforeWindow also gets Scheduler schedules, in their own group,
 * that start the staging workflow with the rollout input that many hours before each window,
 * in the window's time zone; a role only Scheduler (this account, that group) may assume, which
 * may only start the staging workflow.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { type RolloutScheduleEntry, RolloutSchedules } from '../../lib/rollout-schedules.js';

const ACCOUNT = '000000000000';
const ROLLOUT_ARN = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Rollout`;
const STAGING_ARN = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Staging`;

const rollout = (hoursBeforeWindow?: number) => ({
  target: {
    kind: 'cluster' as const,
    name: 'CLUSTER1',
    nodes: [
      { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
      { name: 'NODE2', instanceId: 'i-0123456789abcdef1' },
    ],
  },
  ...(hoursBeforeWindow === undefined ? {} : { staging: { maxConcurrency: 2, hoursBeforeWindow } }),
});

const tuesdayNight: RolloutScheduleEntry = {
  name: 'tuesday-night',
  schedule: {
    startDate: '2026-01-01',
    daysOfWeek: ['Tuesday', 'Saturday'],
    time: '01:00',
    timeZone: 'Europe/Paris',
    windowMinutes: 240,
  },
  rollout: rollout(3),
};
const secondTuesday: RolloutScheduleEntry = {
  name: 'second-tuesday',
  schedule: {
    startDate: '2026-01-01',
    daysOfWeek: ['Tuesday'],
    weeksOfMonth: [2],
    time: '01:00',
    timeZone: 'America/New_York',
    windowMinutes: 120,
  },
  rollout: rollout(3),
  paused: true,
};
const noStaging: RolloutScheduleEntry = {
  name: 'no-staging',
  schedule: { ...tuesdayNight.schedule, daysOfWeek: ['Friday'] },
  rollout: rollout(),
};

function build(schedules: RolloutScheduleEntry[], withStaging = true) {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const construct = new RolloutSchedules(stack, 'Schedules', {
    rolloutStateMachine: sfn.StateMachine.fromStateMachineArn(stack, 'Rollout', ROLLOUT_ARN),
    ...(withStaging
      ? { stagingStateMachine: sfn.StateMachine.fromStateMachineArn(stack, 'Staging', STAGING_ARN) }
      : {}),
    schedules,
  });
  return { stack, construct, template: Template.fromStack(stack) };
}

interface ScheduleProperties {
  readonly Name: string;
  readonly GroupName: unknown;
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone: string;
  readonly State: string;
  readonly Target: {
    Arn: unknown;
    Input: string;
    RoleArn: unknown;
    RetryPolicy: { MaximumEventAgeInSeconds: number };
  };
}
const schedulesOf = (template: Template) =>
  Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
    (r) => (r as { Properties: ScheduleProperties }).Properties,
  );
const stagingSchedules = (template: Template) =>
  schedulesOf(template).filter((p) => p.Target.Arn === STAGING_ARN);

describe('RolloutSchedules: staging before the window', () => {
  const { stack, construct, template } = build([tuesdayNight, secondTuesday, noStaging]);
  const staging = construct.staging;

  it('starts the staging workflow 3 hours before a 01:00 window: 22:00 the day before, in the same time zone', () => {
    const found = stagingSchedules(template).find((p) => p.Name === 'tuesday-night-stg');
    expect(found).toMatchObject({
      ScheduleExpression: 'cron(0 22 ? * MON,FRI *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'ENABLED',
    });
    // The window itself is unchanged, on the rollout workflow.
    const window = schedulesOf(template).find(
      (p) => p.Name === 'tuesday-night' && p.Target.Arn === ROLLOUT_ARN,
    );
    expect(window?.ScheduleExpression).toBe('cron(0 1 ? * TUE,SAT *)');
  });

  it("sends the rollout's own input, without the window's trigger, and gives up once the window opens", () => {
    const found = stagingSchedules(template).find((p) => p.Name === 'tuesday-night-stg');
    const input = JSON.parse(found?.Target.Input ?? '{}') as Record<string, unknown>;
    expect(input.target).toEqual(tuesdayNight.rollout.target);
    expect(input.staging).toEqual({ maxConcurrency: 2, hoursBeforeWindow: 3 });
    expect(input.schedule).toBeUndefined();
    expect(found?.Target.RetryPolicy.MaximumEventAgeInSeconds).toBe(3 * 3600);
  });

  it('makes nothing for an entry without hoursBeforeWindow, and keeps a paused entry disabled', () => {
    const names = stagingSchedules(template).map((p) => [p.Name, p.State]);
    expect(names.sort()).toEqual([
      ['second-tuesday-stg', 'DISABLED'],
      ['tuesday-night-stg', 'ENABLED'],
    ]);
  });

  it('puts them in their own group, which only Scheduler from this account may use with the role', () => {
    const groupId = stack.getLogicalId(staging?.scheduleGroup.node.defaultChild as never);
    const groupName = stack.resolve(staging?.scheduleGroup.scheduleGroupName);
    expect(groupName).not.toEqual(stack.resolve(construct.scheduleGroup.scheduleGroupName));
    for (const p of stagingSchedules(template)) expect(p.GroupName).toEqual(groupName);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: {
              StringEquals: {
                'aws:SourceAccount': ACCOUNT,
                'aws:SourceArn': { 'Fn::GetAtt': [groupId, 'Arn'] },
              },
            },
          }),
        ],
      },
    });
  });

  it('allows the staging role only states:StartExecution on the staging workflow', () => {
    const roleId = stack.getLogicalId(staging?.role.node.defaultChild as never);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .map((r) => r as { Properties: { Roles: unknown; PolicyDocument: { Statement: unknown[] } } })
      .filter((r) => JSON.stringify(r.Properties.Roles).includes(roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: STAGING_ARN },
    ]);
    for (const p of stagingSchedules(template)) {
      expect(p.Target.RoleArn).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    }
  });

  it('warns where cron fires on a superset: the second Tuesday moved to Monday night', () => {
    const found = stagingSchedules(template).find((p) => p.Name === 'second-tuesday-stg');
    expect(found).toMatchObject({
      ScheduleExpression: 'cron(0 22 ? * MON *)',
      ScheduleExpressionTimezone: 'America/New_York',
    });
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('second-tuesday: cron cannot say "3 hours before"'),
    );
    expect(warnings).toHaveLength(1);
    expect(
      Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('tuesday-night: cron')),
    ).toEqual([]);
  });

  it('passes the AWS Solutions checks with nothing acknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
  });

  it('makes no staging group or role when no entry asks for staging', () => {
    const { construct: plain, template: t } = build([noStaging]);
    expect(plain.staging).toBeUndefined();
    expect(stagingSchedules(t)).toEqual([]);
    t.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
  });

  it('names one staging schedule per expression when the weeks of the month stay on their day', () => {
    const { template: t } = build([
      {
        ...secondTuesday,
        name: 'second-and-fourth',
        schedule: { ...secondTuesday.schedule, time: '05:00', weeksOfMonth: [2, 4] },
      },
    ]);
    expect(
      stagingSchedules(t)
        .map((p) => [p.Name, p.ScheduleExpression])
        .sort(),
    ).toEqual([
      ['second-and-fourth-stg1', 'cron(0 2 ? * 3#2 *)'],
      ['second-and-fourth-stg2', 'cron(0 2 ? * 3#4 *)'],
    ]);
  });

  it('refuses two entries whose staging names would be the same, naming both', () => {
    const long = 'x'.repeat(56);
    expect(() =>
      build([
        { ...tuesdayNight, name: `${long}-a` },
        { ...tuesdayNight, name: `${long}-b` },
      ]),
    ).toThrow(/schedules x+-b and x+-a: both stage under the schedule name x{56}-stg/);
  });

  it('refuses hoursBeforeWindow without a staging workflow, naming the field and the value', () => {
    expect(() => build([noStaging, tuesdayNight], false)).toThrow(
      /schedules\[1\]\.rollout\.staging\.hoursBeforeWindow \(3\): asks for staging before each window/,
    );
  });
});
