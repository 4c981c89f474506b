/**
 * Compliance between runs (issue 13, item 8): Patch Manager's patch state, Azure Update Manager's
 * periodic assessment. A scheduled, read-only assessment scans every node of a target (the
 * `ScanUpdates` document: searches, installs nothing) and this module judges each node from
 *
 * - its scan result (what would install now, and whether a restart is pending),
 * - its install ledger (what our runs installed, when, by which run), and
 * - the last run's update results on the node (what failed on its last attempt),
 *
 * and compares the verdict with the node's previous assessment: which nodes fell out of
 * compliance and which came back.
 *
 * States, as Patch Manager and Azure Update Manager report them:
 * - `Compliant`: nothing applicable is missing, nothing failed, no restart is pending.
 * - `NonCompliant`: something is missing, failed on its last attempt, or a restart is pending
 *   (Patch Manager counts InstalledPendingReboot as non-compliant: the update is not in effect).
 * - `Unknown`: the scan did not answer (command failed, timed out, node offline): nothing is
 *   claimed about the node.
 *
 * Changes: the first assessment of a node is its baseline (no change). After that, a change is
 * a move between the two known states: `FellOut` (Compliant to NonCompliant) or `CameBack`
 * (NonCompliant to Compliant). `Unknown` never is a change and never resets what was known: a
 * node Compliant, then Unknown, then NonCompliant falls out once, at the third assessment.
 *
 * Pure: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';
import type { InstallLedger } from './install-ledger.js';
import { installedUpdates } from './install-ledger.js';
import { GROUP_NAME_PATTERN } from './rollout-input.js';

export const COMPLIANCE_STATES = ['Compliant', 'NonCompliant', 'Unknown'] as const;
export type ComplianceState = (typeof COMPLIANCE_STATES)[number];

/** A move between known states; null: none. */
export type ComplianceChange = 'FellOut' | 'CameBack';

/**
 * What the assessment reads of one node's scan result: the fields of the scan contract's per-node
 * result (`ScanNodeResult`, lambdas/core/scan-result.ts) that compliance needs.
 */
export interface ComplianceScan {
  readonly node: string;
  readonly scannedAt: string;
  /** `Failed`: the search did not answer; `error` says why. */
  readonly status: 'Scanned' | 'Failed';
  readonly error: { readonly code: string; readonly message: string } | null;
  /**
   * The registry's restart markers; null: not read (the scan reads them with its Windows Update
   * search only). Null: the ledger's InstalledPendingReboot installs decide.
   */
  readonly pendingRestart: boolean | null;
  /** Updates that would install now (applicable, not excluded by the selection). */
  readonly updates: readonly {
    readonly source: 'windowsUpdate' | 'hotfix';
    readonly kb: string | null;
    readonly title: string;
  }[];
}

/** One update's result in the node's last run (the run store's update results). */
export interface LastRunUpdate {
  /** The file, the title / KB, or the KB: as the run recorded it. */
  readonly update: string;
  readonly attempt: number;
  readonly outcome: string;
  readonly exitCode: number | null;
  readonly detail?: string;
}

/** The node's last run, as the run store recorded it. */
export interface LastRun {
  readonly runId: string;
  readonly updates: readonly LastRunUpdate[];
}

/** An update our runs installed on the node (the ledger), still installed. */
export interface InstalledUpdate {
  readonly kb: string;
  readonly installedAt: string;
  /** The run that installed it, when a run did. */
  readonly runId: string | null;
  readonly hotpatched: boolean;
  /** Installed by a rebootOption Never run that left a restart owed. */
  readonly installedPendingReboot: boolean;
}

/** An applicable update that is not installed. */
export interface MissingUpdate {
  readonly kb: string | null;
  readonly title: string;
  readonly source: 'windowsUpdate' | 'hotfix';
}

/** An update whose last attempt, in the node's last run, failed. */
export interface FailedUpdate {
  readonly update: string;
  readonly kb: string | null;
  readonly runId: string;
  readonly attempt: number;
  readonly exitCode: number | null;
  readonly detail: string | null;
}

