/**
 * The staging report (issue 13 item 5): per node, what a staging run put in its cache (files,
 * bytes, digests verified, cache hits) and what it could not, read from the run store's staging
 * records, as the deployed control plane writes them.
 */
import type { RunStore, StagingRecord } from '../lambdas/shared/run-store.js';
import type { Sandbox } from './engine.js';
import type { SimulatedFleet } from './fleet.js';
import { checkStagingRun } from './staging-invariants.js';

/** A staging run's nodes, in node order. */
export async function readStagingReport(store: RunStore, runId: string): Promise<StagingRecord[]> {
  return store.getStagingOfRun(runId);
}

/** The per-node staging table, one line a node, then each node's problems. */
export function formatStagingTable(records: readonly StagingRecord[]): string {
  const header = [
    'node',
    'status',
    'files',
    'bytes',
    'digests verified',
    'cache hits',
    'windows updates',
  ];
  const rows = records.map((r) => [
    r.node,
    r.status,
    String(r.files),
    String(r.bytes),
    String(r.digestsVerified),
    String(r.cacheHits),
    String(r.windowsUpdates),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const problems = records.flatMap((r) => r.problems.map((p) => `  ${r.node}: ${p}`));
  return [
    line(header),
    ...rows.map(line),
    ...(problems.length > 0 ? ['not staged:', ...problems] : []),
  ].join('\n');
}

/**
 * A scenario's `staging`: stages the rollout's nodes through the staging workflow, then changes
 * the first staged copy of each `corrupt` node on disk. Returns what went wrong, one line each
 * (the staging execution failed, or it changed a node: the stagingSafe invariant).
 */
export async function stageBeforeRun(
  sandbox: Sandbox,
  fleet: SimulatedFleet,
  rollout: object,
  name: string,
  corrupt: readonly string[],
): Promise<string[]> {
  const from = fleet.log.length;
  const execution = await sandbox.runStaging({ ...rollout, runId: name }, name);
  const problems = checkStagingRun(fleet.log.slice(from));
  if (execution.status !== 'SUCCEEDED') {
    problems.push(
      `staging ${name} ended ${execution.status}: ${execution.error ?? ''} ${execution.cause ?? ''}`.trim(),
    );
  }
  for (const node of corrupt) fleet.corruptStagedCopy(node);
  return problems;
}
