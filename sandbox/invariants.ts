/**
 * The safety promises, written once, checked after every sandbox run (`rollout sandbox`, the
 * end-to-end tests, `rollout chaos`). Evidence comes from what the simulated fleet itself
 * recorded ({@link SimulatedFleet.log}), from the run store as it changed over time (observed
 * through {@link observeRunStore}) and from the run store at the end: never from the workflow's
 * own account of what it did. A violated invariant fails the run.
 */

import { LIFECYCLE_EVENT_TYPES } from '../lambdas/core/contracts.js';
import { isSuccessfulOutcome } from '../lambdas/core/exit-codes.js';
import { nodeKey } from '../lambdas/core/node-names.js';
import { kbOfResult } from '../lambdas/core/rescan.js';
import type { UpdateSelection } from '../lambdas/core/update-selection.js';
import { kbFromName } from '../lambdas/handlers/interpret-results.js';
import type { RunStore } from '../lambdas/shared/run-store.js';
import type { SimulatedAlarms } from './alarms.js';
import { checkBakeGates } from './bake-gate-invariants.js';
import {
  ASSESSMENT_READ_ONLY,
  type AssessmentEvidence,
  checkAssessmentReadOnly,
} from './compliance-invariants.js';
import type { ExecutionResult, ProgressEvent, Sandbox } from './engine.js';
import {
  CLUSTER_HEALTH_AFTER_RESTART,
  checkClusterHealthAfterRestart,
} from './failback-invariants.js';
import type { FleetLogEntry, SimulatedFleet } from './fleet.js';
import { excludedNeverInstalled } from './invariant-update-selection.js';
import { checkPhasesGateInOrder, PHASES_GATE_IN_ORDER } from './phase-invariants.js';
import type { RunReport } from './report.js';
import { STAGING_SAFE, stagedInstallsVerified } from './staging-invariants.js';
import {
  checkStorageRepairStopsRun,
  STORAGE_REPAIR_STOPS_RUN,
} from './storage-repair-invariants.js';

/** The promises, each with the rule it checks, in the README's words. */
export const INVARIANTS = [
  {
    name: 'restartOnlyWhenDrained',
    rule: 'A cluster node is never restarted unless, at that moment, it is paused and its drain completed (no clustered role left on it). Evidence: the fleet log.',
  },
  {
    name: 'nodesLeftClean',
    rule: 'When the run ends, no node that can be reached is paused or drained, and none has an SSM command still running (Pending, InProgress or Delayed with no cancel requested). Exception: a node whose last Resume-ClusterNode failed stays paused, is not reported Succeeded, and no other node of its cluster is drained after that failure. Exception: a cluster node paused before the run stays paused when a script of the run listed the cluster and saw it not Up, nothing of its cluster was drained or installed after that, nothing but the inventory ran on it, and it is not reported Succeeded; or when the run changed nothing on its cluster at all (no drain, resume, restart or command but the inventory on any of its nodes) and it is not reported Succeeded. A node that never came back, or is offline, is named with its state and not reported Succeeded. Exception: a cluster node that came back from a restart Down in the cluster stays so (clusterHealthAfterRestart checks it).',
  },
  {
    name: 'noPendingRestartOnSuccess',
    rule: 'No node the report calls Succeeded ends the run with a restart pending.',
  },
  {
    name: 'lockHeldForRunLife',
    rule: 'From the run acquiring the target lock until its execution ends, every observed state of the lock names the run as holder, and names the run’s own execution (which every acquirer and ForceRecovery check: the lock of a running execution is never taken, whatever its lease says) or else a lease that has not lapsed (each renewal, and the end, comes before the last lease expiry); after the end the run no longer holds the lock.',
  },
  {
    name: 'failureBudget',
    rule: 'Let the budget be spent by the (maxFailedNodes + 1)th node recorded Failed (in write order, across gates, phases and waves). The failed nodes then number at most maxFailedNodes plus the nodes whose workflow had started before that record (the spending node included).',
  },
  {
    name: 'ledgerExactlyOnce',
    rule: 'Every update the run history records as installed (Success or Success_RebootRequired, with a KB id in its name) is in the node’s install ledger exactly once for the run.',
  },
  {
    name: 'reportMatchesHistory',
    rule: 'The run history (run record, node results, update results), the lifecycle events and the execution agree: the run is not left Running; the last finished event and the last event per node carry the stored statuses; a Succeeded run has a succeeded execution and a succeeded execution no Failed run; a node stored Succeeded has every update’s last attempt successful.',
  },
  {
    name: 'noNodeStartsInAlarm',
    rule: 'With health gates (onAlarm stop), no node starts while a configured alarm is in ALARM at the time of the check: no node of a cluster starts when an alarm was in ALARM all the time since the node before it ended (or the run started), and no node of a group when it was so since the run started and no node had yet started; and no node of a later phase starts after a bake (alarmsQuiet) in which an alarm was in ALARM for a whole healthGates.checkEveryMinutes interval, even if it was OK again by the bake’s end. Evidence: the alarm timeline and the node workflows’ starts.',
  },
  {
    name: 'neverMeansNeverRestarted',
    rule: 'With rebootOption Never, the run restarts no node: the fleet log has no restart that is not an installer’s own (1641). Evidence: the fleet log.',
  },
  PHASES_GATE_IN_ORDER,
  STORAGE_REPAIR_STOPS_RUN,
  {
    name: 'excludedNeverInstalled',
    rule: 'An update the run’s updateSelection excludes (issue 13 item 2) is never installed during the run: the selection is applied again to every install the fleet saw (a Windows Update item by its facts at the time, a hotfix file by the KB in its name), and the report calls no excluded update installed.',
  },
  ASSESSMENT_READ_ONLY,
  CLUSTER_HEALTH_AFTER_RESTART,
  STAGING_SAFE,
  {
    name: 'missingUpdatesReported',
    rule: 'An update this run’s installer reported installed (Success or Success_RebootRequired) on a node the report calls Succeeded, but that is not on the node when the run ends, is reported: the node’s rescan after the final restart lists it installedButNotPresent, or its rescanError says why the rescan could not look. Evidence: the fleet’s installed updates at the end.',
  },
] as const;

