/**
 * Lifecycle events: what a change-management system subscribes to on the control plane's
 * EventBridge bus to follow a rollout and close its change ticket. Pure: the detail of each
 * `detail-type` as a zod schema (the one definition; `events/schemas/*.json` are generated from
 * it), and builders that turn run history into details. No AWS SDK.
 *
 * Every detail carries `schemaVersion`, `eventId`, `rolloutId`, `sequence`, `occurredAt`,
 * `target`, `changeTicket` (null when the run has none), `requestedBy` and `execution`.
 * `sequence` increases per rollout in the order the control plane recorded the events, so a
 * subscriber can order them (EventBridge does not). Delivery is at least once: a retried step
 * publishes again with the same `eventId` and a higher `sequence`.
 */
import * as z from 'zod';
import {
  type ApprovalGate,
  describeApprovalGate,
  LIFECYCLE_EVENT_SOURCE,
  LIFECYCLE_EVENT_TYPES,
  type LifecycleEventKey,
  NODE_STATUSES,
  type NodeStatus,
  type UpdateResult,
} from './contracts.js';
import { EXIT_OUTCOMES, type ExitOutcome } from './exit-codes.js';
import { nodeKey } from './node-names.js';
import { STILL_APPLICABLE_REASONS, type StillApplicable } from './rescan.js';

/** The schema version of every detail. Adding a field keeps it; changing or removing one bumps it. */
export const LIFECYCLE_SCHEMA_VERSION = '1';

/** The environment variable that names the bus a function publishes to (unset: no events). */
export const EVENT_BUS_ENV = 'EVENT_BUS_NAME';

/** Node Updated lists at most this many updates, so the event stays far below 256 KB. */
export const MAX_EVENT_UPDATES = 100;

// ---------------------------------------------------------------------------------------------
// Schemas

const timestamp = z.iso
  .datetime({ offset: true })
  .describe('ISO 8601 date and time with a time zone');

const changeTicketSchema = z
  .object({
    system: z.string().describe('The change-management system, e.g. "ServiceNow"'),
    id: z.string().describe('The ticket id in that system, e.g. "CHG0031337"'),
    url: z.string().nullable().describe('A link to the ticket, or null'),
  })
  .describe('The change ticket the rollout was requested under');

const commonFields = {
  schemaVersion: z.literal(LIFECYCLE_SCHEMA_VERSION).describe('The version of this detail schema'),
  eventId: z
    .string()
    .describe(
      'Identifies the occurrence: the same on every delivery of it (retries publish again), so drop duplicates by it',
    ),
  rolloutId: z.string().describe('The rollout (run) id, as the API and the run history name it'),
  sequence: z
    .number()
    .int()
    .min(1)
    .describe(
      "Position of the event among the rollout's events, increasing: order by it, not by arrival",
    ),
  occurredAt: timestamp.describe('When it happened (ISO 8601 UTC)'),
  target: z
    .object({
      kind: z
        .enum(['cluster', 'group'])
        .nullable()
        .describe('cluster or group; null only for a run recorded without it'),
      name: z.string().describe('The cluster or group name'),
    })
    .describe('What the rollout updates'),
  changeTicket: changeTicketSchema.nullable(),
  requestedBy: z.string().nullable().describe('Who asked for the rollout, or null'),
  execution: z
    .string()
    .nullable()
    .describe('The ARN of the Step Functions execution that runs the rollout, or null'),
};

const nodeCountsSchema = z
  .object({
    total: z.number().int().min(0),
    succeeded: z.number().int().min(0),
    failed: z.number().int().min(0),
    notStarted: z.number().int().min(0),
    nothingToInstall: z.number().int().min(0),
    skipped: z.number().int().min(0),
    installedPendingReboot: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Installed with a restart pending (rebootOption Never)'),
  })
  .describe('How many nodes ended in each status');

const finishedFields = {
  reason: z.string().describe('Why the rollout ended so'),
  startedAt: timestamp.describe('When the rollout started'),
  nodes: nodeCountsSchema,
  failedNodes: z.array(z.string()).describe('The nodes that failed, in update order'),
};

