/**
 * The promises of the checks after a cluster node's restart (issue 13, item 6), checked on every
 * sandbox run: a node that came back from a restart Down in the cluster (its cluster service did
 * not start) is never reported Succeeded, and no other node of its cluster is drained after it
 * came back so; with failbackMode Immediate (the default), a node whose drained roles were not
 * back on it within failbackTimeoutMinutes of its resume is never reported Succeeded.
 *
 * The evidence is the fleet's own: the `back` and `resume` entries of the fleet log and the
 * failback the scenario gives the node, not the workflow's verdicts or the resume's result.
 */
import { nodeKey } from '../lambdas/core/node-names.js';
import type { FleetLogEntry } from './fleet.js';

export const CLUSTER_HEALTH_AFTER_RESTART = {
  name: 'clusterHealthAfterRestart',
  rule: 'A cluster node that came back from a restart Down in the cluster is not reported Succeeded, and no other node of its cluster is drained after that; with failbackMode Immediate (the default), a node whose roles (scenario failbackMinutes after its resume) were not back within failbackTimeoutMinutes of that resume is not reported Succeeded. Evidence: the fleet log and the scenario.',
} as const;

/** The default wait of the failback check (lambdas/handlers/preflight.ts). */
const DEFAULT_FAILBACK_MINUTES = 10;
/** Roles back within this of the wait's end may go either way (the script polls every 15 s). */
const POLL_SLACK_MINUTES = 1;

export interface ClusterHealthEvidence {
  /** The rollout input as the run was started with it. */
  readonly rollout: unknown;
  /** The fleet log of the run's nodes, from the run's start. */
  readonly log: readonly FleetLogEntry[];
  readonly failbackOf: (node: string) => { readonly minutes: number; readonly roles: number };
  readonly clusterOf: (node: string) => string | null;
  readonly status: (node: string) => string;
}

/** The failback wait the run asked for, in minutes; undefined when it checks none. */
function failbackLimit(rollout: unknown): number | undefined {
  const policy = (
    rollout as { policy?: { failbackMode?: unknown; failbackTimeoutMinutes?: unknown } }
  )?.policy;
  if ((policy?.failbackMode ?? 'Immediate') !== 'Immediate') return undefined;
  const value = policy?.failbackTimeoutMinutes;
  return typeof value === 'number' ? value : DEFAULT_FAILBACK_MINUTES;
}

export function checkClusterHealthAfterRestart(evidence: ClusterHealthEvidence): {
  problems: string[];
  detail: string;
} {
  const problems: string[] = [];
  let downAfterRestart = 0;
  let lateFailbacks = 0;
  for (const entry of evidence.log) {
    if (entry.kind !== 'back' || entry.clusterState !== 'Down') continue;
    downAfterRestart++;
    if (evidence.status(entry.node) === 'Succeeded') {
      problems.push(
        `${entry.node} came back from a restart Down in the cluster (${new Date(entry.at).toISOString()}) but is reported Succeeded`,
      );
    }
    const cluster = evidence.clusterOf(entry.node);
    const laterDrain = evidence.log.find(
      (e) =>
        e.kind === 'drain' &&
        e.seq > entry.seq &&
        nodeKey(e.node) !== nodeKey(entry.node) &&
        cluster !== null &&
        evidence.clusterOf(e.node) === cluster,
    );
    if (laterDrain) {
      problems.push(
        `${laterDrain.node} was drained at ${new Date(laterDrain.at).toISOString()} after ${entry.node} of the same cluster came back Down from its restart`,
      );
    }
  }
  const limit = failbackLimit(evidence.rollout);
  if (limit !== undefined) {
    for (const entry of evidence.log) {
      if (entry.kind !== 'resume' || entry.ok !== true) continue;
      const failback = evidence.failbackOf(entry.node);
      if (failback.roles === 0 || failback.minutes <= limit + POLL_SLACK_MINUTES) continue;
      lateFailbacks++;
      if (evidence.status(entry.node) === 'Succeeded') {
        problems.push(
          `${entry.node} is reported Succeeded although its roles came back ${failback.minutes} minutes after its resume (${new Date(entry.at).toISOString()}), past the ${limit}-minute failback wait`,
        );
      }
    }
  }
  return {
    problems,
    detail: `${downAfterRestart} node(s) back Down in the cluster after a restart, ${lateFailbacks} resume(s) whose failback outlasted the wait${limit === undefined ? ' (no failback wait: not Immediate)' : ` of ${limit} minutes`}; none reported Succeeded`,
  };
}
