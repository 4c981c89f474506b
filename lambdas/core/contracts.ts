/**
 * The contracts between the state machines, the Lambda handlers and the SSM documents: the
 * shapes that cross each boundary. Pure types and constants (no AWS SDK), so the sandbox, the
 * handlers and the simulated fleet share one definition.
 */
import type { ExitConditions, ExitOutcome } from './exit-codes.js';
import NODE_CONTRACT_JSON from './node-contract.json' with { type: 'json' };
import type { FailbackMode } from './run-policy.js';
import type { SelectionRule, UpdateSelection } from './update-selection.js';

// ---------------------------------------------------------------------------------------------
// The node contract: one JSON file read by both languages

/**
 * Patterns and limits the PowerShell documents share with the control plane, from
 * `node-contract.json`. `lib/windows-documents.ts` writes the same file into every shipped script
 * (`$script:RolloutContractJson`), so neither side can change a limit alone.
 */
export const NODE_CONTRACT = NODE_CONTRACT_JSON;

/** SSM command ids are UUIDs. */
export const COMMAND_ID_PATTERN = new RegExp(NODE_CONTRACT.commandIdPattern);

/**
 * The longest `Payload` (base64 characters) a node can take: it reaches the script as an
 * environment variable, which Windows caps at 32,767 characters with its terminating NUL.
 */
export const MAX_PAYLOAD_BASE64_CHARACTERS = NODE_CONTRACT.maxPayloadBase64Characters;

/** SSM's cap on a command's execution timeout (48 h); send-command never asks for more. */
export const MAX_COMMAND_TIMEOUT_SECONDS = NODE_CONTRACT.maxCommandTimeoutSeconds;

/**
 * The execution timeout of a command that runs `count` installers (or removals), each allowed
 * `minutes`, plus `overheadSeconds` for delivery and downloads; or, when that passes SSM's 48-hour
 * cap, a message naming the fields and the largest values that would fit.
 */
export function commandTimeout(
  count: number,
  minutes: number,
  overheadSeconds: number,
  fields: { readonly count: string; readonly minutes: string },
): { readonly seconds: number } | { readonly problem: string } {
  const seconds = count * minutes * 60 + overheadSeconds;
  if (seconds <= MAX_COMMAND_TIMEOUT_SECONDS) return { seconds };
  const room = MAX_COMMAND_TIMEOUT_SECONDS - overheadSeconds;
  return {
    problem: `${count} ${fields.count} x ${fields.minutes}=${minutes} minutes + ${overheadSeconds} s is a command timeout of ${seconds} s, over SSM's ${MAX_COMMAND_TIMEOUT_SECONDS} s (48 h); lower ${fields.minutes} to at most ${Math.floor(room / 60 / Math.max(1, count))} or send at most ${Math.floor(room / 60 / Math.max(1, minutes))} ${fields.count} per run`,
  };
}

/** Scripts stop starting new work this long before the payload's `deadline`. */
export const DEADLINE_MARGIN_SECONDS = NODE_CONTRACT.deadlineMarginSeconds;

/**
 * The field send-command adds to every payload: `deadline`, the ISO 8601 UTC instant the
 * workflow stops waiting (the task state's entry + timeoutSeconds), which every script obeys.
 */
export interface CommandTiming {
  readonly deadline: string;
}

/** The payload fields each document requires (besides `deadline`, all of its own). */
export const PAYLOAD_FIELDS: { readonly [K in DocumentKey]: readonly string[] } =
  NODE_CONTRACT.payloadFields;

// ---------------------------------------------------------------------------------------------
// SSM documents

/** The Command documents we own, by logical name. Deployed names are prefixed per stack. */
export const DOCUMENTS = {
  inventory: 'Inventory',
  drain: 'DrainNode',
  resume: 'ResumeNode',
  installHotfixes: 'InstallHotfixes',
  windowsUpdate: 'InstallWindowsUpdates',
  runScript: 'RunUpdateScript',
  restart: 'RestartNode',
  removeUpdates: 'RemoveUpdates',
  scan: 'ScanUpdates',
  stageUpdates: 'StageUpdates',
} as const;
export type DocumentKey = keyof typeof DOCUMENTS;

