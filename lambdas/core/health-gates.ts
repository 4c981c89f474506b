/**
 * Health gates (issue 13, item 1; CodeDeploy and Argo Rollouts stop on alarms): a rollout names
 * CloudWatch alarms, by name or by a tag on the alarms, and the run reads them at its gates
 * (before each cluster node, before each wave or phase, during a bake time). An alarm in ALARM
 * stops the run or holds it for approval (`onAlarm`), never in the middle of a node. An alarm
 * named that does not exist is a clear error naming it, never a silent pass.
 *
 * This module is the contract the workflows call through `lambdas/handlers/check-alarms.ts`:
 * {@link healthGatesInputSchema} is the rollout input's `healthGates`, {@link evaluateGates} the
 * verdict at one gate. Pure: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import { DEFAULT_BAKE_CHECK_MINUTES } from './phases.js';

/** What an alarm in ALARM does to the run: stop it, or hold it for an approve or reject. */
export const ON_ALARM = ['stop', 'approve'] as const;
export type OnAlarm = (typeof ON_ALARM)[number];

/** Where the run reads its gates. */
export const GATE_CHECKPOINTS = ['beforeNode', 'beforeWave', 'beforePhase', 'bake'] as const;
export type GateCheckpoint = (typeof GATE_CHECKPOINTS)[number];

/** The longest interval between two reads during a bake. */
export const MAX_CHECK_EVERY_MINUTES = 60;

const CHECK_EVERY_ACCEPTED = `expected whole minutes from 1 to ${MAX_CHECK_EVERY_MINUTES}`;

/** DescribeAlarms takes at most 100 alarm names a call; a rollout names at most that many. */
export const MAX_ALARM_NAMES = 100;

const ALARM_NAME_ACCEPTED =
  'expected a CloudWatch alarm name: 1 to 255 characters, no control characters';
const TAG_ACCEPTED = 'expected a tag key of 1 to 128 characters and a value of 0 to 256';

const alarmName = z
  .string({ error: ALARM_NAME_ACCEPTED })
  .min(1, { error: ALARM_NAME_ACCEPTED })
  .max(255, { error: ALARM_NAME_ACCEPTED })
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  .regex(/^[^\u0000-\u001f\u007f]+$/, { error: ALARM_NAME_ACCEPTED });

/** The rollout input's `healthGates`. */
export const healthGatesInputSchema = z
  .strictObject(
    {
      alarmNames: z
        .array(alarmName, { error: 'expected a list of CloudWatch alarm names' })
        .min(1, { error: 'expected at least one alarm name' })
        .max(MAX_ALARM_NAMES, { error: `expected at most ${MAX_ALARM_NAMES} alarm names` })
        .optional()
        .describe('CloudWatch alarms by name (each must exist)'),
      alarmTag: z
        .strictObject(
          {
            key: z.string({ error: TAG_ACCEPTED }).min(1, { error: TAG_ACCEPTED }).max(128),
            value: z.string({ error: TAG_ACCEPTED }).max(256, { error: TAG_ACCEPTED }),
          },
          { error: 'expected a tag: { key, value }' },
        )
        .optional()
        .describe(
          'Every CloudWatch alarm with this tag (Resource Groups Tagging API); at least one must match',
        ),
      onAlarm: z
        .enum(ON_ALARM, { error: 'expected "stop" or "approve"' })
        .default('stop')
        .describe('An alarm in ALARM stops the run (default) or holds it for approval'),
      checkEveryMinutes: z
        .number({ error: CHECK_EVERY_ACCEPTED })
        .int({ error: CHECK_EVERY_ACCEPTED })
        .min(1, { error: CHECK_EVERY_ACCEPTED })
        .max(MAX_CHECK_EVERY_MINUTES, { error: CHECK_EVERY_ACCEPTED })
        .optional()
        .describe(
          `During a phase's bake, read the alarms (and a cancel) this often, in minutes (default ${DEFAULT_BAKE_CHECK_MINUTES})`,
        ),
    },
    { error: 'expected health gates: { alarmNames?, alarmTag?, onAlarm?, checkEveryMinutes? }' },
  )
  .refine((gates) => gates.alarmNames !== undefined || gates.alarmTag !== undefined, {
    error: 'expected alarmNames, alarmTag or both',
  })
  .describe('CloudWatch alarms read before each cluster node, wave or phase, and during bake');

