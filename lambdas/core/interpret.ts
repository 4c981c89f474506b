/**
 * Interpreting what a node reported after installing: each update's exit code against its
 * rule (hotfix plug-in) or its WUA result code (Windows Update plug-in), and what the node needs
 * next: a restart, a retry, or nothing.
 */
import type {
  CommandOutcome,
  InstallResultLine,
  PlannedInstall,
  RemovalItem,
  RemovalResultLine,
  UpdateResult,
  WindowsUpdateResultLine,
} from './contracts.js';
import { RolloutRuleError } from './errors.js';
import { classifyExitCode, type ExitOutcome, isSuccessfulOutcome, toHex } from './exit-codes.js';

/** Raised when a node's report cannot be read; names the line and the field. */
export class InstallReportError extends RolloutRuleError {}

/** The verdict for one plug-in's installs on one node. */
export interface InstallVerdict {
  readonly results: readonly UpdateResult[];
  /** Some update needs a restart (Success_RebootRequired or Fail_RebootRequired). */
  readonly rebootRequired: boolean;
  /** An installer already started the restart (1641): wait for the node instead of restarting. */
  readonly rebootInitiated: boolean;
  /** Some update failed (Failed or Fail_RebootRequired), or the command itself did not complete. */
  readonly failed: boolean;
  /** Every failure is of a kind a retry may fix (1618, a timed-out command). */
  readonly transientOnly: boolean;
  /**
   * Indexes of failed updates a retry cannot fix (a SHA-256 mismatch): failed at once, never
   * retried.
   */
  readonly neverRetry: readonly number[];
  /** Indexes of updates not started because an installer before them restarted the node (1641). */
  readonly notStarted: readonly number[];
  /** Some update that did start failed (not counting the ones a 1641 left unstarted). */
  readonly startedFailed: boolean;
  /** An installer timed out while Windows servicing was still busy: do not restart or fail back. */
  readonly servicingBusy: boolean;
  /**
   * Indexes of updates whose installer exited 1641 although their rule does not list 1641: the
   * node restarted by itself where the configuration said it would not, so nobody drained it for
   * that restart (README, Safety: an unplanned restart).
   */
  readonly unplannedRestart: readonly number[];
  /** Count of results per outcome. */
  readonly outcomes: Readonly<Record<ExitOutcome, number>>;
}

const tail = (text: string, max = 2000) => (text.length > max ? text.slice(-max) : text);

function isInstallLine(value: unknown): value is InstallResultLine {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  // A line for an update a 1641 cut off says only which one it is.
  if (v.notStarted === true) {
    return Number.isInteger(v.index) && typeof v.file === 'string' && v.exitCode === null;
  }
  return (
    Number.isInteger(v.index) &&
    typeof v.file === 'string' &&
    (v.exitCode === null || Number.isInteger(v.exitCode)) &&
    typeof v.checksumOk === 'boolean' &&
    typeof v.timedOut === 'boolean' &&
    (v.notStarted === undefined || typeof v.notStarted === 'boolean') &&
    (v.servicingBusy === undefined || typeof v.servicingBusy === 'boolean')
  );
}

/** ERROR_SUCCESS_REBOOT_INITIATED: the installer is restarting the node itself. */
export const INSTALLER_RESTARTED = 1641;

/** What every result of an update that never reached an exit code has in common. */
const NO_EXIT_CODE = {
  exitCode: null,
  outcome: 'Failed' as const,
  rebootRequired: false,
  rebootInitiated: false,
};

/**
 * A result line as a refusal names it: the reason of an error entry (complete-command's
 * unreadable or incomplete output) whole, up to 1,000 characters, so the report says why; any
 * other line as JSON, cut to 200.
 */