/**
 * Every document takes exactly one parameter, `Payload`: base64 of UTF-8 JSON. Its
 * allowedPattern admits base64 characters only, and the script reads it from the environment
 * (interpolationType ENV_VAR), so no value of a request or a file name is ever script text.
 */
export const PAYLOAD_PARAMETER = 'Payload';
export const PAYLOAD_ALLOWED_PATTERN = '^[A-Za-z0-9+/]*={0,2}$';

/** Scripts print each result as one line: this prefix, a space, then one JSON object. */
export const RESULT_LINE_PREFIX = NODE_CONTRACT.resultLinePrefix;

/**
 * Every script that reports results ends its stdout with one line: this prefix, a space, then
 * `{"results":N}`, N the result lines it wrote (Write-RolloutEnd in ssm/_common.ps1). Its
 * presence proves the output is whole (complete-command.ts).
 */
export const END_LINE_PREFIX = NODE_CONTRACT.endLinePrefix;

export interface InventoryPayload {
  /** Binaries whose file version strings to report (e.g. `%windir%\system32\authz.dll`). */
  readonly binaries: readonly string[];
  /** Verify only: what to rescan after the final restart (issue 13 item 6). */
  readonly rescan?: RescanPayload | null;
}

/** A cluster node's membership facts in its inventory. */
export interface InventoryCluster {
  readonly name: string;
  /** This node's state (`Up`, `Paused`, `Down`), or `Unknown` when the Cluster service is not readable. */
  readonly nodeState: string;
  /** Every member of the cluster and its state (absent when the membership is not readable). */
  readonly nodes?: readonly { readonly name: string; readonly state: string }[];
  /**
   * The members not Up, e.g. `NODE3 is Paused`, comma-separated; empty when all are Up. Any
   * stops the run before a node of the cluster is drained (`ClusterNodeNotUp`).
   */
  readonly notUp?: string;
  /**
   * Clustered roles per owner node, from Get-ClusterGroup (the cluster's own core group and
   * its storage groups left out); a node that owns none is absent. Issue 13, item 7.
   */
  readonly roleCounts?: Readonly<Record<string, number>>;
}

export interface InventoryResult {
  readonly computerName: string;
  readonly os: {
    readonly caption: string;
    readonly version: string;
    readonly build: string;
    readonly servicePack: number;
    readonly architecture: string;
    readonly editionId: string;
  };
  readonly binaries: readonly { readonly path: string; readonly fileVersion: string | null }[];
  readonly pendingReboot: boolean;
  readonly lastBootTime: string;
  readonly cluster: InventoryCluster | null;
  readonly hotpatch: {
    readonly enrolled: boolean;
    readonly vbsEnabled: boolean;
    readonly secureBoot: boolean;
    readonly azureArcConnected: boolean;
  };
  readonly installedUpdates: readonly string[];
  /** The rescan after the final restart (Verify only, when its payload asks); null otherwise. */
  readonly rescan?: RescanResult | null;
}

/**
 * What the Verify inventory rescans after the final restart (issue 13 item 6, ConfigMgr's
 * post-reboot scan): the run's Windows Update search as InstallWindowsUpdates makes it, and the
 * hotfix KBs the node's plan installs.
 */
export interface RescanPayload {
  readonly windowsUpdate: {
    readonly queryString: string;
    readonly includeRecommendedUpdates: boolean;
    readonly selection: UpdateSelection | null;
  } | null;
  readonly hotfixes: readonly { readonly kb: string; readonly file: string }[];
}

/** One update still applicable after the final restart, as the node sees it. */
export interface StillApplicableUpdate {
  readonly kb: string | null;
  readonly title: string;
  readonly source: 'WindowsUpdate' | 'Hotfix';
  /** Installed, but waiting for another restart (WUA's RebootRequired, or a restart marker). */
  readonly restartPending: boolean;
}

/** The Verify inventory's rescan. */
export interface RescanResult {
  readonly stillApplicable: readonly StillApplicableUpdate[];
  /** The Windows Update search failed (the list then holds only the hotfixes). */
  readonly searchError: string | null;
}