const updateOutcomeSchema = z.object({
  index: z.number().int().min(0).describe("Position in the node's plan, from 0"),
  plugin: z.enum(['Microsoft.HotfixPlugin', 'Microsoft.WindowsUpdatePlugin', 'Rollout.Removal']),
  update: z.string().describe('The file (hotfix plug-in) or the update title or KB'),
  outcome: z
    .enum(EXIT_OUTCOMES as [ExitOutcome, ...ExitOutcome[]])
    .describe("The installer result, in CAU's outcomes"),
  exitCode: z.number().int().nullable().describe('The exit code, or null when it never ran'),
  rebootRequired: z.boolean(),
});

/** Lists in Node Compliance Changed name at most this many updates each. */
export const MAX_COMPLIANCE_EVENT_UPDATES = 50;

/**
 * Node Compliance Changed (issue 13, item 8): not a rollout's event, an assessment's. It has no
 * rolloutId, sequence or change ticket; `eventId` is `<assessmentId>:<node>`.
 */
function nodeComplianceChangedSchema() {
  const state = z.enum(['Compliant', 'NonCompliant', 'Unknown']);
  return z
    .object({
      schemaVersion: commonFields.schemaVersion,
      eventId: commonFields.eventId,
      occurredAt: commonFields.occurredAt,
      assessmentId: z.string().describe('The assessment that found the change'),
      target: z.object({ name: z.string().describe('The cluster or group assessed') }),
      node: z.string(),
      change: z
        .enum(['FellOut', 'CameBack'])
        .describe('FellOut: Compliant before, NonCompliant now; CameBack: the reverse'),
      state: state.describe('The state now'),
      previousState: state.describe('The last known state before (Compliant or NonCompliant)'),
      assessedAt: timestamp.describe('When the node was assessed'),
      previousAssessedAt: timestamp.nullable().describe('When it was assessed before'),
      reasons: z.array(z.string()).describe('Why it is NonCompliant now; empty when Compliant'),
      missing: z
        .array(z.string())
        .describe(
          `Missing updates (KB, or title without one), at most ${MAX_COMPLIANCE_EVENT_UPDATES}`,
        ),
      failed: z
        .array(z.string())
        .describe(
          `Updates whose last attempt failed (KB, or as the run named it), at most ${MAX_COMPLIANCE_EVENT_UPDATES}`,
        ),
      pendingRestart: z.boolean().nullable().describe('A restart is pending on the node'),
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.nodeComplianceChanged,
      description:
        'A scheduled or requested compliance assessment (issue 13, item 8) found a node fell out of compliance, or came back; sent once per change',
    });
}

