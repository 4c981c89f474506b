/**
 * The model fleet's StageUpdates (`ssm/stage-updates.ps1`, issue 13 item 5) and the staging cache
 * InstallHotfixes reads, as the real scripts behave: a file is staged under its planned SHA-256
 * only when the download's digest matches; an install takes the staged copy only when the copy's
 * digest still matches the plan (a chaos draw may corrupt it on disk after staging).
 */
import type { UpdateSelection } from '../lambdas/core/update-selection.js';
import type { ScenarioHotfixFile, WindowsUpdateItem } from './scenario.js';
import { scanResultLine } from './update-selection-model.js';

/** One file in a node's staging cache: its folder's digest and the digest of what lies there. */
export interface StagedCopy {
  readonly file: string;
  readonly bytes: number;
  /** SHA-256 of the bytes on disk (lower case); differs from the folder's after corruption. */
  actualSha256: string;
}

/** A node's staging cache, by planned SHA-256 (lower case). */
export type StagingCache = Map<string, StagedCopy>;

/** What the model needs of the fleet while StageUpdates runs on one node. */
export interface StagingRun {
  readonly cache: StagingCache;
  /** The hotfix root as published, by path relative to the root. */
  readonly files: ReadonlyMap<string, ScenarioHotfixFile>;
  readonly downloadMs: number;
  readonly searchMs: number;
  now(): number;
  sleep(ms: number): Promise<void>;
  log(message: string): void;
  result(value: unknown): void;
  windowsUpdatesFound(): readonly WindowsUpdateItem[];
  /** payload checks of the fleet (the prelude's Get-Payload*), which throw a ScriptFailure. */
  readonly payload: {
    string(obj: unknown, name: string, path: string, allowEmpty?: boolean): string;
    integer(obj: unknown, name: string, path: string, min: number, max: number): number;
    boolean(obj: unknown, name: string, path: string): boolean;
    array(obj: unknown, name: string, path: string): unknown[];
    selection(obj: unknown): UpdateSelection | null;
    fail(message: string): Error;
  };
}

const LEAF = /^[A-Za-z0-9._-]+$/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** stage-updates.ps1: returns its exit code (1 when the deadline cut it short). */
export async function stageUpdates(
  run: StagingRun,
  payload: Record<string, unknown>,
  deadline: number,
): Promise<number> {
  const p = run.payload;
  const updates = p.array(payload, 'updates', 'payload');
  const bucket = p.string(payload, 'bucket', 'payload', true);
  if (updates.length > 0 && bucket.length === 0) {
    throw p.fail('payload.bucket (""): expected the hotfix root bucket when updates are given');
  }
  const windowsUpdate = payload.windowsUpdate;
  if (windowsUpdate !== null && windowsUpdate !== undefined && !isRecord(windowsUpdate)) {
    throw p.fail(
      `payload.windowsUpdate (${JSON.stringify(windowsUpdate)}): expected a JSON object or null`,
    );
  }
  for (let position = 0; position < updates.length; position++) {
    if (run.now() >= deadline) {
      for (let rest = position; rest < updates.length; rest++) {
        const item = updates[rest];
        run.result({
          kind: 'file',
          index: rest,
          file: isRecord(item) && typeof item.file === 'string' ? item.file : '',
          sha256: '',
          bytes: 0,
          outcome: 'notStarted',
        });
      }
      throw p.fail(`the command deadline passed before file ${position} of ${updates.length}`);
    }
    run.result(await stageFile(run, updates[position], position, bucket));
  }
  if (isRecord(windowsUpdate)) await stageWindowsUpdates(run, windowsUpdate, deadline);
  if (updates.length === 0 && !isRecord(windowsUpdate)) run.log('nothing to stage');
  return 0;
}

