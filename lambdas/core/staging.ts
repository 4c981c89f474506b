/**
 * Staging before the window (issue 13 item 5, ConfigMgr's pre-download): the rules of the
 * StageUpdates document's payload and result lines, a node's staging summary (files, bytes,
 * digests verified, cache hits), the staging options, and which installs may say "from cache".
 *
 * Staging downloads and verifies; it never drains, installs or restarts. The installing run
 * passes each planned file's SHA-256 to InstallHotfixes, which uses the staged copy only when
 * `Get-FileHash` of it matches (`fromCache` on the result line); this module checks that promise.
 */
import * as z from 'zod';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';

/** One hotfix file the node stages: where it is in the plan, its S3 key and its SHA-256. */
export interface StageItem {
  readonly index: number;
  readonly file: string;
  readonly key: string;
  readonly sha256: string;
}

/** The Windows Update search staged on the node (downloaded, never installed). */
export interface StageWindowsUpdate {
  readonly queryString: string;
  readonly includeRecommendedUpdates: boolean;
  readonly selection: unknown;
}

/** Payload of StageUpdates (`ssm/stage-updates.ps1`). */
export interface StageUpdatesPayload {
  readonly bucket: string;
  readonly updates: readonly StageItem[];
  readonly windowsUpdate: StageWindowsUpdate | null;
}

/** What a node's plan (plan-node) offers staging: its hotfix files and Windows Update query. */
export interface StagePlan {
  readonly hotfix: {
    readonly bucket: string;
    readonly updates: readonly {
      readonly index: number;
      readonly file: string;
      readonly key: string;
      readonly sha256: string;
    }[];
  } | null;
  readonly windowsUpdate: {
    readonly queryString: string;
    readonly includeRecommendedUpdates: boolean;
    readonly selection: unknown;
  } | null;
}

/** The StageUpdates payload for one node's plan: only what staging needs of each file. */
export function stagePayload(plan: StagePlan): StageUpdatesPayload {
  return {
    bucket: plan.hotfix?.bucket ?? '',
    updates: (plan.hotfix?.updates ?? []).map(({ index, file, key, sha256 }) => ({
      index,
      file,
      key,
      sha256,
    })),
    windowsUpdate:
      plan.windowsUpdate === null
        ? null
        : {
            queryString: plan.windowsUpdate.queryString,
            includeRecommendedUpdates: plan.windowsUpdate.includeRecommendedUpdates,
            selection: plan.windowsUpdate.selection ?? null,
          },
  };
}

/** Outcomes of one staged file or update. `alreadyStaged` is a cache hit. */
export const STAGE_OUTCOMES = [
  'staged',
  'alreadyStaged',
  'digestMismatch',
  'failed',
  'notStarted',
] as const;
export type StageOutcome = (typeof STAGE_OUTCOMES)[number];

const SHA256 = /^[0-9a-f]{64}$/;

const fileLineSchema = z.object({
  kind: z.literal('file'),
  index: z.number().int().min(0),
  file: z.string(),
  sha256: z.string(),
  bytes: z.number().int().min(0),
  outcome: z.enum(STAGE_OUTCOMES),
  actualSha256: z.string().optional(),
  error: z.string().optional(),
});
const windowsUpdateLineSchema = z.object({
  kind: z.literal('windowsUpdate'),
  updateId: z.string(),
  kb: z.string().nullable(),
  title: z.string(),
  outcome: z.enum(STAGE_OUTCOMES),
  resultCode: z.number().int(),
  hResult: z.number().int(),
});
const stageLineSchema = z.discriminatedUnion('kind', [fileLineSchema, windowsUpdateLineSchema]);
export type StageResultLine = z.infer<typeof stageLineSchema>;

/** A node's result lines are not what StageUpdates prints. */
export class StagingReportError extends RolloutRuleError {}