/** The detail of each lifecycle event, by key. */
export const lifecycleDetailSchemas = {
  rolloutStarted: z
    .object({
      ...commonFields,
      nodes: z.array(z.string()).describe('The nodes, in update order'),
      maxFailedNodes: z.number().int().min(0).describe('How many nodes may fail (MaxFailedNodes)'),
      startedAt: timestamp.describe('When the rollout started'),
      stopAt: timestamp.nullable().describe('When StopAfter ends the rollout, or null'),
    })
    .meta({ title: LIFECYCLE_EVENT_TYPES.rolloutStarted, description: 'A rollout has started' }),
  approvalRequired: z
    .object({
      ...commonFields,
      gate: z
        .object({
          afterNodes: z.number().int().min(0),
          timeoutMinutes: z.number().int().min(1),
          heldBy: z
            .string()
            .nullable()
            .describe('The health gate holding the run (its state name), or null'),
          phase: z
            .object({ index: z.number().int().min(0), name: z.string() })
            .nullable()
            .describe('The phase whose approval or bake this is, or null (the pilot)'),
        })
        .describe('The approval gate the rollout reached'),
      waitingFor: z
        .string()
        .describe('What the rollout waits at, in words: the pilot, a phase or a health gate'),
      pilotNodes: z
        .array(z.string())
        .describe('The nodes updated before the gate (the pilot, or the phases so far)'),
      remainingNodes: z.array(z.string()).describe('The nodes that wait for the decision'),
      decideBy: timestamp.describe('No decision by then counts as rejected'),
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.approvalRequired,
      description:
        'The pilot, a phase or a health gate holds the rollout: it waits for an approve or reject',
    }),
  nodeUpdated: z
    .object({
      ...commonFields,
      node: z.string().describe('The node (NetBIOS name)'),
      status: z.enum(NODE_STATUSES).describe('How the node ended'),
      detail: z.string().nullable().describe('Why it ended so (a failure reason), or null'),
      restarts: z.number().int().min(0).nullable().describe('Restarts of the node, or null'),
      drained: z
        .boolean()
        .nullable()
        .describe('The node was drained (and so resumed), or null when not reported'),
      attempts: z.number().int().min(0).nullable().describe('Attempts made, or null'),
      instanceId: z.string().nullable().describe('The SSM managed node, or null'),
      startedAt: timestamp.describe("When the node's update started"),
      finishedAt: timestamp.nullable().describe('When it ended, or null'),
      updates: z
        .array(updateOutcomeSchema)
        .max(MAX_EVENT_UPDATES)
        .nullable()
        .describe(`Each update's outcome (at most ${MAX_EVENT_UPDATES}), or null when not listed`),
      updatesOmitted: z
        .number()
        .int()
        .min(0)
        .describe(`Updates left out of the list beyond the first ${MAX_EVENT_UPDATES}`),
      stillApplicable: z
        .array(
          z.object({
            kb: z.string().nullable().describe('The KB, or null when the update names none'),
            title: z.string().describe('The update title, or the hotfix file'),
            source: z.enum(['Hotfix', 'WindowsUpdate']).describe('Which plug-in offers it'),
            reason: z.enum(STILL_APPLICABLE_REASONS).describe('Why it is still applicable'),
            detail: z.string().describe('The reason in words'),
          }),
        )
        .max(MAX_EVENT_UPDATES)
        .optional()
        .describe(
          `What the rescan after the final restart found still applicable (at most ${MAX_EVENT_UPDATES}); absent when the node was not rescanned`,
        ),
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.nodeUpdated,
      description: 'One node of the rollout has ended (updated, failed, skipped, ...)',
    }),
  rolloutSucceeded: z
    .object({ ...commonFields, status: z.literal('Succeeded'), ...finishedFields })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.rolloutSucceeded,
      description: 'Every node succeeded or had nothing to install',
    }),
  rolloutFailed: z
    .object({
      ...commonFields,
      status: z
        .enum(['Failed', 'Stopped'])
        .describe('Stopped: StopAfter passed before every node was updated (CAU), else Failed'),
      ...finishedFields,
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.rolloutFailed,
      description:
        'The rollout ended without updating every node: it failed, or StopAfter stopped it',
    }),
  rolloutCancelled: z
    .object({ ...commonFields, status: z.literal('Cancelled'), ...finishedFields })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.rolloutCancelled,
      description: 'The rollout was cancelled',
    }),
  warnAfterPassed: z
    .object({
      ...commonFields,
      warnAt: timestamp.describe('When WarnAfter passed (the start + WarnAfter)'),
      startedAt: timestamp.describe('When the rollout started'),
      node: z
        .string()
        .nullable()
        .describe(
          'The node the run was at when it noticed (about to start, or just ended), or null',
        ),
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.warnAfterPassed,
      description:
        'The rollout is still running past WarnAfter (CAU): it goes on, but is taking longer than expected',
    }),
  lockForceRecovered: z
    .object({
      ...commonFields,
      recoveredBy: z.string().describe('Who broke the lock (the caller, or the name it gave)'),
      reason: z.string().describe('Why, as the operator said'),
      executionStatus: z
        .string()
        .describe(
          'What Step Functions said of the holder execution (FAILED, ABORTED, ..., NOT_FOUND)',
        ),
      lockAcquiredAt: timestamp.describe('When the broken lock was taken'),
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.lockForceRecovered,
      description:
        "An operator broke the target lock of a rollout that was no longer running (CAU's ForceRecovery)",
    }),
  phaseCompleted: z
    .object({
      ...commonFields,
      phase: z
        .object({
          index: z.number().int().min(0).describe('Position in the rollout input, from 0'),
          name: z.string().describe('The phase name ("phase <n>" by default)'),
          nodes: z.array(z.string()).describe("The phase's nodes, in update order"),
          failed: z.array(z.string()).describe('Its nodes recorded Failed'),
          failuresAllowed: z.number().int().min(0).describe('Its success criterion'),
        })
        .describe('The phase that ended'),
      passed: z
        .boolean()
        .describe('The criteria hold: the run bakes or waits for approval, then advances'),
      advance: z
        .enum(['bake', 'approval', 'none'])
        .describe('What comes next when it passed: a bake, an approval, or nothing (the last)'),
      reason: z.string().describe('The verdict in words'),
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.phaseCompleted,
      description:
        'A phase of the rollout has ended and its success criteria were judged; a phase that fails them stops the rollout (issue 13, item 4)',
    }),
  healthGate: z
    .object({
      ...commonFields,
      checkpoint: z
        .enum(['beforeNode', 'beforeWave', 'beforePhase', 'bake'])
        .describe('Where the gate stands'),
      node: z.string().nullable().describe('The node about to start (beforeNode), or null'),
      action: z
        .enum(['stop', 'approve', 'fail'])
        .describe(
          'stop: the run ends (onAlarm stop); approve: it waits for an approve or reject; fail: an alarm is missing',
        ),
      firing: z
        .array(z.object({ name: z.string(), reason: z.string().describe('The StateReason') }))
        .describe('The alarms in ALARM, by name'),
      missing: z
        .array(z.string())
        .describe('Alarms named that do not exist; a tag that matched none is tag:key=value'),
      message: z.string().describe('One line: the gate, each alarm and its reason'),
    })
    .meta({
      title: LIFECYCLE_EVENT_TYPES.healthGate,
      description:
        'A health gate (issue 13, item 1) found a CloudWatch alarm in ALARM or missing: the rollout stops, waits for approval or fails',
    }),
  nodeComplianceChanged: nodeComplianceChangedSchema(),
} as const satisfies Record<LifecycleEventKey, z.ZodType>;

