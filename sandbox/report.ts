/**
 * The run report, like CAU's `Get-CauReport -Detailed`: per node, per update, the outcome, exit
 * code, restart and duration; the install ledger; where the history is stored. Built from the
 * run store (the same items the deployed control plane writes), not from the sandbox's memory.
 */

import { toHex } from '../lambdas/core/exit-codes.js';
import type { LedgerEntry } from '../lambdas/core/install-ledger.js';
import { describeNodeOrder } from '../lambdas/core/node-order.js';
import { type StillApplicable, stillApplicableLines } from '../lambdas/core/rescan.js';
import { reportNodeNames } from '../lambdas/shared/report-nodes.js';
import type { RunStore, StoredPhaseVerdict } from '../lambdas/shared/run-store.js';

/** One update's line in the report. */
export interface ReportUpdate {
  readonly plugin: string;
  readonly update: string;
  readonly attempt: number;
  readonly outcome: string;
  readonly exitCode: number | null;
  readonly rebootRequired: boolean;
  readonly durationSeconds: number;
  readonly detail?: string;
  /** Not installed: the rollout's updateSelection rule that left it out. */
  readonly excludedBy?: string;
  /** Installed from the staging cache (issue 13 item 5); absent: from the hotfix root. */
  readonly fromCache?: boolean;
  /** A staged copy was there but not used, and why. */
  readonly cacheNote?: string;
}

/** One node's section of the report. */
export interface ReportNode {
  readonly name: string;
  readonly status: string;
  readonly detail?: string;
  readonly drained: boolean;
  readonly restarts: number;
  readonly attempts: number;
  readonly updates: readonly ReportUpdate[];
  /** What the rescan after the final restart found still applicable (issue 13 item 6). */
  readonly stillApplicable?: readonly StillApplicable[];
  /** The rescan's Windows Update search failed. */
  readonly rescanError?: string;
  readonly ledger: readonly Pick<
    LedgerEntry,
    'sequence' | 'updateId' | 'installedAt' | 'hotpatched' | 'installedPendingReboot'
  >[];
}

/** The report of one run. */
export interface RunReport {
  readonly runId: string;
  readonly target: string;
  readonly targetKind?: string;
  readonly status: string;
  readonly reason?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Simulated wall-clock length of the run. */
  readonly makespanSeconds?: number;
  readonly lockReleased: boolean;
  /** How a cluster run ordered its nodes, when it computed the order (issue 13, item 7). */
  readonly order?: string;
  /** Phase verdicts (issue 13, item 4), in phase order; absent without phases. */
  readonly phases?: readonly StoredPhaseVerdict[];
  readonly nodes: readonly ReportNode[];
}

/**
 * Reads a run's report from the run store. Its nodes are every node of the run, as the API's
 * report lists them: above 2,000 a selected run's record names its first 20 only, so the rest
 * are read from the resolved list in S3 (`s3`: the sandbox's), then any node with a result the
 * list does not name. The invariants check the nodes listed here, so none that ran is left out.
 */