export type InvariantName = (typeof INVARIANTS)[number]['name'];

/** One invariant's verdict on one run. */
export interface InvariantResult {
  readonly name: InvariantName;
  readonly ok: boolean;
  /** What was checked, or the evidence of the violation (node, time, what happened). */
  readonly detail: string;
}

/** A lock state seen right after a lock operation of the run store. */
export interface LockSample {
  readonly at: number;
  readonly target: string;
  readonly op: string;
  readonly holder: string | null;
  readonly leaseExpiresAt: number | null;
  /** The execution the lock names: while it runs, the lock is held whatever the lease says. */
  readonly execution: string | null;
}

/** A node result written to the run store, with its place among the observations. */
export interface NodeResultWrite {
  readonly at: number;
  readonly runId: string;
  readonly node: string;
  readonly status: string;
  /** Position among node result writes and node starts (one sequence for both). */
  readonly order: number;
}

/** A node's workflow entering its first state in a run. */
export interface NodeStart {
  readonly at: number;
  readonly runId: string;
  readonly node: string;
  readonly order: number;
}

/** What the observer saw the run store and the workflows do, in order. */
export interface StoreObservations {
  readonly locks: LockSample[];
  readonly nodeResults: NodeResultWrite[];
  readonly nodeStarts: NodeStart[];
  /** Feed it every progress event: it records the first state each node's workflow enters. */
  readonly onProgress: (event: ProgressEvent) => void;
}

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '(none)' : new Date(ms).toISOString();

/**
 * Watches the sandbox's run store: after every lock operation (any method with `Lock` in its
 * name but `getLock`), the lock of each given target is read back and recorded; every node
 * result written, and (through `onProgress`) every node workflow's start, is recorded in one
 * order. Lock operations that a later change adds (a force recovery, say) are observed without
 * changes here.
 */
export function observeRunStore(sandbox: Sandbox, targets: readonly string[]): StoreObservations {
  let order = 0;
  const seen = new Set<string>();
  const observations: StoreObservations = {
    locks: [],
    nodeResults: [],
    nodeStarts: [],
    onProgress: (event) => {
      if (event.runId === undefined || event.node === undefined) return;
      const key = `${event.runId}|${nodeKey(event.node)}`;
      if (seen.has(key)) return;
      seen.add(key);
      observations.nodeStarts.push({
        at: event.at.getTime(),
        runId: event.runId,
        node: event.node,
        order: order++,
      });
    },
  };
  const watched = new Set(targets);
  const store = sandbox.store as unknown as Record<string, unknown>;
  const proto = Object.getPrototypeOf(sandbox.store) as Record<string, unknown>;
  const now = () => sandbox.clock.now().getTime();
  for (const name of Object.getOwnPropertyNames(proto)) {
    const original = proto[name];
    if (typeof original !== 'function' || name === 'constructor') continue;
    if (/lock/i.test(name) && name !== 'getLock') {
      store[name] = async (...args: unknown[]) => {
        // Every target a lock call names is watched from then on, not only the scenario's (a
        // run started through the API may lock another).
        const named =
          typeof args[0] === 'string' ? args[0] : (args[0] as { target?: unknown } | null)?.target;
        if (typeof named === 'string') watched.add(named);
        try {
          return await (original as (...a: unknown[]) => Promise<unknown>).apply(
            sandbox.store,
            args,
          );
        } finally {
          for (const target of watched) {
            const lock = await sandbox.store.getLock(target).catch(() => undefined);
            observations.locks.push({
              at: now(),
              target,
              op: name,
              holder: lock?.holder ?? null,
              leaseExpiresAt: lock ? Date.parse(lock.leaseExpiresAt) : null,
              execution: lock?.execution ?? null,
            });
          }
        }
      };
    } else if (name === 'putNodeResult') {
      store[name] = async (runId: string, node: string, result: { status: string }) => {
        await (original as RunStore['putNodeResult']).call(
          sandbox.store,
          runId,
          node,
          result as never,
        );
        observations.nodeResults.push({
          at: now(),
          runId,
          node,
          status: result.status,
          order: order++,
        });
      };
    }
  }
  return observations;
}