/** One node's assessment. */
export interface NodeCompliance {
  readonly target: string;
  readonly node: string;
  readonly assessmentId: string;
  readonly assessedAt: string;
  readonly state: ComplianceState;
  /** Why the node is NonCompliant or Unknown, one line each; empty when Compliant. */
  readonly reasons: readonly string[];
  readonly installed: readonly InstalledUpdate[];
  readonly missing: readonly MissingUpdate[];
  readonly failed: readonly FailedUpdate[];
  /** A restart is pending on the node; null: unknown (the scan did not answer). */
  readonly pendingRestart: boolean | null;
  /** The last known state (Compliant or NonCompliant) before this one; null: none yet. */
  readonly previousState: ComplianceState | null;
  readonly previousAssessedAt: string | null;
  /** The last known state after this assessment (this one's, unless it is Unknown). */
  readonly lastKnownState: Exclude<ComplianceState, 'Unknown'> | null;
  /** What changed since the last known state; null: nothing (or the first assessment). */
  readonly change: ComplianceChange | null;
}

/** What {@link assessNode} needs. */
export interface NodeAssessmentInput {
  readonly target: string;
  readonly assessmentId: string;
  readonly assessedAt: string;
  readonly scan: ComplianceScan;
  readonly ledger: InstallLedger;
  /** The node's last run; null: no run recorded on it. */
  readonly lastRun: LastRun | null;
  /** The node's previous assessment; null: none. */
  readonly previous: Pick<NodeCompliance, 'state' | 'assessedAt' | 'lastKnownState'> | null;
}

/** Raised for an assessment that cannot be judged (a scan of another node, a bad target). */
export class ComplianceError extends RolloutRuleError {
  constructor(
    heading: string,
    readonly problems: readonly ValidationProblem[],
    options?: { cause?: unknown },
  ) {
    super(formatProblems(heading, problems), options);
  }
}

const KB_IN_TEXT = /\bKB([1-9][0-9]{3,7})\b/i;

/** The KB a title, file name or KB field names, upper case; null when none. */
export function kbOf(text: string | null): string | null {
  if (text === null) return null;
  const match = KB_IN_TEXT.exec(text);
  return match === null ? null : `KB${match[1]}`;
}

/** The last attempt of each update in the run, in first-seen order. */
function lastAttempts(updates: readonly LastRunUpdate[]): LastRunUpdate[] {
  const last = new Map<string, LastRunUpdate>();
  for (const u of updates) {
    const key = u.update.toUpperCase();
    const seen = last.get(key);
    if (seen === undefined || u.attempt >= seen.attempt) last.set(key, u);
  }
  return [...last.values()];
}

/**
 * Judges one node. Installed: the ledger's installed entries. Missing: what the scan would
 * install, less hotfixes whose KB the ledger shows installed (the hotfix plan lists the root's
 * files whatever the node has; Windows Update's search already leaves installed updates out).
 * Failed: updates whose last attempt in the node's last run failed and whose KB the ledger does
 * not show installed since.
 *
 * @throws ComplianceError when the scan is of another node than the ledger's.
 */