export async function readRunReport(
  store: RunStore,
  runId: string,
  s3?: Parameters<typeof reportNodeNames>[1],
): Promise<RunReport> {
  const items = await store.getRunItems(runId);
  const run = items.run;
  if (!run) throw new Error(`run ${runId} is not in the run store`);
  const summary = run.summary as { reason?: string } | undefined;
  const nodes: ReportNode[] = [];
  // Issue 11: each node's result (the first of its name) and updates (in store order), grouped
  // once; a find and a filter per node was quadratic in the fleet's size.
  const resultOf = new Map<string, (typeof items.nodes)[number]>();
  for (const n of items.nodes) {
    const key = n.node.toUpperCase();
    if (!resultOf.has(key)) resultOf.set(key, n);
  }
  const updatesOf = new Map<string, (typeof items.updates)[number][]>();
  for (const u of items.updates) {
    const key = u.node.toUpperCase();
    const list = updatesOf.get(key);
    if (list) list.push(u);
    else updatesOf.set(key, [u]);
  }
  const names = await reportNodeNames(run, s3);
  const listed = new Set(names.map((name) => name.toUpperCase()));
  for (const n of items.nodes) {
    if (!listed.has(n.node.toUpperCase())) {
      listed.add(n.node.toUpperCase());
      names.push(n.node);
    }
  }
  for (const name of names) {
    const result = resultOf.get(name.toUpperCase());
    const updates = (updatesOf.get(name.toUpperCase()) ?? []).map((u) => ({
      plugin: u.plugin,
      update: u.update,
      attempt: u.attempt,
      outcome: u.outcome,
      exitCode: u.exitCode,
      rebootRequired: u.rebootRequired,
      durationSeconds: u.durationSeconds,
      ...(u.detail ? { detail: u.detail } : {}),
      ...(u.excludedBy ? { excludedBy: u.excludedBy } : {}),
      ...(u.fromCache === true ? { fromCache: true } : {}),
      ...(u.cacheNote ? { cacheNote: u.cacheNote } : {}),
    }));
    const ledger = (await store.getLedger(name)).entries
      .filter((e) => e.runId === runId && e.removedAt === undefined)
      .map((e) => ({
        sequence: e.sequence,
        updateId: e.updateId,
        installedAt: e.installedAt,
        hotpatched: e.hotpatched,
        ...(e.installedPendingReboot ? { installedPendingReboot: true } : {}),
      }));
    nodes.push({
      name,
      status: result?.status ?? 'NotStarted',
      ...(result?.detail ? { detail: result.detail } : {}),
      drained: result?.drained ?? false,
      restarts: result?.restarts ?? 0,
      attempts: Math.max(0, ...updates.map((u) => u.attempt)),
      updates,
      ...(result?.stillApplicable ? { stillApplicable: result.stillApplicable } : {}),
      ...(result?.rescanError ? { rescanError: result.rescanError } : {}),
      ledger,
    });
  }
  const lock = await store.getLock(run.target);
  return {
    runId,
    target: run.target,
    ...(run.targetKind ? { targetKind: run.targetKind } : {}),
    status: run.status,
    ...(summary?.reason ? { reason: summary.reason } : {}),
    startedAt: run.startedAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    ...(run.finishedAt
      ? { makespanSeconds: (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000 }
      : {}),
    lockReleased: lock === undefined || lock.holder !== runId,
    ...(run.nodeOrder ? { order: describeNodeOrder(run.nodeOrder) } : {}),
    ...(items.phases ? { phases: items.phases } : {}),
    nodes,
  };
}

/** `1h 02m`, `3m 20s`, `45s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

const pad = (text: string, width: number) =>
  text.length >= width ? text : text + ' '.repeat(width - text.length);

/** The report as text: per node, per update, then the ledger. */
export function renderRunReport(report: RunReport): string {
  const lines: string[] = [];
  const kind = report.targetKind === 'group' ? 'group' : 'cluster';
  lines.push(
    `Run ${report.runId} on ${kind} ${report.target}: ${report.status}${report.reason ? ` (${report.reason})` : ''}`,
  );
  if (report.startedAt) {
    lines.push(
      `  simulated ${report.startedAt}${report.finishedAt ? ` to ${report.finishedAt}, makespan ${formatDuration(report.makespanSeconds ?? 0)}` : ''}; lock ${report.lockReleased ? 'released' : 'STILL HELD'}`,
    );
  }
  if (report.order) lines.push(`  ${report.order}`);
  for (const node of report.nodes) {
    lines.push('');
    lines.push(
      `  ${pad(node.name, 16)}${pad(node.status, Math.max(18, node.status.length + 1))}drained: ${node.drained ? 'yes' : 'no '}  restarts: ${node.restarts}  attempts: ${node.attempts}`,
    );
    if (node.detail) lines.push(`    ${node.detail}`);
    if (node.updates.length > 0) {
      lines.push(
        `    ${pad('Update', 46)}${pad('Outcome', 24)}${pad('Exit code', 27)}${pad('Restart', 9)}Duration`,
      );
      for (const u of node.updates) {
        const code = u.exitCode === null ? '-' : `${u.exitCode} (${toHex(u.exitCode)})`;
        const name = `${u.attempt > 1 ? `[try ${u.attempt}] ` : ''}${u.update}`;
        lines.push(
          `    ${pad(name.length > 45 ? `${name.slice(0, 42)}...` : name, 46)}${pad(u.excludedBy ? `Excluded (${u.excludedBy})` : u.outcome, 24)}${pad(code, 27)}${pad(u.rebootRequired ? 'yes' : 'no', 9)}${formatDuration(u.durationSeconds)}`,
        );
        if (u.excludedBy && u.detail) lines.push(`      ${u.detail}`);
      }
    }
    lines.push(...stillApplicableLines(node));
    if (node.ledger.length > 0) {
      lines.push(
        `    ledger: ${node.ledger.map((e) => `${e.sequence}. ${e.updateId}${e.hotpatched ? ' (hotpatch)' : ''}${e.installedPendingReboot ? ' (restart pending)' : ''}`).join(', ')}`,
      );
    }
  }
  return lines.join('\n');
}