/** Everything the checks read about one run. */
export interface RunEvidence {
  readonly sandbox: Sandbox;
  readonly fleet: SimulatedFleet;
  readonly observations: StoreObservations;
  readonly execution: ExecutionResult;
  /** Absent when the run never reached the run store. */
  readonly report?: RunReport;
  /** The nodes the rollout targets. */
  readonly nodes: readonly string[];
  /** The fleet log from this position on belongs to the run (runs of a scenario are sequential). */
  readonly fleetFrom: number;
  /** The rollout's rebootOption. @default 'IfRequired' */
  readonly rebootOption?: string;
  /** The rollout input the run started with, when known (phases are resolved from it). */
  readonly rollout?: unknown;
  /** The run's resolved updateSelection (null: none); absent when unknown (an API run). */
  readonly updateSelection?: UpdateSelection | null;
  /** The simulated alarms (their timeline) and the rollout's healthGates, if any. */
  readonly alarms?: SimulatedAlarms;
  readonly healthGates?: {
    readonly alarmNames?: readonly string[];
    readonly alarmTag?: { readonly key: string; readonly value: string };
    readonly onAlarm?: string;
  };
  /** The fleet log up to here belongs to the run; after it, to the assessments. @default - all */
  readonly fleetTo?: number;
  /** Compliance assessments run after the rollout (issue 13, item 8). @default [] */
  readonly assessments?: readonly AssessmentEvidence[];
}

const TERMINAL = new Set(['Success', 'Cancelled', 'TimedOut', 'Failed']);

/** Checks every invariant on one finished run; one result per invariant, in INVARIANTS order. */
export async function checkRunInvariants(evidence: RunEvidence): Promise<InvariantResult[]> {
  const { fleet, report } = evidence;
  const members = new Set(evidence.nodes.map(nodeKey));
  const log = fleet.log
    .slice(evidence.fleetFrom, evidence.fleetTo)
    .filter((e) => members.has(nodeKey(e.node)));
  // The report's status of each node, the first entry of a name as `find` had it (issue 11: a
  // lookup per node, not a scan of the report per node).
  const reported = new Map<string, string>();
  for (const n of report?.nodes ?? []) {
    const key = nodeKey(n.name);
    if (!reported.has(key)) reported.set(key, n.status);
  }
  const status = (node: string) => reported.get(nodeKey(node)) ?? 'NotRecorded';
  return [
    restartOnlyWhenDrained(log),
    nodesLeftClean(evidence, log, status),
    noPendingRestartOnSuccess(evidence, status),
    lockHeldForRunLife(evidence),
    await failureBudget(evidence),
    await ledgerExactlyOnce(evidence),
    await reportMatchesHistory(evidence),
    noNodeStartsInAlarm(evidence),
    neverMeansNeverRestarted(evidence.rebootOption, log),
    phasesGateInOrder(evidence),
    storageRepairStopsRun(evidence, log, status),
    selectionRespected(evidence),
    assessmentReadOnly(evidence.assessments ?? []),
    clusterHealthAfterRestart(evidence, log, status),
    await stagingSafe(evidence),
    missingUpdatesReported(evidence),
  ];
}

const INSTALLED = new Set(['Success', 'Success_RebootRequired']);

/** The rescan (issue 13 item 6): an install the node does not show is reported, never hidden. */
function missingUpdatesReported(evidence: RunEvidence): InvariantResult {
  const problems: string[] = [];
  let missing = 0;
  let checked = 0;
  for (const node of evidence.report?.nodes ?? []) {
    if (node.status !== 'Succeeded') continue;
    checked++;
    const present = new Set(
      evidence.fleet.node(node.name).installedUpdates.map((kb) => kb.toUpperCase()),
    );
    const reported = new Set(
      (node.stillApplicable ?? [])
        .filter((s) => s.reason === 'installedButNotPresent' && s.kb !== null)
        .map((s) => (s.kb as string).toUpperCase()),
    );
    const said = new Set<string>();
    for (const update of node.updates) {
      const kb = kbOfResult(update.update);
      if (!INSTALLED.has(update.outcome) || kb === null || present.has(kb) || said.has(kb))
        continue;
      said.add(kb);
      missing++;
      if (reported.has(kb) || node.rescanError !== undefined) continue;
      problems.push(
        `${node.name}: ${update.update} was reported ${update.outcome} but ${kb} is not on the node at the end, and the report does not say so (stillApplicable: ${JSON.stringify(node.stillApplicable ?? [])})`,
      );
    }
  }
  return result(
    'missingUpdatesReported',
    problems,
    `${checked} Succeeded node(s) checked; ${missing} update(s) reported installed but not on the node, each reported`,
  );
}

/** Compliance (issue 13, item 8): an assessment changes nothing on its nodes. */
function assessmentReadOnly(assessments: readonly AssessmentEvidence[]): InvariantResult {
  if (assessments.length === 0) return result('assessmentReadOnly', [], 'no assessment ran');
  const checked = assessments.map(checkAssessmentReadOnly);
  return result(
    'assessmentReadOnly',
    checked.flatMap((c) => c.problems),
    checked.map((c) => c.detail).join('; '),
  );
}

/** Staging (issue 13 item 5): "from cache" only with a verified staged copy (staging-invariants.ts). */
async function stagingSafe(evidence: RunEvidence): Promise<InvariantResult> {
  const { problems, detail } = await stagedInstallsVerified({
    ...(evidence.report ? { report: evidence.report } : {}),
    store: evidence.sandbox.store,
    stagedCopyOf: (node, file) => evidence.fleet.stagedCopyOf(node, file),
  });
  return result('stagingSafe', problems, detail);
}

