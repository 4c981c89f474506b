/**
 * The install ledger of one node: which updates were installed, in which order, replacing which
 * files, and which were removed since. It exists so removals can be planned in the order
 * Windows needs.
 *
 * Sources: KB897341 (seeds 000-002, "removing a security update"): updates that replace the
 * same file must be removed in reverse install order (installed A, B, C: remove C, then B, then
 * A); removal needs a restart. KB823836 (cited there): removing out of order shows a warning
 * listing every update and program installed since, and ignoring it can break them.
 *
 * The ledger records what happened; it never refuses a removal that already happened, even an
 * out-of-order one. Order is enforced where removals are planned ({@link planRemoval}).
 *
 * Entries are plain JSON objects (no `undefined` values, no classes, no Dates) so a store can
 * write each one as an item keyed by `node` + `sequence`. History is never deleted: a removal
 * marks its entry, and a reinstall appends a new entry.
 */
import * as z from 'zod';
import type { InstallResultLine, RemovalMethod } from './contracts.js';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';

/** One file an update replaced, with the versions before and after when they were recorded. */
export interface ReplacedFile {
  /** The path as the installer or package reported it, e.g. `%windir%\system32\Authz.dll`. */
  readonly path: string;
  /** File version before the install (KB897341: record it, to check it comes back on removal). */
  readonly versionBefore?: string;
  /** File version after the install, e.g. `5.2.3790.2453 (srv03_sp1_gdr.050623-1417)`. */
  readonly versionAfter?: string;
}

/** One install of one update on one node. */
export interface LedgerEntry {
  readonly node: string;
  /** 1-based, per node, strictly increasing in install order. */
  readonly sequence: number;
  /** The KB number, e.g. `KB890923`. Compared case-insensitively. */
  readonly updateId: string;
  /** ISO 8601 timestamp with a time zone. */
  readonly installedAt: string;
  /** The rollout run that installed it, when a run did. */
  readonly runId?: string;
  /** Installed with `/hotpatch:enable` (removal still needs a restart). */
  readonly hotpatched: boolean;
  /** Files the update replaced; may be empty for an update that replaced none. */
  readonly replacedFiles: readonly ReplacedFile[];
  /** How a removal must remove it (see {@link removalFor}); absent: wusa, as before. */
  readonly removal?: RemovalHow;
  /** When the update was removed; absent while it is installed. */
  readonly removedAt?: string;
  /** The rollout run that removed it, when a run did. */
  readonly removedByRunId?: string;
  /**
   * Installed by a run with rebootOption Never that left the node needing a restart: the update
   * may not be in effect until the node restarts (Patch Manager's InstalledPendingReboot).
   */
  readonly installedPendingReboot?: boolean;
}

/** Every install recorded on one node, in install order. */
export interface InstallLedger {
  readonly node: string;
  readonly entries: readonly LedgerEntry[];
}

/** What {@link recordInstall} needs to know about one install. */
export interface InstallRecord {
  readonly updateId: string;
  readonly installedAt: string;
  readonly runId?: string;
  readonly hotpatched: boolean;
  readonly replacedFiles: readonly ReplacedFile[];
  readonly removal?: RemovalHow;
}

/** How an installed update is removed: by wusa.exe, or by DISM with its package name. */
export type RemovalHow =
  | { readonly method: Extract<RemovalMethod, 'wusa'> }
  | { readonly method: Extract<RemovalMethod, 'dism'>; readonly packageName: string };

/** DISM names the package of a combined SSU + LCU update `Package_for_RollupFix~...`. */
const COMBINED_PACKAGE = /^Package_for_RollupFix~/i;

/**
 * How to remove what one install line reports. An .msu that added a combined servicing-stack +
 * cumulative package (Windows Server 2019 since 2021, 2022, 2025) can only be removed with
 * `DISM /Online /Remove-Package /PackageName:<name>`: wusa.exe /uninstall fails on it. Anything
 * else is removed with wusa.
 */
export function removalFor(line: Pick<InstallResultLine, 'packageNames'>): RemovalHow {
  const combined = (line.packageNames ?? []).find((name) => COMBINED_PACKAGE.test(name));
  return combined === undefined ? { method: 'wusa' } : { method: 'dism', packageName: combined };
}

