/**
 * Run history: records a run when it starts, each node's result, and the run's final status.
 *
 * Events: `{ action: 'startRun', run }`, `{ action: 'recordNode', runId, node, result }`,
 * `{ action: 'finishRun', runId }`, `{ action: 'failureBudget', runId }` (what is left of
 * MaxFailedNodes: a fleet's rest after its pilot tolerates only that), `{ action:
 * 'checkWarnAfter', runId, node? }` (WarnAfter passed: event, metric and report line, once),
 * `{ action: 'pausedNodes', runId }` (nodes left Paused by a failed resume: the cluster stops),
 * `{ action: 'phaseVerdict', runId, phase }` (a phase's end: its criteria; Rollout Phase Completed),
 * `{ action: 'bakeTick', runId, phase, bake }` (one check of a bake: a cancel, the next wait). Errors: `InvalidEvent`, `RunExists` (the run id was used by
 * another run), `RunNotFound`, `LifecycleEventNotPublished`. Throttling propagates for Retry.
 *
 * Each action also publishes its lifecycle event (Rollout Started, Rollout Node Updated, Rollout
 * Succeeded / Failed / Cancelled) when a bus is configured: the record is written first, then
 * the event, so a failed publish loses no history. Every action is safe to retry, and a retry
 * publishes again (same `eventId`, a new `sequence`): startRun finds its own run, recordNode
 * replaces the node's result, and finishRun of a finished run returns the stored summary.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { NODE_STATUSES, type NodeStatus, REBOOT_OPTIONS } from '../core/contracts.js';
import {
  healthGateTripped,
  type LifecycleEvent,
  nodeUpdated,
  phaseCompleted,
  rolloutFinished,
  rolloutStarted,
  warnAfterPassed,
} from '../core/lifecycle-events.js';
import { nodeKey, nodeNameProblem } from '../core/node-names.js';
import { computeNodeOrder, type NodeOrderRecord, roleCountsOf } from '../core/node-order.js';
import { type BakeTick, bakeTick, type PhaseVerdict, phaseVerdict } from '../core/phases.js';
import { explainStillApplicable } from '../core/rescan.js';
import { MAX_GROUP_NODES, parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import {
  type NodeStaging,
  parseStageLines,
  StagingReportError,
  summarizeNodeStaging,
} from '../core/staging.js';
import { createEventPublisher, type LifecyclePublisher } from '../shared/event-publisher.js';
import { metrics } from '../shared/metrics.js';
import { type NodeListRef, readNodeList } from '../shared/node-list.js';
import {
  createRunStore,
  type NodeResultRecord,
  RunExistsError,
  RunNotFoundError,
  type RunRecord,
  type RunStore,
} from '../shared/run-store.js';
import { type RunSummary, summariseRun } from '../shared/run-summary.js';
import { logContext, logger, tracer } from '../shared/runtime.js';

const RUN_ID_ACCEPTED = 'expected a run id: 1 to 64 letters, digits, - and _';

const timestamp = z.iso.datetime({
  offset: true,
  error: 'expected an ISO 8601 timestamp with a time zone, e.g. 2025-01-31T22:00:00Z',
});
const nodeName = z.string().refine((name) => nodeNameProblem(name) === undefined, {
  error: (issue) => nodeNameProblem(issue.input) ?? 'expected a node name',
});
const runId = z.string().regex(RUN_ID_PATTERN, { error: RUN_ID_ACCEPTED });

const startRunSchema = z.object({
  action: z.literal('startRun'),
  run: z.object({
    runId,
    target: z.string().min(1, { error: 'expected the cluster or group name' }),
    targetKind: z.enum(['cluster', 'group']).optional(),
    nodes: z.array(nodeName).min(1, { error: 'expected at least one node' }),
    maxFailedNodes: z.number().int().min(0, { error: 'expected a whole number, 0 or more' }),
    startedAt: timestamp.optional(),
    stopAfterMinutes: z
      .number()
      .int()
      .min(1, { error: 'expected whole minutes, 1 or more' })
      .optional(),
    /** The run's deadlines as the rollout input resolved them; stopAt wins over stopAfterMinutes. */
    deadlines: z.object({ warnAt: timestamp.optional(), stopAt: timestamp.optional() }).optional(),
    execution: z.string().optional(),
    changeTicket: z
      .object({ system: z.string(), id: z.string(), url: z.string().optional() })
      .nullish(),
    requestedBy: z.string().nullish(),
    /** The rollout's rebootOption (issue 13, item 3); kept on the run unless IfRequired. */
    rebootOption: z.enum(REBOOT_OPTIONS).optional(),
    /** Issue 11: the run policy as resolved; the run keeps its concurrency and percentages. */
    policy: z
      .looseObject({
        maxConcurrency: z.number().int().min(1),
        maxConcurrencyPercent: z.number().optional(),
        maxFailedNodesPercent: z.number().optional(),
      })
      .optional(),
    /** Issue 11: how a selected target was resolved (tags, Resource Group, manifest). */
    targetResolution: z
      .object({
        by: z.enum(['tags', 'resourceGroup', 'manifest']),
        selector: z.string(),
        count: z.number().int().min(1),
        skipped: z.number().int().min(0),
        resolvedAt: timestamp,
        // The list by reference (its full names are in S3, `nodes` holds the first ones).
        nodeList: z.object({ bucket: z.string(), key: z.string(), sha256: z.string() }).optional(),
        firstNodes: z.array(z.string()).optional(),
      })
      .nullish(),
  }),
});