/** WaitForStorageRepairTimeoutMinutes (issue 13, item 6): an unfinished repair stops the run. */
function storageRepairStopsRun(
  evidence: RunEvidence,
  log: readonly FleetLogEntry[],
  status: (node: string) => string,
): InvariantResult {
  if (evidence.rollout === undefined) {
    return result('storageRepairStopsRun', [], 'not checked: no rollout input');
  }
  const runId = evidence.report?.runId;
  const { problems, detail } = checkStorageRepairStopsRun({
    rollout: evidence.rollout,
    log,
    storageJobsOf: (node) => evidence.fleet.storageJobsOf(node),
    nodeStarts: evidence.observations.nodeStarts.filter(
      (s) => runId === undefined || s.runId === runId,
    ),
    status,
  });
  return result('storageRepairStopsRun', problems, detail);
}

/** After a restart (issue 13, item 6): Up in the cluster, and the roles failed back in time. */
function clusterHealthAfterRestart(
  evidence: RunEvidence,
  log: readonly FleetLogEntry[],
  status: (node: string) => string,
): InvariantResult {
  const { problems, detail } = checkClusterHealthAfterRestart({
    rollout: evidence.rollout,
    log,
    failbackOf: (node) => evidence.fleet.failbackOf(node),
    clusterOf: (node) => evidence.fleet.node(node).cluster,
    status,
  });
  return result('clusterHealthAfterRestart', problems, detail);
}

/** Phases (issue 13, item 4): each later phase starts only through its gate. */
function phasesGateInOrder(evidence: RunEvidence): InvariantResult {
  const { report } = evidence;
  if (!report || evidence.rollout === undefined) {
    return result('phasesGateInOrder', [], 'not checked: no run report or no rollout input');
  }
  const { problems, detail } = checkPhasesGateInOrder({
    runId: report.runId,
    rollout: evidence.rollout,
    startedAt: report.startedAt ?? new Date(0).toISOString(),
    nodeResults: evidence.observations.nodeResults,
    nodeStarts: evidence.observations.nodeStarts,
  });
  return result('phasesGateInOrder', problems, detail);
}

function selectionRespected(evidence: RunEvidence): InvariantResult {
  const { problems, checked } = excludedNeverInstalled({
    fleet: evidence.fleet,
    nodes: evidence.nodes,
    ...(evidence.updateSelection === undefined
      ? {}
      : { updateSelection: evidence.updateSelection }),
    startedAt: evidence.execution.startedAt.getTime(),
    stoppedAt: evidence.execution.stoppedAt.getTime(),
    ...(evidence.report ? { report: evidence.report } : {}),
  });
  return result('excludedNeverInstalled', problems, checked);
}

const result = (name: InvariantName, problems: readonly string[], ok: string): InvariantResult =>
  problems.length === 0
    ? { name, ok: true, detail: ok }
    : { name, ok: false, detail: problems.join('; ') };

function restartOnlyWhenDrained(log: readonly FleetLogEntry[]): InvariantResult {
  const restarts = log.filter((e) => e.kind === 'restart' && e.clusterState !== null);
  const bad = restarts
    .filter((e) => e.clusterState !== 'Paused' || e.drainStatus !== 'Completed')
    .map(
      (e) =>
        `${e.node} restarted at ${iso(e.at)}${e.byInstaller ? ' by its installer (1641)' : ''} while ${e.clusterState} with drain ${e.drainStatus}`,
    );
  return result(
    'restartOnlyWhenDrained',
    bad,
    `${restarts.length} cluster node restart(s), each paused and drained`,
  );
}

/**
 * Health gates (issue 13, item 1), from the alarm timeline, not the workflow's verdicts: a gate
 * stands between the end of one cluster node and the start of the next (and before a group's
 * first wave), so an alarm in ALARM for the whole of that interval was in ALARM when the gate
 * read it, and the node must not have started. onAlarm approve lets an operator go on: not
 * checked. Within a group's wave nodes keep starting (the gate is per wave).
 */