/**
 * The result lines of one StageUpdates command, checked. A file line that says it staged or
 * found a file must carry a SHA-256: the install run trusts the staging record by it.
 *
 * @throws StagingReportError naming the line, the field and the value.
 */
export function parseStageLines(node: string, lines: readonly unknown[]): StageResultLine[] {
  const problems: ValidationProblem[] = [];
  const parsed: StageResultLine[] = [];
  lines.forEach((line, i) => {
    const result = stageLineSchema.safeParse(line);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const field = [`results[${i}]`, ...issue.path.map(String)].join('.');
        problems.push({ field, value: valueAt(line, issue.path), message: issue.message });
      }
      return;
    }
    const value = result.data;
    if (
      value.kind === 'file' &&
      (value.outcome === 'staged' || value.outcome === 'alreadyStaged') &&
      !SHA256.test(value.sha256)
    ) {
      problems.push({
        field: `results[${i}].sha256`,
        value: value.sha256,
        message: 'expected 64 lower-case hexadecimal digits for a staged file',
      });
      return;
    }
    parsed.push(value);
  });
  if (problems.length > 0) {
    throw new StagingReportError(
      formatProblems(`${node}: StageUpdates result lines are malformed`, problems),
    );
  }
  return parsed;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Staging of one node as the run store keeps it and the report shows it. */
export interface NodeStaging {
  readonly node: string;
  /** `Staged`: everything is in the cache; `Partial`: some is; `Failed`: nothing is. */
  readonly status: 'Staged' | 'Partial' | 'Failed' | 'NothingToStage';
  /** Hotfix files in the cache after this run (staged now or found there). */
  readonly files: number;
  readonly bytes: number;
  /** Files whose SHA-256 the node checked and found as planned. */
  readonly digestsVerified: number;
  /** Files already in the cache with the right SHA-256: nothing downloaded. */
  readonly cacheHits: number;
  /** Files or updates not in the cache, each with why. */
  readonly problems: readonly string[];
  /** Windows updates downloaded (or already downloaded) by WUA. */
  readonly windowsUpdates: number;
  /** The SHA-256 of every file in the cache: what the install run may take from it. */
  readonly stagedDigests: readonly string[];
}

/** A node's staging summary from its result lines (and the command's status). */
export function summarizeNodeStaging(
  node: string,
  lines: readonly StageResultLine[],
  commandStatus = 'Success',
): NodeStaging {
  let files = 0;
  let bytes = 0;
  let cacheHits = 0;
  let windowsUpdates = 0;
  const problems: string[] = [];
  const stagedDigests: string[] = [];
  for (const line of lines) {
    const inCache = line.outcome === 'staged' || line.outcome === 'alreadyStaged';
    const name = line.kind === 'file' ? line.file : (line.kb ?? line.title);
    if (!inCache) {
      const detail = line.kind === 'file' && line.error ? `: ${line.error}` : '';
      problems.push(`${name} ${line.outcome}${detail}`);
      continue;
    }
    if (line.kind === 'windowsUpdate') {
      windowsUpdates += 1;
      continue;
    }
    files += 1;
    bytes += line.bytes;
    if (line.outcome === 'alreadyStaged') cacheHits += 1;
    if (!stagedDigests.includes(line.sha256)) stagedDigests.push(line.sha256);
  }
  if (commandStatus !== 'Success') problems.push(`the StageUpdates command ended ${commandStatus}`);
  const inCache = files + windowsUpdates;
  const status: NodeStaging['status'] =
    lines.length === 0 && problems.length === 0
      ? 'NothingToStage'
      : problems.length === 0
        ? 'Staged'
        : inCache > 0
          ? 'Partial'
          : 'Failed';
  return {
    node,
    status,
    files,
    bytes,
    digestsVerified: files,
    cacheHits,
    problems,
    windowsUpdates,
    stagedDigests,
  };
}