export type LifecycleDetails = {
  readonly [K in LifecycleEventKey]: z.output<(typeof lifecycleDetailSchemas)[K]>;
};
export type LifecycleDetailType = (typeof LIFECYCLE_EVENT_TYPES)[LifecycleEventKey];

/** The events of a rollout: every key but the assessment's (they share the common fields). */
export type RolloutEventKey = Exclude<LifecycleEventKey, 'nodeComplianceChanged'>;

/** One event of a rollout to publish: its `detail-type` and `detail`. */
export type LifecycleEvent = {
  readonly [K in RolloutEventKey]: {
    readonly key: K;
    readonly detailType: (typeof LIFECYCLE_EVENT_TYPES)[K];
    readonly detail: LifecycleDetails[K];
  };
}[RolloutEventKey];

/** Node Compliance Changed, an assessment's event (issue 13, item 8). */
export interface ComplianceEvent {
  readonly key: 'nodeComplianceChanged';
  readonly detailType: (typeof LIFECYCLE_EVENT_TYPES)['nodeComplianceChanged'];
  readonly detail: LifecycleDetails['nodeComplianceChanged'];
}

// ---------------------------------------------------------------------------------------------
// Builders

/** What the builders read of a run (a run-history RunRecord fits). */
export interface LifecycleRun {
  readonly runId: string;
  readonly target: string;
  readonly targetKind?: 'cluster' | 'group';
  readonly nodes: readonly string[];
  readonly maxFailedNodes: number;
  readonly startedAt: string;
  readonly stopAt?: string;
  readonly execution?: string;
  readonly changeTicket?: {
    readonly system: string;
    readonly id: string;
    readonly url?: string;
  } | null;
  readonly requestedBy?: string | null;
}

/** The event's place among the run's events and when it happened. */
export interface EventMeta {
  /** From the run's counter (RunStore.nextEventSequence). */
  readonly sequence: number;
  readonly occurredAt: string;
}

/** What Node Updated reads of a node's result (a run-history NodeResultRecord fits). */
export interface LifecycleNodeResult {
  readonly node: string;
  readonly status: NodeStatus;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly detail?: string;
  readonly restarts?: number;
  readonly drained?: boolean;
  readonly attempts?: number;
  readonly instanceId?: string;
  /** The rescan after the final restart (issue 13 item 6); absent: not rescanned. */
  readonly stillApplicable?: readonly StillApplicable[];
}