function noNodeStartsInAlarm(evidence: RunEvidence): InvariantResult {
  const gates = evidence.healthGates;
  const alarms = evidence.alarms;
  if (!gates || !alarms || (gates.onAlarm ?? 'stop') !== 'stop') {
    return result('noNodeStartsInAlarm', [], 'no health gates with onAlarm stop: not applicable');
  }
  const runId = evidence.report?.runId;
  const names = [
    ...new Set([
      ...(gates.alarmNames ?? []),
      ...(gates.alarmTag ? alarms.tagged(gates.alarmTag.key, gates.alarmTag.value) : []),
    ]),
  ];
  const starts = evidence.observations.nodeStarts
    .filter((s) => s.runId === runId)
    .sort((a, b) => a.at - b.at);
  const ends = evidence.observations.nodeResults.filter((r) => r.runId === runId).map((r) => r.at);
  const runStart = evidence.execution.startedAt.getTime();
  const isCluster = evidence.report?.targetKind === 'cluster';
  const checked = isCluster ? starts : starts.slice(0, 1);
  const problems: string[] = [];
  for (const start of checked) {
    const from = Math.max(runStart, ...ends.filter((at) => at <= start.at));
    for (const name of names) {
      if (alarms.inAlarmThroughout(name, from, start.at)) {
        problems.push(
          `${start.node} started at ${iso(start.at)} while ${name} had been in ALARM since ${iso(from)} or before (${alarms.stateAt(name, start.at)?.reason ?? ''})`,
        );
      }
    }
  }
  // During a phase's bake (issue 13, item 1): an alarm in ALARM for a check interval stops it.
  const bake =
    evidence.rollout === undefined || runId === undefined
      ? { problems: [], bakes: 0 }
      : checkBakeGates({
          runId,
          rollout: evidence.rollout,
          startedAt: evidence.report?.startedAt ?? new Date(runStart).toISOString(),
          alarmNames: names,
          inAlarmThroughout: (name, from, to) => alarms.inAlarmThroughout(name, from, to),
          changesOf: (name) => alarms.changes(name),
          nodeResults: evidence.observations.nodeResults,
          nodeStarts: evidence.observations.nodeStarts,
        });
  problems.push(...bake.problems);
  return result(
    'noNodeStartsInAlarm',
    problems,
    `${checked.length} node start(s) checked against ${names.length} alarm(s): none in ALARM throughout its gate's interval${bake.bakes > 0 ? `; ${bake.bakes} bake(s) checked: no later node started after an alarm in ALARM for a check interval during one` : ''}`,
  );
}

function neverMeansNeverRestarted(
  rebootOption: string | undefined,
  log: readonly FleetLogEntry[],
): InvariantResult {
  if (rebootOption !== 'Never') {
    return result('neverMeansNeverRestarted', [], 'rebootOption is not Never: not applicable');
  }
  const ours = log.filter((e) => e.kind === 'restart' && e.byInstaller !== true);
  return result(
    'neverMeansNeverRestarted',
    ours.map((e) => `${e.node} restarted by the run at ${iso(e.at)} with rebootOption Never`),
    `rebootOption Never: no restart by the run (${log.filter((e) => e.kind === 'restart').length} by an installer)`,
  );
}

/**
 * The fleet log's entries of each node (by node key), in log order: one pass, where a filter of
 * the whole log per node was quadratic in a 1,000-node fleet (issue 11, sandbox speed).
 */
function logByNode(log: readonly FleetLogEntry[]): Map<string, FleetLogEntry[]> {
  const byNode = new Map<string, FleetLogEntry[]>();
  for (const entry of log) {
    const key = nodeKey(entry.node);
    const list = byNode.get(key);
    if (list) list.push(entry);
    else byNode.set(key, [entry]);
  }
  return byNode;
}

function nodesLeftClean(
  evidence: RunEvidence,
  log: readonly FleetLogEntry[],
  status: (node: string) => string,
): InvariantResult {
  const problems: string[] = [];
  const notes: string[] = [];
  const at = iso(evidence.execution.stoppedAt.getTime());
  const logOf = logByNode(log);
  for (const name of evidence.nodes) {
    const node = evidence.fleet.node(name);
    const state = `${node.nodeState ?? 'standalone'}${node.drainStatus ? `, drain ${node.drainStatus}` : ''}`;
    if (node.down || !node.online) {
      const why = node.down ? 'never came back from a restart' : `is offline (${node.pingStatus})`;
      notes.push(`${node.name} ${why}: ${state}`);
      if (status(name) === 'Succeeded') {
        problems.push(`${node.name} ${why} (${state}) but the report calls it Succeeded`);
      }
      continue;
    }
    const mine = logOf.get(nodeKey(name)) ?? [];
    const lastResume = mine.filter((e) => e.kind === 'resume').at(-1);
    const leftPaused =
      node.nodeState === 'Paused' ||
      node.drainStatus === 'InProgress' ||
      node.drainStatus === 'Completed';
    if (leftPaused) {
      if (lastResume?.ok === false) {
        notes.push(`${node.name} stays ${state}: its resume failed at ${iso(lastResume.at)}`);
        if (status(name) === 'Succeeded') {
          problems.push(`${node.name} could not be resumed but the report calls it Succeeded`);
        }
        const laterDrain = log.find(
          (e) =>
            e.kind === 'drain' &&
            e.seq > lastResume.seq &&
            nodeKey(e.node) !== nodeKey(name) &&
            node.cluster !== null &&
            evidence.fleet.node(e.node).cluster === node.cluster,
        );
        if (laterDrain) {
          problems.push(
            `${laterDrain.node} was drained at ${iso(laterDrain.at)} while ${node.name} of the same cluster stayed paused after its failed resume at ${iso(lastResume.at)}`,
          );
        }
      } else if (mine.filter((e) => e.kind === 'back').at(-1)?.clusterState === 'Down') {
        // Its cluster service did not come back after a restart: clusterHealthAfterRestart
        // checks it is not Succeeded and stopped its cluster.
        notes.push(`${node.name} stays ${state}: it came back from a restart Down in the cluster`);
      } else {
        const found = foundNotUpAndUntouched(evidence, log, name, status(name));
        if (found.ok) notes.push(`${node.name} stays ${state}: ${found.detail}`);
        else problems.push(`${node.name} ends the run (${at}) ${state}${found.detail}`);
      }
    }
    const lastByCommand = new Map<string, FleetLogEntry>();
    for (const e of mine)
      if (e.kind === 'command' && e.commandId) lastByCommand.set(e.commandId, e);
    for (const e of lastByCommand.values()) {
      if (!TERMINAL.has(String(e.status)) && !e.cancelRequested) {
        problems.push(
          `${node.name} ends the run (${at}) with ${e.document} command ${e.commandId} still ${e.status} and no cancel requested`,
        );
      }
    }
  }
  return result(
    'nodesLeftClean',
    problems,
    `${evidence.nodes.length} node(s) left Up, undrained, no command running${notes.length ? `; ${notes.join('; ')}` : ''}`,
  );
}