function shownLine(line: unknown): string {
  const error = (line as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error.slice(0, 1000);
  return String(JSON.stringify(line)).slice(0, 200);
}

/**
 * Interprets the install command of the hotfix plug-in. Updates the node did not report (the
 * command died midway) are `Failed` with a reason, never silently dropped.
 */
export function interpretHotfixInstall(
  planned: readonly PlannedInstall[],
  command: Pick<CommandOutcome, 'status' | 'results' | 'outputTail'>,
): InstallVerdict {
  const lines = new Map<number, InstallResultLine>();
  command.results.forEach((line, i) => {
    if (!isInstallLine(line)) {
      throw new InstallReportError(
        `install result line ${i + 1} (${shownLine(line)}): expected { index, file, exitCode, checksumOk, timedOut }`,
      );
    }
    lines.set(line.index, line);
  });
  const neverRetry: number[] = [];
  const notStarted: number[] = [];
  const unplannedRestart: number[] = [];
  let servicingBusy = false;
  // After a 1641 the node goes down: an update it did not report was not started either.
  const restartedByInstaller = [...lines.values()].some(
    (line) => line.exitCode !== null && (line.exitCode | 0) === INSTALLER_RESTARTED,
  );
  const results: UpdateResult[] = planned.map((update) => {
    const line = lines.get(update.index);
    const base = {
      index: update.index,
      plugin: 'Microsoft.HotfixPlugin' as const,
      update: update.file,
      command: `${update.path} ${update.parameters}`.trim(),
    };
    if (line?.notStarted === true || (!line && restartedByInstaller)) {
      notStarted.push(update.index);
      return {
        ...base,
        ...NO_EXIT_CODE,
        transient: true,
        durationSeconds: 0,
        logTail: tail(line?.logTail ?? ''),
        detail:
          'not started: an installer before it restarted the node (1641); it runs once the node is back',
      };
    }
    if (!line) {
      return {
        ...base,
        ...NO_EXIT_CODE,
        transient: command.status !== 'Success',
        durationSeconds: 0,
        logTail: tail(command.outputTail),
        detail: `the node reported no result for this update (command ${command.status})`,
      };
    }
    const common = {
      ...base,
      durationSeconds: line.durationSeconds ?? 0,
      logTail: tail(line.logTail ?? ''),
      // Issue 13 item 5: installed from the staging cache, or why a staged copy was not used.
      ...(line.fromCache === true ? { fromCache: true } : {}),
      ...(typeof line.cacheNote === 'string' ? { cacheNote: line.cacheNote.slice(0, 300) } : {}),
    };
    if (!line.checksumOk) {
      // A retry downloads the same bytes: the update fails at once and is never retried.
      neverRetry.push(update.index);
      const expected = line.expectedSha256 ?? update.sha256;
      const actual = line.actualSha256 ?? 'not reported';
      return {
        ...common,
        ...NO_EXIT_CODE,
        transient: false,
        detail: `SHA-256 mismatch: expected ${expected}, actual ${actual}; not run and not retried (a retry downloads the same file)`,
      };
    }
    if (line.timedOut || line.exitCode === null) {
      if (line.timedOut && line.servicingBusy === true) servicingBusy = true;
      return {
        ...common,
        ...NO_EXIT_CODE,
        transient: true,
        detail: line.timedOut
          ? `the installer ran past HotfixInstallerTimeoutMinutes and was stopped${line.servicingBusy === true ? '; Windows servicing was still busy' : ''}`
          : (line.error ?? 'the installer did not run'),
      };
    }
    const c = classifyExitCode(line.exitCode, update.exitConditions, {
      alwaysReboot: update.alwaysReboot,
    });
    // 1641 means the node is going down, whatever the rule calls the code.
    const restarting = c.rebootInitiated || c.code === INSTALLER_RESTARTED;
    const unplanned =
      c.code === INSTALLER_RESTARTED &&
      !Object.values(update.exitConditions).some((codes) =>
        (codes as readonly number[] | undefined)?.includes(INSTALLER_RESTARTED),
      );
    if (unplanned) unplannedRestart.push(update.index);
    return {
      ...common,
      exitCode: c.code,
      outcome: c.outcome,
      rebootRequired: c.rebootRequired,
      rebootInitiated: restarting,
      transient: c.transient,
      detail: `${c.hex}${c.name ? ` ${c.name}` : ''}${unplanned ? '; UNPLANNED RESTART: the installer restarted the node although its rule does not list 1641, so the node was not drained for it' : ''}`,
    };
  });
  return summarise(results, { neverRetry, notStarted, servicingBusy, unplannedRestart });
}

/** WUA OperationResultCode values (IUpdateInstallationResult.ResultCode). */
const WUA_RESULT = {
  notStarted: 0,
  inProgress: 1,
  succeeded: 2,
  succeededWithErrors: 3,
  failed: 4,
  aborted: 5,
};

function isWuLine(value: unknown): value is WindowsUpdateResultLine {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.updateId === 'string' &&
    typeof v.title === 'string' &&
    Number.isInteger(v.resultCode) &&
    typeof v.rebootRequired === 'boolean'
  );
}