export interface DrainPayload {
  /** Minutes to wait for roles to move off before the drain counts as failed. */
  readonly timeoutMinutes: number;
}

export interface ResumePayload {
  readonly failbackMode: FailbackMode;
  /**
   * After the node is Up: minutes to wait for its storage repair jobs (Get-StorageJob) to finish
   * (CAU's WaitForStorageRepairTimeoutMinutes), 0 to 1440; 0: no wait.
   */
  readonly storageRepairTimeoutMinutes: number;
  /**
   * The roles the node's drain moved off (the drain's `movedGroups`): with failbackMode
   * Immediate the resume waits for each to be owned by the node again (issue 13 item 6).
   * Absent: nothing is checked.
   */
  readonly failbackGroups?: readonly string[];
  /** Minutes to wait for them, 0 to 1440; 0 or absent: no wait (Policy only reports them). */
  readonly failbackTimeoutMinutes?: number;
}

/** One update the node downloads, verifies and installs. */
export interface InstallItem {
  /** Position in the node's plan, from 0. */
  readonly index: number;
  /** Path relative to the hotfix root, e.g. `CAUHotfix_All/KB1.msu`. */
  readonly file: string;
  /** The S3 key of the file. */
  readonly key: string;
  /** Hex SHA-256 the node verifies before running anything. */
  readonly sha256: string;
  readonly localPath: string;
  /** Installer path and parameters with `$update$` already substituted. */
  readonly path: string;
  readonly parameters: string;
}

export interface InstallHotfixesPayload {
  readonly bucket: string;
  readonly timeoutMinutes: number;
  readonly updates: readonly InstallItem[];
}

/** What the install script prints for each update. */
export interface InstallResultLine {
  readonly index: number;
  readonly file: string;
  /** The installer's exit code, or null when it never ran (checksum mismatch, timeout). */
  readonly exitCode: number | null;
  readonly checksumOk: boolean;
  readonly timedOut: boolean;
  readonly durationSeconds: number;
  readonly logTail: string;
  readonly error?: string;
  /**
   * Not started: an earlier installer returned 1641 (the node is restarting) or the command's
   * deadline passed. Not a failure: a later run installs it. `exitCode` is null.
   */
  readonly notStarted?: boolean;
  /**
   * After a timed-out installer: whether Windows servicing (TrustedInstaller, TiWorker, the
   * Windows Installer service) was still busy when the script stopped waiting at the deadline.
   * While true the node must not be resumed or failed back.
   */
  readonly servicingBusy?: boolean;
  /** On a SHA-256 mismatch (`checksumOk` false): what the plan said and what was downloaded. */
  readonly expectedSha256?: string;
  readonly actualSha256?: string;
  /**
   * For an .msu: the DISM packages it added (`Get-WindowsPackage -Online`). A
   * `Package_for_RollupFix~...` name marks a combined SSU + LCU package, which only
   * `DISM /Remove-Package` can remove.
   */
  readonly packageNames?: readonly string[];
  /**
   * This node installed the same file (by SHA-256) successfully within a day, so it was not run
   * again (SSM or the workflow re-ran the step after a restart); `earlierExitCode` is what the
   * installer returned then (a 1641 then is reported as exit code 0 now).
   */
  readonly alreadyInstalled?: boolean;
  readonly earlierExitCode?: number;
  /**
   * Issue 13 item 5: the staged copy (StageUpdates) was installed, its SHA-256 (Get-FileHash)
   * matching the plan; absent when it came from the hotfix root.
   */
  readonly fromCache?: boolean;
  /** A staged copy was there but not used, and why (its SHA-256 did not match). */
  readonly cacheNote?: string;
}

export interface WindowsUpdatePayload {
  readonly queryString: string;
  readonly includeRecommendedUpdates: boolean;
  readonly timeoutMinutes: number;
  /** The rollout's updateSelection, applied to the search result on the node; null: none. */
  readonly selection: UpdateSelection | null;
}

