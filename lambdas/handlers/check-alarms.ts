/**
 * check-alarms: reads a rollout's health gates at one gate (issue 13, item 1) and says what the
 * workflow does next (`proceed`, `stop`, `approve`, `fail`), with the firing alarms and their
 * StateReason for the report and the event. The rules are in core/health-gates.ts.
 *
 * Event `{ runId, gates: HealthGates, checkpoint, node? }`. Alarms chosen by tag are resolved at
 * every gate with the Resource Groups Tagging API (GetResources, resource type
 * `cloudwatch:alarm`, filtered by the tag server-side, paginated): one call finds every tagged
 * alarm, where CloudWatch's ListTagsForResource would need one call per alarm of the account.
 * Then DescribeAlarms by name, 100 at a time, metric and composite alarms.
 *
 * Errors: `InvalidEvent`; SDK errors unchanged (throttling, for the state machine's Retry).
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandOutput,
} from '@aws-sdk/client-cloudwatch';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import * as z from 'zod';
import {
  type AlarmReading,
  alarmNameFromArn,
  evaluateGates,
  GATE_CHECKPOINTS,
  type GateVerdict,
  healthGatesInputSchema,
  MAX_ALARM_NAMES,
} from '../core/health-gates.js';
import { parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { logContext, tracer } from '../shared/runtime.js';

const eventSchema = z.object({
  runId: z.string().regex(RUN_ID_PATTERN),
  gates: healthGatesInputSchema,
  checkpoint: z.enum(GATE_CHECKPOINTS),
  node: z.string().min(1).nullish(),
});
export type CheckAlarmsEvent = z.input<typeof eventSchema>;

export interface CheckAlarmsDeps {
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly tagging: Pick<ResourceGroupsTaggingAPIClient, 'send'>;
}

/** The names of every alarm with the tag, through the Tagging API's pages. */
async function taggedAlarmNames(
  tagging: CheckAlarmsDeps['tagging'],
  tag: { key: string; value: string },
): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await tagging.send(
      new GetResourcesCommand({
        ResourceTypeFilters: ['cloudwatch:alarm'],
        TagFilters: [{ Key: tag.key, Values: [tag.value] }],
        ...(token ? { PaginationToken: token } : {}),
      }),
    );
    for (const resource of page.ResourceTagMappingList ?? []) {
      const name = resource.ResourceARN ? alarmNameFromArn(resource.ResourceARN) : undefined;
      if (name !== undefined) names.push(name);
    }
    token = page.PaginationToken || undefined;
  } while (token);
  return names;
}

const STATES = new Set(['OK', 'ALARM', 'INSUFFICIENT_DATA']);

/** Every named alarm that exists, metric or composite, 100 names a call, through the pages. */
async function readAlarms(
  cloudwatch: CheckAlarmsDeps['cloudwatch'],
  names: readonly string[],
): Promise<AlarmReading[]> {
  const readings: AlarmReading[] = [];
  for (let i = 0; i < names.length; i += MAX_ALARM_NAMES) {
    let token: string | undefined;
    do {
      const page: DescribeAlarmsCommandOutput = await cloudwatch.send(
        new DescribeAlarmsCommand({
          AlarmNames: names.slice(i, i + MAX_ALARM_NAMES),
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          ...(token ? { NextToken: token } : {}),
        }),
      );
      for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
        if (!alarm.AlarmName) continue;
        const state = STATES.has(String(alarm.StateValue)) ? alarm.StateValue : 'INSUFFICIENT_DATA';
        readings.push({
          name: alarm.AlarmName,
          state: state as AlarmReading['state'],
          reason: alarm.StateReason ?? '',
          ...(alarm.StateUpdatedTimestamp
            ? { updatedAt: alarm.StateUpdatedTimestamp.toISOString() }
            : {}),
        });
      }
      token = page.NextToken || undefined;
    } while (token);
  }
  return readings;
}

export function makeCheckAlarmsHandler(deps: CheckAlarmsDeps) {
  return async (raw: unknown): Promise<GateVerdict & { readonly runId: string }> => {
    const event = parseEvent('check-alarms', eventSchema, raw);
    logContext({ runId: event.runId, ...(event.node ? { node: event.node } : {}) });
    const tagged = event.gates.alarmTag
      ? await taggedAlarmNames(deps.tagging, event.gates.alarmTag)
      : undefined;
    const names = [...new Set([...(event.gates.alarmNames ?? []), ...(tagged ?? [])])];
    const readings = await readAlarms(deps.cloudwatch, names);
    const verdict = evaluateGates(
      event.gates,
      readings,
      { checkpoint: event.checkpoint, node: event.node ?? null },
      tagged,
    );
    return { runId: event.runId, ...verdict };
  };
}

let cached: ReturnType<typeof makeCheckAlarmsHandler> | undefined;
export const handler = async (event: unknown) => {
  cached ??= makeCheckAlarmsHandler({
    cloudwatch: tracer.captureAWSv3Client(new CloudWatchClient({})),
    tagging: tracer.captureAWSv3Client(new ResourceGroupsTaggingAPIClient({})),
  });
  return cached(event);
};