export function assessNode(input: NodeAssessmentInput): NodeCompliance {
  const { scan, ledger } = input;
  if (scan.node.toUpperCase() !== ledger.node.toUpperCase()) {
    throw new ComplianceError(`Cannot assess node ${JSON.stringify(ledger.node)}`, [
      {
        field: 'scan.node',
        value: scan.node,
        message: `expected the ledger's node ${JSON.stringify(ledger.node)}`,
      },
    ]);
  }
  const active = installedUpdates(ledger);
  const installedKbs = new Set(active.map((e) => e.updateId.toUpperCase()));
  const installed: InstalledUpdate[] = active.map((e) => ({
    kb: e.updateId,
    installedAt: e.installedAt,
    runId: e.runId ?? null,
    hotpatched: e.hotpatched,
    installedPendingReboot: e.installedPendingReboot === true,
  }));

  const scanned = scan.status === 'Scanned';
  const missing: MissingUpdate[] = scanned
    ? scan.updates
        .map((u) => ({
          kb: u.kb === null ? kbOf(u.title) : kbOf(u.kb),
          title: u.title,
          source: u.source,
        }))
        .filter((u) => !(u.source === 'hotfix' && u.kb !== null && installedKbs.has(u.kb)))
    : [];

  const failed: FailedUpdate[] = [];
  if (input.lastRun !== null) {
    for (const u of lastAttempts(input.lastRun.updates)) {
      const kb = kbOf(u.update);
      if (u.outcome !== 'Failed' || (kb !== null && installedKbs.has(kb))) continue;
      failed.push({
        update: u.update,
        kb,
        runId: input.lastRun.runId,
        attempt: u.attempt,
        exitCode: u.exitCode,
        detail: u.detail ?? null,
      });
    }
  }

  // The scan reads the node's restart markers only with its Windows Update search. Without it,
  // the ledger's word stands: an install a rebootOption Never run left owing a restart.
  const owed = installed.filter((u) => u.installedPendingReboot).map((u) => u.kb);
  const pendingRestart = scanned ? (scan.pendingRestart ?? owed.length > 0) : null;
  const reasons: string[] = [];
  let state: ComplianceState;
  if (!scanned) {
    state = 'Unknown';
    reasons.push(
      `the scan did not answer (${scan.error?.code ?? 'ScanFailed'}: ${scan.error?.message ?? 'no reason given'})`,
    );
  } else {
    if (missing.length > 0) {
      reasons.push(
        `${missing.length} applicable update${missing.length === 1 ? ' is' : 's are'} missing: ${missing.map((m) => m.kb ?? m.title).join(', ')}`,
      );
    }
    if (failed.length > 0) {
      reasons.push(
        `${failed.length} update${failed.length === 1 ? '' : 's'} failed on the last attempt in run ${input.lastRun?.runId}: ${failed.map((f) => f.kb ?? f.update).join(', ')}`,
      );
    }
    if (scan.pendingRestart === true) {
      reasons.push('a restart is pending: installed updates are not in effect');
    } else if (pendingRestart) {
      reasons.push(
        `a restart is owed: ${owed.join(', ')} installed without one (rebootOption Never); the scan did not read the node's restart markers`,
      );
    }
    state = reasons.length === 0 ? 'Compliant' : 'NonCompliant';
  }

  const { previousState, change, lastKnownState } = compareWithPrevious(input.previous, state);
  return {
    target: input.target,
    node: ledger.node,
    assessmentId: input.assessmentId,
    assessedAt: input.assessedAt,
    state,
    reasons,
    installed,
    missing,
    failed,
    pendingRestart,
    previousState,
    previousAssessedAt: input.previous?.assessedAt ?? null,
    lastKnownState,
    change,
  };
}

/** The change from the previous assessment's last known state to `state`. */
export function compareWithPrevious(
  previous: NodeAssessmentInput['previous'],
  state: ComplianceState,
): Pick<NodeCompliance, 'previousState' | 'change' | 'lastKnownState'> {
  const before = previous?.lastKnownState ?? null;
  const lastKnownState = state === 'Unknown' ? before : state;
  let change: ComplianceChange | null = null;
  if (before === 'Compliant' && state === 'NonCompliant') change = 'FellOut';
  if (before === 'NonCompliant' && state === 'Compliant') change = 'CameBack';
  return { previousState: previous?.state ?? null, change, lastKnownState };
}

/** Nodes that fell out of and came back into compliance in one assessment, in node order. */
export function assessmentChanges(nodes: readonly NodeCompliance[]): {
  readonly fellOut: readonly string[];
  readonly cameBack: readonly string[];
} {
  return {
    fellOut: nodes.filter((n) => n.change === 'FellOut').map((n) => n.node),
    cameBack: nodes.filter((n) => n.change === 'CameBack').map((n) => n.node),
  };
}

/** Counts of an assessment's states, for the summary. */
export function stateCounts(
  nodes: readonly Pick<NodeCompliance, 'state'>[],
): Record<ComplianceState, number> {
  const counts: Record<ComplianceState, number> = { Compliant: 0, NonCompliant: 0, Unknown: 0 };
  for (const n of nodes) counts[n.state]++;
  return counts;
}

const targetSchema = z
  .string({ error: 'expected a cluster or group name as a string' })
  .regex(GROUP_NAME_PATTERN, {
    error:
      'expected a cluster or group name, 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit',
  });

/**
 * The target of a compliance query or assessment, checked.
 * @throws ComplianceError naming `field` and the value.
 */
export function parseComplianceTarget(value: unknown, field = 'target'): string {
  const parsed = targetSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ComplianceError('Invalid compliance target', [
    {
      field,
      ...(value === undefined ? {} : { value }),
      message:
        value === undefined
          ? 'missing; expected a cluster or group name'
          : (parsed.error.issues[0]?.message ?? 'expected a cluster or group name'),
    },
  ]);
}