/** Documents that change a node; only the inventory may run on a node found not Up. */
const CHANGING_DOCUMENTS = new Set([
  'drain',
  'resume',
  'installHotfixes',
  'windowsUpdate',
  'removeUpdates',
  'restart',
  'runScript',
]);

/**
 * nodesLeftClean's exemption for a cluster node paused before the run (by an operator): the
 * fleet log shows a script of the run listing the cluster and seeing it not Up, and after that
 * nothing on the cluster was drained or installed, nothing on the node itself was changed at
 * all in the run, and the report does not call it Succeeded. `detail` says which part failed.
 */
function foundNotUpAndUntouched(
  evidence: RunEvidence,
  log: readonly FleetLogEntry[],
  name: string,
  status: string,
): { ok: boolean; detail: string } {
  const key = nodeKey(name);
  const seen = log.find(
    (e) => e.kind === 'clusterView' && nodeKey(e.node) === key && e.clusterState !== 'Up',
  );
  const cluster = evidence.fleet.node(name).cluster;
  if (!seen) return clusterUntouched(evidence, log, cluster, status);
  const changedItself = log.find(
    (e) =>
      nodeKey(e.node) === key &&
      (e.kind === 'drain' ||
        e.kind === 'resume' ||
        e.kind === 'restart' ||
        (e.kind === 'command' && e.document !== undefined && CHANGING_DOCUMENTS.has(e.document))),
  );
  const changedCluster = log.find(
    (e) =>
      e.seq > seen.seq &&
      cluster !== null &&
      evidence.fleet.node(e.node).cluster === cluster &&
      (e.kind === 'drain' ||
        (e.kind === 'command' &&
          (e.document === 'installHotfixes' ||
            e.document === 'windowsUpdate' ||
            e.document === 'removeUpdates'))),
  );
  const problems = [
    changedItself
      ? `it was found ${seen.clusterState} before the run changed it, yet ${changedItself.kind}${changedItself.document ? ` ${changedItself.document}` : ''} ran on it at ${iso(changedItself.at)}`
      : '',
    changedCluster
      ? `after ${seen.seenBy} found it ${seen.clusterState} at ${iso(seen.at)}, ${changedCluster.node} was ${changedCluster.kind === 'drain' ? 'drained' : `sent ${changedCluster.document}`} at ${iso(changedCluster.at)}`
      : '',
    status === 'Succeeded' ? 'the report calls it Succeeded' : '',
  ].filter(Boolean);
  if (problems.length > 0) return { ok: false, detail: `: ${problems.join('; ')}` };
  return {
    ok: true,
    detail: `${seen.seenBy} found it ${seen.clusterState} at ${iso(seen.at)}, before the run changed anything on its cluster, and the run left it untouched`,
  };
}

/**
 * The run stopped before it looked at the cluster (a scan that refused offline nodes, say): a
 * paused node of it is still as it was before the run when the fleet log shows nothing of the
 * run on any node of its cluster that can pause one (no drain, resume or restart, no command
 * but the inventory).
 */
function clusterUntouched(
  evidence: RunEvidence,
  log: readonly FleetLogEntry[],
  cluster: string | null,
  status: string,
): { ok: boolean; detail: string } {
  if (cluster === null || status === 'Succeeded') return { ok: false, detail: '' };
  const touched = log.find(
    (e) =>
      evidence.fleet.node(e.node).cluster === cluster &&
      (e.kind === 'drain' ||
        e.kind === 'resume' ||
        e.kind === 'restart' ||
        (e.kind === 'command' && e.document !== undefined && CHANGING_DOCUMENTS.has(e.document))),
  );
  if (touched) return { ok: false, detail: '' };
  return {
    ok: true,
    detail: `paused before the run, which changed nothing on ${cluster} (no drain, resume, restart or command but the inventory on any of its nodes)`,
  };
}

function noPendingRestartOnSuccess(
  evidence: RunEvidence,
  status: (node: string) => string,
): InvariantResult {
  const succeeded = evidence.nodes.filter((n) => status(n) === 'Succeeded');
  const bad = succeeded
    .filter((n) => evidence.fleet.node(n).pendingReboot)
    .map((n) => `${n} is reported Succeeded with a restart still pending`);
  return result(
    'noPendingRestartOnSuccess',
    bad,
    `${succeeded.length} Succeeded node(s), none with a restart pending`,
  );
}