/** A later, still-installed update that replaced some of the same files. */
export interface LaterUpdateSharingFiles {
  readonly updateId: string;
  /** The shared files, spelled as the later update recorded them. */
  readonly files: readonly string[];
}

/** Removing `updateId` now would be out of order (KB823836). */
export interface RemovalWarning {
  readonly updateId: string;
  /** Later updates that stay installed and replaced the same files: these may break. */
  readonly laterUpdatesSharingFiles: readonly LaterUpdateSharingFiles[];
  /**
   * Every update installed after this one that is still installed when it is removed (the plan
   * removes later updates first), in install order: what Windows' warning lists. Programs
   * installed since are not in the ledger, so they are not listed.
   */
  readonly installedSince: readonly string[];
}

/** Options of {@link planRemoval}. */
export interface PlanRemovalOptions {
  /**
   * Also remove the later updates that replaced the same files, transitively, so the plan is
   * safe. @default false - plan only what was requested and warn about what it would break
   */
  readonly includeDependents?: boolean;
}

/** The order to remove updates in, and what removing them would break. */
export interface RemovalPlan {
  /** Update ids to remove, first to last: reverse install order. */
  readonly order: readonly string[];
  /** No warnings: nothing still installed replaced the same files later. */
  readonly safe: boolean;
  /** One per requested update that would be removed out of order. */
  readonly warnings: readonly RemovalWarning[];
  /** Removing an update needs a restart, hotpatched or not (KB897341): true when `order` is not empty. */
  readonly restartRequired: boolean;
  /** Updates added by `includeDependents`, in removal order. */
  readonly addedDependents: readonly string[];
}

/** Raised when an install, a removal, a removal request or a stored ledger is not acceptable. */
export class LedgerError extends RolloutRuleError {
  constructor(
    heading: string,
    readonly problems: readonly ValidationProblem[],
    options?: { cause?: unknown },
  ) {
    super(formatProblems(heading, problems), options);
  }
}

// ---------------------------------------------------------------------------------------------
// File identity
// ---------------------------------------------------------------------------------------------

const WINDOWS_DIR = 'C:\\WINDOWS';
const WINDOWS_PREFIX = /^(?:%WINDIR%|%SYSTEMROOT%|C:\\WINDOWS)(?=\\|$)/;

/** Upper-cases one character at a time, as NTFS's upcase table does (so `ß` stays `ß`). */
function upcase(text: string): string {
  let out = '';
  for (const ch of text) {
    const upper = ch.toUpperCase();
    out += upper.length === ch.length ? upper : ch;
  }
  return out;
}

/**
 * The key two paths share when Windows would open the same file through them: case-insensitive
 * (upper-cased), `/` read as `\`, repeated separators collapsed (a leading `\\` of a UNC path
 * kept), trailing separators and a `\\?\` long-path prefix dropped, and `%windir%`,
 * `%systemroot%` and `C:\Windows` read as one prefix.
 *
 * Assumes Windows lives in `C:\Windows`. No other environment variable (`%ProgramFiles%`,
 * `%SystemDrive%`, ...) is expanded, and `.`/`..` segments and 8.3 short names are not
 * resolved: such paths only match paths spelled the same way.
 */
export function normaliseFilePath(path: string): string {
  let key = path.trim().replaceAll('/', '\\');
  if (/^\\\\\?\\[A-Za-z]:(?:\\|$)/.test(key)) key = key.slice(4);
  const unc = key.startsWith('\\\\');
  key = key.replace(/\\{2,}/g, '\\').replace(/\\+$/, '');
  if (unc && key.length > 0) key = `\\${key}`;
  key = upcase(key);
  return key.replace(WINDOWS_PREFIX, WINDOWS_DIR);
}

/** True when both paths name the same file (see {@link normaliseFilePath}). */
export function isSameFile(a: string, b: string): boolean {
  return normaliseFilePath(a) === normaliseFilePath(b);
}

// ---------------------------------------------------------------------------------------------
// Schemas: one definition for stored ledgers and for new installs
// ---------------------------------------------------------------------------------------------

const UPDATE_ID = /^KB[1-9][0-9]{3,7}$/i;
const UPDATE_ID_EXPECTED = 'expected "KB" followed by 4 to 8 digits, e.g. "KB890923"';
const TIMESTAMP_EXPECTED =
  'expected an ISO 8601 timestamp with seconds and a time zone, e.g. "2024-05-01T10:00:00Z"';

