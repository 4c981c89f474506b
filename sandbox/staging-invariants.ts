/**
 * The promises of staging (issue 13 item 5), checked by the sandbox:
 * - a staging run changes nothing on a node: while it runs, the only command it sends is
 *   StageUpdates, and no node is drained, resumed or restarted (checkStagingRun, on every
 *   staging execution the tests and scenarios start);
 * - on every rollout run: an update the report calls installed "from cache" had, on that node, a
 *   staged copy whose SHA-256 on disk was the plan's, and the node's latest staging record lists
 *   that digest (stagedInstallsVerified).
 */
import { nodeKey } from '../lambdas/core/node-names.js';
import type { RunStore } from '../lambdas/shared/run-store.js';
import type { FleetLogEntry } from './fleet.js';
import type { RunReport } from './report.js';

export const STAGING_SAFE = {
  name: 'stagingSafe',
  rule: 'A staging run sends only StageUpdates and drains, resumes, installs and restarts nothing (checked on each staging execution); an update reported installed from the staging cache had, on that node, a staged copy whose SHA-256 on disk was the plan’s, and the node’s staging record lists that digest (checked on every run). Evidence: the fleet log, the fleet’s caches and the run store.',
} as const;

/** Commands that change a node: a staging run may send none. */
const CHANGING_DOCUMENTS = new Set([
  'drain',
  'resume',
  'installHotfixes',
  'windowsUpdate',
  'removeUpdates',
  'restart',
  'runScript',
]);

/** What the fleet log shows of one staging run: each change it made, one line each. */
export function checkStagingRun(log: readonly FleetLogEntry[]): string[] {
  return log
    .filter(
      (e) =>
        e.kind === 'drain' ||
        e.kind === 'resume' ||
        e.kind === 'restart' ||
        (e.kind === 'command' && e.document !== undefined && CHANGING_DOCUMENTS.has(e.document)),
    )
    .map(
      (e) =>
        `${e.node}: ${e.kind}${e.document ? ` ${e.document}` : ''} at ${new Date(e.at).toISOString()} while staging ran`,
    );
}

export interface StagedInstallEvidence {
  readonly report?: RunReport;
  readonly store: RunStore;
  /** The planned SHA-256 and the SHA-256 on disk of the node's staged copy of a file, if any. */
  readonly stagedCopyOf: (
    node: string,
    file: string,
  ) => { readonly plannedSha256: string; readonly actualSha256: string } | undefined;
}

/** Problems (empty: none) and what was checked. */
export async function stagedInstallsVerified(
  evidence: StagedInstallEvidence,
): Promise<{ problems: string[]; detail: string }> {
  const problems: string[] = [];
  let fromCache = 0;
  for (const node of evidence.report?.nodes ?? []) {
    const cached = node.updates.filter((u) => u.fromCache === true);
    if (cached.length === 0) continue;
    const record = await evidence.store.getNodeStaging(node.name);
    for (const u of cached) {
      fromCache++;
      const copy = evidence.stagedCopyOf(node.name, u.update);
      if (!copy) {
        problems.push(
          `${node.name}: ${u.update} is reported from cache, but no copy was staged on the node`,
        );
        continue;
      }
      if (copy.actualSha256 !== copy.plannedSha256) {
        problems.push(
          `${node.name}: ${u.update} is reported from cache, but the staged copy's SHA-256 is ${copy.actualSha256}, not the plan's ${copy.plannedSha256}`,
        );
      }
      if (
        !record ||
        nodeKey(record.node) !== nodeKey(node.name) ||
        !record.stagedDigests.includes(copy.plannedSha256)
      ) {
        problems.push(
          `${node.name}: ${u.update} is reported from cache, but the node's staging record does not list ${copy.plannedSha256}`,
        );
      }
    }
  }
  return {
    problems,
    detail: `${fromCache} update(s) installed from the staging cache, each verified`,
  };
}

/**
 * The run's invariants with what the staging just before it broke (stageBeforeRun's problems)
 * folded into stagingSafe, so a chaos campaign counts it as any violation.
 */
export function withStagingRunProblems<T extends { name: string; ok: boolean; detail: string }>(
  invariants: readonly T[],
  problems: readonly string[],
): T[] {
  if (problems.length === 0) return [...invariants];
  return invariants.map((i) =>
    i.name === STAGING_SAFE.name
      ? { ...i, ok: false, detail: [...problems, ...(i.ok ? [] : [i.detail])].join('; ') }
      : i,
  );
}

/** A rollout that ran while a staging ran: its name and the nodes it targets (none known: a selection). */
export interface RolloutAlongside {
  readonly name: string;
  readonly nodes: readonly string[] | undefined;
}

/**
 * {@link checkStagingRun} for a staging execution in a sandbox where rollouts may run at the same
 * time (`rollout local up`): the fleet log while it ran, on its own nodes only (all, when its
 * nodes are not known), and of those none that a rollout running meanwhile targets, since the
 * change may be that rollout's (a rollout of a selection names no nodes: nothing is checked).
 * Never a silent pass: the detail says which nodes were checked and which were left out, and why.
 */
export function checkStagingAmong(
  log: readonly FleetLogEntry[],
  stagingNodes: readonly string[] | undefined,
  alongside: readonly RolloutAlongside[],
): { readonly problems: string[]; readonly detail: string } {
  const unknown = alongside.find((r) => r.nodes === undefined);
  if (unknown) {
    return {
      problems: [],
      detail: `not checked: rollout ${unknown.name} (a selection, nodes unknown here) ran at the same time`,
    };
  }
  const busy = new Map<string, string>();
  for (const rollout of alongside) {
    for (const node of rollout.nodes ?? []) busy.set(nodeKey(node), rollout.name);
  }
  const mine = stagingNodes === undefined ? undefined : new Set(stagingNodes.map(nodeKey));
  const ours = log.filter((e) => mine === undefined || mine.has(nodeKey(e.node)));
  const checked = ours.filter((e) => !busy.has(nodeKey(e.node)));
  const left = [...new Set(ours.map((e) => e.node).filter((n) => busy.has(nodeKey(n))))];
  const scope = mine === undefined ? 'every node' : `its ${mine.size} node(s)`;
  return {
    problems: checkStagingRun(checked),
    detail: `${scope} checked${left.length > 0 ? `, except ${left.join(', ')} (updated by ${[...new Set(left.map((n) => busy.get(nodeKey(n))))].join(', ')} meanwhile)` : ''}`,
  };
}