/**
 * Interprets the Windows Update plug-in's per-update results: WUA result code 2 is success
 * (with its reboot flag), 3 (succeeded with errors), 4 (failed) and 5 (aborted) are failures.
 * An update the query selected but the node skipped (it needs a licence accepted or user input,
 * `skipped` with `skipReason`) counts as Failed, not transient: the run must not look fully
 * successful while an important update was left out, and a retry would skip it again.
 * An update the rollout's updateSelection excluded (`excludedBy`) is `NotApplicable` with the
 * rule in `excludedBy` and `detail`: the run asked for it to stay out.
 */
export function interpretWindowsUpdate(
  command: Pick<CommandOutcome, 'status' | 'results' | 'outputTail'>,
): InstallVerdict {
  const results: UpdateResult[] = command.results.map((line, i) => {
    if (!isWuLine(line)) {
      throw new InstallReportError(
        `Windows Update result line ${i + 1} (${shownLine(line)}): expected { updateId, title, resultCode, rebootRequired }`,
      );
    }
    if (typeof line.excludedBy === 'string') {
      // The rollout's updateSelection left it out: not installed, not a failure (issue 13 item 2).
      return {
        index: i,
        plugin: 'Microsoft.WindowsUpdatePlugin' as const,
        update: line.kb ? `${line.kb} ${line.title}` : line.title,
        exitCode: null,
        outcome: 'NotApplicable' as const,
        rebootRequired: false,
        rebootInitiated: false,
        transient: false,
        durationSeconds: 0,
        logTail: '',
        detail: `excluded by updateSelection.${line.excludedBy}: ${line.excludedReason ?? ''}`,
        excludedBy: line.excludedBy,
      };
    }
    const succeeded = line.resultCode === WUA_RESULT.succeeded;
    const outcome: ExitOutcome = succeeded
      ? line.rebootRequired
        ? 'Success_RebootRequired'
        : 'Success'
      : line.rebootRequired
        ? 'Fail_RebootRequired'
        : 'Failed';
    return {
      index: i,
      plugin: 'Microsoft.WindowsUpdatePlugin' as const,
      update: line.kb ? `${line.kb} ${line.title}` : line.title,
      exitCode: line.hResult ?? null,
      outcome,
      rebootRequired: line.rebootRequired,
      rebootInitiated: false,
      transient: false,
      durationSeconds: 0,
      logTail: '',
      detail: line.skipped
        ? `skipped, not installed: ${line.skipReason === 'eula' ? 'its licence (EULA) must be accepted' : 'it may ask for user input'}; install it by hand or approve it in WSUS`
        : `WUA result code ${line.resultCode}, HRESULT ${toHex(line.hResult ?? 0)}`,
    };
  });
  if (command.status !== 'Success') {
    // Updates it reported stand; the command itself did not finish, so the plug-in failed.
    results.push({
      index: results.length,
      plugin: 'Microsoft.WindowsUpdatePlugin',
      update: 'Windows Update scan and install',
      exitCode: null,
      outcome: 'Failed',
      rebootRequired: false,
      rebootInitiated: false,
      transient: command.status === 'TimedOut' || command.status === 'ExecutionTimedOut',
      durationSeconds: 0,
      logTail: tail(command.outputTail),
      detail:
        results.length === 0
          ? `the command ended ${command.status} without reporting results`
          : `the command ended ${command.status} before it finished`,
    });
  }
  return summarise(results);
}

/** wusa.exe /uninstall exit codes that leave the update not installed. */
export const REMOVAL_EXIT_CODES = {
  removed: 0,
  removedRestartNeeded: 3010,
  /** 0x240007 WU_S_ALREADY_UNINSTALLED */
  alreadyUninstalled: 0x240007,
  /** 0x80240017 WU_E_NOT_APPLICABLE, as a signed 32-bit code */
  notApplicable: -2145124329,
} as const;

function isRemovalLine(value: unknown): value is RemovalResultLine {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isInteger(v.index) &&
    typeof v.updateId === 'string' &&
    (v.exitCode === null || Number.isInteger(v.exitCode)) &&
    typeof v.timedOut === 'boolean'
  );
}

/**
 * Interprets the RemoveUpdates command (`wusa.exe /uninstall /kb:<n> /quiet /norestart`): 0
 * removed; 3010 removed, restart needed; 0x240007 (WU_S_ALREADY_UNINSTALLED) and 0x80240017
 * (WU_E_NOT_APPLICABLE) not installed already, which counts as done (`NotApplicable`); anything
 * else, a timeout or no report at all is `Failed`. A removal always needs a restart (KB897341),
 * so every removed update has `rebootRequired`.
 */