const text = (what: string) =>
  z
    .string({ error: `expected ${what} as a string` })
    .refine((value) => value.trim().length > 0, { error: `expected ${what}, got an empty string` });

const updateIdSchema = z.string({ error: UPDATE_ID_EXPECTED }).regex(UPDATE_ID, {
  error: UPDATE_ID_EXPECTED,
});
const timestampSchema = z.iso.datetime({ offset: true, error: TIMESTAMP_EXPECTED });

const replacedFileSchema = z.strictObject(
  {
    path: z.string({ error: 'expected a file path as a string' }).superRefine((path, ctx) => {
      if (path.trim().length === 0)
        ctx.addIssue({ code: 'custom', message: 'expected a file path, got an empty string' });
      else if (normaliseFilePath(path).length === 0)
        ctx.addIssue({ code: 'custom', message: 'expected a file path, got only separators' });
    }),
    versionBefore: text('a file version').optional(),
    versionAfter: text('a file version').optional(),
  },
  { error: 'expected an object { path, versionBefore?, versionAfter? }' },
);

const installFields = {
  updateId: updateIdSchema,
  installedAt: timestampSchema,
  runId: text('a run id').optional(),
  hotpatched: z.boolean({ error: 'expected true or false' }),
  replacedFiles: z.array(replacedFileSchema, { error: 'expected an array of replaced files' }),
  removal: z
    .discriminatedUnion(
      'method',
      [
        z.strictObject({ method: z.literal('wusa') }),
        z.strictObject({
          method: z.literal('dism'),
          packageName: z
            .string()
            .regex(/^[A-Za-z0-9_.~-]{1,200}$/, { error: 'expected a DISM package name' }),
        }),
      ],
      { error: 'expected { method: "wusa" } or { method: "dism", packageName }' },
    )
    .optional(),
};

const installSchema = z.strictObject(installFields, {
  error:
    'expected an object { updateId, installedAt, runId?, hotpatched, replacedFiles, removal? }',
});

const removalSchema = z.strictObject({
  updateId: updateIdSchema,
  removedAt: timestampSchema,
  runId: text('a run id').optional(),
});

const nodeSchema = text('a node name');

const entrySchema = z.strictObject(
  {
    node: nodeSchema,
    sequence: z
      .number({ error: 'expected a whole number from 1' })
      .int({ error: 'expected a whole number from 1' })
      .min(1, { error: 'expected a whole number from 1' }),
    ...installFields,
    removedAt: timestampSchema.optional(),
    removedByRunId: text('a run id').optional(),
    installedPendingReboot: z.boolean({ error: 'expected true or false' }).optional(),
  },
  { error: 'expected a ledger entry object' },
);

const ledgerSchema = z.strictObject(
  { node: nodeSchema, entries: z.array(entrySchema, { error: 'expected an array of entries' }) },
  { error: 'expected an object { node, entries }' },
);

function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : `${out === '' ? '' : '.'}${String(key)}`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Turns zod issues into problems that name the field (from `root`) and the value. */
function zodProblems(error: z.ZodError, input: unknown, root: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const at = (path: readonly PropertyKey[]) => fieldName(path) || root;
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        problems.push({
          field: at(path),
          value: valueAt(input, path),
          message: 'unknown field (check its spelling)',
        });
      }
      continue;
    }
    const value = valueAt(input, issue.path);
    problems.push({
      field: at(issue.path),
      ...(value === undefined ? {} : { value }),
      message:
        value === undefined && issue.path.length > 0 ? `missing; ${issue.message}` : issue.message,
    });
  }
  return problems;
}

/** Problems a parsed entry has on its own: files it lists twice, a removal before the install. */
function entryProblems(
  entry: Pick<LedgerEntry, 'installedAt' | 'replacedFiles' | 'removedAt' | 'removedByRunId'>,
  prefix: string,
): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const seen = new Map<string, number>();
  entry.replacedFiles.forEach((file, index) => {
    const key = normaliseFilePath(file.path);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else {
      problems.push({
        field: `${prefix}replacedFiles[${index}].path`,
        value: file.path,
        message: `the same file as replacedFiles[${first}] (${JSON.stringify(entry.replacedFiles[first]?.path)}); list each file once`,
      });
    }
  });
  if (entry.removedAt !== undefined && instant(entry.removedAt) < instant(entry.installedAt)) {
    problems.push({
      field: `${prefix}removedAt`,
      value: entry.removedAt,
      message: `earlier than installedAt (${JSON.stringify(entry.installedAt)}); expected a time at or after the install`,
    });
  }
  if (entry.removedByRunId !== undefined && entry.removedAt === undefined) {
    problems.push({
      field: `${prefix}removedByRunId`,
      value: entry.removedByRunId,
      message: 'set on an entry without removedAt; expected removedAt too, or neither',
    });
  }
  return problems;
}