async function stageFile(
  run: StagingRun,
  item: unknown,
  position: number,
  bucket: string,
): Promise<Record<string, unknown>> {
  const at = `payload.updates[${position}]`;
  const line: Record<string, unknown> = {
    kind: 'file',
    index: position,
    file: '',
    sha256: '',
    bytes: 0,
    outcome: 'failed',
  };
  try {
    line.index = run.payload.integer(item, 'index', at, 0, 1_000_000);
    const file = run.payload.string(item, 'file', at);
    line.file = file;
    const key = run.payload.string(item, 'key', at);
    const planned = run.payload.string(item, 'sha256', at);
    if (!/^[0-9A-Fa-f]{64}$/.test(planned)) {
      throw run.payload.fail(
        `${at}.sha256 (${JSON.stringify(planned)}): expected 64 hexadecimal digits`,
      );
    }
    const sha256 = planned.toLowerCase();
    line.sha256 = sha256;
    const leaf = file.split(/[\\/]/).at(-1) ?? '';
    if (!LEAF.test(leaf) || /^\.+$/.test(leaf)) {
      throw run.payload.fail(
        `${at}.file (${JSON.stringify(file)}): expected a file name of letters, digits, . _ -`,
      );
    }
    const cached = run.cache.get(sha256);
    if (cached && cached.actualSha256 === sha256) {
      line.bytes = cached.bytes;
      line.outcome = 'alreadyStaged';
      run.log(`${file}: already staged, SHA-256 verified`);
      return line;
    }
    if (cached) {
      run.log(
        `${file}: the staged copy has SHA-256 ${cached.actualSha256}, not ${sha256}; downloading again`,
      );
      run.cache.delete(sha256);
    }
    const stored = run.files.get(file.replace(/\\/g, '/'));
    if (!stored) {
      await run.sleep(run.downloadMs * 3);
      throw run.payload.fail(
        `download of s3://${bucket}/${key} failed after 3 tries: The specified key does not exist.`,
      );
    }
    run.log(`staging ${file}`);
    await run.sleep(run.downloadMs);
    const actual = stored.deliveredSha256.toLowerCase();
    if (actual !== sha256) {
      line.outcome = 'digestMismatch';
      line.actualSha256 = actual;
      line.error = `SHA-256 of the download is ${actual}, the plan says ${sha256}: not staged`;
      run.log(`${file}: ${line.error as string}`);
      return line;
    }
    run.cache.set(sha256, { file, bytes: stored.sizeBytes, actualSha256: actual });
    line.bytes = stored.sizeBytes;
    line.outcome = 'staged';
  } catch (error) {
    line.outcome = 'failed';
    line.error = (error as Error).message.slice(0, 1000);
    run.log(`update ${position} not staged: ${line.error as string}`);
  }
  return line;
}

async function stageWindowsUpdates(
  run: StagingRun,
  options: Record<string, unknown>,
  deadline: number,
): Promise<void> {
  const p = run.payload;
  const queryString = p.string(options, 'queryString', 'payload.windowsUpdate');
  const includeRecommended = p.boolean(
    options,
    'includeRecommendedUpdates',
    'payload.windowsUpdate',
  );
  const selection = p.selection(options);
  run.log(`searching for updates to stage: ${queryString}`);
  await run.sleep(run.searchMs);
  for (const update of run.windowsUpdatesFound()) {
    if (update.recommended && !includeRecommended) continue;
    if (scanResultLine(update, selection, new Date(run.now())).excludedBy !== null) continue;
    const line = {
      kind: 'windowsUpdate',
      updateId: update.updateId,
      kb: update.kb,
      title: update.title,
      outcome: run.now() >= deadline ? 'notStarted' : 'staged',
      resultCode: run.now() >= deadline ? 0 : 2,
      hResult: 0,
    };
    if (line.outcome === 'staged') await run.sleep(run.downloadMs);
    run.log(`${line.outcome}: ${update.title}`);
    run.result(line);
  }
}

/**
 * install-hotfixes.ps1's Copy-StagedFile: the staged copy of `sha256` when its digest on disk
 * still matches the plan; otherwise why not (`note`), or nothing when none was staged.
 */
export function takeStagedCopy(
  cache: StagingCache | undefined,
  file: string,
  sha256: string,
): { fromCache: true } | { fromCache: false; note?: string } {
  const expected = sha256.toLowerCase();
  const copy = cache?.get(expected);
  if (!copy) return { fromCache: false };
  const leaf = file.split(/[\\/]/).at(-1);
  if (copy.file.split(/[\\/]/).at(-1) !== leaf) return { fromCache: false };
  if (copy.actualSha256 !== expected) {
    return {
      fromCache: false,
      note: `the staged copy has SHA-256 ${copy.actualSha256}, the plan says ${expected}: not used; downloaded from the hotfix root`,
    };
  }
  return { fromCache: true };
}