const recordNodeSchema = z.object({
  action: z.literal('recordNode'),
  runId,
  node: nodeName,
  result: z.object({
    status: z.enum(NODE_STATUSES, { error: `expected one of ${NODE_STATUSES.join(', ')}` }),
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    attempts: z.number().int().min(0).optional(),
    detail: z.string().max(4000).optional(),
    /** Why the node ended so (a failure reason, or the status itself); stored as `detail`. */
    reason: z.string().max(4000).optional(),
    instanceId: z.string().optional(),
    /** The node was drained at some point of its update (and so resumed). */
    drained: z.boolean().optional(),
    /** The node ended still drained: its resume failed, it is left Paused. */
    leftPaused: z.boolean().optional(),
    /** Cluster members the node's inventory found not Up before any drain: the run stops. */
    clusterNotUp: z.string().min(1).max(4000).optional(),
    /** Its storage repair outlasted WaitForStorageRepairTimeoutMinutes: the run stops. */
    storageRepairTimedOut: z.boolean().optional(),
    restarts: z.number().int().min(0).optional(),
    execution: z.string().optional(),
    /** The Verify inventory's rescan after the final restart (issue 13 item 6); null: none. */
    rescan: z
      .object({
        stillApplicable: z.array(
          z.object({
            kb: z.string().nullable(),
            title: z.string(),
            source: z.enum(['Hotfix', 'WindowsUpdate']),
            restartPending: z.boolean(),
          }),
        ),
        searchError: z.string().nullable(),
      })
      .nullish(),
  }),
});

/**
 * The rescan after the final restart, explained by this run's update results on the node
 * (issue 13 item 6): stored on the node's result and carried by its event. It does not change
 * the node's status.
 */
async function rescanFindings(
  store: Pick<RunStore, 'getNodeUpdateResults'>,
  runId: string,
  node: string,
  rescan: z.output<typeof recordNodeSchema>['result']['rescan'],
): Promise<Pick<NodeResultRecord, 'stillApplicable' | 'rescanError'>> {
  if (rescan === undefined || rescan === null) return {};
  const results =
    rescan.stillApplicable.length === 0 ? [] : await store.getNodeUpdateResults(runId, node);
  return {
    stillApplicable: explainStillApplicable(rescan.stillApplicable, results),
    ...(rescan.searchError === null ? {} : { rescanError: rescan.searchError }),
  };
}

