import { Annotations, Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { formatProblems, type ValidationProblem } from '../lambdas/core/errors.js';
import {
  parseRolloutInput,
  type RolloutInput,
  RolloutInputError,
} from '../lambdas/core/rollout-input.js';
import type { RunPolicyInput } from '../lambdas/core/run-policy.js';
import {
  describeSchedule,
  parseSchedule,
  SCHEDULE_KINDS,
  type Schedule,
  ScheduleError,
  type ScheduleInput,
  type ScheduleKind,
  type ScheduleTrigger,
  skippedDates,
  toScheduleInput,
  toSchedulerExpressions,
} from '../lambdas/core/schedule.js';
import { addStagingSchedules, stagingProblems } from './staging-schedules.js';

/** A rollout started by a schedule: no run id (each run gets its own), no stopAfter (the window). */
export type ScheduledRollout = Omit<RolloutInput, 'runId' | 'policy' | 'schedule'> & {
  readonly policy?: Omit<RunPolicyInput, 'stopAfter'>;
};

/** One scheduled self-updating window and the rollout it starts. */
export interface RolloutScheduleEntry {
  /**
   * Names the Scheduler schedules: `<name>`, or `<name>-1`, `<name>-2`, ... when cron needs
   * several expressions. 1 to 60 letters, digits, `.`, `-`, `_`, starting with a letter or
   * digit; unique (case-insensitively) among the entries.
   */
  readonly name: string;
  /** CAU's self-updating schedule, see {@link ScheduleInput}. */
  readonly schedule: ScheduleInput;
  /**
   * The rollout workflow's input, as the console would send it, without `runId` and without
   * `policy.stopAfter`: the window sets it to `schedule.windowMinutes`.
   */
  readonly rollout: ScheduledRollout;
  /**
   * Keeps the Scheduler schedules but disables them (`State: DISABLED`), as
   * `Disable-CauClusterRole` does; `schedule.enabled: false` does the same.
   * @default false
   */
  readonly paused?: boolean;
  /**
   * What the schedule starts: the rollout, or a read-only compliance assessment of its target
   * (issue 13, item 8; the compliance workflow scans with the rollout's plug-ins and selection,
   * records each node's compliance and installs nothing). An assessment's window only bounds how
   * late Scheduler may still start it; `intervalWeeks` other than 1 is not accepted for it.
   * @default 'rollout'
   */
  readonly kind?: ScheduleKind;
}

/** Props of {@link RolloutSchedules}. */
export interface RolloutSchedulesProps {
  /** The rollout workflow the schedules start. */
  readonly rolloutStateMachine: sfn.IStateMachine;
  /**
   * The compliance workflow that `assessment` schedules start.
   * @default - none: an entry of kind assessment fails synth
   */
  readonly complianceStateMachine?: sfn.IStateMachine;
  /**
   * The staging workflow: an entry whose rollout has `staging.hoursBeforeWindow` also starts it
   * that many hours before each window (lib/staging-schedules.ts).
   * @default - none: an entry with staging.hoursBeforeWindow is refused
   */
  readonly stagingStateMachine?: sfn.IStateMachine;
  /** The schedules, at least one. Checked at synth: every problem in one error. */
  readonly schedules: readonly RolloutScheduleEntry[];
  /**
   * The Scheduler schedule group's name.
   * @default - a name CloudFormation generates
   */
  readonly scheduleGroupName?: string;
}

/** One Scheduler schedule made for an entry: one of the entry's cron expressions. */
export interface ScheduledTrigger {
  readonly entry: string;
  readonly expression: string;
  readonly schedule: scheduler.Schedule;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$/;
const ENTRY_FIELDS = ['name', 'schedule', 'rollout', 'paused', 'kind'];
/** Scheduler's MaximumEventAgeInSeconds goes from 60 s to a day. */
const MAX_EVENT_AGE = Duration.hours(24);
/** How far ahead of startDate to look for days that lose their window to a DST gap. */
const DST_LOOKAHEAD_DAYS = 2 * 366;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const prefixed = (prefix: string, problems: readonly ValidationProblem[]) =>
  problems.map((p) => ({
    ...p,
    field: p.field.startsWith('(') ? prefix : `${prefix}.${p.field}`,
  }));

export interface CheckedEntry {
  readonly name: string;
  readonly schedule: Schedule;
  readonly rollout: Record<string, unknown>;
  readonly paused: boolean;
  readonly kind: ScheduleKind;
}

/** Checks the props; returns the entries, or throws one error listing every problem. */
function checkProps(props: RolloutSchedulesProps): CheckedEntry[] {
  const problems: ValidationProblem[] = [];
  const { schedules: entries, scheduleGroupName } = props;
  if (scheduleGroupName !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(scheduleGroupName)) {
    problems.push({
      field: 'scheduleGroupName',
      value: scheduleGroupName,
      message: 'expected 1 to 64 letters, digits, ".", "-" or "_"',
    });
  }
  if (!Array.isArray(entries) || entries.length === 0) {
    problems.push({
      field: 'schedules',
      value: entries,
      message:
        'expected a non-empty list of { name, schedule, rollout, paused? }; leave RolloutSchedules out when there are none',
    });
    throw new Error(formatProblems('RolloutSchedules: invalid props', problems));
  }
  const checked: CheckedEntry[] = [];
  const names = new Map<string, number>();
  entries.forEach((entry: unknown, i) => {
    const at = `schedules[${i}]`;
    if (!isRecord(entry)) {
      problems.push({
        field: at,
        value: entry,
        message: 'expected { name, schedule, rollout, paused? }',
      });
      return;
    }
    const before = problems.length;
    for (const key of Object.keys(entry)) {
      if (!ENTRY_FIELDS.includes(key)) {
        problems.push({
          field: `${at}.${key}`,
          value: entry[key],
          message: `unknown field; accepted fields: ${ENTRY_FIELDS.join(', ')}`,
        });
      }
    }
    const { name, paused } = entry;
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      problems.push({
        field: `${at}.name`,
        value: name,
        message:
          'expected 1 to 60 letters, digits, ".", "-" or "_", starting with a letter or digit',
      });
    } else {
      const first = names.get(name.toLowerCase());
      if (first === undefined) names.set(name.toLowerCase(), i);
      else {
        problems.push({
          field: `${at}.name`,
          value: name,
          message: `same name as schedules[${first}].name (names compare case-insensitively)`,
        });
      }
    }
    if (paused !== undefined && typeof paused !== 'boolean') {
      problems.push({ field: `${at}.paused`, value: paused, message: 'expected true or false' });
    }

    let schedule: Schedule | undefined;
    try {
      schedule = parseSchedule(entry.schedule);
    } catch (error) {
      if (!(error instanceof ScheduleError)) throw error;
      problems.push(...prefixed(`${at}.schedule`, error.problems));
    }
    const kind = checkKind(entry.kind, schedule, props, at, problems);
    const rollout = checkRollout(entry.rollout, schedule, `${at}.rollout`, problems);
    problems.push(...stagingProblems(rollout, `${at}.rollout`, props.stagingStateMachine));
    if (problems.length === before && schedule && rollout && typeof name === 'string') {
      checked.push({
        name,
        schedule,
        // An assessment installs nothing and has no window to stop: its input is the rollout's.
        rollout: kind === 'assessment' ? withoutStopAfter(rollout) : rollout,
        paused: paused === true,
        kind,
      });
    }
  });
  if (problems.length > 0) {
    throw new Error(formatProblems('RolloutSchedules: invalid props', problems));
  }
  return checked;
}

/** The schedule's kind (issue 13, item 8), checked against the props and the schedule. */
function checkKind(
  kind: unknown,
  schedule: Schedule | undefined,
  props: RolloutSchedulesProps,
  at: string,
  problems: ValidationProblem[],
): ScheduleKind {
  if (kind === undefined) return 'rollout';
  if (!SCHEDULE_KINDS.includes(kind as ScheduleKind)) {
    problems.push({
      field: `${at}.kind`,
      value: kind,
      message: `expected one of ${SCHEDULE_KINDS.join(', ')}`,
    });
    return 'rollout';
  }
  if (kind === 'assessment' && props.complianceStateMachine === undefined) {
    problems.push({
      field: `${at}.kind`,
      value: kind,
      message: 'an assessment needs the compliance workflow: give complianceStateMachine',
    });
  }
  if (kind === 'assessment' && schedule !== undefined && schedule.intervalWeeks !== 1) {
    problems.push({
      field: `${at}.schedule.intervalWeeks`,
      value: schedule.intervalWeeks,
      message:
        'an assessment runs on every occurrence of its days: use 1 (or daysOfWeek / weeksOfMonth)',
    });
  }
  return kind as ScheduleKind;
}

/** The input without the stopAfter the window adds (an assessment has no window to stop). */
function withoutStopAfter(rollout: Record<string, unknown>): Record<string, unknown> {
  const { stopAfter: _stopAfter, ...policy } = (rollout.policy ?? {}) as Record<string, unknown>;
  const { policy: _policy, ...rest } = rollout;
  return Object.keys(policy).length === 0 ? rest : { ...rest, policy };
}

/** Checks a rollout as the workflow will (with stopAfter from the window); returns its input. */
function checkRollout(
  rollout: unknown,
  schedule: Schedule | undefined,
  at: string,
  problems: ValidationProblem[],
): Record<string, unknown> | undefined {
  if (!isRecord(rollout)) {
    problems.push({
      field: at,
      value: rollout,
      message: 'expected the rollout input: { target, plugins?, policy?, ... }',
    });
    return undefined;
  }
  const before = problems.length;
  const policy = rollout.policy;
  if (rollout.runId !== undefined) {
    problems.push({
      field: `${at}.runId`,
      value: rollout.runId,
      message:
        'a schedule starts many runs, each with its own run id (the execution name): leave it out',
    });
  }
  if (rollout.schedule !== undefined) {
    problems.push({
      field: `${at}.schedule`,
      value: rollout.schedule,
      message: 'set by the schedule itself: leave it out',
    });
  }
  // Read-only in the published schema (as POST /rollouts refuses it): only the workflow's
  // ResolveTarget state says how a selection was resolved.
  if (isRecord(rollout.target) && Object.hasOwn(rollout.target, 'resolution')) {
    problems.push({
      field: `${at}.target.resolution`,
      value: rollout.target.resolution,
      message: 'set by the workflow when it resolves target.select; leave it out',
    });
  }
  if (isRecord(policy) && policy.stopAfter !== undefined) {
    problems.push({
      field: `${at}.policy.stopAfter`,
      value: policy.stopAfter,
      message: 'the window sets stopAfter: set schedule.windowMinutes instead',
    });
  }
  if (problems.length > before) return undefined;
  // A policy that is no object is left as it is, for the rollout's own check to report.
  const input =
    policy === undefined || isRecord(policy)
      ? {
          ...rollout,
          policy: { ...policy, ...(schedule ? { stopAfter: `PT${schedule.windowMinutes}M` } : {}) },
        }
      : rollout;
  try {
    // The date is irrelevant: only deadlines depend on it, and they are not kept.
    parseRolloutInput(input, new Date(0));
  } catch (error) {
    if (!(error instanceof RolloutInputError)) throw error;
    problems.push(
      ...prefixed(at, error.problems).map((p) =>
        /^.*\.policy\.warnAfter$/.test(p.field) && schedule
          ? { ...p, message: `${p.message} (stopAfter is schedule.windowMinutes)` }
          : p,
      ),
    );
    return undefined;
  }
  return input;
}

/**
 * Scheduled self-updating windows (CAU's self-updating mode) on EventBridge Scheduler: for each
 * entry, one Scheduler schedule per cron expression of its CAU schedule, in its time zone, that
 * starts the rollout workflow with `policy.stopAfter` set to the window and a `schedule` field
 * the run checks first (`shouldRunAt`: startDate, every n-th week, window still open).
 *
 * One role, assumable by Scheduler only from this account and this schedule group, may only
 * start executions of the rollout workflow. Paused entries keep their schedules, disabled.
 */
export class RolloutSchedules extends Construct {
  public readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role Scheduler assumes to start the rollout workflow. */
  public readonly role: iam.Role;
  /** Every Scheduler schedule made, in entry order. */
  public readonly triggers: readonly ScheduledTrigger[];
  /**
   * Staging ahead of the windows (issue 13 item 5), when an entry asks for it: its own schedule
   * group (schedule names as the windows'), role and schedules.
   */
  public readonly staging?: ReturnType<typeof addStagingSchedules>;
  /** Fires when Scheduler gives up starting a scheduled run (its retries ran out). */
  public readonly droppedTriggersAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RolloutSchedulesProps) {
    super(scope, id);
    const entries = checkProps(props);

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'Group', {
      ...(props.scheduleGroupName ? { scheduleGroupName: props.scheduleGroupName } : {}),
      // Schedules are configuration, redeployed from cdk.json; nothing to keep.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler starts scheduled rollouts (self-updating windows)',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': Stack.of(this).account,
            'aws:SourceArn': this.scheduleGroup.scheduleGroupArn,
          },
        },
      }),
    });

    const triggers: ScheduledTrigger[] = [];
    for (const entry of entries) {
      const plan = toSchedulerExpressions(entry.schedule);
      const enabled = entry.schedule.enabled && !entry.paused;
      const skipped = skippedDates(entry.schedule, entry.schedule.startDate, DST_LOOKAHEAD_DAYS);
      plan.expressions.forEach((expression, i) => {
        const name = plan.expressions.length === 1 ? entry.name : `${entry.name}-${i + 1}`;
        const trigger: ScheduleTrigger = {
          name: entry.name,
          expression,
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
          definition: toScheduleInput(entry.schedule),
          ...(plan.guard ? { guard: plan.guard } : {}),
        };
        const schedule = new scheduler.Schedule(this, name, {
          scheduleName: name,
          scheduleGroup: this.scheduleGroup,
          description:
            `${entry.kind === 'assessment' ? 'Compliance assessment' : 'Rollout window'} ${entry.name}: ${describeSchedule(entry.schedule)}`.slice(
              0,
              512,
            ),
          schedule: scheduler.ScheduleExpression.expression(expression, TimeZone.of(plan.timeZone)),
          enabled,
          timeWindow: scheduler.TimeWindow.off(),
          target: new targets.StepFunctionsStartExecution(
            entry.kind === 'assessment'
              ? (props.complianceStateMachine as sfn.IStateMachine)
              : props.rolloutStateMachine,
            {
              role: this.role,
              // An assessment checks no window (it installs nothing): its input is the rollout's.
              input: scheduler.ScheduleTargetInput.fromObject(
                entry.kind === 'assessment'
                  ? entry.rollout
                  : { ...entry.rollout, schedule: trigger },
              ),
              // A start later than the window is of no use; the run refuses it anyway.
              maxEventAge: Duration.minutes(
                Math.max(1, Math.min(entry.schedule.windowMinutes, MAX_EVENT_AGE.toMinutes())),
              ),
              retryAttempts: 185,
            },
          ),
        });
        triggers.push({ entry: entry.name, expression, schedule });
      });
      if (skipped.length > 0) {
        Annotations.of(this).addWarningV2(
          `windows-rollout:schedule-dst-gap:${entry.name}`,
          `schedule ${entry.name}: ${entry.schedule.time} does not exist in ${entry.schedule.timeZone} on days clocks go forward, and EventBridge Scheduler skips those runs (e.g. ${skipped.slice(0, 3).join(', ')}); choose a time outside the change if every window matters`,
        );
      }
    }
    this.triggers = triggers;
    if (props.stagingStateMachine) {
      const staging = addStagingSchedules(this, props.stagingStateMachine, entries);
      if (staging) this.staging = staging;
    }

    this.droppedTriggersAlarm = new cloudwatch.Alarm(this, 'DroppedTriggers', {
      alarmDescription:
        'EventBridge Scheduler dropped a scheduled rollout: StartExecution kept failing until the window closed',
      metric: this.scheduleGroup.metricDropped({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