/** What the finished events read of a run's summary (run-history's RunSummary fits). */
export interface LifecycleRunSummary {
  readonly status: 'Succeeded' | 'Failed' | 'Stopped' | 'Cancelled';
  readonly reason: string;
  readonly nodes: z.input<typeof nodeCountsSchema>;
  readonly failedNodes: readonly string[];
}

function common(run: LifecycleRun, meta: EventMeta, occurrence: string) {
  return {
    schemaVersion: LIFECYCLE_SCHEMA_VERSION,
    eventId: `${run.runId}:${occurrence}`,
    rolloutId: run.runId,
    sequence: meta.sequence,
    occurredAt: meta.occurredAt,
    target: { kind: run.targetKind ?? null, name: run.target },
    changeTicket: run.changeTicket
      ? {
          system: run.changeTicket.system,
          id: run.changeTicket.id,
          url: run.changeTicket.url ?? null,
        }
      : null,
    requestedBy: run.requestedBy ?? null,
    execution: run.execution ?? null,
  } as const;
}

// Parsing what we build keeps a wrong field from reaching a subscriber as a valid-looking event.
function build<K extends RolloutEventKey>(key: K, detail: unknown): LifecycleEvent {
  return {
    key,
    detailType: LIFECYCLE_EVENT_TYPES[key],
    detail: lifecycleDetailSchemas[key].parse(detail),
  } as LifecycleEvent;
}

/** Rollout Started: the run is recorded and about to update its first node. */
export function rolloutStarted(run: LifecycleRun, meta: EventMeta): LifecycleEvent {
  return build('rolloutStarted', {
    ...common(run, meta, 'started'),
    nodes: [...run.nodes],
    maxFailedNodes: run.maxFailedNodes,
    startedAt: run.startedAt,
    stopAt: run.stopAt ?? null,
  });
}

/** Rollout Approval Required: the pilot, a phase or a health gate holds the run after `gate.afterNodes` nodes. */
export function approvalRequired(
  run: LifecycleRun,
  gate: ApprovalGate,
  meta: EventMeta,
): LifecycleEvent {
  return build('approvalRequired', {
    ...common(run, meta, `approval:${gate.heldBy ? `${gate.heldBy}:` : ''}${gate.afterNodes}`),
    gate: {
      afterNodes: gate.afterNodes,
      timeoutMinutes: gate.timeoutMinutes,
      heldBy: gate.heldBy ?? null,
      phase: gate.phase ? { index: gate.phase.index, name: gate.phase.name } : null,
    },
    waitingFor: describeApprovalGate(gate),
    pilotNodes: run.nodes.slice(0, gate.afterNodes),
    remainingNodes: run.nodes.slice(gate.afterNodes),
    decideBy: new Date(Date.parse(meta.occurredAt) + gate.timeoutMinutes * 60_000).toISOString(),
  });
}

/**
 * Rollout Node Updated: a node's result was recorded. `updates` are the node's update results
 * when the caller has them (null in the event otherwise); the first {@link MAX_EVENT_UPDATES}
 * are listed and the rest counted in `updatesOmitted`.
 */
export function nodeUpdated(
  run: LifecycleRun,
  result: LifecycleNodeResult,
  meta: EventMeta,
  updates?: readonly UpdateResult[],
): LifecycleEvent {
  return build('nodeUpdated', {
    // The node's start identifies its update within the run, also across retries of the record.
    ...common(run, meta, `node:${nodeKey(result.node)}:${result.startedAt}`),
    node: result.node,
    status: result.status,
    detail: result.detail ?? null,
    restarts: result.restarts ?? null,
    drained: result.drained ?? null,
    attempts: result.attempts ?? null,
    instanceId: result.instanceId ?? null,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt ?? null,
    updates:
      updates === undefined
        ? null
        : updates.slice(0, MAX_EVENT_UPDATES).map((u) => ({
            index: u.index,
            plugin: u.plugin,
            update: u.update,
            outcome: u.outcome,
            exitCode: u.exitCode,
            rebootRequired: u.rebootRequired,
          })),
    updatesOmitted: Math.max(0, (updates?.length ?? 0) - MAX_EVENT_UPDATES),
    ...(result.stillApplicable === undefined
      ? {}
      : { stillApplicable: result.stillApplicable.slice(0, MAX_EVENT_UPDATES) }),
  });
}