function instant(timestamp: string): number {
  return Date.parse(timestamp);
}

function sameUpdate(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}

function isActive(entry: LedgerEntry): boolean {
  return entry.removedAt === undefined;
}

function inInstallOrder(entries: readonly LedgerEntry[]): LedgerEntry[] {
  return [...entries].sort((a, b) => a.sequence - b.sequence);
}

/** Copies a file record, leaving out absent optional fields (DynamoDB rejects `undefined`). */
function copyFile(file: ReplacedFile): ReplacedFile {
  return {
    path: file.path,
    ...(file.versionBefore === undefined ? {} : { versionBefore: file.versionBefore }),
    ...(file.versionAfter === undefined ? {} : { versionAfter: file.versionAfter }),
  };
}

// ---------------------------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------------------------

/** An empty ledger for a node. @throws LedgerError when the node name is empty. */
export function createLedger(node: string): InstallLedger {
  const parsed = nodeSchema.safeParse(node);
  if (!parsed.success) {
    throw new LedgerError('Invalid node', zodProblems(parsed.error, node, 'node'));
  }
  return { node, entries: [] };
}

/**
 * Appends an install and returns the new ledger; the given ledger is not changed. The entry gets
 * the next sequence and the update id in upper case (`kb890923` is stored as `KB890923`).
 *
 * @throws LedgerError naming each bad field and value: an update id that is not a KB number, or
 *   that is installed and not removed; `installedAt` that is not an ISO timestamp with a time
 *   zone or is earlier than the previous entry's; an empty or repeated file path.
 */
export function recordInstall(ledger: InstallLedger, install: InstallRecord): InstallLedger {
  const heading = `Cannot record an install on node ${JSON.stringify(ledger.node)}`;
  const parsed = installSchema.safeParse(install);
  if (!parsed.success) {
    throw new LedgerError(heading, zodProblems(parsed.error, install, 'install'));
  }
  const record = parsed.data;
  const problems = entryProblems(record, '');
  const entries = inInstallOrder(ledger.entries);
  const active = entries.find(
    (entry) => isActive(entry) && sameUpdate(entry.updateId, record.updateId),
  );
  if (active) {
    problems.push({
      field: 'updateId',
      value: record.updateId,
      message: `already installed on node ${JSON.stringify(ledger.node)} (sequence ${active.sequence}, installed ${active.installedAt}); record its removal before a reinstall`,
    });
  }
  const previous = entries.at(-1);
  if (previous && instant(record.installedAt) < instant(previous.installedAt)) {
    problems.push({
      field: 'installedAt',
      value: record.installedAt,
      message: `earlier than the previous install (${previous.updateId}, sequence ${previous.sequence}, at ${previous.installedAt}); installs must be recorded in the order they happened`,
    });
  }
  if (problems.length > 0) throw new LedgerError(heading, problems);

  const entry: LedgerEntry = {
    node: ledger.node,
    sequence: (previous?.sequence ?? 0) + 1,
    updateId: record.updateId.toUpperCase(),
    installedAt: record.installedAt,
    ...(record.runId === undefined ? {} : { runId: record.runId }),
    hotpatched: record.hotpatched,
    replacedFiles: record.replacedFiles.map(copyFile),
    ...(record.removal === undefined ? {} : { removal: record.removal }),
  };
  return { node: ledger.node, entries: [...entries, entry] };
}

/**
 * Marks the installed entry of `updateId` removed and returns the new ledger; the given ledger
 * is not changed and no entry is deleted. Records removals made out of order too: they happened.
 *
 * @throws LedgerError when the update is not installed (never, or already removed), or
 *   `removedAt` is not an ISO timestamp with a time zone or is earlier than the install.
 */
