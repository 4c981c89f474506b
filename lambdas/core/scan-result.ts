/**
 * The scan's result, one JSON object per node (CAU's Invoke-CauScan): the contract the scan
 * workflow (lib/scan-workflow.ts) writes and its readers (GET /scans/{id}, the CLI, the
 * dashboard, scheduled read-only assessments) read.
 *
 * Where: the artifacts bucket, at {@link scanNodeResultKey} (`scans/<scanId>/nodes/<node>.json`),
 * one object per node of the target, written once the node's scan ended (scanned or failed).
 * What: {@link scanNodeResultSchema}, versioned by `schemaVersion` ({@link SCAN_RESULT_VERSION});
 * a reader refuses a version it does not know. Per node: each update that would install (KB,
 * title, classification, severity, restart expected and why, hotpatch candidate and why), and
 * each update found that would not, with the rule that leaves it out.
 *
 * {@link combineScanNode} builds it from the node's Windows Update search (ScanUpdates result
 * lines) and its hotfix plan. Pure: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import type { ScanUpdatesResultLine } from './contracts.js';
import { kbFromFileName } from './update-selection.js';

/** The version of {@link scanNodeResultSchema} written now. */
export const SCAN_RESULT_VERSION = 1;

/** Where the per-node results of a scan are, under the artifacts bucket. */
export function scanResultPrefix(scanId: string): string {
  return `scans/${scanId}/nodes/`;
}

/** The artifacts-bucket key of one node's scan result. */
export function scanNodeResultKey(scanId: string, node: string): string {
  return `${scanResultPrefix(scanId)}${node}.json`;
}

/** Where an update comes from: the Windows Update search, or the hotfix root's plan. */
export const SCAN_SOURCES = ['windowsUpdate', 'hotfix'] as const;
export type ScanSource = (typeof SCAN_SOURCES)[number];

/**
 * Why a found update would not install: an updateSelection rule (`includeKbs`, `excludeKbs`,
 * `classifications`, ...), or the plug-in's own: `eula` (a licence to accept), `userInput` (it
 * may ask for input), `installed` (already installed).
 */
const ruleSchema = z.string().min(1);

const updateSchema = z.object({
  source: z.enum(SCAN_SOURCES),
  /** WUA's update id (Windows Update), null for a hotfix file. */
  updateId: z.string().nullable(),
  /** The hotfix file, relative to the hotfix root; null for a Windows Update update. */
  file: z.string().nullable(),
  /** `KB` and digits, or null: none known. */
  kb: z.string().nullable(),
  /** The update's title (Windows Update) or file name (hotfix). */
  title: z.string(),
  /** Classification name (Security Updates, ...) or category GUID; null: unknown (hotfix files). */
  classification: z.string().nullable(),
  /** MSRC severity; null: none (hotfix files, most non-security updates). */
  msrcSeverity: z.string().nullable(),
  restartExpected: z.boolean(),
  restartReason: z.string(),
  hotpatchCandidate: z.boolean(),
  hotpatchReason: z.string(),
});

const excludedSchema = z.object({
  source: z.enum(SCAN_SOURCES),
  updateId: z.string().nullable(),
  file: z.string().nullable(),
  kb: z.string().nullable(),
  title: z.string(),
  rule: ruleSchema,
  reason: z.string(),
});