/**
 * The run's final event: Rollout Succeeded, Rollout Cancelled, or Rollout Failed. `Stopped`
 * (StopAfter passed) has no event type of its own: it is a Rollout Failed with status
 * `Stopped`, since for a change ticket both mean "not every node was updated".
 */
export function rolloutFinished(
  run: LifecycleRun,
  summary: LifecycleRunSummary,
  meta: EventMeta,
): LifecycleEvent {
  const fields = {
    ...common(run, meta, 'finished'),
    status: summary.status,
    reason: summary.reason,
    startedAt: run.startedAt,
    nodes: summary.nodes,
    failedNodes: [...summary.failedNodes],
  };
  switch (summary.status) {
    case 'Succeeded':
      return build('rolloutSucceeded', fields);
    case 'Cancelled':
      return build('rolloutCancelled', fields);
    case 'Failed':
    case 'Stopped':
      return build('rolloutFailed', fields);
  }
}

/** Rollout WarnAfter Passed: the run is still going past WarnAfter; sent once per run. */
export function warnAfterPassed(
  run: LifecycleRun,
  warnAt: string,
  node: string | null,
  meta: EventMeta,
): LifecycleEvent {
  return build('warnAfterPassed', {
    ...common(run, meta, 'warn-after'),
    warnAt,
    startedAt: run.startedAt,
    node,
  });
}

/** What a health gate found (check-alarms' verdict), for {@link healthGateTripped}. */
export interface HealthGateFinding {
  readonly checkpoint: 'beforeNode' | 'beforeWave' | 'beforePhase' | 'bake';
  readonly node: string | null;
  readonly action: 'stop' | 'approve' | 'fail';
  readonly firing: readonly { readonly name: string; readonly reason: string }[];
  readonly missing: readonly string[];
  readonly message: string;
  /** Which gate of the workflow (its state name), so a retry publishes the same eventId. */
  readonly gate?: string;
}

/** Rollout Health Gate: a gate found an alarm in ALARM (stop or approve) or one missing (fail). */
export function healthGateTripped(
  run: LifecycleRun,
  finding: HealthGateFinding,
  meta: EventMeta,
): LifecycleEvent {
  return build('healthGate', {
    ...common(run, meta, `health-gate:${finding.gate ?? finding.checkpoint}:${finding.node ?? ''}`),
    checkpoint: finding.checkpoint,
    node: finding.node,
    action: finding.action,
    firing: finding.firing.map((f) => ({ name: f.name, reason: f.reason })),
    missing: [...finding.missing],
    message: finding.message,
  });
}

/** Rollout Lock Force Recovered: an operator broke the lock of a run no longer running. */
export function lockForceRecovered(
  run: LifecycleRun,
  recovery: {
    readonly recoveredBy: string;
    readonly reason: string;
    readonly executionStatus: string;
    readonly lockAcquiredAt: string;
  },
  meta: EventMeta,
): LifecycleEvent {
  return build('lockForceRecovered', {
    ...common(run, meta, `force-recovery:${recovery.lockAcquiredAt}`),
    ...recovery,
  });
}

/** Rollout Phase Completed: a phase's nodes are done and its criteria judged. */
export function phaseCompleted(
  run: LifecycleRun,
  verdict: {
    readonly index: number;
    readonly name: string;
    readonly nodes: readonly string[];
    readonly failed: readonly string[];
    readonly failuresAllowed: number;
    readonly passed: boolean;
    readonly reason: string;
  },
  advance: 'bake' | 'approval' | 'none',
  meta: EventMeta,
): LifecycleEvent {
  return build('phaseCompleted', {
    ...common(run, meta, `phase:${verdict.index}`),
    phase: {
      index: verdict.index,
      name: verdict.name,
      nodes: [...verdict.nodes],
      failed: [...verdict.failed],
      failuresAllowed: verdict.failuresAllowed,
    },
    passed: verdict.passed,
    advance,
    reason: verdict.reason,
  });
}