export function recordRemoval(
  ledger: InstallLedger,
  updateId: string,
  removedAt: string,
  runId?: string,
): InstallLedger {
  const heading = `Cannot record the removal of ${JSON.stringify(updateId)} on node ${JSON.stringify(ledger.node)}`;
  const input = { updateId, removedAt, ...(runId === undefined ? {} : { runId }) };
  const parsed = removalSchema.safeParse(input);
  if (!parsed.success) throw new LedgerError(heading, zodProblems(parsed.error, input, 'removal'));

  const entries = inInstallOrder(ledger.entries);
  const index = entries.findIndex(
    (entry) => isActive(entry) && sameUpdate(entry.updateId, updateId),
  );
  const target = entries[index];
  if (target === undefined) {
    throw new LedgerError(heading, [notInstalledProblem(ledger, 'updateId', updateId)]);
  }
  const marked: LedgerEntry = {
    ...target,
    removedAt,
    ...(runId === undefined ? {} : { removedByRunId: runId }),
  };
  const problems = entryProblems(marked, '').filter((p) => p.field === 'removedAt');
  if (problems.length > 0) throw new LedgerError(heading, problems);
  return { node: ledger.node, entries: entries.map((entry, i) => (i === index ? marked : entry)) };
}

function notInstalledProblem(
  ledger: InstallLedger,
  field: string,
  updateId: string,
): ValidationProblem {
  const history = ledger.entries.filter((entry) => sameUpdate(entry.updateId, updateId));
  const last = inInstallOrder(history).at(-1);
  return {
    field,
    value: updateId,
    message: last
      ? `already removed from node ${JSON.stringify(ledger.node)} (at ${last.removedAt}); expected an installed update`
      : `never installed on node ${JSON.stringify(ledger.node)}; expected an installed update (${
          activeIds(ledger).join(', ') || 'none is installed'
        })`,
  };
}

function activeIds(ledger: InstallLedger): string[] {
  return installedUpdates(ledger).map((entry) => entry.updateId);
}

// ---------------------------------------------------------------------------------------------
// Reading and planning
// ---------------------------------------------------------------------------------------------

/** The updates installed now (not removed), in install order. */
export function installedUpdates(ledger: InstallLedger): LedgerEntry[] {
  return inInstallOrder(ledger.entries).filter(isActive);
}

/** Every installed update, in the order to remove them all: reverse install order. */
export function safeRemovalOrder(ledger: InstallLedger): string[] {
  return installedUpdates(ledger)
    .reverse()
    .map((entry) => entry.updateId);
}

/** The files of `later` that `earlier` also replaced, spelled as `later` recorded them. */
function sharedFiles(earlier: LedgerEntry, later: LedgerEntry): string[] {
  const keys = new Set(earlier.replacedFiles.map((file) => normaliseFilePath(file.path)));
  return later.replacedFiles
    .filter((file) => keys.has(normaliseFilePath(file.path)))
    .map((file) => file.path);
}

/**
 * Plans removing `requested` updates: the order (reverse install order) and, for each requested
 * update, a warning when a later update that stays installed replaced some of the same files
 * (removing it then is out of order, KB823836). With `includeDependents`, those later updates
 * are removed too, transitively, so the plan is safe.
 *
 * @throws LedgerError naming each requested id that is empty, not a KB number, repeated, never
 *   installed or already removed; and when nothing is requested.
 */
