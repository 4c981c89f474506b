/**
 * Simulated CloudWatch alarms for health gates (issue 13, item 1): a scenario's `alarms`, each
 * with optional tags and a timeline of states in virtual time, and stand-ins for the two calls
 * check-alarms makes: CloudWatch `DescribeAlarms` (by name, 100 a call, metric alarms) and the
 * Resource Groups Tagging API `GetResources` (resource type `cloudwatch:alarm`, one tag filter),
 * with the same command classes, pagination and answer shapes as the SDK, so the real handler
 * runs unchanged. An alarm before its first timeline entry is INSUFFICIENT_DATA, as a new alarm
 * is in CloudWatch.
 */
import * as z from 'zod';

export const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** The sandbox's account and region in alarm ARNs (no real account). */
const ALARM_ARN_PREFIX = 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:';

const ISO_DURATION =
  /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds of an ISO 8601 duration of days, hours, minutes, seconds (`PT30M`, `P1DT2H`). */
export function isoDurationMs(value: string): number | undefined {
  const match = ISO_DURATION.exec(value);
  if (!match || value === 'P' || value.endsWith('T')) return undefined;
  const [, d, h, m, s] = match.map((part) => (part === undefined ? 0 : Number(part)));
  return (((d ?? 0) * 24 + (h ?? 0)) * 60 + (m ?? 0)) * 60_000 + (s ?? 0) * 1000;
}

const AT_ACCEPTED =
  'expected an ISO 8601 duration after the scenario start (e.g. "PT30M") or an ISO 8601 time';

const timelineEntrySchema = z.strictObject({
  /** When the alarm enters the state: a duration after the scenario's startTime, or a time. */
  at: z
    .string({ error: AT_ACCEPTED })
    .refine((value) => isoDurationMs(value) !== undefined || !Number.isNaN(Date.parse(value)), {
      error: AT_ACCEPTED,
    }),
  state: z.enum(ALARM_STATES, { error: `expected one of ${ALARM_STATES.join(', ')}` }),
  /** The alarm's StateReason from then on. */
  reason: z.string({ error: 'expected the state reason' }).max(1023).default(''),
});

/** One simulated alarm of a scenario. */
export const scenarioAlarmSchema = z.strictObject({
  name: z
    .string({ error: 'expected the alarm name' })
    .min(1, { error: 'expected the alarm name' })
    .max(255, { error: 'expected an alarm name of at most 255 characters' }),
  tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
  timeline: z
    .array(timelineEntrySchema, { error: 'expected a list of { at, state, reason }' })
    .default([]),
});
export type ScenarioAlarm = z.output<typeof scenarioAlarmSchema>;

/** One state change of an alarm, in virtual milliseconds. */
export interface AlarmChange {
  readonly at: number;
  readonly state: AlarmState;
  readonly reason: string;
}

type Command = { constructor: { name: string }; input: Record<string, unknown> };

/** The scenario's alarms on their timelines, and fakes of the calls check-alarms makes. */
export class SimulatedAlarms {
  private readonly timelines = new Map<string, AlarmChange[]>();
  private readonly tags = new Map<string, Readonly<Record<string, string>>>();
  /** DescribeAlarms and GetResources calls, for tests. */
  readonly calls: { readonly api: string; readonly at: number }[] = [];

  constructor(
    alarms: readonly ScenarioAlarm[],
    start: Date,
    private readonly now: () => Date = () => start,
  ) {
    for (const alarm of alarms) {
      const changes = alarm.timeline
        .map((entry) => ({
          at:
            isoDurationMs(entry.at) === undefined
              ? Date.parse(entry.at)
              : start.getTime() + (isoDurationMs(entry.at) as number),
          state: entry.state,
          reason: entry.reason,
        }))
        .sort((a, b) => a.at - b.at);
      this.timelines.set(alarm.name, changes);
      this.tags.set(alarm.name, alarm.tags ?? {});
    }
  }

  /** The same alarms read through another clock (the sandbox's, once it exists). */
  withClock(now: () => Date): SimulatedAlarms {
    const copy = Object.create(SimulatedAlarms.prototype) as SimulatedAlarms;
    Object.assign(copy, this, { now, calls: this.calls });
    return copy;
  }

  names(): string[] {
    return [...this.timelines.keys()];
  }

  /** The alarms with this tag. */
  tagged(key: string, value: string): string[] {
    return this.names().filter((name) => this.tags.get(name)?.[key] === value);
  }

  /** The alarm's state and reason at a virtual time; undefined for an alarm that does not exist. */
  stateAt(
    name: string,
    at: number,
  ): { state: AlarmState; reason: string; since: number } | undefined {
    const changes = this.timelines.get(name);
    if (changes === undefined) return undefined;
    let current: { state: AlarmState; reason: string; since: number } = {
      state: 'INSUFFICIENT_DATA',
      reason: 'Unchecked: Initial alarm creation',
      since: Number.NEGATIVE_INFINITY,
    };
    for (const change of changes) {
      if (change.at > at) break;
      current = { state: change.state, reason: change.reason, since: change.at };
    }
    return current;
  }