/**
 * Payload of ScanUpdates (`ssm/scan-updates.ps1`, CAU's Invoke-CauScan for the Windows Update
 * plug-in): the run's query and options and its updateSelection. Searches only: nothing is
 * downloaded or installed.
 */
export interface ScanUpdatesPayload {
  readonly queryString: string;
  readonly includeRecommendedUpdates: boolean;
  readonly selection: UpdateSelection | null;
}

/**
 * One ScanUpdates result line. `kind` `update`: one update the search found that the query and
 * options select (`excludedBy` set when updateSelection leaves it out; `skipReason` when it needs
 * a licence accepted or user input). `kind` `node`: the last line, the node's pending restart
 * and the counts.
 */
export type ScanUpdatesResultLine =
  | {
      readonly kind: 'update';
      readonly updateId: string;
      readonly kb: string | null;
      readonly title: string;
      /** Names from node-contract.json's classifications, or the category GUID when unknown. */
      readonly classification: string | null;
      readonly msrcSeverity: string | null;
      /** WUA InstallationBehavior.RebootBehavior is not 0 (always requires or can request). */
      readonly restartExpected: boolean;
      readonly isInstalled: boolean;
      readonly excludedBy: string | null;
      readonly excludedReason: string | null;
      readonly skipReason: WindowsUpdateSkipReason | null;
    }
  | {
      readonly kind: 'node';
      readonly pendingRestart: boolean;
      readonly found: number;
      readonly applicable: number;
    };

/** WUA OperationResultCode: 2 succeeded, 3 succeeded with errors, 4 failed, 5 aborted. */
export interface WindowsUpdateResultLine {
  readonly updateId: string;
  readonly title: string;
  readonly kb: string | null;
  readonly resultCode: number;
  readonly hResult: number;
  readonly rebootRequired: boolean;
  /**
   * The query and options selected it, but it was not installed: it needs a licence accepted
   * (`eula`) or may ask for user input (`userInput`), as CAU leaves out. `resultCode` is 0
   * (WUA's NotStarted).
   */
  readonly skipped?: boolean;
  readonly skipReason?: WindowsUpdateSkipReason;
  /**
   * The search found it but the rollout's updateSelection leaves it out: `excludedBy` names the
   * rule and `excludedReason` why. Not installed, not counted against the run; `resultCode` 0.
   */
  readonly excludedBy?: SelectionRule;
  readonly excludedReason?: string;
}

export const WINDOWS_UPDATE_SKIP_REASONS = ['eula', 'userInput'] as const;
export type WindowsUpdateSkipReason = (typeof WINDOWS_UPDATE_SKIP_REASONS)[number];

export interface ScriptPayload {
  readonly phase: 'pre' | 'post';
  /** The script's path on the node (`PreUpdateScript` / `PostUpdateScript`). */
  readonly script: string;
}

/** One installed update the node uninstalls, in the safe (reverse) order the API computed. */
export interface RemovalItem {
  /** Position in the removal order, from 0. */
  readonly index: number;
  /** The KB id, `KB` and 4 to 8 digits. */
  readonly updateId: string;
  /**
   * How to remove it: `wusa` (`wusa.exe /uninstall /kb:`, the default) or `dism`
   * (`DISM /Online /Remove-Package /PackageName:`), which combined SSU + LCU packages need
   * (Windows Server 2019 since 2021, 2022, 2025). @default 'wusa'
   */
  readonly method?: RemovalMethod;
  /** The DISM package name; required with method `dism`. */
  readonly packageName?: string;
}

export const REMOVAL_METHODS = ['wusa', 'dism'] as const;
export type RemovalMethod = (typeof REMOVAL_METHODS)[number];

export interface RemoveUpdatesPayload {
  /** Minutes each `wusa.exe /uninstall` may run before it is stopped. */
  readonly timeoutMinutes: number;
  readonly updates: readonly RemovalItem[];
}