/** Staging options of a rollout (`staging` in the input). */
export interface StagingOptions {
  /** Nodes staged at once. */
  readonly maxConcurrency: number;
  /** With a schedule: start staging this many hours before each window; absent: no scheduled staging. */
  readonly hoursBeforeWindow?: number;
}

/** Nodes staged at once unless the input says otherwise: downloads share the uplink. */
export const DEFAULT_STAGING_CONCURRENCY = 10;
/** Ours: SSM SendCommand targets at most 50 instances per call; staging never needs more. */
export const MAX_STAGING_CONCURRENCY = 50;
/** A week: a cache older than that is more likely stale than useful. */
export const MAX_HOURS_BEFORE_WINDOW = 168;

const CONCURRENCY_ACCEPTED = `expected a whole number of nodes from 1 to ${MAX_STAGING_CONCURRENCY}`;
const HOURS_ACCEPTED = `expected a whole number of hours from 1 to ${MAX_HOURS_BEFORE_WINDOW}`;

export const stagingOptionsSchema = z
  .strictObject(
    {
      maxConcurrency: z
        .number({ error: CONCURRENCY_ACCEPTED })
        .int({ error: CONCURRENCY_ACCEPTED })
        .min(1, { error: CONCURRENCY_ACCEPTED })
        .max(MAX_STAGING_CONCURRENCY, { error: CONCURRENCY_ACCEPTED })
        .default(DEFAULT_STAGING_CONCURRENCY)
        .describe('Nodes staged at once (1 to 50, default 10).'),
      hoursBeforeWindow: z
        .number({ error: HOURS_ACCEPTED })
        .int({ error: HOURS_ACCEPTED })
        .min(1, { error: HOURS_ACCEPTED })
        .max(MAX_HOURS_BEFORE_WINDOW, { error: HOURS_ACCEPTED })
        .optional()
        .describe(
          "With a schedule: start a staging run this many hours (1 to 168) before each of the schedule's windows.",
        ),
    },
    { error: 'expected { maxConcurrency?, hoursBeforeWindow? }' },
  )
  .describe(
    "Staging before the window (issue 13 item 5, ConfigMgr pre-download): how a staging run of this rollout downloads and verifies each node's updates into its protected cache ahead of the install run.",
  );

/** The rollout input's `staging` block is wrong. */
export class StagingOptionsError extends RolloutRuleError {}

/**
 * The staging options, defaults applied.
 * @throws StagingOptionsError naming each bad field (`staging.maxConcurrency`, ...) and value.
 */
export function parseStagingOptions(raw: unknown): StagingOptions {
  const result = stagingOptionsSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    field: ['staging', ...issue.path.map(String)].join('.'),
    value: valueAt(raw, issue.path),
    message: issue.message,
  }));
  throw new StagingOptionsError(formatProblems('invalid staging options', problems));
}

/** When a staging run starts for a window starting at `windowStart`. */
export function stagingStartFor(windowStart: Date, hoursBeforeWindow: number): Date {
  return new Date(windowStart.getTime() - hoursBeforeWindow * 3_600_000);
}

/** One hotfix install as the install run reported it, for the from-cache check. */
export interface InstalledFromCache {
  readonly node: string;
  readonly file: string;
  readonly sha256: string;
  readonly fromCache: boolean;
}

/**
 * Installs that said "from cache" without a staged copy of that SHA-256 on that node: each a
 * broken promise (an install from cache only when the staged digest matched).
 */
export function fromCacheViolations(
  staging: readonly NodeStaging[],
  installs: readonly InstalledFromCache[],
): string[] {
  const staged = new Map(staging.map((s) => [s.node.toLowerCase(), new Set(s.stagedDigests)]));
  return installs
    .filter((i) => i.fromCache && !staged.get(i.node.toLowerCase())?.has(i.sha256.toLowerCase()))
    .map(
      (i) =>
        `${i.node}: ${i.file} was installed from the staging cache, but no staged copy with SHA-256 ${i.sha256} was recorded for the node`,
    );
}