export type HealthGatesInput = z.input<typeof healthGatesInputSchema>;
export type HealthGates = z.output<typeof healthGatesInputSchema>;

/** One alarm as DescribeAlarms returns it (metric or composite). */
export interface AlarmReading {
  readonly name: string;
  readonly state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  readonly reason: string;
  /** When the state last changed, ISO 8601. */
  readonly updatedAt?: string;
}

/** The verdict at one gate: what the workflow does next and what the report and event say. */
export interface GateVerdict {
  /** `proceed`: no alarm in ALARM; `stop` or `approve`: per onAlarm; `fail`: an alarm is missing. */
  readonly action: 'proceed' | 'stop' | 'approve' | 'fail';
  readonly checkpoint: GateCheckpoint;
  /** The node about to start, at a `beforeNode` gate. */
  readonly node: string | null;
  /** Alarms in ALARM, in name order, with the StateReason. */
  readonly firing: readonly { readonly name: string; readonly reason: string }[];
  /** Alarms named in the input that do not exist; a tag that matched none is `tag:key=value`. */
  readonly missing: readonly string[];
  /** Every alarm read, in name order. */
  readonly checked: readonly string[];
  /** Alarms without enough data: not firing, listed for the report. */
  readonly insufficientData: readonly string[];
  /** One line for the report and the event. */
  readonly message: string;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The verdict at one gate from the alarms read: names given that were not found, or a tag that
 * matched no alarm, fail the run (an alarm that cannot be read cannot be trusted to be quiet);
 * otherwise any alarm in ALARM stops the run or asks for approval, per `onAlarm`.
 */
export function evaluateGates(
  gates: HealthGates,
  readings: readonly AlarmReading[],
  at: { readonly checkpoint: GateCheckpoint; readonly node?: string | null },
  taggedNames?: readonly string[],
): GateVerdict {
  const found = new Map(readings.map((r) => [r.name, r]));
  const missing = (gates.alarmNames ?? []).filter((name) => !found.has(name));
  if (gates.alarmTag !== undefined && taggedNames !== undefined && taggedNames.length === 0) {
    missing.push(`tag:${gates.alarmTag.key}=${gates.alarmTag.value}`);
  }
  const sorted = [...found.values()].sort((a, b) => byName(a.name, b.name));
  const firing = sorted
    .filter((r) => r.state === 'ALARM')
    .map((r) => ({ name: r.name, reason: r.reason }));
  const insufficientData = sorted.filter((r) => r.state === 'INSUFFICIENT_DATA').map((r) => r.name);
  const where =
    at.checkpoint === 'beforeNode' && at.node ? `before node ${at.node}` : at.checkpoint;
  let action: GateVerdict['action'];
  let message: string;
  if (missing.length > 0) {
    action = 'fail';
    message = `health gate ${where}: ${missing.map((m) => (m.startsWith('tag:') ? `no CloudWatch alarm has ${m}` : `CloudWatch alarm ${JSON.stringify(m)} does not exist`)).join('; ')}`;
  } else if (firing.length > 0) {
    action = gates.onAlarm;
    message = `health gate ${where}: ${firing.map((f) => `${f.name} is in ALARM (${f.reason})`).join('; ')}; onAlarm ${gates.onAlarm}`;
  } else {
    action = 'proceed';
    message = `health gate ${where}: ${sorted.length} alarm(s) quiet${insufficientData.length ? ` (${insufficientData.length} without enough data: ${insufficientData.join(', ')})` : ''}`;
  }
  return {
    action,
    checkpoint: at.checkpoint,
    node: at.node ?? null,
    firing,
    missing,
    checked: sorted.map((r) => r.name),
    insufficientData,
    message,
  };
}

/** The alarm name in a CloudWatch alarm ARN (`arn:aws:cloudwatch:region:account:alarm:NAME`). */
export function alarmNameFromArn(arn: string): string | undefined {
  const match = /^arn:[^:]+:cloudwatch:[^:]*:[^:]*:alarm:(.+)$/.exec(arn);
  return match?.[1];
}