export function planRemoval(
  ledger: InstallLedger,
  requested: readonly string[],
  options: PlanRemovalOptions = {},
): RemovalPlan {
  const includeDependents = options.includeDependents ?? false;
  const heading = `Cannot plan a removal on node ${JSON.stringify(ledger.node)}`;
  if (requested.length === 0) {
    throw new LedgerError(heading, [
      { field: 'requested', value: [], message: 'expected at least one update id to remove' },
    ]);
  }
  const installed = installedUpdates(ledger);
  const problems: ValidationProblem[] = [];
  const chosen = new Set<LedgerEntry>();
  requested.forEach((updateId, index) => {
    const field = `requested[${index}]`;
    if (typeof updateId !== 'string' || !UPDATE_ID.test(updateId)) {
      problems.push({ field, value: updateId, message: UPDATE_ID_EXPECTED });
      return;
    }
    const first = requested.findIndex(
      (other) => typeof other === 'string' && sameUpdate(other, updateId),
    );
    if (first < index) {
      problems.push({
        field,
        value: updateId,
        message: `repeats requested[${first}]; list each update once`,
      });
      return;
    }
    const entry = installed.find((candidate) => sameUpdate(candidate.updateId, updateId));
    if (entry) chosen.add(entry);
    else problems.push(notInstalledProblem(ledger, field, updateId));
  });
  if (problems.length > 0) throw new LedgerError(heading, problems);

  const removing = new Set(chosen);
  if (includeDependents) {
    const pending = [...removing];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const earlier = next;
      for (const later of installed) {
        if (
          later.sequence > earlier.sequence &&
          !removing.has(later) &&
          sharedFiles(earlier, later).length > 0
        ) {
          removing.add(later);
          pending.push(later);
        }
      }
    }
  }

  const byRemovalOrder = (a: LedgerEntry, b: LedgerEntry) => b.sequence - a.sequence;
  const warnings: RemovalWarning[] = [];
  for (const entry of [...chosen].sort(byRemovalOrder)) {
    const remaining = installed.filter(
      (later) => later.sequence > entry.sequence && !removing.has(later),
    );
    const laterUpdatesSharingFiles = remaining
      .map((later) => ({ updateId: later.updateId, files: sharedFiles(entry, later) }))
      .filter((later) => later.files.length > 0);
    if (laterUpdatesSharingFiles.length > 0) {
      warnings.push({
        updateId: entry.updateId,
        laterUpdatesSharingFiles,
        installedSince: remaining.map((later) => later.updateId),
      });
    }
  }

  const order = [...removing].sort(byRemovalOrder);
  return {
    order: order.map((entry) => entry.updateId),
    safe: warnings.length === 0,
    warnings,
    restartRequired: order.length > 0,
    addedDependents: order.filter((entry) => !chosen.has(entry)).map((entry) => entry.updateId),
  };
}

// ---------------------------------------------------------------------------------------------
// Validation of stored ledgers
// ---------------------------------------------------------------------------------------------

/**
 * Checks a ledger loaded from storage or a file and returns it typed. Beyond each field's shape:
 * every entry belongs to the ledger's node; sequences strictly increase; install times never go
 * back; no file is listed twice in an entry; a removal is not before its install; and an update
 * is installed (not removed) at most once. Unknown fields are rejected, so a misspelt `removedAt`
 * cannot make a removed update look installed.
 *
 * @throws LedgerError listing every problem with its field path and value.
 */
export function validateLedger(input: unknown): InstallLedger {
  const heading = 'Invalid install ledger';
  const parsed = ledgerSchema.safeParse(input);
  if (!parsed.success) throw new LedgerError(heading, zodProblems(parsed.error, input, 'ledger'));

  const ledger = parsed.data;
  const problems: ValidationProblem[] = [];
  const activeAt = new Map<string, number>();
  ledger.entries.forEach((entry, index) => {
    const prefix = `entries[${index}].`;
    const previous = ledger.entries[index - 1];
    if (entry.node !== ledger.node) {
      problems.push({
        field: `${prefix}node`,
        value: entry.node,
        message: `expected the ledger's node ${JSON.stringify(ledger.node)}`,
      });
    }
    if (previous && entry.sequence <= previous.sequence) {
      problems.push({
        field: `${prefix}sequence`,
        value: entry.sequence,
        message: `expected more than the previous entry's sequence (${previous.sequence})`,
      });
    }
    if (previous && instant(entry.installedAt) < instant(previous.installedAt)) {
      problems.push({
        field: `${prefix}installedAt`,
        value: entry.installedAt,
        message: `earlier than the previous entry's installedAt (${JSON.stringify(previous.installedAt)}); expected install order`,
      });
    }
    problems.push(...entryProblems(entry, prefix));
    if (entry.removedAt === undefined) {
      const key = entry.updateId.toUpperCase();
      const first = activeAt.get(key);
      if (first === undefined) activeAt.set(key, index);
      else {
        problems.push({
          field: `${prefix}updateId`,
          value: entry.updateId,
          message: `also installed and not removed in entries[${first}]; expected one installed entry per update`,
        });
      }
    }
  });
  if (problems.length > 0) throw new LedgerError(heading, problems);
  return ledger;
}