/** One node's scan result: the object at {@link scanNodeResultKey}. */
export const scanNodeResultSchema = z.object({
  schemaVersion: z.literal(SCAN_RESULT_VERSION),
  scanId: z.string().min(1),
  node: z.string().min(1),
  instanceId: z.string().min(1),
  scannedAt: z.iso.datetime(),
  /**
   * `Scanned`: every plug-in's updates are known. `Failed`: the Windows Update search did not
   * answer (command failed, timed out, node offline): `error` says why, and only the hotfix
   * plan's updates are listed.
   */
  status: z.enum(['Scanned', 'Failed']),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  /** SSM PingStatus when the scan started; null: not registered with SSM. */
  pingStatus: z.string().nullable(),
  /** A restart was pending on the node (the run restarts it first); null: not searched. */
  pendingRestart: z.boolean().nullable(),
  /** The Windows Update search's counts; null: no Windows Update plug-in, or it failed. */
  windowsUpdate: z
    .object({ found: z.number().int().min(0), applicable: z.number().int().min(0) })
    .nullable(),
  /** The updates that would install, in install order per plug-in (plug-ins in run order). */
  updates: z.array(updateSchema),
  /** Updates found that would not install, each with the rule that leaves it out. */
  excluded: z.array(excludedSchema),
  /** Any update expects a restart, or one is pending. */
  restartExpected: z.boolean(),
  /** Why a restart is expected, one line per reason; empty when none is. */
  restartReasons: z.array(z.string()),
  hotpatchCandidates: z.number().int().min(0),
});

export type ScanNodeResult = z.output<typeof scanNodeResultSchema>;
export type ScanUpdate = z.output<typeof updateSchema>;
export type ScanExcluded = z.output<typeof excludedSchema>;

/** One hotfix file of the node's plan, with its package's hotpatch facts. */
export interface PlannedHotfix {
  readonly file: string;
  /** The configuration's rule restarts after it whatever the exit code (AlwaysReboot). */
  readonly alwaysReboot: boolean;
  /** hotpatch-manifest.json's verdict on the package; null: the file has no entry. */
  readonly hotpatch: { readonly allows: boolean; readonly reason: string } | null;
}

/** What {@link combineScanNode} combines for one node. */
export interface ScanNodeInput {
  readonly scanId: string;
  readonly node: string;
  readonly instanceId: string;
  readonly scannedAt: string;
  readonly pingStatus: string | null;
  /** The node's hotfix plan (after updateSelection); null: no hotfix plug-in. */
  readonly hotfix: {
    readonly planned: readonly PlannedHotfix[];
    readonly excluded: readonly {
      readonly file: string;
      readonly rule: string;
      readonly reason: string;
    }[];
  } | null;
  /**
   * The Windows Update search: its result lines, or why it gave none; null: no Windows Update
   * plug-in.
   */
  readonly windowsUpdate:
    | { readonly lines: readonly ScanUpdatesResultLine[] }
    | { readonly error: { readonly code: string; readonly message: string } }
    | null;
}

const SKIP_REASONS: Readonly<Record<string, string>> = {
  eula: 'its licence terms must be accepted first; the plug-in leaves it out, as CAU does',
  userInput: 'it may ask for user input; the plug-in leaves it out, as CAU does',
};

/** A Windows Update title that names a hotpatch (`... Security Hotpatch Update ...`). */
const HOTPATCH_TITLE = /\bhotpatch\b/i;

function fileName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

function windowsUpdateEntry(line: Extract<ScanUpdatesResultLine, { kind: 'update' }>): ScanUpdate {
  const hotpatch = HOTPATCH_TITLE.test(line.title);
  return {
    source: 'windowsUpdate',
    updateId: line.updateId,
    file: null,
    kb: line.kb,
    title: line.title,
    classification: line.classification,
    msrcSeverity: line.msrcSeverity,
    restartExpected: line.restartExpected,
    restartReason: line.restartExpected
      ? 'Windows Update says it requires or may request a restart (RebootBehavior is not 0)'
      : 'Windows Update says it never restarts (RebootBehavior 0)',
    hotpatchCandidate: hotpatch,
    hotpatchReason: hotpatch
      ? 'Windows Update offers it as a hotpatch (its title names one): it installs without a restart on a hotpatch-enrolled node'
      : 'Windows Update offers it as a regular update (its title names no hotpatch)',
  };
}

