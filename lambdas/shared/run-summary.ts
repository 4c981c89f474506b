/**
 * A run's final status from its node results (summariseRun). Pure, and in shared/ rather than in
 * the run-history handler, so the API (ForceRecovery) and run-lock can summarise a run without
 * bundling that handler and its dependencies (issue 11 §4).
 */
import type { NodeStatus, RunStatus } from '../core/contracts.js';
import { nodeKey } from '../core/node-names.js';
import type { NodeResultRecord, RunRecord } from './run-store.js';

/** Node counts of a finished run. */
export interface NodeCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly notStarted: number;
  readonly nothingToInstall: number;
  readonly skipped: number;
  /** rebootOption Never: installed, restart pending. Absent when none. */
  readonly installedPendingReboot?: number;
}

/** What finishRun returns and stores on the run. */
export interface RunSummary {
  readonly runId: string;
  readonly status: Exclude<RunStatus, 'Running'>;
  readonly nodes: NodeCounts;
  /** Failed nodes, in the run's node order. */
  readonly failedNodes: readonly string[];
  /** Why the run ended with this status. */
  readonly reason: string;
}

/**
 * The final status of a run from its node results, first rule that applies:
 * 1. `Cancelled` when a cancel was requested.
 * 2. `Failed` when the run was marked failed, or more nodes failed than maxFailedNodes.
 * 3. `Stopped` when some nodes never started and StopAfter has passed.
 * 4. `Succeeded` when every node is Succeeded, NothingToInstall or InstalledPendingReboot (the
 *    run did what rebootOption Never asked).
 * 5. `Failed` otherwise: a node failed within maxFailedNodes, was skipped, or never started
 *    with no StopAfter to explain it. The run went on, but not every node got its updates.
 * A node of the run with no result counts as NotStarted.
 */
export function summariseRun(
  run: RunRecord,
  results: readonly NodeResultRecord[],
  now: Date,
): RunSummary {
  const byNode = new Map<string, { node: string; status: NodeStatus }>();
  for (const node of run.nodes) byNode.set(nodeKey(node), { node, status: 'NotStarted' });
  for (const result of results) {
    const known = byNode.get(nodeKey(result.node));
    byNode.set(nodeKey(result.node), { node: known?.node ?? result.node, status: result.status });
  }
  const all = [...byNode.values()];
  // Issue 11: a list given by reference records its first names only; the rest, without a
  // result, are NotStarted all the same.
  const unnamed = Math.max(
    0,
    (run.targetResolution?.nodeList ? run.targetResolution.count : 0) - all.length,
  );
  const count = (status: NodeStatus) =>
    all.filter((n) => n.status === status).length + (status === 'NotStarted' ? unnamed : 0);
  const nodes: NodeCounts = {
    total: all.length + unnamed,
    succeeded: count('Succeeded'),
    failed: count('Failed'),
    notStarted: count('NotStarted'),
    nothingToInstall: count('NothingToInstall'),
    skipped: count('Skipped'),
    // Only when there are some: summaries of runs without rebootOption Never keep their shape.
    ...(count('InstalledPendingReboot') > 0
      ? { installedPendingReboot: count('InstalledPendingReboot') }
      : {}),
  };
  const failedNodes = all.filter((n) => n.status === 'Failed').map((n) => n.node);
  const base = { runId: run.runId, nodes, failedNodes };
  const stopped = run.stopAt !== undefined && now.getTime() >= Date.parse(run.stopAt);

  if (run.cancelRequested === true) {
    const why = run.failureReason ? ` (${run.failureReason})` : '';
    return { ...base, status: 'Cancelled', reason: `the run was called off${why}` };
  }
  if (run.status === 'Failed') {
    return { ...base, status: 'Failed', reason: run.failureReason ?? 'the run was marked failed' };
  }
  if (run.haltedBy !== undefined) {
    return {
      ...base,
      status: 'Failed',
      reason: `${run.haltedBy.error}: ${run.haltedBy.reason}; no node of ${run.target} started after it (WaitForStorageRepairTimeoutMinutes)`,
    };
  }
  if (nodes.failed > run.maxFailedNodes) {
    return {
      ...base,
      status: 'Failed',
      reason: `${nodes.failed} node(s) failed, more than maxFailedNodes (${run.maxFailedNodes})`,
    };
  }
  if (nodes.notStarted > 0 && stopped) {
    return {
      ...base,
      status: 'Stopped',
      reason: `StopAfter passed (${run.stopAt}) before ${nodes.notStarted} node(s) started`,
    };
  }
  const pendingReboot = nodes.installedPendingReboot ?? 0;
  if (nodes.succeeded + nodes.nothingToInstall + pendingReboot === nodes.total) {
    return {
      ...base,
      status: 'Succeeded',
      reason:
        pendingReboot > 0
          ? `every node succeeded or had nothing to install; ${pendingReboot} installed with a restart pending (rebootOption Never)`
          : 'every node succeeded or had nothing to install',
    };
  }
  const left = [
    nodes.failed > 0
      ? `${nodes.failed} node(s) failed (within maxFailedNodes ${run.maxFailedNodes})`
      : '',
    nodes.skipped > 0 ? `${nodes.skipped} node(s) skipped` : '',
    nodes.notStarted > 0 ? `${nodes.notStarted} node(s) never started` : '',
  ].filter(Boolean);
  return { ...base, status: 'Failed', reason: `not every node was updated: ${left.join(', ')}` };
}