/** What {@link nodeComplianceChanged} reads of a node's assessment (a NodeCompliance fits). */
export interface ComplianceChangeFinding {
  readonly assessmentId: string;
  readonly target: string;
  readonly node: string;
  readonly change: 'FellOut' | 'CameBack';
  readonly state: 'Compliant' | 'NonCompliant' | 'Unknown';
  /** The last known state before: the opposite of `state` for a change. */
  readonly previousState: 'Compliant' | 'NonCompliant';
  readonly assessedAt: string;
  readonly previousAssessedAt: string | null;
  readonly reasons: readonly string[];
  readonly missing: readonly { readonly kb: string | null; readonly title: string }[];
  readonly failed: readonly { readonly kb: string | null; readonly update: string }[];
  readonly pendingRestart: boolean | null;
}

/** Node Compliance Changed: an assessment found the node fell out of compliance or came back. */
export function nodeComplianceChanged(
  finding: ComplianceChangeFinding,
  occurredAt: string,
): ComplianceEvent {
  const detail = lifecycleDetailSchemas.nodeComplianceChanged.parse({
    schemaVersion: LIFECYCLE_SCHEMA_VERSION,
    eventId: `${finding.assessmentId}:${nodeKey(finding.node)}`,
    occurredAt,
    assessmentId: finding.assessmentId,
    target: { name: finding.target },
    node: finding.node,
    change: finding.change,
    state: finding.state,
    previousState: finding.previousState,
    assessedAt: finding.assessedAt,
    previousAssessedAt: finding.previousAssessedAt,
    reasons: [...finding.reasons],
    missing: finding.missing.slice(0, MAX_COMPLIANCE_EVENT_UPDATES).map((m) => m.kb ?? m.title),
    failed: finding.failed.slice(0, MAX_COMPLIANCE_EVENT_UPDATES).map((f) => f.kb ?? f.update),
    pendingRestart: finding.pendingRestart,
  });
  return {
    key: 'nodeComplianceChanged',
    detailType: LIFECYCLE_EVENT_TYPES.nodeComplianceChanged,
    detail,
  };
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (the published documentation, generated)

/** One published schema: the file under `events/schemas/` and its content. */
export interface LifecycleEventJsonSchema {
  readonly key: LifecycleEventKey;
  readonly detailType: LifecycleDetailType;
  /** The file name, e.g. `rollout-node-updated.json`. */
  readonly file: string;
  readonly schema: Record<string, unknown>;
}

/**
 * The JSON Schema (draft 2020-12) of each lifecycle event as a subscriber receives it: the
 * EventBridge envelope with `source` and `detail-type` fixed, and the detail. Objects allow
 * properties they do not list, so additive changes within a schema version break no subscriber.
 */
export function lifecycleEventJsonSchemas(): LifecycleEventJsonSchema[] {
  return (Object.keys(LIFECYCLE_EVENT_TYPES) as LifecycleEventKey[]).map((key) => {
    const detailType = LIFECYCLE_EVENT_TYPES[key];
    const detail = lifecycleDetailSchemas[key] as z.ZodType;
    const envelope = z
      .object({
        version: z.string(),
        id: z.string().describe('EventBridge event id (differs between deliveries)'),
        'detail-type': z.literal(detailType),
        source: z.literal(LIFECYCLE_EVENT_SOURCE),
        account: z.string(),
        time: timestamp,
        region: z.string(),
        resources: z.array(z.string()),
        detail,
      })
      .meta({
        title: detailType,
        description: `${detail.meta()?.description ?? detailType}. Detail schema version ${LIFECYCLE_SCHEMA_VERSION}.`,
      });
    const schema = z.toJSONSchema(envelope, {
      target: 'draft-2020-12',
      io: 'input',
      // `format: date-time` says it; zod's long equivalent regex would only bury the docs.
      override: (ctx) => {
        if (ctx.jsonSchema.format === 'date-time') delete ctx.jsonSchema.pattern;
      },
    }) as Record<string, unknown>;
    return {
      key,
      detailType,
      file: `${detailType.toLowerCase().replaceAll(' ', '-')}.json`,
      schema,
    };
  });
}