function hotfixEntry(planned: PlannedHotfix): ScanUpdate {
  const allows = planned.hotpatch?.allows === true;
  const restartExpected = planned.alwaysReboot || !allows;
  const hotpatchReason =
    planned.hotpatch === null
      ? 'hotpatch-manifest.json has no entry for it: it installs with a restart'
      : planned.hotpatch.reason;
  return {
    source: 'hotfix',
    updateId: null,
    file: planned.file,
    kb: kbFromFileName(planned.file),
    title: fileName(planned.file),
    classification: null,
    msrcSeverity: null,
    restartExpected,
    restartReason: planned.alwaysReboot
      ? "the hotfix configuration's rule sets AlwaysReboot"
      : allows
        ? 'none expected: the package can hotpatch (the node confirms it from its inventory when it runs)'
        : `not a hotpatch: ${hotpatchReason}`,
    hotpatchCandidate: allows,
    hotpatchReason,
  };
}

/**
 * One node's scan result from its hotfix plan and its Windows Update search. An update the
 * search found is listed under `updates` when it would install, else under `excluded` with the
 * updateSelection rule, the plug-in's skip reason or `installed`.
 */
export function combineScanNode(input: ScanNodeInput): ScanNodeResult {
  const updates: ScanUpdate[] = [];
  const excluded: ScanExcluded[] = [];
  let pendingRestart: boolean | null = null;
  let windowsUpdate: ScanNodeResult['windowsUpdate'] = null;
  let error: ScanNodeResult['error'] = null;

  if (input.hotfix !== null) {
    updates.push(...input.hotfix.planned.map(hotfixEntry));
    for (const e of input.hotfix.excluded) {
      excluded.push({
        source: 'hotfix',
        updateId: null,
        file: e.file,
        kb: kbFromFileName(e.file),
        title: fileName(e.file),
        rule: e.rule,
        reason: e.reason,
      });
    }
  }
  if (input.windowsUpdate !== null) {
    if ('error' in input.windowsUpdate) {
      error = input.windowsUpdate.error;
    } else {
      let counts: { found: number; applicable: number } | null = null;
      for (const line of input.windowsUpdate.lines) {
        if (line.kind === 'node') {
          pendingRestart = line.pendingRestart;
          counts = { found: line.found, applicable: line.applicable };
          continue;
        }
        const leftOut = line.isInstalled
          ? { rule: 'installed', reason: 'already installed on the node' }
          : line.excludedBy !== null
            ? { rule: line.excludedBy, reason: line.excludedReason ?? line.excludedBy }
            : line.skipReason !== null
              ? { rule: line.skipReason, reason: SKIP_REASONS[line.skipReason] ?? line.skipReason }
              : null;
        if (leftOut === null) {
          updates.push(windowsUpdateEntry(line));
        } else {
          excluded.push({
            source: 'windowsUpdate',
            updateId: line.updateId,
            file: null,
            kb: line.kb,
            title: line.title,
            ...leftOut,
          });
        }
      }
      if (counts === null) {
        error = {
          code: 'ScanOutputIncomplete',
          message: 'the Windows Update search printed no node line: its output is incomplete',
        };
      } else {
        windowsUpdate = counts;
      }
    }
  }

  const restartReasons: string[] = [];
  if (pendingRestart === true) {
    restartReasons.push('a restart is pending on the node: the run restarts it before installing');
  }
  for (const u of updates) {
    if (u.restartExpected) restartReasons.push(`${u.kb ?? u.title}: ${u.restartReason}`);
  }
  return {
    schemaVersion: SCAN_RESULT_VERSION,
    scanId: input.scanId,
    node: input.node,
    instanceId: input.instanceId,
    scannedAt: input.scannedAt,
    status: error === null ? 'Scanned' : 'Failed',
    error,
    pingStatus: input.pingStatus,
    pendingRestart,
    windowsUpdate,
    updates,
    excluded,
    restartExpected: restartReasons.length > 0,
    restartReasons,
    hotpatchCandidates: updates.filter((u) => u.hotpatchCandidate).length,
  };
}

/** A stored node result, checked against the contract; throws naming the field that is wrong. */
export function parseScanNodeResult(value: unknown, source: string): ScanNodeResult {
  const parsed = scanNodeResultSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || '(the object)';
  throw new Error(`${source}: not a scan node result: ${field}: ${issue?.message ?? 'invalid'}`);
}
