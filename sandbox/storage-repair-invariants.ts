/**
 * The promise of WaitForStorageRepairTimeoutMinutes (issue 13, item 6), checked on every sandbox
 * run whose rollout input sets it: a cluster node whose Storage Spaces Direct repair is still
 * running when the wait after its resume ends is never reported Succeeded, and no other node of
 * the run starts after that resume (the run stops there, whatever MaxFailedNodes allows).
 *
 * The evidence is the fleet's own: the node's restarts and resumes in the fleet log and the
 * storage jobs the scenario gives it (each runs its minutes after the node is back), not the
 * workflow's verdicts or the resume script's result.
 */
import { nodeKey } from '../lambdas/core/node-names.js';
import type { FleetLogEntry } from './fleet.js';

export const STORAGE_REPAIR_STOPS_RUN = {
  name: 'storageRepairStopsRun',
  rule: 'With waitForStorageRepairTimeoutMinutes: a cluster node whose storage repair jobs (its scenario storageJobs, running after its last restart) outlast the wait after its resume is not reported Succeeded, and no other node of the run starts after that resume. Evidence: the fleet log and the scenario.',
} as const;

/** Jobs ending within this of the wait's end may go either way (the script polls every 30 s). */
const POLL_SLACK_MS = 60_000;

export interface StorageRepairEvidence {
  /** The rollout input as the run was started with it. */
  readonly rollout: unknown;
  /** The fleet log of the run's nodes, from the run's start. */
  readonly log: readonly FleetLogEntry[];
  readonly storageJobsOf: (node: string) => readonly { name: string; minutes: number }[];
  readonly nodeStarts: readonly { readonly at: number; readonly node: string }[];
  readonly status: (node: string) => string;
}

/** The wait the run asked for, in minutes; undefined when it asked none. */
function waitMinutes(rollout: unknown): number | undefined {
  const policy = (rollout as { policy?: { waitForStorageRepairTimeoutMinutes?: unknown } })?.policy;
  const value = policy?.waitForStorageRepairTimeoutMinutes;
  return typeof value === 'number' ? value : undefined;
}

export function checkStorageRepairStopsRun(evidence: StorageRepairEvidence): {
  problems: string[];
  detail: string;
} {
  const limit = waitMinutes(evidence.rollout);
  if (limit === undefined) return { problems: [], detail: 'the run waits for no storage repair' };
  const problems: string[] = [];
  let stuck = 0;
  const lastBack = new Map<string, number>();
  for (const entry of evidence.log) {
    if (entry.kind === 'back') lastBack.set(nodeKey(entry.node), entry.at);
    if (entry.kind !== 'resume' || entry.ok !== true) continue;
    const back = lastBack.get(nodeKey(entry.node));
    if (back === undefined) continue;
    const waitEnds = entry.at + limit * 60_000;
    const running = evidence
      .storageJobsOf(entry.node)
      .filter((j) => back + j.minutes * 60_000 > waitEnds + POLL_SLACK_MS);
    if (running.length === 0) continue;
    stuck++;
    const jobs = running.map((j) => j.name).join(', ');
    if (evidence.status(entry.node) === 'Succeeded') {
      problems.push(
        `${entry.node} is reported Succeeded although ${jobs} still ran when the ${limit}-minute storage repair wait after its resume (${new Date(entry.at).toISOString()}) ended`,
      );
    }
    for (const start of evidence.nodeStarts) {
      if (nodeKey(start.node) === nodeKey(entry.node) || start.at <= entry.at) continue;
      problems.push(
        `${start.node} started at ${new Date(start.at).toISOString()}, after ${entry.node}'s resume at ${new Date(entry.at).toISOString()} whose storage repair (${jobs}) outlasted the ${limit}-minute wait`,
      );
    }
  }
  return {
    problems,
    detail: `${stuck} resume(s) whose storage repair outlasted the ${limit}-minute wait; none reported Succeeded, no node started after them`,
  };
}