export function interpretRemoval(
  planned: readonly RemovalItem[],
  command: Pick<CommandOutcome, 'status' | 'results' | 'outputTail'>,
): InstallVerdict {
  const lines = new Map<number, RemovalResultLine>();
  command.results.forEach((line, i) => {
    if (!isRemovalLine(line)) {
      throw new InstallReportError(
        `removal result line ${i + 1} (${shownLine(line)}): expected { index, updateId, exitCode, timedOut }`,
      );
    }
    lines.set(line.index, line);
  });
  const results: UpdateResult[] = planned.map((item) => {
    const line = lines.get(item.index);
    const base = {
      index: item.index,
      plugin: 'Rollout.Removal' as const,
      update: item.updateId,
      command:
        item.method === 'dism'
          ? `DISM /Online /Remove-Package /PackageName:${item.packageName ?? ''} /Quiet /NoRestart`
          : `wusa.exe /uninstall /kb:${item.updateId.replace(/^KB/i, '')} /quiet /norestart`,
      rebootInitiated: false,
    };
    if (!line) {
      return {
        ...base,
        ...NO_EXIT_CODE,
        transient: command.status !== 'Success',
        durationSeconds: 0,
        logTail: tail(command.outputTail),
        detail: `the node reported no result for this removal (command ${command.status})`,
      };
    }
    const common = {
      ...base,
      durationSeconds: line.durationSeconds ?? 0,
      logTail: tail(line.logTail ?? ''),
    };
    if (line.timedOut || line.exitCode === null) {
      return {
        ...common,
        ...NO_EXIT_CODE,
        transient: line.timedOut,
        detail: line.timedOut
          ? 'wusa.exe ran past the removal timeout and was stopped'
          : (line.error ?? 'wusa.exe did not run'),
      };
    }
    // Codes come signed or unsigned (2149842967 is 0x80240017): compare them signed.
    const code = line.exitCode;
    const signed = code | 0;
    const hex = toHex(code);
    if (
      signed === REMOVAL_EXIT_CODES.removed ||
      signed === REMOVAL_EXIT_CODES.removedRestartNeeded
    ) {
      return {
        ...common,
        exitCode: code,
        outcome: 'Success_RebootRequired' as const,
        rebootRequired: true,
        transient: false,
        detail:
          signed === REMOVAL_EXIT_CODES.removed
            ? `${hex} removed; a restart completes the removal (KB897341)`
            : `${hex} removed, restart required`,
      };
    }
    if (
      signed === REMOVAL_EXIT_CODES.alreadyUninstalled ||
      signed === REMOVAL_EXIT_CODES.notApplicable
    ) {
      return {
        ...common,
        exitCode: code,
        outcome: 'NotApplicable' as const,
        rebootRequired: false,
        transient: false,
        detail: `${hex} the update is not installed: nothing to remove`,
      };
    }
    return {
      ...common,
      exitCode: code,
      outcome: 'Failed' as const,
      rebootRequired: false,
      transient: false,
      detail: `${hex} wusa.exe could not remove the update`,
    };
  });
  return summarise(results);
}

function summarise(
  results: UpdateResult[],
  flags: {
    readonly neverRetry?: readonly number[];
    readonly notStarted?: readonly number[];
    readonly servicingBusy?: boolean;
    readonly unplannedRestart?: readonly number[];
  } = {},
): InstallVerdict {
  const outcomes = {
    Success: 0,
    Success_RebootRequired: 0,
    Fail_RebootRequired: 0,
    AlreadyInstalled: 0,
    NotApplicable: 0,
    Failed: 0,
  } satisfies Record<ExitOutcome, number>;
  for (const r of results) outcomes[r.outcome]++;
  const failures = results.filter((r) => !isSuccessfulOutcome(r.outcome));
  const notStarted = flags.notStarted ?? [];
  return {
    results,
    rebootRequired: results.some((r) => r.rebootRequired),
    rebootInitiated: results.some((r) => r.rebootInitiated),
    failed: failures.length > 0,
    transientOnly: failures.length > 0 && failures.every((r) => r.transient),
    outcomes,
    neverRetry: flags.neverRetry ?? [],
    notStarted,
    startedFailed: failures.some((r) => !notStarted.includes(r.index)),
    servicingBusy: flags.servicingBusy ?? false,
    unplannedRestart: flags.unplannedRestart ?? [],
  };
}