function lockHeldForRunLife(evidence: RunEvidence): InvariantResult {
  const { report, execution } = evidence;
  if (!report) return result('lockHeldForRunLife', [], 'the run never reached the run store');
  const runId = report.runId;
  const end = execution.stoppedAt.getTime();
  const start = execution.startedAt.getTime();
  const samples = evidence.observations.locks.filter(
    (s) => s.target === report.target && s.at >= start && s.at <= end,
  );
  const acquired = samples.findIndex((s) => s.holder === runId);
  if (acquired < 0) {
    return result(
      'lockHeldForRunLife',
      report.lockReleased ? [] : [`${runId} holds the lock of ${report.target} after its end`],
      `${runId} never held the lock of ${report.target}`,
    );
  }
  const problems: string[] = [];
  // A lock naming this run's execution is held until that execution ends (core/target-lock.ts):
  // its lease only matters for a lock that names no execution, or another one.
  const byExecution = (s: LockSample | undefined) => s?.execution === execution.executionArn;
  let lease = samples[acquired]?.leaseExpiresAt ?? null;
  let heldByExecution = byExecution(samples[acquired]);
  for (const s of samples.slice(acquired + 1)) {
    if (s.holder !== runId) {
      // At the very end (the release task is the run's last step, and a run waiting for the
      // target may take it in the same instant): not a loss while the run lived.
      if (s.at >= end) continue;
      problems.push(
        `after ${s.op} at ${iso(s.at)} the lock of ${report.target} is ${s.holder === null ? 'free' : `held by ${s.holder}`} while ${runId} still runs (until ${iso(end)})`,
      );
      break;
    }
    if (lease !== null && s.at > lease && !heldByExecution) {
      problems.push(
        `the lease of ${runId} on ${report.target} lapsed at ${iso(lease)} (the lock names no running execution of it); renewed only at ${iso(s.at)}`,
      );
    }
    lease = s.leaseExpiresAt;
    heldByExecution = byExecution(s);
  }
  const released = samples.some((s) => s.at >= end && s.holder !== runId);
  if (problems.length === 0 && lease !== null && end > lease && !released && !heldByExecution) {
    problems.push(
      `the lease of ${runId} on ${report.target} lapsed at ${iso(lease)} while the run lived until ${iso(end)}`,
    );
  }
  if (!report.lockReleased)
    problems.push(`${runId} still holds the lock of ${report.target} after its end`);
  return result(
    'lockHeldForRunLife',
    problems,
    `${runId} held ${report.target} from ${iso(samples[acquired]?.at)} to ${iso(end)} (${samples.length} lock observations), then released it`,
  );
}

async function failureBudget(evidence: RunEvidence): Promise<InvariantResult> {
  const { report } = evidence;
  if (!report) return result('failureBudget', [], 'the run never reached the run store');
  const run = await evidence.sandbox.store.getRun(report.runId);
  const max = run?.maxFailedNodes ?? 0;
  const writes = evidence.observations.nodeResults.filter((w) => w.runId === report.runId);
  const last = new Map<string, NodeResultWrite>();
  for (const w of writes) last.set(nodeKey(w.node), w);
  const failed = [...last.values()].filter((w) => w.status === 'Failed');
  const firstFailure = new Map<string, NodeResultWrite>();
  for (const w of writes) {
    if (w.status === 'Failed' && !firstFailure.has(nodeKey(w.node)))
      firstFailure.set(nodeKey(w.node), w);
  }
  const spender = [...firstFailure.values()].sort((a, b) => a.order - b.order)[max];
  if (!spender) {
    return result(
      'failureBudget',
      [],
      `${failed.length} failed node(s), within maxFailedNodes ${max}`,
    );
  }
  // Running when the budget was spent: the node workflows started before that record, the
  // node that spent it included.
  const started = new Set<string>([nodeKey(spender.node)]);
  for (const s of evidence.observations.nodeStarts) {
    if (s.runId === report.runId && s.order < spender.order) started.add(nodeKey(s.node));
  }
  const after = evidence.observations.nodeStarts.filter(
    (s) => s.runId === report.runId && s.order > spender.order,
  );
  const allowed = max + started.size;
  const problems =
    failed.length > allowed
      ? [
          `${failed.length} nodes failed (${failed.map((w) => w.node).join(', ')}), more than maxFailedNodes ${max} plus the ${started.size} node(s) running when ${spender.node}'s failure spent the budget at ${iso(spender.at)}${after.length > 0 ? `; started after it: ${after.map((s) => `${s.node} at ${iso(s.at)}`).join(', ')}` : ''}`,
        ]
      : [];
  return result(
    'failureBudget',
    problems,
    `${failed.length} failed node(s); the budget (maxFailedNodes ${max}) was spent at ${iso(spender.at)} by ${spender.node} with ${started.size} node(s) running, ${after.length} started after`,
  );
}

