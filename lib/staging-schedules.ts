import { Annotations, Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ValidationProblem } from '../lambdas/core/errors.js';
import { describeSchedule, toStagingExpressions } from '../lambdas/core/schedule.js';
import type { CheckedEntry } from './rollout-schedules.js';

/** Scheduler's MaximumEventAgeInSeconds goes from 60 s to a day. */
const MAX_EVENT_AGE_MINUTES = 24 * 60;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The entry's `staging.hoursBeforeWindow` (the rollout input checked it), or undefined. */
export function hoursBeforeWindowOf(rollout: unknown): number | undefined {
  if (!isRecord(rollout) || !isRecord(rollout.staging)) return undefined;
  const hours = rollout.staging.hoursBeforeWindow;
  return typeof hours === 'number' ? hours : undefined;
}

/** An entry asking for staging ahead of its windows needs the staging workflow to start. */
export function stagingProblems(
  rollout: unknown,
  at: string,
  stagingStateMachine: sfn.IStateMachine | undefined,
): ValidationProblem[] {
  const hours = hoursBeforeWindowOf(rollout);
  if (hours === undefined || stagingStateMachine !== undefined) return [];
  return [
    {
      field: `${at}.staging.hoursBeforeWindow`,
      value: hours,
      message:
        'asks for staging before each window, but RolloutSchedules has no stagingStateMachine to start; give it, or leave hoursBeforeWindow out',
    },
  ];
}

/**
 * Staging before the window (issue 13 item 5): for each entry whose rollout has
 * `staging.hoursBeforeWindow`, Scheduler schedules that start the staging workflow with the same
 * rollout input that many hours before each window, in the schedule's time zone (wall clock;
 * the cron moves back across midnight with its weekdays: `toStagingExpressions`). Where cron
 * cannot say it exactly (every n-th week; weeks of the month moved to another day) they fire
 * every week on the moved days, and synth warns: a staging run that finds the cache full
 * changes nothing.
 *
 * Named `<entry>-stg` (`-stg1`, ... for several expressions), in their own schedule group, with
 * their own role: Scheduler may assume it only from this account and that group, and it may
 * only start executions of the staging workflow.
 * @returns undefined when no entry asks for staging.
 */
export function addStagingSchedules(
  scope: Construct,
  stagingStateMachine: sfn.IStateMachine,
  entries: readonly CheckedEntry[],
):
  | {
      readonly scheduleGroup: scheduler.ScheduleGroup;
      readonly role: iam.Role;
      readonly schedules: readonly scheduler.Schedule[];
    }
  | undefined {
  const wanted = entries.flatMap((entry) => {
    const hours = hoursBeforeWindowOf(entry.rollout);
    return hours === undefined ? [] : [{ entry, hours }];
  });
  if (wanted.length === 0) return undefined;
  // One construct id next to the windows' schedules (named by the entries).
  const within = new Construct(scope, 'StagingAhead');
  const scheduleGroup = new scheduler.ScheduleGroup(within, 'Group', {
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new iam.Role(within, 'SchedulerRole', {
    description: 'EventBridge Scheduler starts staging runs ahead of the rollout windows',
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: {
          'aws:SourceAccount': Stack.of(scope).account,
          'aws:SourceArn': scheduleGroup.scheduleGroupArn,
        },
      },
    }),
  });
  const schedules: scheduler.Schedule[] = [];
  const names = new Map<string, string>();
  for (const { entry, hours } of wanted) {
    const plan = toStagingExpressions(entry.schedule, hours);
    plan.expressions.forEach((expression, i) => {
      // Not the window's name: CloudFormation takes a schedule's name alone as its identifier.
      const name = `${entry.name.slice(0, 56)}-stg${plan.expressions.length === 1 ? '' : i + 1}`;
      if (names.has(name.toLowerCase())) {
        throw new Error(
          `RolloutSchedules: schedules ${entry.name} and ${names.get(name.toLowerCase())}: both stage under the schedule name ${name} (the first 56 characters of the name); make them differ sooner`,
        );
      }
      names.set(name.toLowerCase(), entry.name);
      schedules.push(
        new scheduler.Schedule(within, name, {
          scheduleName: name,
          scheduleGroup,
          description:
            `Staging ${hours} h before rollout window ${entry.name}: ${describeSchedule(entry.schedule)}`.slice(
              0,
              512,
            ),
          schedule: scheduler.ScheduleExpression.expression(expression, TimeZone.of(plan.timeZone)),
          enabled: entry.schedule.enabled && !entry.paused,
          timeWindow: scheduler.TimeWindow.off(),
          target: new targets.StepFunctionsStartExecution(stagingStateMachine, {
            role,
            input: scheduler.ScheduleTargetInput.fromObject(entry.rollout),
            // Staging is of use until the window opens.
            maxEventAge: Duration.minutes(Math.min(hours * 60, MAX_EVENT_AGE_MINUTES)),
            retryAttempts: 185,
          }),
        }),
      );
    });
    if (!plan.exact) {
      Annotations.of(scope).addWarningV2(
        `windows-rollout:staging-superset:${entry.name}`,
        `schedule ${entry.name}: cron cannot say "${hours} hours before" this schedule's windows exactly, so staging runs every week at ${plan.expressions.join(', ')} (${entry.schedule.timeZone}); runs that find the cache full change nothing`,
      );
    }
  }
  return { scheduleGroup, role, schedules };
}