/** What the removal script prints for each update. */
export interface RemovalResultLine {
  readonly index: number;
  readonly updateId: string;
  /** Which tool ran: wusa.exe or DISM. */
  readonly method: RemovalMethod;
  readonly packageName?: string;
  /** The tool's exit code, or null when it never ran or was stopped. */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly durationSeconds: number;
  readonly logTail: string;
  readonly error?: string;
  /** After a timed-out removal: servicing still busy at the deadline (see InstallResultLine). */
  readonly servicingBusy?: boolean;
}

export interface RestartPayload {
  readonly runId: string;
  readonly reason: string;
}

// ---------------------------------------------------------------------------------------------
// Waiting on SSM: the task-token handshake

/** Input of the send-command task (invoked with `.waitForTaskToken`). */
export interface SendCommandInput {
  readonly taskToken: string;
  readonly runId: string;
  readonly node: string;
  readonly instanceId: string;
  readonly document: DocumentKey;
  readonly payload: unknown;
  /** Execution timeout of the command on the node: the workflow waits this long. */
  readonly timeoutSeconds: number;
  /**
   * When the workflow's task started (`$$.State.EnteredTime`); the payload's `deadline` is this
   * plus `timeoutSeconds`. @default - the time send-command runs
   */
  readonly startedAt?: string;
}

