/**
 * The scheduled self-updating windows as synthesized: one Scheduler schedule per cron
 * expression in the schedule's time zone, paused as DISABLED, a role only Scheduler (this
 * account, this group) may assume that may only start the rollout workflow, and an input the
 * rollout workflow accepts, with stopAfter from the window.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseRolloutInput } from '../../lambdas/core/rollout-input.js';
import { parseSchedule, scheduleTriggerSchema, shouldRunAt } from '../../lambdas/core/schedule.js';
import { type RolloutScheduleEntry, RolloutSchedules } from '../../lib/rollout-schedules.js';

const ACCOUNT = '000000000000';
const STATE_MACHINE_ARN = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Rollout`;

const CLUSTER = {
  kind: 'cluster',
  name: 'CLUSTER1',
  nodes: [
    { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
    { name: 'NODE2', instanceId: 'i-0123456789abcdef1' },
  ],
} as const;

const patchTuesday: RolloutScheduleEntry = {
  name: 'patch-tuesday',
  schedule: {
    startDate: '2026-01-01',
    daysOfWeek: ['Tuesday'],
    weeksOfMonth: [2],
    time: '03:00',
    timeZone: 'Europe/Paris',
    windowMinutes: 240,
  },
  rollout: {
    target: { ...CLUSTER, nodes: [...CLUSTER.nodes] },
    policy: { warnAfter: 180, maxRetriesPerNode: 2 },
    changeTicket: { system: 'ServiceNow', id: 'CHG0031337' },
  },
};

const everyOtherSaturday: RolloutScheduleEntry = {
  name: 'every-other-saturday',
  schedule: {
    startDate: '2026-01-03',
    daysOfWeek: ['Saturday'],
    intervalWeeks: 2,
    time: '22:30',
    timeZone: 'America/New_York',
    windowMinutes: 120,
  },
  rollout: {
    target: {
      kind: 'group',
      name: 'web',
      nodes: [{ name: 'WEB1', instanceId: 'i-0123456789abcdef2' }],
    },
  },
  paused: true,
};

const firstAndThirdSunday: RolloutScheduleEntry = {
  name: 'sundays',
  schedule: {
    startDate: '2026-01-01',
    daysOfWeek: ['Sunday'],
    weeksOfMonth: [1, 3],
    time: '02:30',
    timeZone: 'Europe/Paris',
    windowMinutes: 60,
    enabled: false,
  },
  rollout: { target: { ...CLUSTER, nodes: [...CLUSTER.nodes] } },
};

function build(schedules: unknown, scheduleGroupName?: string) {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const rolloutStateMachine = sfn.StateMachine.fromStateMachineArn(
    stack,
    'Rollout',
    STATE_MACHINE_ARN,
  );
  const construct = new RolloutSchedules(stack, 'Schedules', {
    rolloutStateMachine,
    schedules: schedules as RolloutScheduleEntry[],
    ...(scheduleGroupName === undefined ? {} : { scheduleGroupName }),
  });
  return { stack, construct, template: Template.fromStack(stack) };
}

/** The properties of an AWS::Scheduler::Schedule that the tests read. */
interface ScheduleProperties {
  readonly Name: string;
  readonly GroupName: unknown;
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone: string;
  readonly State: string;
  readonly FlexibleTimeWindow: unknown;
  readonly StartDate?: unknown;
  readonly Target: { Arn: unknown; Input: string; RetryPolicy: unknown; RoleArn: unknown };
}
interface Resource {
  readonly Type: string;
  readonly Properties: {
    readonly Roles?: unknown;
    readonly PolicyDocument?: { Statement: unknown[] };
    readonly Policies?: unknown;
    readonly ManagedPolicyArns?: unknown;
  };
}
/** The rollout input a schedule sends (JSON). */
type Input = { schedule: Record<string, unknown> } & Record<string, unknown>;

const resourcesOf = (template: Template) =>
  (template.toJSON() as { Resources: Record<string, Resource> }).Resources;
const schedulesOf = (template: Template) =>
  Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
    (r) => (r as { Properties: ScheduleProperties }).Properties,
  );
const byName = (template: Template, name: string) => {
  const found = schedulesOf(template).find((p) => p.Name === name);
  if (!found) throw new Error(`no schedule named ${name}`);
  return found;
};
const inputOf = (properties: ScheduleProperties) => JSON.parse(properties.Target.Input) as Input;