  /** The alarm's state changes, in time order (none for an alarm that does not exist). */
  changes(name: string): readonly AlarmChange[] {
    return this.timelines.get(name) ?? [];
  }

  /** Whether the alarm was in ALARM at every instant of [from, to]. */
  inAlarmThroughout(name: string, from: number, to: number): boolean {
    const atStart = this.stateAt(name, from);
    if (atStart?.state !== 'ALARM') return false;
    const changes = this.timelines.get(name) ?? [];
    return !changes.some((c) => c.at > from && c.at <= to && c.state !== 'ALARM');
  }

  /** CloudWatch's DescribeAlarms (AlarmNames, at most 100) and the tagging API's GetResources. */
  async send(command: Command): Promise<unknown> {
    const at = this.now().getTime();
    const input = command.input;
    switch (command.constructor.name) {
      case 'DescribeAlarmsCommand': {
        this.calls.push({ api: 'DescribeAlarms', at });
        const names = (input.AlarmNames as string[] | undefined) ?? this.names();
        if (names.length > 100) {
          const error = new Error(
            'The collection AlarmNames must not have a size greater than 100.',
          );
          error.name = 'ValidationError';
          throw error;
        }
        const metricAlarms = names.flatMap((name) => {
          const state = this.stateAt(name, at);
          return state === undefined
            ? []
            : [
                {
                  AlarmName: name,
                  AlarmArn: `${ALARM_ARN_PREFIX}${name}`,
                  StateValue: state.state,
                  StateReason: state.reason,
                  ...(Number.isFinite(state.since)
                    ? { StateUpdatedTimestamp: new Date(state.since) }
                    : {}),
                },
              ];
        });
        return { MetricAlarms: metricAlarms, CompositeAlarms: [] };
      }
      case 'GetResourcesCommand': {
        this.calls.push({ api: 'GetResources', at });
        const types = (input.ResourceTypeFilters as string[] | undefined) ?? [];
        const filters =
          (input.TagFilters as { Key: string; Values?: string[] }[] | undefined) ?? [];
        if (types.length > 0 && !types.includes('cloudwatch:alarm')) {
          return { ResourceTagMappingList: [] };
        }
        const matching = this.names().filter((name) =>
          filters.every((f) => {
            const value = this.tags.get(name)?.[f.Key];
            return value !== undefined && (!f.Values?.length || f.Values.includes(value));
          }),
        );
        return {
          ResourceTagMappingList: matching.map((name) => ({
            ResourceARN: `${ALARM_ARN_PREFIX}${name}`,
            Tags: Object.entries(this.tags.get(name) ?? {}).map(([Key, Value]) => ({ Key, Value })),
          })),
          PaginationToken: '',
        };
      }
      default:
        throw new Error(`simulated alarms: ${command.constructor.name} is not simulated`);
    }
  }
}

/**
 * A scenario's rollouts may name only alarms the scenario simulates, and a tag only if some
 * alarm carries it: in a scenario the account's alarms are known, so a name that is not there
 * is refused when the scenario is read, naming the field and the value. (Through the API the
 * account is not known at validation: check-alarms finds it at run time and fails the run.)
 */
export function healthGateProblems(
  alarms: readonly ScenarioAlarm[],
  runs: readonly { readonly rollout: unknown }[],
  fieldOf: (run: number) => string,
): { field: string; value: unknown; message: string }[] {
  const known = new Set(alarms.map((a) => a.name));
  const problems: { field: string; value: unknown; message: string }[] = [];
  runs.forEach((run, i) => {
    const gates = (run.rollout as { healthGates?: unknown }).healthGates as
      | { alarmNames?: unknown; alarmTag?: { key?: unknown; value?: unknown } }
      | undefined;
    if (typeof gates !== 'object' || gates === null) return;
    if (Array.isArray(gates.alarmNames)) {
      gates.alarmNames.forEach((name, j) => {
        if (typeof name === 'string' && !known.has(name)) {
          problems.push({
            field: `${fieldOf(i)}.healthGates.alarmNames[${j}]`,
            value: name,
            message: `no such CloudWatch alarm in the scenario's alarms (${[...known].join(', ') || 'none'})`,
          });
        }
      });
    }
    const tag = gates.alarmTag;
    if (tag && typeof tag.key === 'string' && typeof tag.value === 'string') {
      const { key, value } = tag;
      if (!alarms.some((a) => a.tags?.[key] === value)) {
        problems.push({
          field: `${fieldOf(i)}.healthGates.alarmTag`,
          value: tag,
          message: `no alarm of the scenario has the tag ${key}=${value}`,
        });
      }
    }
  });
  return problems;
}