const finishRunSchema = z.object({
  action: z.literal('finishRun'),
  runId,
  /** The error that ended the run early (a Step Functions Catch's `Error` and `Cause`). */
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
  /**
   * Why the run was called off without an error: an approval gate rejected or timed out
   * (`ApprovalRejected`, `RolloutCancelled`, `States.Timeout`). The run ends Cancelled.
   */
  cancelledBy: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

/** Has the run passed WarnAfter? Once it has: the event, the metric and the report line, once. */
const checkWarnAfterSchema = z.object({
  action: z.literal('checkWarnAfter'),
  runId,
  /** The node about to start, when a node loop asks. */
  node: nodeName.optional(),
});

/** The run's nodes left Paused (a resume that failed): a cluster loop stops on any. */
const pausedNodesSchema = z.object({ action: z.literal('pausedNodes'), runId });

/** What is left of the run's MaxFailedNodes (the fleet's rest after the pilot). */
const failureBudgetSchema = z.object({ action: z.literal('failureBudget'), runId });

/**
 * Issue 13, item 7: orders a cluster run's nodes fewest clustered roles first, from the
 * inventory command one node answered (`command`), or keeps them when it failed (`error`).
 */
const orderNodesSchema = z.object({
  action: z.literal('orderNodes'),
  runId,
  nodes: z.array(z.looseObject({ name: nodeName, instanceId: z.string().min(1) })).min(1),
  command: z
    .looseObject({ status: z.string(), results: z.array(z.unknown()).optional() })
    .optional(),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

/** A phase's end (issue 13, item 4): judge its criteria, publish Rollout Phase Completed. */
const phaseVerdictSchema = z.object({
  action: z.literal('phaseVerdict'),
  runId,
  phase: z.object({
    index: z.number().int().min(0),
    name: z.string().min(1),
    start: z.number().int().min(0),
    end: z.number().int().min(0),
    failuresAllowed: z.number().int().min(0),
    advance: z.enum(['bake', 'approval', 'none']),
  }),
});

/**
 * Issue 13, item 1: one check of a phase's bake (a loop of shorter waits): reads the run's
 * cancel flag and says how long to wait until the next check, or that the bake is over.
 */
const bakeTickSchema = z.object({
  action: z.literal('bakeTick'),
  runId,
  phase: z.object({
    index: z.number().int().min(0),
    name: z.string().min(1),
    bakeSeconds: z.number().int().min(0),
    bakeCheckSeconds: z.number().int().min(0),
  }),
  bake: z.object({
    leftSeconds: z.number().int().min(0),
    checks: z.number().int().min(0),
  }),
});

/**
 * Issue 13, item 1: a health gate found an alarm in ALARM or missing (check-alarms' verdict):
 * publishes Rollout Health Gate. The run's end (stop, fail) is recorded by finishRun.
 */
const healthGateSchema = z.object({
  action: z.literal('healthGate'),
  runId,
  /** The gate's state name: the event's id is the same on a retry. */
  gate: z.string().min(1).max(80).optional(),
  verdict: z.looseObject({
    checkpoint: z.enum(['beforeNode', 'beforeWave', 'beforePhase', 'bake']),
    node: z.string().nullable(),
    action: z.enum(['stop', 'approve', 'fail']),
    firing: z.array(z.object({ name: z.string(), reason: z.string() })),
    missing: z.array(z.string()),
    message: z.string(),
  }),
});

/**
 * Issue 13, item 5: a node's StageUpdates command ended (or never ran: `error`). Its result lines
 * are checked and summed up (core/staging.ts) and stored as the node's staging.
 */
const recordStagingSchema = z.object({
  action: z.literal('recordStaging'),
  runId,
  node: z.string().min(1),
  commandStatus: z.string().min(1),
  results: z.array(z.unknown()),
  error: z.string().max(4000).optional(),
});

const eventSchema = z.discriminatedUnion(
  'action',
  [
    recordStagingSchema,
    startRunSchema,
    recordNodeSchema,
    finishRunSchema,
    failureBudgetSchema,
    checkWarnAfterSchema,
    pausedNodesSchema,
    orderNodesSchema,
    phaseVerdictSchema,
    healthGateSchema,
    bakeTickSchema,
  ],
  {
    error:
      'expected action "startRun", "recordNode", "finishRun", "failureBudget", "checkWarnAfter", "pausedNodes", "orderNodes", "phaseVerdict", "healthGate", "recordStaging" or "bakeTick"',
  },
);

export type RunHistoryEvent = z.input<typeof eventSchema>;

export type { NodeCounts, RunSummary } from '../shared/run-summary.js';
export { summariseRun };

/** What failureBudget returns: the run's MaxFailedNodes, the nodes failed so far, what is left. */
export interface FailureBudget {
  readonly runId: string;
  readonly maxFailedNodes: number;
  readonly failed: number;
  /** maxFailedNodes − failed, never below 0: the failures the rest of the run may tolerate. */
  readonly remaining: number;
}

/** What checkWarnAfter returns. */
export interface WarnAfterCheck {
  readonly runId: string;
  /** The run is past WarnAfter. */
  readonly passed: boolean;
  /** This call noticed it first (and published the event). */
  readonly noticed: boolean;
}

/**
 * Nodes whose storage repair outlasted WaitForStorageRepairTimeoutMinutes (issue 13, item 6): as
 * CAU, the run stops before the next node, naming them and the jobs (their recorded detail).
 */
export function storageRepairStop(
  run: { readonly nodes: readonly string[]; readonly target: string },
  results: readonly NodeResultRecord[],
): { nodes: string[]; reason: string; error: 'StorageRepairTimedOut' } | undefined {
  const waiting = results.filter((n) => n.storageRepairTimedOut === true);
  if (waiting.length === 0) return undefined;
  const byKey = new Map(waiting.map((n) => [nodeKey(n.node), n]));
  const nodes = run.nodes.filter((n) => byKey.has(nodeKey(n)));
  const details = nodes.map(
    (n) => `${n}: ${byKey.get(nodeKey(n))?.detail ?? 'storage repair not finished'}`,
  );
  return {
    nodes,
    reason: `storage repair did not finish in time on ${details.join('; ')}: the run stops before the next node of ${run.target} (WaitForStorageRepairTimeoutMinutes); let the repair finish (Get-StorageJob) and start a new run`,
    error: 'StorageRepairTimedOut',
  };
}

/** What pausedNodes returns. */
export interface PausedNodes {
  readonly runId: string;
  readonly anyPaused: boolean;
  /** The nodes left Paused, in the run's order. */
  readonly nodes: readonly string[];
  /** Why the run must stop, when any is paused. */
  readonly reason?: string;
  /**
   * A node's inventory found a cluster member not Up before the run drained anything (paused
   * by an operator, down): the run stops with `ClusterNodeNotUp`, and `reason` names them.
   */
  readonly clusterNotUp: boolean;
  /** The error the run stops with: `NodeLeftPaused` or `StorageRepairTimedOut`. */
  readonly error?: string;
}

export type RunHistoryResult =
  | { readonly runId: string; readonly status: 'Running'; readonly startedAt: string }
  | PausedNodes
  | FailureBudget
  | WarnAfterCheck
  | PhaseVerdict
  | BakeTick
  | { readonly runId: string; readonly node: string; readonly status: NodeStatus }
  | {
      readonly runId: string;
      readonly nodes: readonly { readonly name: string }[];
      readonly order: NodeOrderRecord;
    }
  | RunSummary
  | NodeStaging
  | { readonly runId: string; readonly published: true };

export interface RunHistoryDeps {
  readonly store: RunStore;
  readonly now: () => Date;
  /**
   * Where lifecycle events go.
   * @default - none: no events are published and no sequence numbers are taken
   */
  readonly publisher?: LifecyclePublisher;
  /**
   * Reads a resolved selection's node list (issue 11) so the run records every name up to
   * MAX_GROUP_NODES; beyond, the run keeps the first names and the count.
   * @default - the names the state carries (the list's first ones)
   */
  readonly s3?: Pick<S3Client, 'send'>;
}

/**
 * The run stops: a node's inventory found members of the cluster not Up before anything was
 * drained. CAU refuses to run on such a cluster; the paused node is left as the operator left it.
 * `nodes` are the nodes whose inventory found it.
 */
function clusterNotUp(run: RunRecord, found: readonly NodeResultRecord[]): PausedNodes {
  const seen = found.map((n) => `${n.clusterNotUp} (found by ${n.node}'s inventory)`).join('; ');
  const reason = `${seen}: a node of ${run.target} was not Up before the run, so it stops before draining or updating any node of it and leaves that node as it was; resume it (Resume-ClusterNode) or bring it up, then start a new run`;
  logger.warn('cluster node not up before the run: the run stops', { found: seen });
  return {
    runId: run.runId,
    anyPaused: true,
    nodes: found.map((n) => n.node),
    reason,
    error: 'ClusterNodeNotUp',
    clusterNotUp: true,
  };
}

export function makeRunHistoryHandler(deps: RunHistoryDeps) {
  const publisher = deps.publisher?.enabled ? deps.publisher : undefined;

  /** Takes the run's next sequence number and publishes the event built with it. */
  const publish = async (
    runId: string,
    build: (run: RunRecord, sequence: number) => LifecycleEvent,
  ): Promise<void> => {
    if (publisher === undefined) return;
    const { sequence, run } = await deps.store.nextEventSequence(runId);
    const event = build(run, sequence);
    await publisher.publish(event.detailType, event.detail);
    logger.info('lifecycle event published', {
      detailType: event.detailType,
      eventId: event.detail.eventId,
      sequence,
    });
  };

  /**
   * WarnAfter (CAU): a run still going past it goes on, but says so once: it marks the run
   * (the report's line), counts RolloutWarnAfterPassed (the alarm's metric) and publishes
   * Rollout WarnAfter Passed. Checked before each cluster node, after each node and at the end.
   */
  const checkWarnAfter = async (
    run: RunRecord,
    node: string | null,
    now: Date,
  ): Promise<WarnAfterCheck> => {
    const passed = run.warnAt !== undefined && now.getTime() >= Date.parse(run.warnAt);
    if (!passed || run.warnAfterPassedAt !== undefined || run.warnAt === undefined) {
      return { runId: run.runId, passed, noticed: false };
    }
    const warnAt = run.warnAt;
    const noticed = await deps.store.markWarnAfterPassed(run.runId, now.toISOString());
    if (noticed) {
      metrics.singleMetric().addMetric('RolloutWarnAfterPassed', MetricUnit.Count, 1);
      logger.warn('the run has passed WarnAfter and goes on', { warnAt, node });
      await publish(run.runId, (stored, sequence) =>
        warnAfterPassed(stored, warnAt, node, { sequence, occurredAt: now.toISOString() }),
      );
    }
    return { runId: run.runId, passed, noticed };
  };

  return async (event: unknown): Promise<RunHistoryResult> => {
    const parsed = parseEvent('run-history', eventSchema, event);
    switch (parsed.action) {
      case 'startRun': {
        const { run } = parsed;
        logContext({ runId: run.runId, target: run.target });
        const startedAt = run.startedAt ?? deps.now().toISOString();
        const record: RunRecord = {
          runId: run.runId,
          target: run.target,
          ...(run.targetKind === undefined ? {} : { targetKind: run.targetKind }),
          nodes: await recordedNames(deps.s3, run),
          maxFailedNodes: run.maxFailedNodes,
          ...(run.targetResolution ? { targetResolution: run.targetResolution } : {}),
          ...(run.policy
            ? {
                resolvedPolicy: {
                  maxConcurrency: run.policy.maxConcurrency,
                  ...(run.policy.maxConcurrencyPercent === undefined
                    ? {}
                    : { maxConcurrencyPercent: run.policy.maxConcurrencyPercent }),
                  ...(run.policy.maxFailedNodesPercent === undefined
                    ? {}
                    : { maxFailedNodesPercent: run.policy.maxFailedNodesPercent }),
                },
              }
            : {}),
          status: 'Running',
          startedAt,
          ...(run.deadlines?.stopAt !== undefined
            ? { stopAt: run.deadlines.stopAt }
            : run.stopAfterMinutes === undefined
              ? {}
              : {
                  stopAt: new Date(
                    Date.parse(startedAt) + run.stopAfterMinutes * 60_000,
                  ).toISOString(),
                }),
          ...(run.deadlines?.warnAt !== undefined ? { warnAt: run.deadlines.warnAt } : {}),
          ...(run.execution ? { execution: run.execution } : {}),
          ...(run.changeTicket ? { changeTicket: run.changeTicket } : {}),
          ...(run.requestedBy ? { requestedBy: run.requestedBy } : {}),
          ...(run.rebootOption && run.rebootOption !== 'IfRequired'
            ? { rebootOption: run.rebootOption }
            : {}),
        };
        try {
          await deps.store.putRun(record);
        } catch (error) {
          if (!(error instanceof RunExistsError)) throw error;
          // A retried startRun finds its own run: carry on. Any other run with this id is an error.
          const existing = await deps.store.getRun(run.runId);
          if (existing?.status !== 'Running' || existing.target !== run.target) throw error;
          logger.info('run already started', { startedAt: existing.startedAt });
          // The first try may have stored the run and then failed to publish: publish again.
          await publish(run.runId, (stored, sequence) =>
            rolloutStarted(stored, { sequence, occurredAt: stored.startedAt }),
          );
          return { runId: run.runId, status: 'Running', startedAt: existing.startedAt };
        }
        logger.info('run started', { nodes: run.nodes.length });
        await publish(run.runId, (stored, sequence) =>
          rolloutStarted(stored, { sequence, occurredAt: stored.startedAt }),
        );
        return { runId: run.runId, status: 'Running', startedAt };
      }
      case 'recordNode': {
        const { runId: id, node, result } = parsed;
        logContext({ runId: id, node });
        const { reason, rescan, ...rest } = result;
        const detail =
          result.detail ?? (reason !== undefined && reason !== result.status ? reason : undefined);
        const stored = {
          ...rest,
          ...(await rescanFindings(deps.store, id, node, rescan)),
          ...(detail === undefined ? {} : { detail }),
          startedAt: result.startedAt ?? deps.now().toISOString(),
          finishedAt: result.finishedAt ?? deps.now().toISOString(),
        };
        await deps.store.putNodeResult(id, node, stored);
        // Storage repair outlasted its wait (issue 13, item 6): no node of the run starts after
        // this one (a group's other nodes are refused at their preflight; a cluster stops).
        if (result.storageRepairTimedOut === true) {
          await deps.store.haltNewNodes(id, {
            error: 'StorageRepairTimedOut',
            node,
            reason: `storage repair did not finish in time on ${node}: ${detail ?? 'storage repair not finished'}`,
            at: stored.finishedAt,
          });
        }
        // rebootOption Never: the updates this run installed wait for a restart (issue 13, item 3).
        if (result.status === 'InstalledPendingReboot') {
          await deps.store.markLedgerPendingReboot(node, id);
        }
        logger.info('node result recorded', { status: result.status });
        // A notice only: failing to give it must not fail the node's record (finishRun checks again).
        try {
          const current = await deps.store.getRun(id);
          if (current !== undefined) await checkWarnAfter(current, node, deps.now());
        } catch (error) {
          logger.warn('WarnAfter not checked after the node', { error });
        }
        await publish(id, (run, sequence) =>
          nodeUpdated(run, { ...stored, node }, { sequence, occurredAt: stored.finishedAt }),
        );
        return { runId: id, node, status: result.status };
      }
      case 'checkWarnAfter': {
        const { runId: id } = parsed;
        logContext({ runId: id });
        const run = await deps.store.getRun(id);
        if (run === undefined) throw new RunNotFoundError(id);
        return checkWarnAfter(run, parsed.node ?? null, deps.now());
      }
      case 'orderNodes': {
        const { runId: id, nodes } = parsed;
        logContext({ runId: id });
        const from = (nodes[0] as { name: string }).name;
        const counts = parsed.error
          ? {
              problem: `the inventory on ${from} failed (${parsed.error.Error ?? 'error'}: ${parsed.error.Cause ?? ''})`,
            }
          : parsed.command?.status !== 'Success'
            ? {
                problem: `the inventory on ${from} ended ${parsed.command?.status ?? 'without a result'}`,
              }
            : roleCountsOf(parsed.command.results?.[0]);
        const ordered: { nodes: typeof nodes; order: NodeOrderRecord } =
          'problem' in counts
            ? { nodes, order: { source: 'given', reason: counts.problem } }
            : computeNodeOrder(nodes, counts, from);
        await deps.store.recordNodeOrder(id, ordered.order);
        return { runId: id, ...ordered };
      }
      case 'pausedNodes': {
        const { runId: id } = parsed;
        logContext({ runId: id });
        const items = await deps.store.getRunItems(id);
        if (items.run === undefined) throw new RunNotFoundError(id);
        const notUp = items.nodes.filter((n) => n.clusterNotUp !== undefined);
        if (notUp.length > 0) return clusterNotUp(items.run, notUp);
        const paused = new Set(items.nodes.filter((n) => n.leftPaused).map((n) => nodeKey(n.node)));
        const nodes = items.run.nodes.filter((n) => paused.has(nodeKey(n)));
        if (nodes.length === 0) {
          const repairing = storageRepairStop(items.run, items.nodes);
          if (repairing !== undefined) {
            logger.warn('storage repair not finished: the run stops', { nodes: repairing.nodes });
            return { runId: id, anyPaused: true, clusterNotUp: false, ...repairing };
          }
          return { runId: id, anyPaused: false, nodes, clusterNotUp: false };
        }
        const reason = `${nodes.join(', ')} ${nodes.length === 1 ? 'is' : 'are'} left Paused (the resume failed): the run stops so that no other node of ${items.run.target} is drained while one is paused; resume ${nodes.length === 1 ? 'it' : 'them'} (Resume-ClusterNode) and start a new run`;
        logger.warn('node left paused: the run stops', { nodes });
        return {
          runId: id,
          anyPaused: true,
          nodes,
          reason,
          error: 'NodeLeftPaused',
          clusterNotUp: false,
        };
      }
      case 'failureBudget': {
        const { runId: id } = parsed;
        logContext({ runId: id });
        const items = await deps.store.getRunItems(id);
        if (items.run === undefined) throw new RunNotFoundError(id);
        const { failed } = summariseRun(items.run, items.nodes, deps.now()).nodes;
        const remaining = Math.max(0, items.run.maxFailedNodes - failed);
        logger.info('failure budget', {
          maxFailedNodes: items.run.maxFailedNodes,
          failed,
          remaining,
        });
        return { runId: id, maxFailedNodes: items.run.maxFailedNodes, failed, remaining };
      }
      case 'phaseVerdict': {
        const { runId: id, phase } = parsed;
        logContext({ runId: id });
        const items = await deps.store.getRunItems(id);
        if (items.run === undefined) throw new RunNotFoundError(id);
        const statuses = new Map(items.nodes.map((n) => [nodeKey(n.node), n.status]));
        const verdict = phaseVerdict(phase, await everyName(deps.s3, items.run), (n) =>
          statuses.get(nodeKey(n)),
        );
        logger.info('phase verdict', { phase: phase.index, passed: verdict.passed });
        await deps.store.putPhaseVerdict(id, {
          ...verdict,
          advance: phase.advance,
          judgedAt: deps.now().toISOString(),
        });
        await publish(id, (stored, sequence) =>
          phaseCompleted(stored, verdict, phase.advance, {
            sequence,
            occurredAt: deps.now().toISOString(),
          }),
        );
        return verdict;
      }
      case 'recordStaging': {
        const { runId: id, node, commandStatus, results, error } = parsed;
        logContext({ runId: id, node });
        let summary: NodeStaging;
        try {
          summary = summarizeNodeStaging(node, parseStageLines(node, results), commandStatus);
        } catch (problem) {
          if (!(problem instanceof StagingReportError)) throw problem;
          summary = summarizeNodeStaging(node, [], 'Failed');
          summary = { ...summary, problems: [problem.message] };
        }
        if (error !== undefined) summary = { ...summary, problems: [...summary.problems, error] };
        if (summary.problems.length > 0 && summary.status === 'NothingToStage')
          summary = { ...summary, status: 'Failed' };
        await deps.store.putStaging({ ...summary, runId: id, stagedAt: deps.now().toISOString() });
        logger.info('node staged', { status: summary.status, files: summary.files });
        return summary;
      }
      case 'bakeTick': {
        const { runId: id, phase, bake } = parsed;
        logContext({ runId: id });
        const run = await deps.store.getRun(id);
        if (run === undefined) throw new RunNotFoundError(id);
        const tick = bakeTick(phase, bake, run.cancelRequested === true);
        logger.info('bake check', { phase: phase.index, ...tick });
        return tick;
      }
      case 'healthGate': {
        const { runId: id, verdict, gate } = parsed;
        logContext({ runId: id, ...(verdict.node ? { node: verdict.node } : {}) });
        logger.warn('health gate', { action: verdict.action, message: verdict.message });
        const occurredAt = deps.now().toISOString();
        await publish(id, (stored, sequence) =>
          healthGateTripped(
            stored,
            { ...verdict, ...(gate ? { gate } : {}) },
            { sequence, occurredAt },
          ),
        );
        return { runId: id, published: true };
      }
      case 'finishRun': {
        const { runId: id } = parsed;
        logContext({ runId: id });
        const items = await deps.store.getRunItems(id);
        if (items.run === undefined) throw new RunNotFoundError(id);
        logContext({ runId: id, target: items.run.target });
        const done = finishedSummary(items.run);
        if (done !== undefined) {
          // A retry after the status was written (e.g. the publish failed): the stored summary
          // stands, counted once; publish it again.
          logger.info('run already finished', { status: done.status });
          await publish(id, (stored, sequence) =>
            rolloutFinished(stored, done, {
              sequence,
              occurredAt: stored.finishedAt ?? deps.now().toISOString(),
            }),
          );
          return done;
        }
        const now = deps.now();
        await checkWarnAfter(items.run, null, now);
        const error = parsed.error;
        const cancelledBy = parsed.cancelledBy;
        const run: RunRecord = error
          ? {
              ...items.run,
              status: 'Failed',
              failureReason: `${error.Error ?? 'error'}: ${error.Cause ?? 'no cause given'}`.slice(
                0,
                4000,
              ),
            }
          : cancelledBy
            ? {
                ...items.run,
                cancelRequested: true,
                failureReason: `${cancelledBy.Error === 'States.Timeout' ? 'ApprovalTimedOut' : (cancelledBy.Error ?? 'cancelled')}`,
              }
            : items.run;
        const summary = summariseRun(run, items.nodes, now);
        const finishedAt = now.toISOString();
        await deps.store.updateRunStatus(id, summary.status, {
          finishedAt,
          ...(run.failureReason ? { failureReason: run.failureReason } : {}),
          summary: {
            nodes: summary.nodes,
            failedNodes: summary.failedNodes,
            reason: summary.reason,
          },
        });
        if (summary.status === 'Failed') {
          metrics.singleMetric().addMetric('RolloutFailed', MetricUnit.Count, 1);
        } else if (summary.status === 'Succeeded') {
          metrics.singleMetric().addMetric('RolloutSucceeded', MetricUnit.Count, 1);
        }
        logger.info('run finished', { status: summary.status, reason: summary.reason });
        await publish(id, (stored, sequence) =>
          rolloutFinished(stored, summary, { sequence, occurredAt: finishedAt }),
        );
        return summary;
      }
    }
  };
}

/** The summary finishRun stored on the run, when the run is finished. */
function finishedSummary(run: RunRecord): RunSummary | undefined {
  if (run.status === 'Running' || run.finishedAt === undefined) return undefined;
  const stored = run.summary as Partial<Omit<RunSummary, 'runId' | 'status'>> | undefined;
  if (stored?.nodes === undefined || stored.failedNodes === undefined) return undefined;
  return {
    runId: run.runId,
    status: run.status,
    nodes: stored.nodes,
    failedNodes: stored.failedNodes,
    reason: stored.reason ?? run.failureReason ?? `the run ended ${run.status}`,
  };
}

/**
 * The names a run records: all of a selection's list up to MAX_GROUP_NODES, read from S3 (its
 * state carries the first ones only); the state's names otherwise.
 */
async function recordedNames(
  s3: Pick<S3Client, 'send'> | undefined,
  run: { nodes: string[]; targetResolution?: { count: number; nodeList?: NodeListRef } | null },
): Promise<string[]> {
  const resolution = run.targetResolution;
  if (!s3 || !resolution?.nodeList || resolution.count > MAX_GROUP_NODES) return run.nodes;
  const nodes = await readNodeList(s3, resolution.nodeList, resolution.count);
  return nodes.map((n) => n.name);
}

/**
 * Every name of the run in update order (issue 11): a selected run above MAX_GROUP_NODES
 * records its first names only, so a phase, found by position, reads the rest from the run's
 * resolved list (the order validate-input wrote). A list that does not read back fails the step.
 */
async function everyName(
  s3: Pick<S3Client, 'send'> | undefined,
  run: Pick<RunRecord, 'nodes' | 'targetResolution'>,
): Promise<readonly string[]> {
  const resolution = run.targetResolution;
  if (!resolution?.nodeList || resolution.count <= run.nodes.length) return run.nodes;
  if (!s3) throw new Error('the run names its first nodes only and no S3 client reads the rest');
  return (await readNodeList(s3, resolution.nodeList, resolution.count)).map((n) => n.name);
}

function productionDeps(): RunHistoryDeps {
  return {
    store: createRunStore(),
    now: () => new Date(),
    publisher: createEventPublisher(),
    s3: tracer.captureAWSv3Client(new S3Client({})),
  };
}

let cached: ReturnType<typeof makeRunHistoryHandler> | undefined;

export const handler = async (event: unknown, context: Context): Promise<RunHistoryResult> => {
  logger.addContext(context);
  cached ??= makeRunHistoryHandler(productionDeps());
  return cached(event);
};