describe('RolloutSchedules', () => {
  const { stack, construct, template } = build([
    patchTuesday,
    everyOtherSaturday,
    firstAndThirdSunday,
  ]);

  it('makes one Scheduler schedule per cron expression, in the schedule group', () => {
    expect(schedulesOf(template).map((p) => [p.Name, p.ScheduleExpression])).toEqual([
      ['patch-tuesday', 'cron(0 3 ? * 3#2 *)'],
      ['every-other-saturday', 'cron(30 22 ? * SAT *)'],
      ['sundays-1', 'cron(30 2 ? * 1#1 *)'],
      ['sundays-2', 'cron(30 2 ? * 1#3 *)'],
    ]);
    const groupId = stack.getLogicalId(construct.scheduleGroup.node.defaultChild as never);
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.hasResource('AWS::Scheduler::ScheduleGroup', { DeletionPolicy: 'Delete' });
    for (const p of schedulesOf(template)) {
      expect(p.GroupName).toEqual(
        (resourcesOf(template)[groupId]?.Properties as { Name?: unknown } | undefined)?.Name,
      );
    }
    expect(construct.triggers.map((t) => t.entry)).toEqual([
      'patch-tuesday',
      'every-other-saturday',
      'sundays',
      'sundays',
    ]);
  });

  it.each([
    { name: 'patch-tuesday', timeZone: 'Europe/Paris', state: 'ENABLED', maxAge: 240 * 60 },
    { name: 'every-other-saturday', timeZone: 'America/New_York', state: 'DISABLED', maxAge: 7200 },
    { name: 'sundays-1', timeZone: 'Europe/Paris', state: 'DISABLED', maxAge: 3600 },
  ])(
    '$name: time zone $timeZone, $state, no flexible window, retries until the window closes',
    ({ name, timeZone, state, maxAge }) => {
      const p = byName(template, name);
      expect(p.ScheduleExpressionTimezone).toBe(timeZone);
      expect(p.State).toBe(state);
      expect(p.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
      expect(p.StartDate).toBeUndefined();
      expect(p.Target.Arn).toBe(STATE_MACHINE_ARN);
      expect(p.Target.RetryPolicy).toEqual({
        MaximumEventAgeInSeconds: maxAge,
        MaximumRetryAttempts: 185,
      });
      expect(p.Target.RoleArn).toEqual({
        'Fn::GetAtt': [stack.getLogicalId(construct.role.node.defaultChild as never), 'Arn'],
      });
    },
  );

  it('gives the rollout input stopAfter from the window and the trigger the run checks', () => {
    // Arrange
    const input = inputOf(byName(template, 'patch-tuesday'));
    // Act
    const { schedule: trigger, ...rollout } = input;
    const resolved = parseRolloutInput(rollout, new Date('2026-01-13T02:00:00Z'));
    // Assert
    expect(rollout.policy).toEqual({ warnAfter: 180, maxRetriesPerNode: 2, stopAfter: 'PT240M' });
    expect(rollout.changeTicket).toEqual({ system: 'ServiceNow', id: 'CHG0031337' });
    expect(resolved.policy.stopAfterMinutes).toBe(240);
    expect(resolved.deadlines.stopAt).toBe('2026-01-13T06:00:00.000Z');
    expect(trigger).toEqual({
      name: 'patch-tuesday',
      expression: 'cron(0 3 ? * 3#2 *)',
      scheduledTime: '<aws.scheduler.scheduled-time>',
      definition: patchTuesday.schedule,
    });
    // What Scheduler sends once it fills in the scheduled time.
    const sent = scheduleTriggerSchema.parse({
      ...trigger,
      scheduledTime: '2026-01-13T02:00:00Z',
    });
    expect(shouldRunAt(parseSchedule(sent.definition), new Date(sent.scheduledTime)).run).toBe(
      true,
    );
  });

  it('carries the every-other-week guard, which refuses the off weeks cron fires on', () => {
    const { schedule: trigger } = inputOf(byName(template, 'every-other-saturday'));
    expect(trigger.guard).toEqual({
      kind: 'intervalWeeks',
      every: 2,
      anchorWeekStart: '2025-12-28',
    });
    const definition = parseSchedule(trigger.definition);
    // Sat 2026-01-17 22:30 EST is an on week; Sat 2026-01-10 is not.
    expect(shouldRunAt(definition, new Date('2026-01-18T03:30:00Z')).run).toBe(true);
    expect(shouldRunAt(definition, new Date('2026-01-11T03:30:00Z'))).toMatchObject({
      run: false,
      reason: 'notAnOccurrence',
    });
  });

  it('lets Scheduler alone assume the role, from this account and this schedule group', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: {
              StringEquals: {
                'aws:SourceAccount': ACCOUNT,
                'aws:SourceArn': {
                  'Fn::GetAtt': [
                    stack.getLogicalId(construct.scheduleGroup.node.defaultChild as never),
                    'Arn',
                  ],
                },
              },
            },
          },
        ],
      },
    });
  });

  it('allows the role only states:StartExecution on the rollout state machine', () => {
    const roleId = stack.getLogicalId(construct.role.node.defaultChild as never);
    const resources = resourcesOf(template);
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      .filter((r) => JSON.stringify(r.Properties.Roles ?? []).includes(roleId))
      .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? []);
    expect(statements).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: STATE_MACHINE_ARN },
    ]);
    const role = resources[roleId] as Resource;
    expect(role.Properties.Policies).toBeUndefined();
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('alarms when Scheduler drops a scheduled run', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Scheduler',
      MetricName: 'InvocationDroppedCount',
      Dimensions: [{ Name: 'ScheduleGroup', Value: Match.anyValue() }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('warns when a time falls in a DST gap (Scheduler skips it): 02:30 Paris on Sundays', () => {
    // Paris changes on the last Sunday of March (>= the 25th): never a first or third Sunday.
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('does not exist'))).toEqual([]);
    const { stack: gapStack } = build([
      {
        ...firstAndThirdSunday,
        schedule: { ...firstAndThirdSunday.schedule, weeksOfMonth: [5] },
      },
    ]);
    const warnings = Annotations.fromStack(gapStack).findWarning(
      '/Test/Schedules',
      Match.stringLikeRegexp('02:30 does not exist in Europe/Paris.*2026-03-29'),
    );
    expect(warnings).toHaveLength(1);
  });

  it('passes the AWS Solutions checks with nothing acknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });
});