async function ledgerExactlyOnce(evidence: RunEvidence): Promise<InvariantResult> {
  const { report } = evidence;
  if (!report) return result('ledgerExactlyOnce', [], 'the run never reached the run store');
  const items = await evidence.sandbox.store.getRunItems(report.runId);
  const problems: string[] = [];
  let checked = 0;
  const byNode = new Map<string, Set<string>>();
  for (const u of items.updates) {
    if (u.plugin === 'Rollout.Removal') continue;
    if (u.outcome !== 'Success' && u.outcome !== 'Success_RebootRequired') continue;
    const kb = kbFromName(u.update);
    if (!kb) continue;
    const set = byNode.get(u.node) ?? new Set<string>();
    set.add(kb.toUpperCase());
    byNode.set(u.node, set);
  }
  for (const [node, kbs] of byNode) {
    const ledger = await evidence.sandbox.store.getLedger(node);
    for (const kb of kbs) {
      checked++;
      const count = ledger.entries.filter(
        (e) => e.runId === report.runId && e.updateId.toUpperCase() === kb,
      ).length;
      if (count !== 1) {
        problems.push(
          `${node}: ${kb} reported installed by ${report.runId} is in the ledger ${count} time(s)`,
        );
      }
    }
  }
  return result(
    'ledgerExactlyOnce',
    problems,
    `${checked} reported install(s), each in the ledger once`,
  );
}

async function reportMatchesHistory(evidence: RunEvidence): Promise<InvariantResult> {
  const { report, execution, sandbox } = evidence;
  if (!report) {
    return result(
      'reportMatchesHistory',
      [],
      `the run never reached the run store (execution ${execution.status}${execution.error ? ` ${execution.error}` : ''})`,
    );
  }
  const problems: string[] = [];
  const items = await sandbox.store.getRunItems(report.runId);
  const run = items.run;
  if (!run)
    return result('reportMatchesHistory', [`run ${report.runId} is gone from the run store`], '');
  if (run.status === 'Running')
    problems.push(`the run record is still Running after the execution ended ${execution.status}`);
  if (run.status === 'Succeeded' && execution.status !== 'SUCCEEDED') {
    problems.push(
      `the run record says Succeeded but the execution ${execution.status} (${execution.error ?? ''})`,
    );
  }
  if (execution.status === 'SUCCEEDED' && run.status === 'Failed') {
    problems.push('the execution succeeded but the run record says Failed');
  }
  const events = sandbox.events.received
    .map((e) => ({ type: e.detailType, detail: e.detail as Record<string, unknown> }))
    .filter((e) => e.detail?.rolloutId === report.runId);
  const finishedTypes: readonly string[] = [
    LIFECYCLE_EVENT_TYPES.rolloutSucceeded,
    LIFECYCLE_EVENT_TYPES.rolloutFailed,
    LIFECYCLE_EVENT_TYPES.rolloutCancelled,
  ];
  const finished = events.filter((e) => finishedTypes.includes(e.type)).at(-1);
  if (!finished) problems.push('no Rollout Succeeded/Failed/Cancelled event was published');
  else if (finished.detail.status !== run.status) {
    problems.push(
      `the last finished event says ${String(finished.detail.status)}, the run record ${run.status}`,
    );
  } else {
    const eventFailed = new Set(((finished.detail.failedNodes as string[]) ?? []).map(nodeKey));
    const storedFailed = new Set(
      items.nodes.filter((n) => n.status === 'Failed').map((n) => nodeKey(n.node)),
    );
    const differ =
      [...eventFailed].some((n) => !storedFailed.has(n)) ||
      [...storedFailed].some((n) => !eventFailed.has(n));
    if (differ) {
      problems.push(
        `failed nodes: the finished event lists [${[...eventFailed].join(', ')}], the run history [${[...storedFailed].join(', ')}]`,
      );
    }
  }
  // Issue 11: each node's last event and its updates, grouped once (a filter per node was
  // quadratic in the fleet's size).
  const lastNodeEvent = new Map<string, (typeof events)[number]>();
  for (const e of events) {
    if (e.type === LIFECYCLE_EVENT_TYPES.nodeUpdated)
      lastNodeEvent.set(nodeKey(String(e.detail.node)), e);
  }
  const updatesByNode = new Map<string, (typeof items.updates)[number][]>();
  for (const u of items.updates) {
    const key = nodeKey(u.node);
    const list = updatesByNode.get(key);
    if (list) list.push(u);
    else updatesByNode.set(key, [u]);
  }
  for (const stored of items.nodes) {
    const event = lastNodeEvent.get(nodeKey(stored.node));
    if (event && event.detail.status !== stored.status) {
      problems.push(
        `${stored.node}: the last node event says ${String(event.detail.status)}, the run history ${stored.status}`,
      );
    }
    if (stored.status === 'Succeeded') {
      const mine = updatesByNode.get(nodeKey(stored.node)) ?? [];
      const lastAttempt = new Map<string, (typeof mine)[number]>();
      for (const u of mine) {
        const key = `${u.plugin}|${u.update}`;
        const seen = lastAttempt.get(key);
        if (!seen || u.attempt >= seen.attempt) lastAttempt.set(key, u);
      }
      for (const u of lastAttempt.values()) {
        if (!isSuccessfulOutcome(u.outcome)) {
          problems.push(
            `${stored.node} is Succeeded but ${u.update} ended ${u.outcome} (attempt ${u.attempt})`,
          );
        }
      }
    }
  }
  return result(
    'reportMatchesHistory',
    problems,
    `run ${run.status}, execution ${execution.status}, ${items.nodes.length} node result(s) and ${events.length} lifecycle event(s) agree`,
  );
}

/** The violated invariants among results, as one line each. */
export function violations(results: readonly InvariantResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`);
}