/** Terminal invocation statuses; Pending, InProgress and Delayed mean still running. */
export const TERMINAL_STATUSES = [
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** What the state machine receives when the command ends (the task's output). */
export interface CommandOutcome {
  readonly commandId: string;
  readonly instanceId: string;
  readonly document: DocumentKey;
  readonly status: TerminalStatus;
  readonly responseCode: number;
  /** Every `ROLLOUT-RESULT` line of standard output, parsed. */
  readonly results: readonly unknown[];
  /** The last lines of output, for the report. */
  readonly outputTail: string;
}

// ---------------------------------------------------------------------------------------------
// Results

/** One update's interpreted result, as stored in run history and shown in reports. */
export interface UpdateResult {
  readonly index: number;
  /** The plug-in that installed it, or `Rollout.Removal` for an update a removal uninstalled. */
  readonly plugin: 'Microsoft.HotfixPlugin' | 'Microsoft.WindowsUpdatePlugin' | 'Rollout.Removal';
  /** The file (hotfix plug-in), the update title / KB (Windows Update plug-in), the KB (removal). */
  readonly update: string;
  readonly command?: string;
  readonly exitCode: number | null;
  readonly outcome: ExitOutcome;
  readonly rebootRequired: boolean;
  readonly rebootInitiated: boolean;
  readonly transient: boolean;
  readonly durationSeconds: number;
  readonly logTail: string;
  readonly detail?: string;
  /** Not installed: the rollout's updateSelection rule that excluded it (outcome NotApplicable). */
  readonly excludedBy?: SelectionRule;
  /** Hotfix plug-in: installed from the staging cache (issue 13 item 5). */
  readonly fromCache?: boolean;
  /** Hotfix plug-in: a staged copy was there but not used, and why. */
  readonly cacheNote?: string;
}

/** What the plan-node task returns for the hotfix plug-in. */
export interface PlannedInstall extends InstallItem {
  readonly rule: { readonly kind: 'extension' | 'folder'; readonly name: string };
  readonly exitConditions: ExitConditions;
  readonly alwaysReboot: boolean;
  /**
   * The files the update replaces, from the hotfix root's hotpatch-manifest.json (`binaries`);
   * recorded in the install ledger, which the KB823836 removal check reads. Empty when unknown.
   */
  readonly replacesFiles?: readonly string[];
  /**
   * Predicted hotpatch-eligible by hotpatch-eligibility (which also adds `/hotpatch:enable` to
   * `parameters` for a KB897341 package): a `Success` is recorded `hotpatched` in the ledger.
   */
  readonly hotpatch?: boolean;
}

/** The final state of a node in a run. */
export const NODE_STATUSES = [
  'Succeeded',
  'NothingToInstall',
  'Failed',
  'NotStarted',
  'Skipped',
  // rebootOption Never: installed, the restart left to the operator (Patch Manager's state name).
  'InstalledPendingReboot',
] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/**
 * The steps of a node's update, in the order they happen: the live node view
 * (`GET /rollouts/{id}/nodes/{node}/progress`, lambdas/handlers/node-progress.ts) maps each
 * node-workflow state to one; `failing` is any state on the way to a failed node.
 */
export const NODE_STEPS = [
  'preflight',
  'planning',
  'inventory',
  'hotpatchEligibility',
  'preUpdateScript',
  'draining',
  'removing',
  'installing',
  'restarting',
  'verifying',
  'resuming',
  'postUpdateScript',
  'recording',
  'failing',
] as const;
export type NodeStep = (typeof NODE_STEPS)[number];

/**
 * When the run restarts a node (SSM `RebootOption`, Azure `rebootSetting`): `IfRequired` when an
 * update or a pending restart needs it (the default, CAU's behaviour); `Never`: install, never
 * restart (the node ends `InstalledPendingReboot`); `Always`: restart after installing even when
 * nothing asks for it (a cluster node drained first).
 */
export const REBOOT_OPTIONS = ['IfRequired', 'Never', 'Always'] as const;
export type RebootOption = (typeof REBOOT_OPTIONS)[number];

/** The final state of a run. */
export const RUN_STATUSES = ['Running', 'Succeeded', 'Failed', 'Stopped', 'Cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

// ---------------------------------------------------------------------------------------------
// Change management: approval gates and lifecycle events

/**
 * An approval gate: after the first `afterNodes` nodes of the update order (the pilot), the run
 * waits for an approve or reject before it updates the rest (CAU and SCCM pilot-group practice).
 */
export interface ApprovalGate {
  readonly afterNodes: number;
  /** How long the run waits for a decision; no decision counts as rejected. */
  readonly timeoutMinutes: number;
  /**
   * The health gate holding the run (its state name; issue 13, item 1), when it is not the pilot
   * gate: it keeps the event's id apart from a pilot gate after as many nodes.
   */
  readonly heldBy?: string;
  /**
   * The phase whose approval (or whose bake's health gate) holds the run (issue 13, items 1
   * and 4): the text and the event name it instead of "the pilot".
   */
  readonly phase?: { readonly index: number; readonly name: string };
}

/**
 * What the run waits for at an approval gate, in words (the status text, the CLI, the Rollout
 * Approval Required event): the pilot, a phase, or a health gate (with its phase, if any).
 */
export function describeApprovalGate(gate: Omit<ApprovalGate, 'timeoutMinutes'>): string {
  const phase = gate.phase ? `phase "${gate.phase.name}" (phases[${gate.phase.index}])` : undefined;
  if (gate.heldBy !== undefined) {
    return `health gate ${gate.heldBy} holds the run (an alarm is in ALARM)${phase ? ` during ${phase}` : ''}, after ${gate.afterNodes} node(s)`;
  }
  if (phase !== undefined) return `${phase} is done after ${gate.afterNodes} node(s)`;
  return `the pilot (${gate.afterNodes} node(s)) is done`;
}

/** The EventBridge `source` of our lifecycle events. */
export const LIFECYCLE_EVENT_SOURCE = 'windows-rollout.control-plane';

/** The `detail-type` of each lifecycle event, in the order a run emits them. */
export const LIFECYCLE_EVENT_TYPES = {
  rolloutStarted: 'Rollout Started',
  approvalRequired: 'Rollout Approval Required',
  nodeUpdated: 'Rollout Node Updated',
  rolloutSucceeded: 'Rollout Succeeded',
  rolloutFailed: 'Rollout Failed',
  rolloutCancelled: 'Rollout Cancelled',
  warnAfterPassed: 'Rollout WarnAfter Passed',
  lockForceRecovered: 'Rollout Lock Force Recovered',
  phaseCompleted: 'Rollout Phase Completed',
  // Issue 13, item 1: a health gate found an alarm in ALARM, or one missing.
  healthGate: 'Rollout Health Gate',
  // Issue 13, item 8: an assessment found a node fell out of (or came back into) compliance.
  nodeComplianceChanged: 'Node Compliance Changed',
} as const;
export type LifecycleEventKey = keyof typeof LIFECYCLE_EVENT_TYPES;