describe('RolloutSchedules: invalid props fail synth with every problem named', () => {
  it.each([
    { schedules: [], message: /schedules \(\[\]\): expected a non-empty list/ },
    { schedules: 'nightly', message: /schedules \("nightly"\): expected a non-empty list/ },
  ])('$schedules', ({ schedules, message }) => {
    expect(() => build(schedules)).toThrow(message);
  });

  it('names a bad schedule group name with the rest', () => {
    expect(() => build([], 'rollouts/nightly')).toThrow(
      /scheduleGroupName \("rollouts\/nightly"\): expected 1 to 64 letters[\s\S]*schedules \(\[\]\)/,
    );
    const { template } = build([patchTuesday], 'windows-rollout');
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'windows-rollout' });
  });

  it('reports schedule, rollout and entry problems together, with their paths', () => {
    // Arrange
    const bad = [
      {
        ...patchTuesday,
        schedule: { ...patchTuesday.schedule, intervalWeeks: 2, time: '25:00' },
        rollout: { ...patchTuesday.rollout, runId: 'fixed', policy: { stopAfter: 'PT1H' } },
      },
      { ...everyOtherSaturday, name: 'PATCH-TUESDAY', paused: 'yes', extra: 1 },
      {
        name: 'bad name!',
        schedule: { ...everyOtherSaturday.schedule, windowMinutes: 60 },
        rollout: {
          target: { kind: 'cluster', name: 'C1', nodes: [] },
          policy: { warnAfter: 90 },
        },
      },
      'not an entry',
    ];
    // Act
    let message = '';
    try {
      build(bad);
    } catch (error) {
      message = (error as Error).message;
    }
    // Assert
    expect(message).toMatch(/^RolloutSchedules: invalid props \(\d+ problems\):/);
    for (const line of [
      'schedules[0].schedule.intervalWeeks (2): cannot be combined with weeksOfMonth',
      'schedules[0].schedule.time ("25:00"): expected a time of day HH:MM',
      'schedules[0].rollout.runId ("fixed"): a schedule starts many runs',
      'schedules[0].rollout.policy.stopAfter ("PT1H"): the window sets stopAfter: set schedule.windowMinutes instead',
      'schedules[1].extra (1): unknown field; accepted fields: name, schedule, rollout, paused',
      'schedules[1].name ("PATCH-TUESDAY"): same name as schedules[0].name',
      'schedules[1].paused ("yes"): expected true or false',
      'schedules[2].name ("bad name!"): expected 1 to 60 letters',
      'schedules[2].rollout.target.nodes ([]): expected at least one node',
      'schedules[2].rollout.policy.warnAfter (90): must be less than stopAfter; warnAfter is 90 minutes, stopAfter 60 (stopAfter is schedule.windowMinutes)',
      'schedules[3] ("not an entry"): expected { name, schedule, rollout, paused? }',
    ]) {
      expect(message).toContain(line);
    }
  });

  it('refuses a target.resolution, which only the workflow sets (read-only, as the API refuses it)', () => {
    const resolution = {
      by: 'tags',
      selector: 'tag:Env=prod',
      count: 500,
      skipped: 0,
      resolvedAt: '2026-12-05T08:00:00.000Z',
    };
    expect(() =>
      build([
        {
          ...patchTuesday,
          rollout: {
            ...patchTuesday.rollout,
            target: { ...patchTuesday.rollout.target, resolution },
          },
        },
      ]),
    ).toThrow(
      /schedules\[0\]\.rollout\.target\.resolution .*set by the workflow when it resolves target\.select; leave it out/,
    );
  });

  it('refuses a rollout the workflow would refuse (checked as the workflow will)', () => {
    expect(() =>
      build([
        {
          ...patchTuesday,
          rollout: {
            target: patchTuesday.rollout.target,
            plugins: [{ name: 'Microsoft.HotfixPlugin' }],
          },
        },
      ]),
    ).toThrow(/schedules\[0\]\.rollout\.plugins\[0\]\.arguments.*HotfixRootFolderPath/);
  });
});
