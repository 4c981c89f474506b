/**
 * Interprets what a node reported after an install command: each update's outcome (core
 * interpret rules), stored as update results of this attempt; installs that succeeded recorded
 * in the node's install ledger; and the planned updates to try again.
 *
 * Errors: `InvalidEvent`; `InstallReportError` (the node's result lines are malformed);
 * `LedgerConflict` (another writer took a ledger sequence: retry re-reads the ledger);
 * `UnprocessedItems`. Throttling propagates for Retry.
 */
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import {
  type CommandOutcome,
  DOCUMENTS,
  type DocumentKey,
  type PlannedInstall,
  type RemovalItem,
  TERMINAL_STATUSES,
  type UpdateResult,
} from '../core/contracts.js';
import { EXIT_CONDITIONS, isSuccessfulOutcome } from '../core/exit-codes.js';
import {
  type InstallLedger,
  type LedgerEntry,
  LedgerError,
  recordInstall,
  removalFor,
} from '../core/install-ledger.js';
import {
  type InstallVerdict,
  interpretHotfixInstall,
  interpretRemoval,
  interpretWindowsUpdate,
} from '../core/interpret.js';
import { nodeNameProblem } from '../core/node-names.js';
import { parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { SELECTION_RULES, type SelectionRule } from '../core/update-selection.js';
import { withUpdateTimes } from '../core/update-times.js';
import { createRunStore, LedgerConflictError, type RunStore } from '../shared/run-store.js';
import { logContext, logger } from '../shared/runtime.js';

const RUN_ID_ACCEPTED = 'expected a run id: 1 to 64 letters, digits, - and _';

/** The two CAU plug-ins, and `Rollout.Removal`: the RemoveUpdates command of a removal. */
const PLUGINS = [
  'Microsoft.HotfixPlugin',
  'Microsoft.WindowsUpdatePlugin',
  'Rollout.Removal',
] as const;
const DOCUMENT_KEYS = Object.keys(DOCUMENTS) as [DocumentKey, ...DocumentKey[]];
/** A KB number in a file name or title, as the ledger accepts it (KB + 4 to 8 digits). */
const KB_IN_NAME = /(?:^|[^A-Za-z0-9])(KB[1-9][0-9]{3,7})(?![0-9])/i;

const codes = z.array(z.number().int());
const plannedSchema = z.looseObject({
  index: z.number().int().min(0),
  file: z.string().min(1),
  key: z.string(),
  sha256: z.string(),
  localPath: z.string(),
  path: z.string(),
  parameters: z.string(),
  rule: z.object({ kind: z.enum(['extension', 'folder']), name: z.string() }),
  exitConditions: z.object(
    Object.fromEntries(EXIT_CONDITIONS.map((condition) => [condition, codes])) as Record<
      (typeof EXIT_CONDITIONS)[number],
      typeof codes
    >,
  ),
  alwaysReboot: z.boolean(),
  hotpatch: z.boolean().optional(),
});

const commandSchema = z.object({
  commandId: z.string().min(1),
  instanceId: z.string().min(1),
  document: z.enum(DOCUMENT_KEYS),
  status: z.enum(TERMINAL_STATUSES, {
    error: `expected a terminal status: ${TERMINAL_STATUSES.join(', ')}`,
  }),
  responseCode: z.number().int(),
  results: z.array(z.unknown()),
  outputTail: z.string(),
});

const eventSchema = z
  .object({
    runId: z.string().regex(RUN_ID_PATTERN, { error: RUN_ID_ACCEPTED }),
    node: z.string().refine((name) => nodeNameProblem(name) === undefined, {
      error: (issue) => nodeNameProblem(issue.input) ?? 'expected a node name',
    }),
    attempt: z.number().int().min(1, { error: 'expected the attempt number, from 1' }),
    plugin: z.enum(PLUGINS, { error: `expected ${PLUGINS.join(' or ')}` }),
    planned: z.array(plannedSchema).optional(),
    /** The updates RemoveUpdates was asked to remove (plugin Rollout.Removal), in its order. */
    removals: z
      .array(
        z.object({
          index: z.number().int().min(0),
          updateId: z.string().regex(/^KB[1-9][0-9]{3,7}$/i, { error: 'expected a KB id' }),
        }),
      )
      .optional(),
    command: commandSchema,
    recordLedger: z.boolean({ error: 'expected true or false' }),
    /** The node installs hotfixes with hotpatching (`/hotpatch:enable`). */
    hotpatch: z.boolean().optional(),
    /**
     * Hotfix files the rollout's updateSelection left out of the plan (plan-node's `excluded`):
     * stored with the first attempt's results as NotApplicable with `excludedBy`, for the report.
     */
    excluded: z
      .array(
        z.object({
          file: z.string().min(1),
          rule: z.enum(SELECTION_RULES as [SelectionRule, ...SelectionRule[]]),
          reason: z.string(),
        }),
      )
      .optional(),
  })
  .refine((event) => event.plugin !== 'Microsoft.HotfixPlugin' || event.planned !== undefined, {
    path: ['planned'],
    error: 'expected the planned installs: the hotfix plug-in interprets results against its plan',
  })
  .refine((event) => event.plugin !== 'Rollout.Removal' || event.removals !== undefined, {
    path: ['removals'],
    error: 'expected the planned removals: a removal interprets results against its list',
  });

export type InterpretResultsEvent = z.input<typeof eventSchema>;

/** An update that succeeded but was not written to the ledger, and why. */
export interface LedgerSkip {
  readonly update: string;
  readonly reason: string;
}

export interface InterpretResultsResult extends InstallVerdict {
  /**
   * Planned updates whose outcome was not successful, for the next attempt; never one a retry
   * cannot fix (a SHA-256 mismatch).
   */
  readonly retryItems: readonly PlannedInstall[];
  /** Another attempt can change something: some failure is one a retry may fix. */
  readonly retryable: boolean;
  /** KB ids written to the ledger by this call. */
  readonly ledgerRecorded: readonly string[];
  /** KB ids this call marked removed in the ledger (plugin Rollout.Removal). */
  readonly ledgerRemoved: readonly string[];
  readonly ledgerSkipped: readonly LedgerSkip[];
}

export interface InterpretResultsDeps {
  readonly store: RunStore;
  readonly now: () => Date;
}

/** Hotfix files updateSelection excluded, as update results after the plan's (issue 13 item 2). */
function excludedResults(
  excluded: readonly { file: string; rule: SelectionRule; reason: string }[],
  from: number,
): UpdateResult[] {
  return excluded.map((e, i) => ({
    index: from + i,
    plugin: 'Microsoft.HotfixPlugin',
    update: e.file,
    exitCode: null,
    outcome: 'NotApplicable',
    rebootRequired: false,
    rebootInitiated: false,
    transient: false,
    durationSeconds: 0,
    logTail: '',
    detail: `excluded by updateSelection.${e.rule}: ${e.reason}`,
    excludedBy: e.rule,
  }));
}

/** The KB id in an update's file name or title, upper-cased; undefined when it has none. */
export function kbFromName(name: string): string | undefined {
  return KB_IN_NAME.exec(name)?.[1]?.toUpperCase();
}

export function makeInterpretResultsHandler(deps: InterpretResultsDeps) {
  return async (event: unknown): Promise<InterpretResultsResult> => {
    const input = parseEvent('interpret-results', eventSchema, event);
    const { runId, node, attempt, plugin } = input;
    logContext({ runId, node });
    const command: CommandOutcome = input.command;
    const planned: readonly PlannedInstall[] = input.planned ?? [];

    const removals: readonly RemovalItem[] = input.removals ?? [];

    const verdict =
      plugin === 'Microsoft.HotfixPlugin'
        ? interpretHotfixInstall(planned, command)
        : plugin === 'Rollout.Removal'
          ? interpretRemoval(removals, command)
          : interpretWindowsUpdate(command);
    // Each update's start and end, from the command's completion (now) and the durations.
    await deps.store.putUpdateResults(runId, node, attempt, [
      ...withUpdateTimes(verdict.results, deps.now()),
      ...(attempt === 1 ? excludedResults(input.excluded ?? [], planned.length) : []),
    ]);
    if ('unplannedRestart' in verdict && verdict.unplannedRestart.length > 0) {
      // The update results say so too; a cluster node's roles moved without a drain.
      logger.error(
        'unplanned restart: an installer exited 1641 although its rule does not list it',
        {
          updates: verdict.unplannedRestart,
        },
      );
    }

    if (plugin === 'Rollout.Removal') {
      const ledgerRemoved: string[] = [];
      const ledgerSkipped: LedgerSkip[] = [];
      if (input.recordLedger) {
        await markRemovals(deps, runId, node, verdict, ledgerRemoved, ledgerSkipped);
      }
      logger.info('removal interpreted', {
        failed: verdict.failed,
        outcomes: verdict.outcomes,
        removed: ledgerRemoved,
      });
      return {
        ...verdict,
        retryItems: [],
        retryable: false,
        ledgerRecorded: [],
        ledgerRemoved,
        ledgerSkipped,
      };
    }

    const failedIndexes = new Set(
      verdict.results
        .filter((r) => !isSuccessfulOutcome(r.outcome) && !verdict.neverRetry.includes(r.index))
        .map((r) => r.index),
    );
    const retryItems = planned.filter((item) => failedIndexes.has(item.index));
    // The Windows Update plug-in retries its whole search and install.
    const retryable = plugin === 'Microsoft.HotfixPlugin' ? retryItems.length > 0 : verdict.failed;

    const ledgerRecorded: string[] = [];
    const ledgerSkipped: LedgerSkip[] = [];
    if (input.recordLedger) {
      const installed = verdict.results.filter(
        (r) => r.outcome === 'Success' || r.outcome === 'Success_RebootRequired',
      );
      if (installed.length > 0) {
        let ledger: InstallLedger = await deps.store.getLedger(node);
        const before = ledger.entries.length;
        const installedAt = deps.now().toISOString();
        for (const result of installed) {
          const updateId = kbFromName(result.update);
          if (updateId === undefined) {
            ledgerSkipped.push({
              update: result.update,
              reason: 'no KB number (KB followed by 4 to 8 digits) in its name',
            });
            continue;
          }
          // A retried invocation finds what its first try recorded: that is not a conflict.
          const already = ledger.entries.find(
            (e) => e.removedAt === undefined && e.updateId === updateId && e.runId === runId,
          );
          if (already) continue;
          try {
            ledger = recordInstall(ledger, {
              updateId,
              installedAt,
              runId,
              // A Success code confirms no restart was needed: the hotpatch took.
              hotpatched:
                result.outcome === 'Success' &&
                (input.hotpatch === true ||
                  planned.find((p) => p.index === result.index)?.hotpatch === true),
              // What the plan knows the update replaces; the KB823836 check compares these.
              replacedFiles: (
                planned.find((p) => p.index === result.index)?.replacesFiles ?? []
              ).map((path) => ({ path })),
              // The DISM package a combined SSU + LCU .msu added: only DISM can remove it.
              removal: removalFor(lineOf(command, result.index)),
            });
            ledgerRecorded.push(updateId);
          } catch (error) {
            if (!(error instanceof LedgerError)) throw error;
            ledgerSkipped.push({ update: result.update, reason: error.message });
          }
        }
        const added: LedgerEntry[] = ledger.entries.slice(before);
        await deps.store.appendLedgerEntries(node, added);
      }
      for (const skip of ledgerSkipped) {
        logger.warn('install not recorded in the ledger', { ...skip });
      }
    }

    logger.info('results interpreted', {
      plugin,
      attempt,
      failed: verdict.failed,
      outcomes: verdict.outcomes,
      retry: retryItems.length,
    });
    return {
      ...verdict,
      retryItems,
      retryable,
      ledgerRecorded,
      ledgerRemoved: [],
      ledgerSkipped,
    };
  };
}

/**
 * Marks each update the node no longer has (removed, or reported not installed) removed in its
 * ledger, with the run that removed it. A retried invocation finds its own marks and skips them.
 */
async function markRemovals(
  deps: InterpretResultsDeps,
  runId: string,
  node: string,
  verdict: InstallVerdict,
  ledgerRemoved: string[],
  ledgerSkipped: LedgerSkip[],
): Promise<void> {
  const gone = verdict.results.filter(
    (r) => r.outcome === 'Success_RebootRequired' || r.outcome === 'NotApplicable',
  );
  if (gone.length === 0) return;
  const ledger = await deps.store.getLedger(node);
  const removedAt = deps.now().toISOString();
  for (const result of gone) {
    const updateId = result.update.toUpperCase();
    const entry = ledger.entries.find(
      (e) => e.removedAt === undefined && e.updateId.toUpperCase() === updateId,
    );
    if (!entry) {
      const mine = ledger.entries.some(
        (e) => e.updateId.toUpperCase() === updateId && e.removedByRunId === runId,
      );
      if (!mine) {
        ledgerSkipped.push({ update: result.update, reason: 'not installed in the ledger' });
      }
      continue;
    }
    try {
      await deps.store.markRemoved(node, entry.sequence, { removedAt, removedByRunId: runId });
      ledgerRemoved.push(updateId);
    } catch (error) {
      if (!(error instanceof LedgerConflictError)) throw error;
      ledgerSkipped.push({ update: result.update, reason: error.message });
    }
  }
  for (const skip of ledgerSkipped) {
    logger.warn('removal not recorded in the ledger', { ...skip });
  }
}

function productionDeps(): InterpretResultsDeps {
  return { store: createRunStore(), now: () => new Date() };
}

let cached: ReturnType<typeof makeInterpretResultsHandler> | undefined;

export const handler = async (
  event: unknown,
  context: Context,
): Promise<InterpretResultsResult> => {
  logger.addContext(context);
  cached ??= makeInterpretResultsHandler(productionDeps());
  return cached(event);
};

/** The packages an install line reports for `index` (none for other plug-ins' lines). */
function lineOf(command: CommandOutcome, index: number): { packageNames?: readonly string[] } {
  const line = command.results.find(
    (l): l is { index: number; packageNames?: unknown } =>
      typeof l === 'object' && l !== null && (l as { index?: unknown }).index === index,
  );
  const names = line?.packageNames;
  return Array.isArray(names) && names.every((n) => typeof n === 'string')
    ? { packageNames: names as string[] }
    : {};
}
