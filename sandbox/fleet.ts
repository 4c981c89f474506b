/**
 * The simulated Windows fleet behind SSM's API: what the sandbox hands our handlers as their
 * `SSMClient`. There is no SSM emulator, so this is one: SendCommand, GetCommandInvocation,
 * DescribeInstanceInformation and CancelCommand with SSM's shapes and errors, and on each node
 * the effect of our documents (`ssm/*.ps1`), printing the same `ROLLOUT-RESULT` lines the scripts
 * print. Status changes are published as EventBridge's "EC2 Command Invocation Status-change
 * Notification" events, as SSM does.
 *
 * All time is virtual ({@link Clock}): a 30-minute install takes no wall time.
 *
 * Model, where SSM or the scripts leave room:
 * - The agent picks a command up {@link SIMULATED_TIMINGS}.deliveryMs after it is sent when the
 *   node is reachable; otherwise when the node comes back, or never (`DeliveryTimedOut` after
 *   SendCommand's TimeoutSeconds). Commands on one node run concurrently, as SSM Agent runs them.
 * - Execution timeout: the scripts obey the payload's `deadline` (ISO 8601 UTC) as they do
 *   (Get-RolloutDeadline: no new work from deadlineMarginSeconds before it); past the document's
 *   step timeout the agent stops the script: `TimedOut` / `ExecutionTimedOut`, with the output
 *   printed so far. A node that is down cannot report: its command ends when it is back, or
 *   never.
 * - Exit code 3010 from any script makes the agent restart the node and run the script again,
 *   SSM's documented reboot pattern (RestartNode relies on it).
 */
import {
  CancelCommandCommand,
  type CancelCommandCommandOutput,
  DescribeInstanceInformationCommand,
  type DescribeInstanceInformationCommandOutput,
  DuplicateInstanceId,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  type InstanceInformation,
  InvalidCommandId,
  InvalidDocument,
  InvalidFilterKey,
  InvalidInstanceId,
  InvalidInstanceInformationFilterValue,
  InvalidNextToken,
  InvalidParameters,
  InvalidPluginName,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  type ListCommandInvocationsCommandOutput,
  SendCommandCommand,
  type SendCommandCommandOutput,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import {
  DEADLINE_MARGIN_SECONDS,
  DOCUMENTS,
  type DocumentKey,
  END_LINE_PREFIX,
  PAYLOAD_ALLOWED_PATTERN,
  PAYLOAD_PARAMETER,
  RESULT_LINE_PREFIX,
} from '../lambdas/core/contracts.js';
import { defaultHotfixConfig } from '../lambdas/core/default-config.js';
import {
  classifyExitCode,
  EXIT_CONDITIONS,
  type ExitConditions,
  type ExitOutcome,
} from '../lambdas/core/exit-codes.js';
import {
  findExtensionRule,
  findFolderRule,
  type HotfixConfig,
  parseHotfixConfig,
} from '../lambdas/core/hotfix-config.js';
import { ordinalIgnoreCase } from '../lambdas/core/hotfix-plan.js';
import { nodeKey } from '../lambdas/core/node-names.js';
import { payloadJsonBytes } from '../lambdas/core/payload-encoding.js';
import { type UpdateSelection, updateExclusion } from '../lambdas/core/update-selection.js';
import type { Clock } from './clock.js';
import { stillApplicable } from './rescan-model.js';
import {
  deterministicUuid,
  fileKey,
  kbOfFile,
  type PingStatus,
  type Scenario,
  type ScenarioHotfixFile,
  type ScenarioNode,
  sha256Hex,
  type UpdateBehaviour,
  type WindowsUpdateItem,
} from './scenario.js';
import {
  type StagingCache,
  type StagingRun,
  stageUpdates,
  takeStagedCopy,
} from './staging-model.js';
import { scanResultLine, windowsUpdateFacts } from './update-selection-model.js';

// ---------------------------------------------------------------------------------------------
// Public types and constants

/** Invocation statuses (GetCommandInvocation `Status`). */
export type InvocationStatus =
  | 'Pending'
  | 'InProgress'
  | 'Delayed'
  | 'Success'
  | 'Cancelled'
  | 'TimedOut'
  | 'Failed'
  | 'Cancelling';

/** The event SSM publishes to EventBridge when an invocation's status changes. */
export interface CommandStatusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'EC2 Command Invocation Status-change Notification';
  readonly source: 'aws.ssm';
  readonly account: string;
  /** When the status changed (virtual time), `yyyy-mm-ddThh:mm:ssZ`. */
  readonly time: string;
  readonly region: string;
  /** The instance's ARN. */
  readonly resources: readonly string[];
  readonly detail: {
    readonly 'command-id': string;
    readonly 'document-name': string;
    readonly 'instance-id': string;
    readonly 'requested-date-time': string;
    readonly status: InvocationStatus;
    readonly 'status-details': string;
  };
}

export interface SimulatedFleetOptions {
  /** `DOCUMENT_PREFIX`: the documents exist as `<prefix>-<name>` (DOCUMENTS). */
  readonly documentPrefix: string;
  /** Receives every status-change event, in order, at the virtual time of the change. */
  readonly onEvent: (event: CommandStatusEvent) => void;
  /** The account in events and ARNs. @default '000000000000' */
  readonly account?: string;
  /** The region in events and ARNs. @default 'us-east-1' */
  readonly region?: string;
  /**
   * Runs the documents' scripts instead of this model (the pwsh fleet, `sandbox/pwsh-fleet.ts`).
   * @default - the TypeScript model answers every document
   */
  readonly nodeScripts?: NodeScriptHost;
}

/** A second backend for what a node does with a command: it runs the document's script. */
export interface NodeScriptHost {
  /** Whether this host runs the document; the model answers the others. */
  runs(document: DocumentKey): boolean;
  /** Runs one script to its exit code, printing into `context.stdout` / `context.stderr`. */
  run(context: NodeScriptContext): Promise<number>;
}

/**
 * What a {@link NodeScriptHost} sees of one run of a script: the command, the node's state, and
 * the model's rules for what an installer, a drain or a resume does on that node (shared, so
 * both backends simulate the same Windows).
 */
export interface NodeScriptContext {
  readonly document: DocumentKey;
  readonly encodedPayload: string;
  readonly node: SimulatedNode;
  readonly stdout: string[];
  readonly stderr: string[];
  /** The virtual time, epoch ms. */
  now(): number;
  /**
   * Waits in virtual time; throws when the command ended meanwhile: the host stops the script
   * and rethrows it from {@link NodeScriptHost.run}.
   */
  sleep(ms: number): Promise<void>;
  /** The hotfix root's file at `file` (scenario path), if published. */
  storedFile(file: string): ScenarioHotfixFile | undefined;
  /** Counts an installer run of `file` on the node; returns its attempt number, from 1. */
  countAttempt(file: string): number;
  behaviourFor(file: string): UpdateBehaviour;
  ruleFor(item: unknown, file: string): { conditions?: ExitConditions; alwaysReboot: boolean };
  exitCodeFor(
    file: string,
    behaviour: UpdateBehaviour,
    attempt: number,
    rule: { conditions?: ExitConditions },
  ): number;
  applyInstall(
    file: string,
    code: number,
    behaviour: UpdateBehaviour,
    rule: { conditions?: ExitConditions; alwaysReboot: boolean },
  ): void;
  /** `offlineDuringInstall`: starts the node's drop-off clock (once per node). */
  startInstallDropOff(): void;
  /** An installer exited 1641: the node restarts itself once the script has exited. */
  restartAfterExit(): void;
  /** Appends to the fleet log. */
  note(kind: 'drain' | 'resume', ok: boolean): void;
  /**
   * The cluster groups of the node's cluster, as Get-ClusterGroup lists them: each node's
   * `roles`, none on a drained node (its roles moved off). Empty for a standalone server.
   */
  clusterGroups(): { name: string; owner: string; groupType: string }[];
  /**
   * `Get-ClusterNode` without `-Name`: every member of the node's cluster with its state, each
   * noted in the fleet log as seen by this node (`clusterView`). Empty on a standalone server.
   */
  clusterMembers(): readonly ClusterMemberView[];
  /** Whether the node's next drain (`drain.failsByAttempt`) fails; counts the drain. */
  nextDrainFails(): boolean;
  /** Whether the node's next resume fails; counts the resume. */
  nextResumeFails(): boolean;
  /** A resume with this failback mode succeeded: the node's roles come back (failbackMinutes). */
  failedBack(mode: string): void;
  /** The node's next pre- or post-update script run: exit code and minutes. */
  nextUpdateScript(phase: 'pre' | 'post'): { exitCode: number; minutes: number };
  /**
   * What `wusa.exe /uninstall` or `DISM /Remove-Package` of `updateId` answers on the node, the
   * removal applied when it succeeds (remove-updates.ps1; the model's rule).
   */
  removeUpdate(updateId: string, method: 'wusa' | 'dism'): number;
  /** What a Windows Update search finds on the node: the offered updates not installed. */
  windowsUpdatesFound(): readonly WindowsUpdateItem[];
  /** Installs a Windows Update update on the node (the model's rule); what WUA answers. */
  installWindowsUpdate(update: WindowsUpdateItem): {
    resultCode: number;
    hResult: number;
    rebootRequired: boolean;
  };
}

/** One member of a failover cluster as `Get-ClusterNode` lists it. */
export interface ClusterMemberView {
  readonly name: string;
  readonly state: 'Up' | 'Paused' | 'Down';
  readonly drainStatus: string;
}

/** A simulated node's state, as a {@link NodeScriptHost} reads and changes it. */
export type SimulatedNode = SimNode;

/**
 * One entry of the fleet's own append-only record of what happened on the nodes, the evidence
 * the sandbox's invariants read (never the workflow's report). `clusterState` and `drainStatus`
 * are the node's at that moment (null for a standalone server).
 */
export interface FleetLogEntry {
  /** Position in the log, from 0. */
  readonly seq: number;
  /** Virtual time, epoch milliseconds. */
  readonly at: number;
  readonly node: string;
  /** clusterView: a script on `seenBy` listed the cluster's members and saw this node so. */
  readonly kind: 'restart' | 'back' | 'drain' | 'resume' | 'command' | 'clusterView';
  readonly clusterState: 'Up' | 'Paused' | 'Down' | null;
  readonly drainStatus: string | null;
  /** restart: an installer restarted the node itself (1641), not RestartNode. */
  readonly byInstaller?: boolean;
  /** drain, resume: the operation left the node as asked. */
  readonly ok?: boolean;
  /** command: the document, the command id and the new invocation status. */
  readonly document?: DocumentKey;
  readonly commandId?: string;
  readonly status?: InvocationStatus;
  /** command: a CancelCommand was accepted for it. */
  readonly cancelRequested?: boolean;
  /** clusterView: the node whose script listed the cluster's members. */
  readonly seenBy?: string;
}

/** Fixed durations of the simulation (virtual milliseconds). */
export const SIMULATED_TIMINGS = {
  /** Pending → InProgress: the agent picks a command up. */
  deliveryMs: 1_000,
  /** The inventory script. */
  inventoryMs: 20_000,
  /** DrainNode on a standalone server (nothing to drain). */
  standaloneDrainMs: 2_000,
  /** ResumeNode. */
  resumeMs: 5_000,
  /** Downloading one hotfix from S3. */
  downloadMs: 5_000,
  /** The Windows Update search. */
  windowsUpdateSearchMs: 30_000,
  /** One removal (wusa.exe /uninstall or DISM /Remove-Package). */
  removalMs: 60_000,
  /** From a script's exit 3010 to the node going down. */
  rebootRequestMs: 3_000,
  /** From the node being back to SSM Agent running the script again. */
  agentStartMs: 10_000,
  /** RestartNode's second run, after the restart. */
  restartReportMs: 2_000,
  /** From an installer's exit 1641 to the node going down (the installer restarts it). */
  installerRestartDelayMs: 15_000,
  /** From CancelCommand to an InProgress invocation ending Cancelled. */
  cancelMs: 2_000,
} as const;

/**
 * The step `timeoutSeconds` of each document (lib/windows-documents.ts DOCUMENT_SPECS): the
 * cap on a command's run when its payload carries no `executionTimeoutSeconds`. Copied rather
 * than imported, so the sandbox does not load the CDK.
 */
export const DOCUMENT_STEP_TIMEOUT_SECONDS: { readonly [K in DocumentKey]: number } = {
  inventory: 900,
  drain: 25 * 3600,
  resume: 26 * 3600,
  installHotfixes: 48 * 3600,
  windowsUpdate: 48 * 3600,
  runScript: 24 * 3600,
  restart: 2 * 3600,
  removeUpdates: 48 * 3600,
  stageUpdates: 24 * 3600,
  scan: 2 * 3600,
};

/** SSM Agent version the simulated nodes report. */
export const SIMULATED_AGENT_VERSION = '3.3.2746.0';
/** GetCommandInvocation returns this many characters of standard output at most (SSM). */
export const MAX_STDOUT_CHARS = 24_000;
/** GetCommandInvocation returns this many characters of standard error at most (SSM). */
export const MAX_STDERR_CHARS = 8_000;

/** One command on one node, as tests and reports see it. */
export interface CommandRecord {
  readonly commandId: string;
  readonly instanceId: string;
  readonly node: string;
  readonly document: DocumentKey;
  readonly documentName: string;
  readonly comment: string;
  /** The decoded payload, or undefined when it is not base64 of a JSON object. */
  readonly payload: unknown;
  readonly requestedAt: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly status: InvocationStatus;
  readonly statusDetails: string;
  readonly responseCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A node's state, for tests and reports. */
export interface NodeSnapshot {
  readonly name: string;
  readonly instanceId: string;
  /** The failover cluster, or null for a standalone server. */
  readonly cluster: string | null;
  /** The cluster node's state (`Up`, `Paused`, `Down`), or null for a standalone server. */
  readonly nodeState: 'Up' | 'Paused' | 'Down' | null;
  /** The cluster node's DrainStatus, or null for a standalone server. */
  readonly drainStatus: string | null;
  /** SSM Agent reachable right now. */
  readonly online: boolean;
  /** Restarting right now. */
  readonly down: boolean;
  readonly pingStatus: PingStatus;
  /** Drains that completed. */
  readonly drainedCount: number;
  /** Resumes that brought the node from Paused to Up. */
  readonly resumedCount: number;
  /** Restarts begun (RestartNode, and installers that exited 1641). */
  readonly restarts: number;
  readonly lastBootTime: string;
  readonly pendingReboot: boolean;
  readonly installedUpdates: readonly string[];
  readonly binaries: Readonly<Record<string, string>>;
  /** Installer runs per hotfix file (path relative to the root). */
  readonly attempts: Readonly<Record<string, number>>;
  /** Installs that put an update on the node, in order. */
  readonly installs: readonly {
    readonly update: string;
    readonly kb: string | null;
    readonly code: number;
    readonly at: string;
  }[];
  /** Every command sent to the node, in order. */
  readonly commands: readonly {
    readonly commandId: string;
    readonly document: DocumentKey;
    readonly requestedAt: string;
    readonly startedAt?: string;
    readonly endedAt?: string;
    readonly status: InvocationStatus;
    readonly statusDetails: string;
    readonly responseCode: number;
  }[];
}

// ---------------------------------------------------------------------------------------------
// Internal state

interface Marker {
  readonly bootSession: number;
  readonly lastBootTime: string;
  readonly requestedAt: string;
  readonly requestedAtMs: number;
  readonly reason: string;
}

interface SimNode {
  readonly spec: ScenarioNode;
  readonly name: string;
  readonly instanceId: string;
  readonly cluster: string | null;
  clusterState: 'Up' | 'Paused' | 'Down';
  drainStatus: 'NotInitiated' | 'InProgress' | 'Completed' | 'Failed';
  down: boolean;
  downSince: number;
  bootSession: number;
  lastBootTime: number;
  pendingReboot: boolean;
  readonly installed: string[];
  readonly binaries: Map<string, { path: string; version: string }>;
  readonly attempts: Map<string, { file: string; count: number }>;
  readonly installs: { update: string; kb: string | null; code: number; at: number }[];
  readonly downloaded: Set<string>;
  /** StageUpdates' cache (issue 13 item 5), by planned SHA-256. */
  readonly stagingCache: StagingCache;
  readonly restartMarkers: Map<string, Marker>;
  readonly invocations: Invocation[];
  /** Run when the node is back from a restart. */
  upWaiters: (() => void)[];
  /** Restarts an installer started (outside any command), for busyMs. */
  readonly installerReboots: { start: number; end?: number }[];
  restarts: number;
  drainedCount: number;
  resumedCount: number;
  /** Until when (virtual ms) its drained roles are still owned by another node (failback). */
  failbackAt: number;
  /** Until when (virtual ms) the node is offline mid-install; Infinity: it never comes back. */
  offlineUntil: number;
  /** The node went offline once already (`offlineDuringInstall` happens once). */
  wentOffline: boolean;
  /** Runs so far of the documents whose behaviour a scenario gives per attempt. */
  readonly runsOf: { drain: number; resume: number; pre: number; post: number };
}

/** The attempt-th entry (from 1) of a per-attempt list; the last one repeats. */
function nthAttempt<T>(list: readonly T[] | undefined, attempt: number): T | undefined {
  return list === undefined || list.length === 0
    ? undefined
    : list[Math.min(attempt, list.length) - 1];
}

interface Invocation {
  readonly commandId: string;
  readonly node: SimNode;
  readonly document: DocumentKey;
  readonly documentName: string;
  readonly comment: string;
  readonly encodedPayload: string;
  readonly payload: Record<string, unknown> | undefined;
  readonly requestedAt: number;
  readonly deliveryTimeoutMs: number;
  readonly cloudWatch?: { CloudWatchLogGroupName?: string; CloudWatchOutputEnabled?: boolean };
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  startedAt?: number;
  endedAt?: number;
  readonly stdout: string[];
  readonly stderr: string[];
  notFoundReads: number;
  readonly timers: (() => void)[];
  deliveryScheduled: boolean;
  cancelRequested: boolean;
}

const TERMINAL: readonly InvocationStatus[] = ['Success', 'Cancelled', 'TimedOut', 'Failed'];
const isEnded = (inv: Invocation) => TERMINAL.includes(inv.status);

/** The invocation ended under a running script (timeout, cancel): stop quietly. */
class Aborted extends Error {}

/** A terminating error in a script: exit 1 with one clear message (the prelude's trap). */
class ScriptFailure extends Error {}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const DOCUMENT_KEYS = Object.keys(DOCUMENTS) as DocumentKey[];

// ---------------------------------------------------------------------------------------------
// What the scripts print, as they print it

/** Control characters to spaces, as ConvertTo-SingleLine. */
function singleLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we replace
  return text.replace(/[\x00-\x1F\x7F]+/g, ' ');
}

/**
 * Compact JSON as Windows PowerShell 5.1's ConvertTo-Json writes it through ConvertTo-RolloutJson:
 * `<`, `>`, `&` and `'` escaped as `\u003c`..., and every non-ASCII character as `\uXXXX`.
 */
export function powershellJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&'\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A UTC time as .NET's `ToString('o')` writes it: seven fractional digits. */
function roundTrip(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** Format-PayloadValue: compact JSON cut at 120 characters. */
function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  let text = JSON.stringify(value) ?? String(value);
  if (text.length > 120) text = `${text.slice(0, 117)}...`;
  return singleLine(text);
}

const round1 = (ms: number) => Math.round(ms / 100) / 10;

export const ENVIRONMENT: Readonly<Record<string, string>> = {
  windir: 'C:\\Windows',
  systemroot: 'C:\\Windows',
  systemdrive: 'C:',
  programdata: 'C:\\ProgramData',
  programfiles: 'C:\\Program Files',
  'programfiles(x86)': 'C:\\Program Files (x86)',
  temp: 'C:\\Windows\\TEMP',
  tmp: 'C:\\Windows\\TEMP',
};

/** [Environment]::ExpandEnvironmentVariables on a node: unknown variables stay as written. */
export function expandEnvironment(text: string): string {
  return text.replace(
    /%([^%]+)%/g,
    (whole, name: string) => ENVIRONMENT[name.toLowerCase()] ?? whole,
  );
}

const binaryKey = (path: string) => expandEnvironment(path).replace(/\//g, '\\').toLowerCase();
const isRooted = (path: string) => /^(?:[A-Za-z]:|[\\/])/.test(path);

/** The file version with its last number raised by one (what an update that replaces it leaves). */
function bumpVersion(version: string): string {
  const match = /^(\d+(?:\.\d+)*?\.)?(\d+)(.*)$/s.exec(version);
  if (!match) return version;
  return `${match[1] ?? ''}${Number(match[2]) + 1}${match[3] ?? ''}`;
}

// --- reading the payload as _common.ps1 does ---------------------------------------------------

/** A property of a ConvertFrom-Json object: names compare ignoring case, as PowerShell's do. */
function property(obj: unknown, name: string, path: string, optional = false): unknown {
  if (!isRecord(obj)) {
    throw new ScriptFailure(`${path}: expected a JSON object, got ${formatValue(obj)}`);
  }
  const key =
    Object.keys(obj).find((k) => k === name) ??
    Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) {
    if (optional) return undefined;
    throw new ScriptFailure(`${path}.${name}: missing`);
  }
  return obj[key];
}

/**
 * The node's storage repair jobs not Completed at `now` (Get-StorageJob, filtered as
 * `Get-StorageRepairJobs` in ssm/_common.ps1 does): scenario `storageJobs`, each running its
 * `minutes` after the node's last restart in the run (none before any restart). Shared by both
 * fleets.
 */
export function storageRepairJobs(
  node: Pick<SimulatedNode, 'restarts' | 'lastBootTime' | 'spec'>,
  now: number,
): { name: string; state: 'Running'; percentComplete: number }[] {
  if (node.restarts === 0) return [];
  return (node.spec.storageJobs ?? [])
    .filter((j) => node.lastBootTime + j.minutes * 60_000 > now)
    .map((j) => ({
      name: j.name,
      state: 'Running' as const,
      percentComplete: Math.floor(
        Math.min(1, Math.max(0, (now - node.lastBootTime) / (j.minutes * 60_000))) * 100,
      ),
    }));
}

function payloadString(obj: unknown, name: string, path: string, allowEmpty = false): string {
  const value = property(obj, name, path);
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new ScriptFailure(`${path}.${name} (${formatValue(value)}): expected a non-empty string`);
  }
  return value;
}

function payloadInteger(obj: unknown, name: string, path: string, min: number, max: number): number;
function payloadInteger(
  obj: unknown,
  name: string,
  path: string,
  min: number,
  max: number,
  optional: true,
): number | undefined;
function payloadInteger(
  obj: unknown,
  name: string,
  path: string,
  min: number,
  max: number,
  optional = false,
): number | undefined {
  const value = property(obj, name, path, optional);
  if (optional && (value === undefined || value === null)) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ScriptFailure(
      `${path}.${name} (${formatValue(value)}): expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

function payloadBoolean(obj: unknown, name: string, path: string): boolean {
  const value = property(obj, name, path);
  if (typeof value !== 'boolean') {
    throw new ScriptFailure(`${path}.${name} (${formatValue(value)}): expected true or false`);
  }
  return value;
}

/** payload.selection: the rollout's updateSelection or null (checked by the control plane). */
function payloadSelection(payload: unknown): UpdateSelection | null {
  const value = property(payload, 'selection', 'payload');
  if (value !== null && !isRecord(value)) {
    throw new ScriptFailure(
      `payload.selection (${formatValue(value)}): expected a JSON object or null`,
    );
  }
  return value as UpdateSelection | null;
}

function payloadArray(obj: unknown, name: string, path: string): unknown[] {
  const value = property(obj, name, path);
  if (!Array.isArray(value)) {
    throw new ScriptFailure(`${path}.${name} (${formatValue(value)}): expected a JSON array`);
  }
  return value;
}

/** Read-RolloutPayload: base64 of UTF-8 JSON (gzipped or not) holding one object, or the script's error. */
function decodePayload(
  encoded: string,
): { ok: true; payload: Record<string, unknown> } | { ok: false; message: string } {
  if (encoded === '') {
    return {
      ok: false,
      message:
        'environment variable SSM_Payload is missing or empty: the document parameter Payload reaches the script only through interpolationType ENV_VAR, which needs SSM Agent 3.3.2746.0 or later; update the agent on this node',
    };
  }
  // Convert.FromBase64String: base64 characters, whole 4-character groups, padding at the end.
  if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) {
    return {
      ok: false,
      message: `Payload (${encoded.length} characters): expected base64 of UTF-8 JSON`,
    };
  }
  let bytes: Buffer;
  try {
    bytes = payloadJsonBytes(Buffer.from(encoded, 'base64'));
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return {
      ok: false,
      message: 'Payload: the decoded bytes are not UTF-8; expected base64 of UTF-8 JSON',
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `Payload: expected one JSON object; ${(error as Error).message}` };
  }
  if (!isRecord(value)) {
    return { ok: false, message: `Payload: expected one JSON object, got ${formatValue(value)}` };
  }
  return { ok: true, payload: value };
}

function isExitConditions(value: unknown): value is ExitConditions {
  return (
    isRecord(value) &&
    EXIT_CONDITIONS.every(
      (c) => Array.isArray(value[c]) && (value[c] as unknown[]).every(Number.isInteger),
    )
  );
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const WUA = { succeeded: 2, succeededWithErrors: 3, failed: 4, aborted: 5 } as const;

// ---------------------------------------------------------------------------------------------
// The fleet

/**
 * The simulated fleet. Hand it to the handlers as their SSM client (`fleet as unknown as
 * SSMClient`): {@link send} takes SendCommand, GetCommandInvocation, DescribeInstanceInformation
 * and CancelCommand, and throws for anything else.
 */
export class SimulatedFleet {
  /** Every status-change event published so far, in order. */
  readonly events: CommandStatusEvent[] = [];
  /** What happened on the nodes, in order (see {@link FleetLogEntry}). */
  readonly log: FleetLogEntry[] = [];
  private readonly nodesByKey = new Map<string, SimNode>();
  private readonly nodesById = new Map<string, SimNode>();
  private readonly nodeList: SimNode[] = [];
  private readonly invocations: Invocation[] = [];
  /** Each invocation by command and instance (issue 11: a find over all was quadratic). */
  private readonly invocationIndex = new Map<string, Invocation>();
  private readonly files = new Map<string, ScenarioHotfixFile>();
  private readonly config: HotfixConfig;
  private readonly account: string;
  private readonly region: string;
  private commandCount = 0;
  private eventCount = 0;

  constructor(
    private readonly scenario: Scenario,
    private readonly clock: Clock,
    private readonly options: SimulatedFleetOptions,
  ) {
    this.account = options.account ?? '000000000000';
    this.region = options.region ?? 'us-east-1';
    this.config =
      scenario.hotfixRoot.config === undefined
        ? defaultHotfixConfig()
        : parseHotfixConfig(scenario.hotfixRoot.config, 'hotfixRoot.config');
    for (const file of scenario.hotfixRoot.files) this.files.set(file.path, file);
    for (const spec of scenario.nodes) {
      const node: SimNode = {
        spec,
        name: spec.name,
        instanceId: spec.instanceId,
        cluster: spec.cluster ?? null,
        clusterState: 'Up',
        drainStatus: 'NotInitiated',
        down: false,
        downSince: 0,
        bootSession: 1,
        lastBootTime: Date.parse(spec.lastBootTime),
        pendingReboot: spec.pendingReboot,
        installed: [...spec.installedUpdates],
        binaries: new Map(
          Object.entries(spec.binaries).map(([path, version]) => [
            binaryKey(path),
            { path, version },
          ]),
        ),
        attempts: new Map(),
        installs: [],
        downloaded: new Set(),
        stagingCache: new Map(),
        restartMarkers: new Map(),
        invocations: [],
        upWaiters: [],
        installerReboots: [],
        restarts: 0,
        drainedCount: 0,
        resumedCount: 0,
        failbackAt: 0,
        offlineUntil: 0,
        wentOffline: false,
        runsOf: { drain: 0, resume: 0, pre: 0, post: 0 },
      };
      // Already paused (and drained) before the run, e.g. left so by an earlier run.
      if (spec.pausedAtStart && node.cluster) {
        node.clusterState = 'Paused';
        node.drainStatus = 'Completed';
      }
      this.nodeList.push(node);
      this.nodesByKey.set(nodeKey(spec.name), node);
      this.nodesById.set(spec.instanceId, node);
    }
  }

  // --- the SSM client ---------------------------------------------------------------------

  send(command: SendCommandCommand): Promise<SendCommandCommandOutput>;
  send(command: GetCommandInvocationCommand): Promise<GetCommandInvocationCommandOutput>;
  send(
    command: DescribeInstanceInformationCommand,
  ): Promise<DescribeInstanceInformationCommandOutput>;
  send(command: CancelCommandCommand): Promise<CancelCommandCommandOutput>;
  send(command: ListCommandInvocationsCommand): Promise<ListCommandInvocationsCommandOutput>;
  send(command: object): Promise<unknown>;
  async send(command: object): Promise<unknown> {
    const name = (command as { constructor?: { name?: unknown } }).constructor?.name;
    const input = (command as { input?: unknown }).input ?? {};
    switch (name) {
      case SendCommandCommand.name:
        return this.sendCommand(input as SendCommandCommand['input']);
      case GetCommandInvocationCommand.name:
        return this.getCommandInvocation(input as GetCommandInvocationCommand['input']);
      case DescribeInstanceInformationCommand.name:
        return this.describeInstanceInformation(
          input as DescribeInstanceInformationCommand['input'],
        );
      case CancelCommandCommand.name:
        return this.cancelCommand(input as CancelCommandCommand['input']);
      case ListCommandInvocationsCommand.name:
        return this.listCommandInvocations(input as ListCommandInvocationsCommand['input']);
      default:
        throw new Error(
          `SimulatedFleet: ${String(name)} is not simulated; the fleet answers SendCommandCommand, GetCommandInvocationCommand, DescribeInstanceInformationCommand, CancelCommandCommand and ListCommandInvocationsCommand`,
        );
    }
  }

  // --- for tests and reports ----------------------------------------------------------------

  /** Every invocation so far (one per command and instance), in the order they were sent. */
  get commands(): readonly CommandRecord[] {
    return this.invocations.map((inv) => this.record(inv));
  }

  /** A node's state now. @throws Error for a name that is not a node of the scenario. */
  node(name: string): NodeSnapshot {
    const node = this.nodesByKey.get(nodeKey(name));
    if (!node) {
      throw new Error(
        `SimulatedFleet: no node ${JSON.stringify(name)}; nodes: ${this.nodeList.map((n) => n.name).join(', ')}`,
      );
    }
    return this.snapshot(node);
  }

  /** The storage repair jobs the scenario gives the node (issue 13, item 6); none by default. */
  storageJobsOf(name: string): readonly { readonly name: string; readonly minutes: number }[] {
    return this.nodesByKey.get(nodeKey(name))?.spec.storageJobs ?? [];
  }

  /** How the scenario's node fails back (issue 13 item 6): minutes, and its roles at the start. */
  failbackOf(name: string): { readonly minutes: number; readonly roles: number } {
    const spec = this.nodesByKey.get(nodeKey(name))?.spec;
    return { minutes: spec?.failbackMinutes ?? 0, roles: spec?.roles ?? 0 };
  }

  /** What Windows Update offers the node (its own list, else the scenario's). */
  windowsUpdateOffered(name: string): readonly WindowsUpdateItem[] {
    const node = this.nodesByKey.get(nodeKey(name));
    if (!node) throw new Error(`SimulatedFleet: no node ${JSON.stringify(name)}`);
    return (node.spec.windowsUpdate ?? this.scenario.windowsUpdate).available;
  }

  /** Every node's state now, in scenario order. */
  nodes(): NodeSnapshot[] {
    return this.nodeList.map((node) => this.snapshot(node));
  }

  /**
   * The node's own work time in virtual milliseconds: the sum of its commands' durations
   * (InProgress to the end, or to now), restarts inside them included, plus restarts installers
   * started between commands. Sum it over nodes to compare with a run's makespan.
   */
  busyMs(name: string): number {
    const node = this.nodesByKey.get(nodeKey(name));
    if (!node) throw new Error(`SimulatedFleet: no node ${JSON.stringify(name)}`);
    const now = this.now();
    let total = 0;
    for (const inv of node.invocations) {
      if (inv.startedAt !== undefined) total += (inv.endedAt ?? now) - inv.startedAt;
    }
    for (const reboot of node.installerReboots) total += (reboot.end ?? now) - reboot.start;
    return total;
  }

  // --- SendCommand ----------------------------------------------------------------------------

  private sendCommand(input: SendCommandCommand['input']): SendCommandCommandOutput {
    const documentName = input.DocumentName;
    const document = this.documentKey(documentName);
    if (input.Targets !== undefined && input.Targets.length > 0) {
      throw new Error(
        'SimulatedFleet: SendCommand with Targets is not simulated; our handlers send InstanceIds',
      );
    }
    const ids = input.InstanceIds ?? [];
    if (ids.length === 0) {
      throw validationError('SendCommand: give InstanceIds (1 to 50 instance ids) or Targets');
    }
    if (ids.length > 50) {
      throw validationError(
        `1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50 (${ids.length} given)`,
      );
    }
    if (new Set(ids).size !== ids.length) {
      throw new DuplicateInstanceId({
        message: 'Instance Id list contains duplicate instance ids',
        $metadata: {},
      });
    }
    const nodes = ids.map((id) => {
      const node = this.nodesById.get(id);
      if (!node || (!node.spec.online && node.spec.pingStatus === 'Inactive')) {
        throw new InvalidInstanceId({
          message: `Instances [[${id}]] not in a valid state for account ${this.account}`,
          $metadata: {},
        });
      }
      return node;
    });
    const encoded = this.payloadParameter(input.Parameters, documentName ?? '');
    const timeoutSeconds = input.TimeoutSeconds ?? 3600;
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 30 || timeoutSeconds > 2_592_000) {
      throw validationError(
        `1 validation error detected: Value '${timeoutSeconds}' at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000`,
      );
    }
    const comment = input.Comment ?? '';
    if (comment.length > 100) {
      throw validationError(
        `1 validation error detected: Value at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100`,
      );
    }

    const now = this.now();
    const commandId = deterministicUuid(`command-${++this.commandCount}`);
    const decoded = decodePayload(encoded);
    for (const node of nodes) {
      const inv: Invocation = {
        commandId,
        node,
        document,
        documentName: documentName as string,
        comment,
        encodedPayload: encoded,
        payload: decoded.ok ? decoded.payload : undefined,
        requestedAt: now,
        deliveryTimeoutMs: timeoutSeconds * 1000,
        ...(input.CloudWatchOutputConfig ? { cloudWatch: input.CloudWatchOutputConfig } : {}),
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        stdout: [],
        stderr: [],
        notFoundReads: node.spec.invocationDoesNotExistReads,
        timers: [],
        deliveryScheduled: false,
        cancelRequested: false,
      };
      this.invocations.push(inv);
      this.indexInvocation(inv);
      node.invocations.push(inv);
      this.emit(inv);
      inv.timers.push(
        this.clock.schedule(now + inv.deliveryTimeoutMs, () => {
          if (inv.status === 'Pending') this.end(inv, 'TimedOut', 'DeliveryTimedOut', -1);
        }),
      );
      this.deliver(inv);
    }
    return {
      $metadata: { httpStatusCode: 200, requestId: deterministicUuid(`request-${commandId}`) },
      Command: {
        CommandId: commandId,
        DocumentName: documentName,
        DocumentVersion: '$DEFAULT',
        Comment: comment,
        ExpiresAfter: new Date(now + timeoutSeconds * 1000),
        Parameters: { [PAYLOAD_PARAMETER]: [encoded] },
        InstanceIds: [...ids],
        Targets: [],
        RequestedDateTime: new Date(now),
        Status: 'Pending',
        StatusDetails: 'Pending',
        MaxConcurrency: '50',
        MaxErrors: '0',
        TargetCount: ids.length,
        CompletedCount: 0,
        ErrorCount: 0,
        DeliveryTimedOutCount: 0,
        TimeoutSeconds: timeoutSeconds,
        ...(input.CloudWatchOutputConfig
          ? { CloudWatchOutputConfig: input.CloudWatchOutputConfig }
          : {}),
      },
    };
  }

  /** The document's key from its deployed name, or SSM's InvalidDocument. */
  private documentKey(name: string | undefined): DocumentKey {
    const prefix = `${this.options.documentPrefix}-`;
    const key =
      name?.startsWith(prefix) === true
        ? DOCUMENT_KEYS.find((k) => DOCUMENTS[k] === name.slice(prefix.length))
        : undefined;
    if (key === undefined) {
      throw new InvalidDocument({
        message: `Document ${JSON.stringify(name ?? '')} does not exist in account ${this.account}; documents here: ${DOCUMENT_KEYS.map((k) => `${prefix}${DOCUMENTS[k]}`).join(', ')}`,
        $metadata: {},
      });
    }
    return key;
  }

  /** The Payload parameter, checked as SSM checks a document parameter. */
  private payloadParameter(
    parameters: Record<string, string[]> | undefined,
    documentName: string,
  ): string {
    const given = parameters ?? {};
    for (const name of Object.keys(given)) {
      if (name !== PAYLOAD_PARAMETER) {
        throw new InvalidParameters({
          message: `Parameter "${name}" is not defined in document ${documentName}; its one parameter is ${PAYLOAD_PARAMETER}`,
          $metadata: {},
        });
      }
    }
    const values = given[PAYLOAD_PARAMETER];
    if (values === undefined) {
      throw new InvalidParameters({
        message: `Parameter "${PAYLOAD_PARAMETER}" is required by document ${documentName} and has no default`,
        $metadata: {},
      });
    }
    if (values.length !== 1 || typeof values[0] !== 'string') {
      throw new InvalidParameters({
        message: `Parameter "${PAYLOAD_PARAMETER}" is of type String: expected exactly one value, got ${values.length}`,
        $metadata: {},
      });
    }
    const value = values[0];
    if (!new RegExp(PAYLOAD_ALLOWED_PATTERN).test(value)) {
      throw new InvalidParameters({
        message: `Parameter "${PAYLOAD_PARAMETER}" "${value.length > 40 ? `${value.slice(0, 40)}...` : value}" failed to satisfy constraint: Member must satisfy regular expression pattern: ${PAYLOAD_ALLOWED_PATTERN}`,
        $metadata: {},
      });
    }
    return value;
  }

  // --- GetCommandInvocation -----------------------------------------------------------------

  /** The first invocation of `commandId` on `instanceId` (as a find over all would answer). */
  private findInvocation(
    commandId: string | undefined,
    instanceId: string | undefined,
  ): Invocation | undefined {
    return this.invocationIndex.get(`${commandId}\u0000${instanceId}`);
  }

  private indexInvocation(inv: Invocation): void {
    const key = `${inv.commandId}\u0000${inv.node.instanceId}`;
    if (!this.invocationIndex.has(key)) this.invocationIndex.set(key, inv);
  }

  private getCommandInvocation(
    input: GetCommandInvocationCommand['input'],
  ): GetCommandInvocationCommandOutput {
    const inv = this.findInvocation(input.CommandId, input.InstanceId);
    if (!inv || inv.notFoundReads > 0) {
      if (inv) inv.notFoundReads--;
      throw new InvocationDoesNotExist({
        message: `An invocation of command ${String(input.CommandId)} on ${String(input.InstanceId)} does not exist`,
        $metadata: {},
      });
    }
    const pluginName = DOCUMENTS[inv.document];
    if (input.PluginName !== undefined && input.PluginName !== pluginName) {
      throw new InvalidPluginName({
        message: `The document ${inv.documentName} has no step named ${input.PluginName}; its step is ${pluginName}`,
        $metadata: {},
      });
    }
    const now = this.now();
    const elapsed =
      inv.startedAt === undefined ? '' : `PT${((inv.endedAt ?? now) - inv.startedAt) / 1000}S`;
    return {
      $metadata: { httpStatusCode: 200 },
      CommandId: inv.commandId,
      InstanceId: inv.node.instanceId,
      Comment: inv.comment,
      DocumentName: inv.documentName,
      DocumentVersion: '1',
      PluginName: pluginName,
      ResponseCode: inv.responseCode,
      ExecutionStartDateTime:
        inv.startedAt === undefined ? '' : new Date(inv.startedAt).toISOString(),
      ExecutionElapsedTime: elapsed,
      ExecutionEndDateTime: inv.endedAt === undefined ? '' : new Date(inv.endedAt).toISOString(),
      Status: inv.status,
      StatusDetails: inv.statusDetails,
      StandardOutputContent: joinLines(inv.stdout).slice(0, MAX_STDOUT_CHARS),
      StandardOutputUrl: '',
      StandardErrorContent: joinLines(inv.stderr).slice(0, MAX_STDERR_CHARS),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: {
        CloudWatchLogGroupName: inv.cloudWatch?.CloudWatchLogGroupName ?? '',
        CloudWatchOutputEnabled: inv.cloudWatch?.CloudWatchOutputEnabled ?? false,
      },
    };
  }

  // --- CloudWatch Logs (sandbox/command-logs.ts) ------------------------------------------------

  /**
   * The stdout lines SSM copied to `stream` of `logGroup`: an invocation that asked for
   * CloudWatch output to that group, stream `<CommandId>/<InstanceId>/aws-runPowerShellScript/stdout`.
   */
  commandLogLines(logGroup: string, stream: string): readonly string[] | undefined {
    const [commandId, instanceId, plugin, kind, ...rest] = stream.split('/');
    if (plugin !== 'aws-runPowerShellScript' || kind !== 'stdout' || rest.length > 0)
      return undefined;
    const inv = this.findInvocation(commandId, instanceId);
    const copied =
      inv?.cloudWatch?.CloudWatchOutputEnabled === true &&
      inv.cloudWatch.CloudWatchLogGroupName === logGroup;
    return copied ? inv.stdout : undefined;
  }

  // --- DescribeInstanceInformation ------------------------------------------------------------

  private describeInstanceInformation(
    input: DescribeInstanceInformationCommand['input'],
  ): DescribeInstanceInformationCommandOutput {
    const filters: { key: string; values: string[] }[] = [
      ...(input.Filters ?? []).map((f) => ({ key: f.Key ?? '', values: f.Values ?? [] })),
      ...(input.InstanceInformationFilterList ?? []).map((f) => ({
        key: f.key ?? '',
        values: f.valueSet ?? [],
      })),
    ];
    const accepted: Readonly<Record<string, (node: SimNode, value: string) => boolean>> = {
      InstanceIds: (node, value) => node.instanceId === value,
      PingStatus: (node, value) => this.pingStatus(node) === value,
      PlatformTypes: (_node, value) => value === 'Windows',
      ResourceType: (node, value) => resourceType(node.instanceId) === value,
    };
    // Issue 11: `tag:<key>` filters match the scenario's tags (several filters are ANDed).
    const matches = (node: SimNode, key: string, value: string) =>
      key.startsWith('tag:')
        ? node.spec.tags?.[key.slice(4)] === value
        : accepted[key]?.(node, value) === true;
    for (const filter of filters) {
      if (!(filter.key in accepted) && !/^tag:.{1,128}$/.test(filter.key)) {
        throw new InvalidFilterKey({
          message: `filter key ${JSON.stringify(filter.key)} is not simulated; accepted: ${Object.keys(accepted).join(', ')}, tag:<key>`,
          $metadata: {},
        });
      }
      if (
        filter.values.length === 0 ||
        (filter.key === 'InstanceIds' && filter.values.length > 50)
      ) {
        throw new InvalidInstanceInformationFilterValue({
          message: `filter ${filter.key} takes 1 to ${filter.key === 'InstanceIds' ? 50 : 100} values; ${filter.values.length} given`,
          $metadata: {},
        });
      }
    }
    const maxResults = input.MaxResults ?? 10;
    if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 50) {
      throw validationError(
        `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value between 5 and 50`,
      );
    }
    const fingerprint = sha256Hex(JSON.stringify(filters)).slice(0, 16);
    const matching = this.matchingNodes(filters, fingerprint, (node) =>
      filters.every((f) => f.values.some((value) => matches(node, f.key, value))),
    );
    let offset = 0;
    if (input.NextToken) {
      const token = readToken(input.NextToken);
      if (token === undefined || token.f !== fingerprint || token.o > matching.length) {
        throw new InvalidNextToken({
          message: 'The NextToken is not valid for this request',
          $metadata: {},
        });
      }
      offset = token.o;
    }
    const page = matching.slice(offset, offset + maxResults);
    const next = offset + page.length;
    return {
      $metadata: { httpStatusCode: 200 },
      InstanceInformationList: page.map((node) => this.instanceInformation(node)),
      ...(next < matching.length ? { NextToken: writeToken({ o: next, f: fingerprint }) } : {}),
    };
  }

  /** Each node's place in the fleet (the nodes are all made by the constructor). */
  private positions: Map<SimNode, number> | undefined;
  /** The last filter's matches whose result cannot change (tags, platform, resource type). */
  private staticMatches: { fingerprint: string; nodes: SimNode[] } | undefined;

  /**
   * Issue 11: the nodes a DescribeInstanceInformation filter matches, without a pass over the
   * whole fleet per page: `InstanceIds` are looked up by id (in the nodes' order), and a filter
   * on what never changes (tags, platform, resource type) is kept for its next pages. At
   * 100,000 nodes the per-page passes were quadratic (2,000 pages by tag, 2,000 by id).
   */
  private matchingNodes(
    filters: readonly { key: string; values: string[] }[],
    fingerprint: string,
    match: (node: SimNode) => boolean,
  ): SimNode[] {
    const ids = filters.find((f) => f.key === 'InstanceIds');
    if (ids !== undefined) {
      const found = new Set(ids.values.flatMap((id) => this.nodesById.get(id) ?? []));
      this.positions ??= new Map(this.nodeList.map((node, i) => [node, i]));
      const at = this.positions;
      return [...found].filter(match).sort((a, b) => (at.get(a) ?? 0) - (at.get(b) ?? 0));
    }
    const constant = filters.every((f) => f.key !== 'PingStatus');
    if (constant && this.staticMatches?.fingerprint === fingerprint) {
      return this.staticMatches.nodes;
    }
    const nodes = this.nodeList.filter(match);
    if (constant) this.staticMatches = { fingerprint, nodes };
    return nodes;
  }

  private instanceInformation(node: SimNode): InstanceInformation {
    const status = this.pingStatus(node);
    const h = sha256Hex(`ip:${node.instanceId}`);
    return {
      InstanceId: node.instanceId,
      PingStatus: status,
      LastPingDateTime: new Date(
        status === 'Online'
          ? this.now()
          : node.down
            ? node.downSince
            : Date.parse(this.scenario.startTime) - 3_600_000,
      ),
      AgentVersion: SIMULATED_AGENT_VERSION,
      IsLatestVersion: false,
      PlatformType: 'Windows',
      PlatformName: node.spec.os.caption,
      PlatformVersion: node.spec.os.version,
      ResourceType: resourceType(node.instanceId),
      IPAddress: `10.0.${Number.parseInt(h.slice(0, 2), 16)}.${Number.parseInt(h.slice(2, 4), 16)}`,
      ComputerName: `${node.name}.sandbox.internal`,
    };
  }

  private pingStatus(node: SimNode): PingStatus {
    if (!node.spec.online) return node.spec.pingStatus;
    return node.down || this.offline(node) ? 'ConnectionLost' : 'Online';
  }

  // --- ListCommandInvocations -----------------------------------------------------------------

  /** Invocations, newest first, by InstanceId / CommandId and the InvokedAfter/Before filters. */
  private listCommandInvocations(
    input: ListCommandInvocationsCommand['input'],
  ): ListCommandInvocationsCommandOutput {
    const filters = (input.Filters ?? []).map((f) => ({
      key: String(f.key),
      value: f.value ?? '',
    }));
    for (const filter of filters) {
      if (filter.key !== 'InvokedAfter' && filter.key !== 'InvokedBefore') {
        throw new InvalidFilterKey({
          message: `filter key ${JSON.stringify(filter.key)} is not simulated; accepted: InvokedAfter, InvokedBefore`,
          $metadata: {},
        });
      }
    }
    const maxResults = input.MaxResults ?? 50;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 50) {
      throw validationError(
        `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50`,
      );
    }
    const matching = this.invocations
      .filter(
        (inv) =>
          (input.InstanceId === undefined || inv.node.instanceId === input.InstanceId) &&
          (input.CommandId === undefined || inv.commandId === input.CommandId) &&
          filters.every((f) =>
            f.key === 'InvokedAfter'
              ? inv.requestedAt >= Date.parse(f.value)
              : inv.requestedAt <= Date.parse(f.value),
          ),
      )
      .reverse();
    const fingerprint = sha256Hex(
      JSON.stringify([input.InstanceId, input.CommandId, filters]),
    ).slice(0, 16);
    let offset = 0;
    if (input.NextToken) {
      const token = readToken(input.NextToken);
      if (token === undefined || token.f !== fingerprint || token.o > matching.length) {
        throw new InvalidNextToken({
          message: 'The NextToken is not valid for this request',
          $metadata: {},
        });
      }
      offset = token.o;
    }
    const page = matching.slice(offset, offset + maxResults);
    const next = offset + page.length;
    return {
      $metadata: { httpStatusCode: 200 },
      CommandInvocations: page.map((inv) => ({
        CommandId: inv.commandId,
        InstanceId: inv.node.instanceId,
        InstanceName: inv.node.name,
        Comment: inv.comment,
        DocumentName: inv.documentName,
        RequestedDateTime: new Date(inv.requestedAt),
        Status: inv.status as never,
        StatusDetails: inv.statusDetails,
      })),
      ...(next < matching.length ? { NextToken: writeToken({ o: next, f: fingerprint }) } : {}),
    };
  }

  // --- CancelCommand ------------------------------------------------------------------------

  private cancelCommand(input: CancelCommandCommand['input']): CancelCommandCommandOutput {
    const all = this.invocations.filter((i) => i.commandId === input.CommandId);
    if (all.length === 0) {
      throw new InvalidCommandId({
        message: `Command ${String(input.CommandId)} does not exist`,
        $metadata: {},
      });
    }
    const ids = input.InstanceIds;
    for (const id of ids ?? []) {
      if (!all.some((i) => i.node.instanceId === id)) {
        throw new InvalidInstanceId({
          message: `Instance ${id} is not a target of command ${String(input.CommandId)}`,
          $metadata: {},
        });
      }
    }
    for (const inv of all) {
      if (ids !== undefined && ids.length > 0 && !ids.includes(inv.node.instanceId)) continue;
      if (isEnded(inv) || inv.cancelRequested) continue;
      inv.cancelRequested = true;
      if (inv.status === 'Pending') {
        this.end(inv, 'Cancelled', 'Cancelled', -1);
        continue;
      }
      this.setStatus(inv, 'Cancelling', 'Cancelling');
      const finish = () => {
        inv.timers.push(
          this.clock.schedule(this.now() + SIMULATED_TIMINGS.cancelMs, () => {
            if (isEnded(inv)) return;
            inv.stdout.push('[rollout] the command was cancelled');
            this.end(inv, 'Cancelled', 'Cancelled', -1);
          }),
        );
      };
      // The agent stops the script; a node that is restarting or offline does so once back.
      if (inv.node.down || this.offline(inv.node)) inv.node.upWaiters.push(finish);
      else finish();
    }
    return { $metadata: { httpStatusCode: 200 } };
  }

  // --- invocation life cycle ------------------------------------------------------------------

  private now(): number {
    return this.clock.now().getTime();
  }

  /** Appends to {@link log}, with the node's cluster state at this moment. */
  private note(
    node: SimNode,
    kind: FleetLogEntry['kind'],
    fields: Partial<
      Pick<
        FleetLogEntry,
        'byInstaller' | 'ok' | 'document' | 'commandId' | 'status' | 'cancelRequested' | 'seenBy'
      >
    > = {},
  ) {
    this.log.push({
      seq: this.log.length,
      at: this.now(),
      node: node.name,
      kind,
      clusterState: node.cluster ? node.clusterState : null,
      drainStatus: node.cluster ? node.drainStatus : null,
      ...fields,
    });
  }

  /** Get-ClusterNode without -Name, run on `from`: its cluster's members, each noted as seen. */
  private clusterMembers(from: SimNode): ClusterMemberView[] {
    if (!from.cluster) return [];
    const members = this.nodeList.filter((n) => n.cluster === from.cluster);
    for (const member of members) this.note(member, 'clusterView', { seenBy: from.name });
    return members.map((m) => ({
      name: m.name,
      state: m.clusterState,
      drainStatus: m.drainStatus,
    }));
  }

  private reachable(node: SimNode): boolean {
    return node.spec.online && !node.down && !this.offline(node);
  }

  /** Offline mid-install (`offlineDuringInstall`): unreachable, its scripts stalled. */
  private offline(node: SimNode): boolean {
    return this.now() < node.offlineUntil;
  }

  /**
   * `offlineDuringInstall`: the node drops off the network for a while (or for good). Its agent
   * neither picks commands up nor reports, and the script running stalls; when it is back, a
   * cancel that arrived meanwhile stops the script, and pending commands are delivered.
   */
  private goOffline(node: SimNode, minutes: number | undefined) {
    const start = this.now();
    node.wentOffline = true;
    node.offlineUntil = minutes === undefined ? Number.POSITIVE_INFINITY : start + minutes * 60_000;
    if (minutes === undefined) return;
    this.clock.schedule(node.offlineUntil, () => {
      const waiters = node.upWaiters;
      node.upWaiters = [];
      for (const waiter of waiters) waiter();
      for (const inv of node.invocations) this.deliver(inv);
    });
  }

  /** The agent picks the command up, if the node can. */
  private deliver(inv: Invocation) {
    if (inv.status !== 'Pending' || inv.deliveryScheduled || !this.reachable(inv.node)) return;
    inv.deliveryScheduled = true;
    inv.timers.push(
      this.clock.schedule(this.now() + SIMULATED_TIMINGS.deliveryMs, () => {
        inv.deliveryScheduled = false;
        if (inv.status !== 'Pending') return;
        if (this.reachable(inv.node)) this.start(inv);
      }),
    );
  }

  private start(inv: Invocation) {
    inv.startedAt = this.now();
    this.setStatus(inv, 'InProgress', 'InProgress');
    const seconds = executionTimeoutOf(inv);
    inv.timers.push(
      this.clock.schedule(inv.startedAt + seconds * 1000, () =>
        this.executionTimedOut(inv, seconds),
      ),
    );
    const afterExit: (() => void)[] = [];
    this.execute(inv, afterExit).then(
      (code) => {
        if (isEnded(inv)) return;
        this.end(inv, code === 0 ? 'Success' : 'Failed', code === 0 ? 'Success' : 'Failed', code);
        for (const hook of afterExit) hook();
      },
      (error: unknown) => {
        if (error instanceof Aborted || isEnded(inv)) return;
        // A defect of the simulation, not of the node: fail loudly in the output.
        inv.stderr.push(`SIMULATOR ERROR ${(error as Error)?.stack ?? String(error)}`);
        this.end(inv, 'Failed', 'Failed', 1);
      },
    );
  }

  private executionTimedOut(inv: Invocation, seconds: number) {
    // A cancel the agent is acting on decides how the command ends (Cancelled).
    if (isEnded(inv) || inv.cancelRequested) return;
    // A node that is down cannot report; it does once it is back (never, if it never is).
    if (inv.node.down || this.offline(inv.node)) {
      inv.node.upWaiters.push(() => this.executionTimedOut(inv, seconds));
      return;
    }
    inv.stderr.push(
      `failed to run commands: the command ran longer than its execution timeout of ${seconds} seconds and was stopped`,
    );
    this.end(inv, 'TimedOut', 'ExecutionTimedOut', -1);
  }

  private setStatus(inv: Invocation, status: InvocationStatus, details: string) {
    inv.status = status;
    inv.statusDetails = details;
    this.emit(inv);
  }

  private end(inv: Invocation, status: InvocationStatus, details: string, code: number) {
    if (isEnded(inv)) return;
    inv.endedAt = this.now();
    inv.responseCode = code;
    for (const cancel of inv.timers) cancel();
    inv.timers.length = 0;
    this.setStatus(inv, status, details);
  }

  /** Publishes the status now, as an event delivered once the current work settles. */
  private emit(inv: Invocation) {
    const now = this.now();
    this.note(inv.node, 'command', {
      document: inv.document,
      commandId: inv.commandId,
      status: inv.status,
      cancelRequested: inv.cancelRequested,
    });
    const event: CommandStatusEvent = {
      version: '0',
      id: deterministicUuid(`event-${++this.eventCount}`),
      'detail-type': 'EC2 Command Invocation Status-change Notification',
      source: 'aws.ssm',
      account: this.account,
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: [`arn:aws:ec2:${this.region}:${this.account}:instance/${inv.node.instanceId}`],
      detail: {
        'command-id': inv.commandId,
        'document-name': inv.documentName,
        'instance-id': inv.node.instanceId,
        'requested-date-time': new Date(inv.requestedAt).toISOString(),
        status: inv.status,
        'status-details': inv.statusDetails,
      },
    };
    this.clock.schedule(now, () => {
      this.events.push(event);
      this.options.onEvent(event);
    });
  }

  // --- restarts -------------------------------------------------------------------------------

  /** The node goes down and comes back after restartMinutes; resolves when it is back (or never). */
  private reboot(node: SimNode, byInstaller: boolean): Promise<void> {
    // Already restarting (an installer's 1641 and a RestartNode overlapping): one restart.
    if (node.down) return new Promise((resolve) => node.upWaiters.push(resolve));
    const start = this.now();
    this.note(node, 'restart', { byInstaller });
    node.down = true;
    node.downSince = start;
    node.restarts++;
    const wasPaused = node.clusterState === 'Paused';
    if (node.cluster) node.clusterState = 'Down';
    const record: { start: number; end?: number } = { start };
    if (byInstaller) node.installerReboots.push(record);
    return new Promise((resolve) => {
      if (node.spec.neverReturnsFromRestart) return;
      this.clock.schedule(start + node.spec.restartMinutes * 60_000, () => {
        const now = this.now();
        node.down = false;
        node.bootSession++;
        node.lastBootTime = now;
        node.pendingReboot = false;
        // A paused cluster node stays paused across a restart (unless its cluster service
        // does not come back: staysDownAfterRestart, issue 13 item 6).
        if (node.cluster) {
          node.clusterState = node.spec.staysDownAfterRestart
            ? 'Down'
            : wasPaused
              ? 'Paused'
              : 'Up';
        }
        record.end = now;
        this.note(node, 'back');
        const waiters = node.upWaiters;
        node.upWaiters = [];
        for (const waiter of waiters) waiter();
        for (const inv of node.invocations) this.deliver(inv);
        resolve();
      });
    });
  }

  // --- running a document ---------------------------------------------------------------------

  /**
   * Runs the document's script; exit 3010 makes the agent restart the node and run it again.
   * Resolves with the final exit code.
   */
  private async execute(inv: Invocation, afterExit: (() => void)[]): Promise<number> {
    const run = new ScriptRun(this.clock, inv);
    for (;;) {
      let code: number;
      try {
        code = await this.runScript(run, afterExit);
      } catch (error) {
        if (!(error instanceof ScriptFailure)) throw error;
        const message = singleLine(error.message);
        inv.stdout.push(`[rollout] ERROR: ${message}`);
        inv.stdout.push(endMarkerLine(inv.stdout));
        inv.stderr.push(`ROLLOUT-ERROR ${message}`);
        return 1;
      }
      if (code !== 3010) {
        // Exit-RolloutSuccess / Exit-RolloutFailure; the pwsh fleet's real scripts write their own.
        if (!this.options.nodeScripts?.runs(inv.document))
          inv.stdout.push(endMarkerLine(inv.stdout));
        return code;
      }
      await run.sleep(SIMULATED_TIMINGS.rebootRequestMs);
      await this.reboot(inv.node, false);
      await run.sleep(SIMULATED_TIMINGS.agentStartMs);
    }
  }

  private runScript(run: ScriptRun, afterExit: (() => void)[]): Promise<number> {
    const host = this.options.nodeScripts;
    if (host?.runs(run.inv.document)) return host.run(this.scriptContext(run, afterExit));
    const decoded = decodePayload(run.inv.encodedPayload);
    if (!decoded.ok) throw new ScriptFailure(decoded.message);
    const payload = decoded.payload;
    // Get-RolloutDeadline: long scripts stop starting new work a margin before the deadline.
    const deadline = payloadDeadline(payload);
    switch (run.inv.document) {
      case 'inventory':
        return this.inventory(run, payload);
      case 'drain':
        return this.drain(run, payload, deadline);
      case 'resume':
        return this.resume(run, payload);
      case 'installHotfixes':
        return this.installHotfixes(run, payload, deadline, afterExit);
      case 'windowsUpdate':
        return this.windowsUpdate(run, payload, deadline);
      case 'runScript':
        return this.runUpdateScript(run, payload, deadline);
      case 'restart':
        return this.restart(run, payload);
      case 'removeUpdates':
        return this.removeUpdates(run, payload, deadline);
      case 'scan':
        return this.scanUpdates(run, payload, deadline);
      case 'stageUpdates':
        return stageUpdates(this.stagingRun(run), payload, deadline);
    }
  }

  /** What the staging model (sandbox/staging-model.ts) needs of this fleet for one run. */
  private stagingRun(run: ScriptRun): StagingRun {
    return {
      cache: run.inv.node.stagingCache,
      files: this.files,
      downloadMs: SIMULATED_TIMINGS.downloadMs,
      searchMs: SIMULATED_TIMINGS.windowsUpdateSearchMs,
      now: () => run.now(),
      sleep: (ms) => run.sleep(ms),
      log: (message) => run.log(message),
      result: (value) => run.result(value),
      windowsUpdatesFound: () => this.windowsUpdatesFound(run.inv.node),
      payload: {
        string: payloadString,
        integer: payloadInteger,
        boolean: payloadBoolean,
        array: payloadArray,
        selection: payloadSelection,
        fail: (message) => new ScriptFailure(message),
      },
    };
  }

  /**
   * The node's staged copy of a hotfix file (issue 13 item 5): the SHA-256 the hotfix root holds
   * for it (the plan's) and the SHA-256 of the copy on disk; undefined when none is staged.
   */
  stagedCopyOf(
    name: string,
    file: string,
  ): { plannedSha256: string; actualSha256: string } | undefined {
    const stored = this.files.get(file.replace(/\\/g, '/'));
    const node = this.nodesByKey.get(nodeKey(name));
    if (!stored || !node) return undefined;
    const planned = stored.sha256.toLowerCase();
    const copy = node.stagingCache.get(planned);
    return copy ? { plannedSha256: planned, actualSha256: copy.actualSha256 } : undefined;
  }

  /** Chaos: the staged copy of one file on a node changes on disk after staging (issue 13 item 5). */
  corruptStagedCopy(name: string): boolean {
    const copy = [...(this.nodesByKey.get(nodeKey(name))?.stagingCache.values() ?? [])][0];
    if (!copy) return false;
    copy.actualSha256 = sha256Hex(`corrupted ${copy.file}`);
    return true;
  }

  private scriptContext(run: ScriptRun, afterExit: (() => void)[]): NodeScriptContext {
    const node = run.inv.node;
    return {
      document: run.inv.document,
      encodedPayload: run.inv.encodedPayload,
      node,
      stdout: run.inv.stdout,
      stderr: run.inv.stderr,
      now: () => run.now(),
      sleep: (ms) => run.sleep(ms),
      storedFile: (file) => this.files.get(file.replace(/\\/g, '/')),
      countAttempt: (file) => this.countAttempt(node, file),
      behaviourFor: (file) => this.behaviourFor(node, file),
      ruleFor: (item, file) => this.ruleFor(item, file),
      exitCodeFor: (file, behaviour, attempt, rule) =>
        this.exitCodeFor(node, file, behaviour, attempt, rule),
      applyInstall: (file, code, behaviour, rule) =>
        this.applyInstall(node, file, code, behaviour, rule),
      startInstallDropOff: () => {
        const dropOff = node.spec.offlineDuringInstall;
        if (!dropOff || node.wentOffline) return;
        node.wentOffline = true;
        this.clock.schedule(run.now() + dropOff.afterMinutes * 60_000, () =>
          this.goOffline(node, dropOff.minutes),
        );
      },
      restartAfterExit: () =>
        afterExit.push(() => {
          this.clock.schedule(this.now() + SIMULATED_TIMINGS.installerRestartDelayMs, () => {
            void this.reboot(node, true);
          });
        }),
      note: (kind, ok) => this.note(node, kind, { ok }),
      clusterGroups: () => this.clusterGroups(node),
      clusterMembers: () => this.clusterMembers(node),
      nextDrainFails: () =>
        nthAttempt(node.spec.drain.failsByAttempt, ++node.runsOf.drain) ?? node.spec.drain.fails,
      nextResumeFails: () =>
        nthAttempt(node.spec.resumeFailsByAttempt, ++node.runsOf.resume) ?? node.spec.resumeFails,
      failedBack: (mode) => this.failBack(node, mode),
      nextUpdateScript: (phase) => {
        const behaviour =
          phase === 'pre'
            ? (nthAttempt(node.spec.preUpdateScriptByAttempt, ++node.runsOf.pre) ??
              node.spec.preUpdateScript)
            : (nthAttempt(node.spec.postUpdateScriptByAttempt, ++node.runsOf.post) ??
              node.spec.postUpdateScript);
        return { exitCode: behaviour?.exitCode ?? 0, minutes: behaviour?.minutes ?? 0.5 };
      },
      removeUpdate: (updateId, method) => this.removeUpdate(node, updateId, method),
      windowsUpdatesFound: () => this.windowsUpdatesFound(node),
      installWindowsUpdate: (update) => this.installWindowsUpdate(node, update, run.now()),
    };
  }

  private windowsUpdatesFound(node: SimNode): WindowsUpdateItem[] {
    const offered = (node.spec.windowsUpdate ?? this.scenario.windowsUpdate).available;
    return offered.filter(
      (u) =>
        !node.installed.includes(u.kb) &&
        (u.offeredAfter === undefined || node.installed.includes(u.offeredAfter)),
    );
  }

  private installWindowsUpdate(
    node: SimNode,
    update: WindowsUpdateItem,
    at: number,
  ): { resultCode: number; hResult: number; rebootRequired: boolean } {
    const succeeded =
      update.resultCode === WUA.succeeded || update.resultCode === WUA.succeededWithErrors;
    if (succeeded) {
      if (!node.installed.includes(update.kb)) node.installed.push(update.kb);
      node.installs.push({ update: update.title, kb: update.kb, code: update.hResult, at });
      if (update.rebootRequired) node.pendingReboot = true;
    }
    return {
      resultCode: update.resultCode,
      hResult: update.hResult,
      rebootRequired: succeeded && update.rebootRequired,
    };
  }

  /**
   * A removal's exit code: the update behaviour's `removal.exitCodes[0]` (default 3010); a KB the
   * node does not have answers 0x240007 (wusa, WU_S_ALREADY_UNINSTALLED) or 0x800F0805 (DISM,
   * not installed). 0 and 3010 remove it and leave a restart pending.
   */
  private removeUpdate(node: SimNode, updateId: string, method: 'wusa' | 'dism'): number {
    if (!node.installed.includes(updateId)) return method === 'wusa' ? 0x240007 : -2146498555;
    const code = this.behaviourFor(node, updateId).removal?.exitCodes[0] ?? 3010;
    if (code === 0 || code === 3010) {
      for (let i = node.installed.length - 1; i >= 0; i--) {
        if (node.installed[i] === updateId) node.installed.splice(i, 1);
      }
      node.pendingReboot = true;
    }
    return code;
  }

  /**
   * remove-updates.ps1: `wusa.exe /uninstall /kb:<n> /quiet /norestart` per update, in order.
   * Answers the update behaviour's `removal.exitCodes[0]` (default 3010); a KB the node does not
   * have answers 0x240007 (WU_S_ALREADY_UNINSTALLED).
   */
  private async removeUpdates(
    run: ScriptRun,
    payload: Record<string, unknown>,
    deadline: number,
  ): Promise<number> {
    const node = run.inv.node;
    payloadInteger(payload, 'timeoutMinutes', 'payload', 1, 1440);
    const updates = payloadArray(payload, 'updates', 'payload');
    if (updates.length === 0) {
      run.log('no updates in the payload: nothing to remove');
      return 0;
    }
    for (let position = 0; position < updates.length; position++) {
      if (run.now() >= deadline) {
        throw new ScriptFailure(
          `the command deadline passed before removal ${position} of ${updates.length}; the rest were not started`,
        );
      }
      const item = updates[position];
      const at = `payload.updates[${position}]`;
      const line: Record<string, unknown> = {
        index: position,
        updateId: '',
        exitCode: null,
        timedOut: false,
        durationSeconds: 0,
        logTail: '',
      };
      const started = run.now();
      try {
        line.index = payloadInteger(item, 'index', at, 0, 1_000_000);
        const updateId = payloadString(item, 'updateId', at);
        if (!/^KB[1-9][0-9]{3,7}$/.test(updateId)) {
          throw new ScriptFailure(
            `${at}.updateId (${formatValue(updateId)}): expected KB followed by 4 to 8 digits`,
          );
        }
        line.updateId = updateId;
        // remove-updates.ps1: wusa by KB, or DISM by package name (combined SSU + LCU).
        const method = property(item, 'method', at, true) ?? 'wusa';
        if (method !== 'wusa' && method !== 'dism') {
          throw new ScriptFailure(`${at}.method (${formatValue(method)}): expected wusa or dism`);
        }
        line.method = method;
        let tool = `wusa.exe /uninstall /kb:${updateId.slice(2)}`;
        if (method === 'dism') {
          const packageName = payloadString(item, 'packageName', at);
          if (!/^[A-Za-z0-9_.~-]{1,200}$/.test(packageName)) {
            throw new ScriptFailure(
              `${at}.packageName (${formatValue(packageName)}): expected a DISM package name such as Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2340.1.7`,
            );
          }
          line.packageName = packageName;
          tool = `Dism.exe /Online /Remove-Package /PackageName:${packageName}`;
        }
        await run.sleep(SIMULATED_TIMINGS.removalMs);
        const code = this.removeUpdate(node, updateId, method);
        line.exitCode = code;
        line.logTail = `${method} exited with ${code}`;
        run.log(`removing ${updateId}: ${tool} -> ${code}`);
      } catch (error) {
        if (!(error instanceof ScriptFailure)) throw error;
        line.error = error.message;
      }
      line.durationSeconds = Math.round((run.now() - started) / 100) / 10;
      run.result(line);
    }
    return 0;
  }

  /** Get-ClusterGroup on `node`: the roles of every node of its cluster (see NodeScriptContext). */
  private clusterGroups(node: SimNode): { name: string; owner: string; groupType: string }[] {
    if (!node.cluster) return [];
    const groups: { name: string; owner: string; groupType: string }[] = [];
    for (const peer of this.nodesByKey.values()) {
      if (peer.cluster !== node.cluster || peer.drainStatus === 'Completed') continue;
      const owner = this.failbackOwner(peer);
      for (let i = 1; i <= peer.spec.roles; i++) {
        groups.push({ name: `Role ${i} on ${peer.name}`, owner, groupType: 'GenericService' });
      }
    }
    return groups;
  }

  /**
   * Who owns `peer`'s roles: the peer, or, until its failback is done (failbackMinutes after
   * a resume), another member of its cluster (issue 13 item 6).
   */
  private failbackOwner(peer: SimNode): string {
    if (this.now() >= peer.failbackAt) return peer.name;
    for (const other of this.nodesByKey.values()) {
      if (other.cluster === peer.cluster && other !== peer) return other.name;
    }
    return peer.name;
  }

  /** A resume succeeded with `mode`: the roles come back after failbackMinutes (not NoFailback: they stay away). */
  private failBack(node: SimNode, mode: string): void {
    node.failbackAt =
      mode === 'NoFailback' ? node.failbackAt : this.now() + node.spec.failbackMinutes * 60_000;
  }

  /**
   * resume.ps1's Test-Failback: with Immediate, polls the roles of `groups` every 15 s until
   * each is owned by the node or `limit` minutes pass; with Policy, reads them once. Undefined
   * when there is nothing to check.
   */
  private async failbackCheck(
    run: ScriptRun,
    mode: string,
    groups: readonly string[],
    limit: number,
  ): Promise<Record<string, unknown> | undefined> {
    if (mode === 'NoFailback' || groups.length === 0) return undefined;
    const node = run.inv.node;
    const notBackNow = () => {
      const owners = new Map(this.clusterGroups(node).map((g) => [g.name, g.owner]));
      return groups.filter((g) => owners.has(g) && owners.get(g) !== node.name);
    };
    const started = run.now();
    const until = started + limit * 60_000;
    let notBack = notBackNow();
    if (mode === 'Immediate' && limit > 0) {
      while (notBack.length > 0 && run.now() < until) {
        run.log(`waiting for failback: ${notBack.join(', ')}`);
        await run.sleep(15_000);
        notBack = notBackNow();
      }
    }
    const timedOut = mode === 'Immediate' && limit > 0 && notBack.length > 0;
    return {
      mode,
      roles: groups.length,
      back: groups.filter((g) => !notBack.includes(g)),
      notBack,
      waitedSeconds: Math.round((run.now() - started) / 1000),
      timedOut,
      detail:
        notBack.length === 0
          ? `all ${groups.length} roles back on the node`
          : timedOut
            ? `roles not back on the node after ${limit} minutes (failback ${mode}): ${notBack.join(', ')}`
            : `roles not back yet (failback ${mode}: by each role's own policy): ${notBack.join(', ')}`,
    };
  }

  /** inventory.ps1's cluster facts: the node's state and every member's, and who is not Up. */
  private inventoryCluster(node: SimNode) {
    const members = this.clusterMembers(node);
    return {
      name: node.cluster,
      nodeState: node.clusterState,
      nodes: members.map((m) => ({ name: m.name, state: m.state })),
      notUp: members
        .filter((m) => m.state !== 'Up')
        .map((m) => `${m.name} is ${m.state}`)
        .join(', '),
    };
  }

  /** inventory.ps1 */
  private async inventory(run: ScriptRun, payload: Record<string, unknown>): Promise<number> {
    const node = run.inv.node;
    const binaries = payloadArray(payload, 'binaries', 'payload').map((entry) => {
      if (typeof entry !== 'string' || entry.length === 0) {
        throw new ScriptFailure(`payload.binaries (${formatValue(entry)}): expected file paths`);
      }
      return { path: entry, fileVersion: node.binaries.get(binaryKey(entry))?.version ?? null };
    });
    await run.sleep(SIMULATED_TIMINGS.inventoryMs);
    const rescan = await this.rescanOf(run, payload);
    const { os } = node.spec;
    run.log(
      `inventory of ${node.name}: ${os.caption} build ${os.build}, ${binaries.length} binaries, ${node.installed.length} installed updates`,
    );
    run.result({
      computerName: node.name,
      os: {
        caption: os.caption.trim(),
        version: os.version,
        build: os.build,
        servicePack: os.servicePack,
        architecture: os.architecture,
        editionId: os.editionId,
      },
      binaries,
      pendingReboot: node.pendingReboot,
      lastBootTime: roundTrip(node.lastBootTime),
      cluster: node.cluster
        ? {
            ...this.inventoryCluster(node),
            roleCounts: roleCountsOf(this.clusterGroups(node)),
          }
        : null,
      hotpatch: { ...node.spec.hotpatch },
      installedUpdates: [...new Set(node.installed)].sort(ordinalIgnoreCase),
      rescan,
    });
    return 0;
  }

  /** inventory.ps1's rescan after the final restart (Verify's payload.rescan), or null. */
  private async rescanOf(run: ScriptRun, payload: Record<string, unknown>) {
    const request = property(payload, 'rescan', 'payload', true);
    if (request === undefined || request === null) return null;
    if (!isRecord(request)) {
      throw new ScriptFailure(
        `payload.rescan (${formatValue(request)}): expected a JSON object or null`,
      );
    }
    const hotfixes = payloadArray(request, 'hotfixes', 'payload.rescan').map((h) => ({
      kb: payloadString(h, 'kb', 'payload.rescan.hotfixes[]'),
      file: payloadString(h, 'file', 'payload.rescan.hotfixes[]'),
    }));
    const wu = property(request, 'windowsUpdate', 'payload.rescan');
    const at = 'payload.rescan.windowsUpdate';
    const windowsUpdate =
      wu === null
        ? null
        : {
            queryString: payloadString(wu, 'queryString', at),
            includeRecommendedUpdates: payloadBoolean(wu, 'includeRecommendedUpdates', at),
            selection: property(wu, 'selection', at) as UpdateSelection | null,
          };
    const node = run.inv.node;
    // The pwsh fleet's searcher takes the same virtual time.
    if (windowsUpdate !== null) await run.sleep(SIMULATED_TIMINGS.windowsUpdateSearchMs);
    const result = stillApplicable(
      { hotfixes, windowsUpdate },
      {
        installed: node.installed,
        pendingReboot: node.pendingReboot,
        found: windowsUpdate === null ? [] : this.windowsUpdatesFound(node),
      },
      new Date(run.now()),
    );
    run.log(`rescan after the restart: ${result.stillApplicable.length} still applicable`);
    return result;
  }

  /** drain.ps1 */
  private async drain(
    run: ScriptRun,
    payload: Record<string, unknown>,
    commandDeadline: number,
  ): Promise<number> {
    const node = run.inv.node;
    const timeoutMinutes = payloadInteger(payload, 'timeoutMinutes', 'payload', 1, 1440);
    const deadline = Math.min(run.now() + timeoutMinutes * 60_000, commandDeadline);
    if (!node.cluster) {
      await run.sleep(SIMULATED_TIMINGS.standaloneDrainMs);
      run.result({
        clustered: false,
        drained: false,
        node: node.name,
        movedGroups: [],
        detail: 'standalone server: not a failover cluster node, nothing to drain',
      });
      return 0;
    }
    const started = run.now();
    const cluster = node.cluster;
    // As drain.ps1: the roles on an Up node before the drain, which its failback brings back.
    const movedGroups =
      node.clusterState === 'Up'
        ? this.clusterGroups(node)
            .filter((group) => group.owner === node.name)
            .map((group) => group.name)
        : [];
    const result = (drained: boolean, detail: string, remainingGroups: string[] = []) =>
      run.result({
        clustered: true,
        drained,
        node: node.name,
        cluster,
        nodeState: node.clusterState,
        drainStatus: node.drainStatus,
        durationSeconds: round1(run.now() - started),
        remainingGroups,
        movedGroups,
        detail,
      });
    if (node.clusterState === 'Paused' && node.drainStatus === 'Completed') {
      result(true, 'already paused and drained');
      return 0;
    }
    if (node.clusterState !== 'Up' && node.clusterState !== 'Paused') {
      const detail = `the node is ${node.clusterState}; only an Up node can be drained`;
      result(false, detail);
      throw new ScriptFailure(`cannot drain ${node.name}: ${detail}`);
    }
    run.log(`draining ${node.name} of cluster ${cluster} for up to ${timeoutMinutes} minutes`);
    node.clusterState = 'Paused';
    node.drainStatus = 'InProgress';
    const drainMs = node.spec.drain.minutes * 60_000;
    const finishes = started + drainMs;
    // The script polls DrainStatus every 5 s until it settles or the deadline passes.
    const polls = Math.max(1, Math.ceil(drainMs / 5000));
    const stopAt = Math.min(started + polls * 5000, Math.max(deadline, started + 5000));
    await run.sleep(stopAt - run.now());
    const settled = run.now() >= finishes;
    const fails =
      nthAttempt(node.spec.drain.failsByAttempt, ++node.runsOf.drain) ?? node.spec.drain.fails;
    if (settled) node.drainStatus = fails ? 'Failed' : 'Completed';
    this.note(node, 'drain', {
      ok: node.clusterState === 'Paused' && node.drainStatus === 'Completed',
    });
    if (node.clusterState === 'Paused' && node.drainStatus === 'Completed') {
      node.drainedCount++;
      result(true, `drained in ${Math.round((run.now() - started) / 1000)} s`);
      return 0;
    }
    // As drain.ps1 lists them: the groups Get-ClusterGroup still shows on the node.
    const remaining = this.clusterGroups(node)
      .filter((group) => nodeKey(group.owner) === nodeKey(node.name))
      .map((group) => group.name);
    const detail = settled
      ? `the drain ended ${node.drainStatus} with the node ${node.clusterState}`
      : `the drain did not finish within ${timeoutMinutes} minutes`;
    result(false, detail, remaining);
    throw new ScriptFailure(
      `${detail}; roles still on the node: ${remaining.join(', ')}. The node may be left paused: resume it (ResumeNode) before retrying`,
    );
  }

  /** resume.ps1 */
  private async resume(run: ScriptRun, payload: Record<string, unknown>): Promise<number> {
    const node = run.inv.node;
    const failbackMode = payloadString(payload, 'failbackMode', 'payload');
    if (!['NoFailback', 'Immediate', 'Policy'].includes(failbackMode)) {
      throw new ScriptFailure(
        `payload.failbackMode (${formatValue(failbackMode)}): expected NoFailback, Immediate or Policy`,
      );
    }
    const storageRepairMinutes = payloadInteger(
      payload,
      'storageRepairTimeoutMinutes',
      'payload',
      0,
      1440,
    );
    const failback = resumeFailbackPayload(payload);
    await run.sleep(SIMULATED_TIMINGS.resumeMs);
    if (!node.cluster) {
      run.result({
        clustered: false,
        resumed: false,
        alreadyUp: false,
        node: node.name,
        failback: failbackMode,
        detail: 'standalone server: not a failover cluster node, nothing to resume',
      });
      return 0;
    }
    const cluster = node.cluster;
    const result = (
      resumed: boolean,
      alreadyUp: boolean,
      detail: string,
      storage?: Record<string, unknown>,
      failbackCheck?: Record<string, unknown>,
    ) =>
      run.result({
        clustered: true,
        resumed,
        alreadyUp,
        node: node.name,
        cluster,
        nodeState: node.clusterState,
        failback: failbackMode,
        detail,
        ...(failbackCheck === undefined
          ? {}
          : {
              failbackCheck,
              ...(failbackCheck.timedOut === true
                ? { rolesNotFailedBack: failbackCheck.notBack }
                : {}),
            }),
        ...(node.clusterState === 'Up' || node.clusterState === 'Paused'
          ? {}
          : { clusterNodeNotUp: node.clusterState }),
        ...(storage === undefined
          ? {}
          : {
              storageRepair: storage,
              ...(storage.timedOut === true ? { storageRepairTimedOut: storage.pending } : {}),
            }),
      });
    if (node.clusterState === 'Up') {
      const check = await this.failbackCheck(run, failbackMode, failback.groups, failback.minutes);
      result(
        false,
        true,
        'already Up: nothing to resume',
        await this.waitForStorageRepair(run, storageRepairMinutes),
        check,
      );
      return 0;
    }
    // As resume.ps1: a node Down (its cluster service not back) is waited for 10 minutes.
    if (node.clusterState === 'Down') await run.sleep(10 * 60_000);
    if (node.clusterState !== 'Paused') {
      result(false, false, `the node is ${node.clusterState} after waiting 10 minutes to join`);
      throw new ScriptFailure(
        `cannot resume ${node.name}: the node is ${node.clusterState}; expected Paused or Up`,
      );
    }
    run.log(`resuming ${node.name} of cluster ${cluster} with failback ${failbackMode}`);
    const resumeFails =
      nthAttempt(node.spec.resumeFailsByAttempt, ++node.runsOf.resume) ?? node.spec.resumeFails;
    if (resumeFails) {
      this.note(node, 'resume', { ok: false });
      result(false, false, `Resume-ClusterNode returned but the node is ${node.clusterState}`);
      throw new ScriptFailure(`resumed ${node.name} but the node is ${node.clusterState}, not Up`);
    }
    node.clusterState = 'Up';
    node.drainStatus = 'NotInitiated';
    node.resumedCount++;
    this.failBack(node, failbackMode);
    this.note(node, 'resume', { ok: true });
    const check = await this.failbackCheck(run, failbackMode, failback.groups, failback.minutes);
    result(
      true,
      false,
      'resumed',
      await this.waitForStorageRepair(run, storageRepairMinutes),
      check,
    );
    return 0;
  }

  /**
   * resume.ps1's Wait-StorageRepair: polls the node's repair jobs (scenario `storageJobs`, each
   * running `minutes` after the node's last restart) every 30 s until none is left or `limit`
   * minutes pass. Undefined without a limit (the policy has no wait).
   */
  private async waitForStorageRepair(
    run: ScriptRun,
    limit: number,
  ): Promise<Record<string, unknown> | undefined> {
    if (limit <= 0) return undefined;
    const node = run.inv.node;
    const started = run.now();
    const until = started + limit * 60_000;
    let jobs = storageRepairJobs(node, run.now());
    while (jobs.length > 0 && run.now() < until) {
      run.log(`waiting for storage repair: ${jobs.map((j) => `${j.name} ${j.state}`).join(', ')}`);
      await run.sleep(30_000);
      jobs = storageRepairJobs(node, run.now());
    }
    const waited = Math.round((run.now() - started) / 1000);
    const names = jobs.map((j) => `${j.name} (${j.state}, ${j.percentComplete}%)`);
    return {
      minutes: limit,
      waitedSeconds: waited,
      timedOut: names.length > 0,
      pending: names,
      detail:
        names.length > 0
          ? `storage repair jobs still running after ${limit} minutes (WaitForStorageRepairTimeoutMinutes): ${names.join(', ')}`
          : `storage repair jobs finished after ${waited} s`,
    };
  }

  /** install-hotfixes.ps1 */
  private async installHotfixes(
    run: ScriptRun,
    payload: Record<string, unknown>,
    deadline: number,
    afterExit: (() => void)[],
  ): Promise<number> {
    const bucket = payloadString(payload, 'bucket', 'payload');
    const timeoutMinutes = payloadInteger(payload, 'timeoutMinutes', 'payload', 1, 1440);
    const updates = payloadArray(payload, 'updates', 'payload');
    if (updates.length === 0) {
      run.log('no updates in the payload: nothing to install');
      return 0;
    }
    const node = run.inv.node;
    const dropOff = node.spec.offlineDuringInstall;
    if (dropOff && !node.wentOffline) {
      node.wentOffline = true;
      this.clock.schedule(run.now() + dropOff.afterMinutes * 60_000, () =>
        this.goOffline(node, dropOff.minutes),
      );
    }
    for (let position = 0; position < updates.length; position++) {
      if (run.now() >= deadline) {
        // As install-hotfixes.ps1 does: one notStarted line per update left, then exit 1.
        for (let rest = position; rest < updates.length; rest++) {
          const item = updates[rest];
          run.result({
            index: isRecord(item) && Number.isInteger(item.index) ? item.index : rest,
            file: isRecord(item) && typeof item.file === 'string' ? item.file : '',
            exitCode: null,
            checksumOk: false,
            timedOut: false,
            durationSeconds: 0,
            logTail: '',
            notStarted: true,
            error: 'not started: the command deadline passed',
          });
        }
        throw new ScriptFailure(
          `the command deadline passed before update ${position} of ${updates.length}; the rest were not started`,
        );
      }
      const line = await this.installUpdate(run, updates[position], position, {
        bucket,
        timeoutMinutes,
        deadline,
      });
      run.result(line);
      if (line.exitCode === 1641) {
        run.log(
          `the installer started a restart (1641): the remaining ${updates.length - position - 1} updates were not started`,
        );
        // As install-hotfixes.ps1 does: one line per update left, notStarted, no exit code.
        for (let rest = position + 1; rest < updates.length; rest++) {
          const item = updates[rest];
          run.result({
            index: isRecord(item) && Number.isInteger(item.index) ? item.index : rest,
            file: isRecord(item) && typeof item.file === 'string' ? item.file : '',
            exitCode: null,
            checksumOk: false,
            timedOut: false,
            notStarted: true,
            durationSeconds: 0,
            logTail: '',
          });
        }
        const node = run.inv.node;
        afterExit.push(() => {
          this.clock.schedule(this.now() + SIMULATED_TIMINGS.installerRestartDelayMs, () => {
            void this.reboot(node, true);
          });
        });
        break;
      }
    }
    return 0;
  }

  /** Install-Update: one update, as the script reports it. */
  private async installUpdate(
    run: ScriptRun,
    item: unknown,
    position: number,
    context: { bucket: string; timeoutMinutes: number; deadline: number },
  ): Promise<Record<string, unknown>> {
    const node = run.inv.node;
    const at = `payload.updates[${position}]`;
    const line: Record<string, unknown> = {
      index: position,
      file: '',
      exitCode: null,
      checksumOk: false,
      timedOut: false,
      durationSeconds: 0,
      logTail: '',
    };
    const started = run.now();
    try {
      line.index = payloadInteger(item, 'index', at, 0, 1_000_000);
      const file = payloadString(item, 'file', at);
      line.file = file;
      const key = payloadString(item, 'key', at);
      const sha256 = payloadString(item, 'sha256', at);
      if (!/^[0-9A-Fa-f]{64}$/.test(sha256)) {
        throw new ScriptFailure(
          `${at}.sha256 (${formatValue(sha256)}): expected 64 hexadecimal digits`,
        );
      }
      const rawLocalPath = payloadString(item, 'localPath', at);
      const localPath = expandEnvironment(rawLocalPath);
      if (!isRooted(localPath)) {
        throw new ScriptFailure(
          `${at}.localPath (${formatValue(rawLocalPath)}): expected a full path`,
        );
      }
      const installer = expandEnvironment(payloadString(item, 'path', at));
      const parameters = expandEnvironment(payloadString(item, 'parameters', at, true));

      const stored = this.files.get(file.replace(/\\/g, '/'));
      let actual: string | undefined;
      if (stored && node.downloaded.has(localPath)) actual = stored.deliveredSha256.toUpperCase();
      if (actual === undefined || actual.toLowerCase() !== sha256.toLowerCase()) {
        // Copy-StagedFile: the staged copy, when its SHA-256 still matches the plan.
        const staged = takeStagedCopy(node.stagingCache, file, sha256);
        if (staged.fromCache) {
          run.log(`${file}: installing the staged copy (SHA-256 verified)`);
          line.fromCache = true;
          actual = sha256.toUpperCase();
        } else if (staged.note !== undefined) {
          line.cacheNote = staged.note;
          run.log(`${file}: ${staged.note}`);
        }
      }
      if (actual === undefined || actual.toLowerCase() !== sha256.toLowerCase()) {
        run.log(`downloading ${file} to ${localPath}`);
        if (!stored) {
          // Receive-S3File: three tries, 5 and 10 s apart.
          await run.sleep(SIMULATED_TIMINGS.downloadMs * 3);
          throw new ScriptFailure(
            `download of s3://${context.bucket}/${key} failed after 3 tries: The specified key does not exist.`,
          );
        }
        await run.sleep(SIMULATED_TIMINGS.downloadMs);
        node.downloaded.add(localPath);
        actual = stored.deliveredSha256.toUpperCase();
      }
      if (actual.toLowerCase() !== sha256.toLowerCase()) {
        // install-hotfixes.ps1 prints both digests in lower case.
        line.expectedSha256 = sha256.toLowerCase();
        line.actualSha256 = actual.toLowerCase();
        line.error = `SHA-256 of the downloaded file is ${line.actualSha256}, the plan says ${line.expectedSha256}: not run`;
        run.log(`${file}: ${line.error as string}`);
        return line;
      }
      line.checksumOk = true;
      run.log(`installing ${file}: ${installer} ${parameters}`);

      const attempt = this.countAttempt(node, file);
      const behaviour = this.behaviourFor(node, file);
      const rule = this.ruleFor(item, file);
      let limit = context.timeoutMinutes * 60_000;
      const untilDeadline = context.deadline - run.now();
      const stoppedAtDeadline = untilDeadline < limit;
      if (stoppedAtDeadline) limit = Math.max(0, untilDeadline);
      const duration = behaviour.minutes * 60_000;
      if (behaviour.hangs || duration > limit) {
        await run.sleep(limit);
        line.timedOut = true;
        line.error = stoppedAtDeadline
          ? 'stopped at the command deadline'
          : `the installer ran longer than ${context.timeoutMinutes} minutes (HotfixInstallerTimeoutMinutes) and was stopped`;
        // Wait-ServicingQuiet: servicing that goes on without its client is waited for, every
        // 10 s, up to the command deadline; still busy then, the script says so (and the
        // deadline has passed, so the updates after this one are not started).
        line.servicingBusy = behaviour.servicingBusy;
        if (behaviour.servicingBusy) {
          await run.sleep(Math.max(0, Math.ceil((context.deadline - run.now()) / 10_000) * 10_000));
          line.error = `${line.error as string}; Windows servicing was still busy at the command deadline`;
        }
        return line;
      }
      await run.sleep(duration);
      const code = this.exitCodeFor(node, file, behaviour, attempt, rule);
      line.exitCode = code;
      this.applyInstall(node, file, code, behaviour, rule);
      return line;
    } catch (error) {
      if (!(error instanceof ScriptFailure)) throw error;
      line.error = singleLine(error.message).slice(0, 1000);
      run.log(`update ${position} failed: ${line.error as string}`);
      return line;
    } finally {
      line.durationSeconds = round1(run.now() - started);
    }
  }

  private countAttempt(node: SimNode, file: string): number {
    const key = fileKey(file);
    const entry = node.attempts.get(key) ?? { file, count: 0 };
    entry.count++;
    node.attempts.set(key, entry);
    return entry.count;
  }

  /**
   * The installer behaviour for a file on a node: the node's `updates` (by path, then by KB
   * number in the file name), then the scenario's `updates` (same order), then `defaultUpdate`.
   */
  private behaviourFor(node: SimNode, file: string): UpdateBehaviour {
    const kb = kbOfFile(file);
    const find = (updates: Readonly<Record<string, UpdateBehaviour>>) => {
      const entries = Object.entries(updates);
      return (
        entries.find(([key]) => fileKey(key) === fileKey(file))?.[1] ??
        (kb === undefined ? undefined : entries.find(([key]) => key.toUpperCase() === kb)?.[1])
      );
    };
    return find(node.spec.updates) ?? find(this.scenario.updates) ?? this.scenario.defaultUpdate;
  }

  /**
   * The exit conditions that tell what a code means for this file: the plan's own (plan-node
   * passes them in each item), else the scenario's hotfix configuration.
   */
  private ruleFor(
    item: unknown,
    file: string,
  ): { conditions?: ExitConditions; alwaysReboot: boolean } {
    if (isRecord(item) && isExitConditions(item.exitConditions)) {
      return { conditions: item.exitConditions, alwaysReboot: item.alwaysReboot === true };
    }
    const segments = file.split(/[\\/]/);
    const rule =
      (segments.length >= 3 ? findFolderRule(this.config, segments[1] as string) : undefined) ??
      findExtensionRule(this.config, file);
    return rule
      ? { conditions: rule.exitConditions, alwaysReboot: rule.alwaysReboot }
      : { alwaysReboot: false };
  }

  private exitCodeFor(
    node: SimNode,
    file: string,
    behaviour: UpdateBehaviour,
    attempt: number,
    rule: { conditions?: ExitConditions },
  ): number {
    const kb = kbOfFile(file);
    const alreadyCode =
      rule.conditions?.AlreadyInstalled[0] ?? (/\.msu$/i.test(file) ? 0x240006 : undefined);
    if (behaviour.alreadyInstalled) return alreadyCode ?? 0;
    // wusa answers "already installed" for a KB the node has, whatever the scenario planned.
    const ruleKnows = (rule.conditions?.AlreadyInstalled.length ?? 0) > 0;
    if (kb !== undefined && node.installed.includes(kb) && ruleKnows && alreadyCode !== undefined) {
      return alreadyCode;
    }
    const codes = behaviour.exitCodes;
    return codes[Math.min(attempt, codes.length) - 1] as number;
  }

  /** What an installer's exit code leaves on the node. */
  private applyInstall(
    node: SimNode,
    file: string,
    code: number,
    behaviour: UpdateBehaviour,
    rule: { conditions?: ExitConditions; alwaysReboot: boolean },
  ) {
    let outcome: ExitOutcome | undefined;
    if (rule.conditions) {
      outcome = classifyExitCode(code, rule.conditions, {
        alwaysReboot: rule.alwaysReboot,
      }).outcome;
    }
    const installed =
      outcome === 'Success' ||
      outcome === 'Success_RebootRequired' ||
      (outcome === undefined && (code === 0 || code === 3010 || code === 1641));
    if (
      code === 3010 ||
      code === 1641 ||
      outcome === 'Success_RebootRequired' ||
      outcome === 'Fail_RebootRequired'
    ) {
      node.pendingReboot = true;
    }
    if (!installed) return;
    const kb = kbOfFile(file) ?? null;
    node.installs.push({ update: file, kb, code, at: this.now() });
    // The scenario's `notApplied`: the installer said installed, the node did not change.
    if (behaviour.notApplied) return;
    if (kb !== null && !node.installed.includes(kb)) node.installed.push(kb);
    for (const path of behaviour.replacesFiles) {
      const key = binaryKey(path);
      const current = node.binaries.get(key);
      if (current) current.version = bumpVersion(current.version);
    }
  }

  /** windows-update.ps1 */
  private async windowsUpdate(
    run: ScriptRun,
    payload: Record<string, unknown>,
    commandDeadline: number,
  ): Promise<number> {
    const node = run.inv.node;
    const queryString = payloadString(payload, 'queryString', 'payload');
    const includeRecommended = payloadBoolean(payload, 'includeRecommendedUpdates', 'payload');
    const timeoutMinutes = payloadInteger(payload, 'timeoutMinutes', 'payload', 1, 2880);
    const selection = payloadSelection(payload);
    const deadline = Math.min(run.now() + timeoutMinutes * 60_000, commandDeadline);

    run.log(`searching for updates: ${queryString}`);
    await run.sleep(SIMULATED_TIMINGS.windowsUpdateSearchMs);
    const found = this.windowsUpdatesFound(node);
    const selected: WindowsUpdateItem[] = [];
    for (const update of found) {
      if (update.recommended && !includeRecommended) {
        run.log(
          `left out, recommended but not important (IncludeRecommendedUpdates is false): ${update.title}`,
        );
        continue;
      }
      const exclusion = updateExclusion(windowsUpdateFacts(update), selection, new Date(run.now()));
      if (exclusion !== null) {
        run.log(
          `excluded by updateSelection.${exclusion.rule} (${exclusion.reason}): ${update.title}`,
        );
        run.result({
          updateId: update.updateId,
          title: update.title,
          kb: update.kb,
          resultCode: 0,
          hResult: 0,
          rebootRequired: false,
          excludedBy: exclusion.rule,
          excludedReason: exclusion.reason,
        });
        continue;
      }
      selected.push(update);
    }
    run.log(`${selected.length} of ${found.length} updates selected`);
    for (const update of selected) {
      const line = {
        updateId: update.updateId,
        title: update.title,
        kb: update.kb,
        resultCode: WUA.aborted as number,
        hResult: 0,
        rebootRequired: false,
      };
      if (run.now() >= deadline) {
        run.log(`not started, the time limit passed: ${update.title}`);
        run.result(line);
        continue;
      }
      run.log(`downloading ${update.title}`);
      run.log(`installing ${update.title}`);
      await run.sleep(update.minutes * 60_000);
      Object.assign(line, this.installWindowsUpdate(node, update, run.now()));
      run.result(line);
    }
    return 0;
  }

  /** scan-updates.ps1: searches only; nothing on the node changes. */
  private async scanUpdates(
    run: ScriptRun,
    payload: Record<string, unknown>,
    deadline: number,
  ): Promise<number> {
    const node = run.inv.node;
    const queryString = payloadString(payload, 'queryString', 'payload');
    const includeRecommended = payloadBoolean(payload, 'includeRecommendedUpdates', 'payload');
    const selection = payloadSelection(payload);
    if (run.now() >= deadline) {
      throw new ScriptFailure('the deadline passed before the Windows Update search could start');
    }
    run.log(`scanning (searching only, nothing is installed): ${queryString}`);
    await run.sleep(SIMULATED_TIMINGS.windowsUpdateSearchMs);
    const found = this.windowsUpdatesFound(node);
    let applicable = 0;
    for (const update of found) {
      if (update.recommended && !includeRecommended) {
        run.log(
          `left out, recommended but not important (IncludeRecommendedUpdates is false): ${update.title}`,
        );
        continue;
      }
      const line = scanResultLine(update, selection, new Date(run.now()));
      if (line.excludedBy === null) applicable++;
      run.result(line);
    }
    const pendingRestart = node.pendingReboot;
    run.log(
      `${applicable} of ${found.length} updates would install; pending restart ${pendingRestart ? 'True' : 'False'}`,
    );
    run.result({ kind: 'node', pendingRestart, found: found.length, applicable });
    return 0;
  }

  /** run-script.ps1 */
  private async runUpdateScript(
    run: ScriptRun,
    payload: Record<string, unknown>,
    deadline: number,
  ): Promise<number> {
    const node = run.inv.node;
    const phase = payloadString(payload, 'phase', 'payload');
    if (phase !== 'pre' && phase !== 'post') {
      throw new ScriptFailure(`payload.phase (${formatValue(phase)}): expected pre or post`);
    }
    const scriptPath = payloadString(payload, 'script', 'payload');
    const path = expandEnvironment(scriptPath);
    if (!/\.ps1$/i.test(path)) {
      throw new ScriptFailure(
        `payload.script (${formatValue(scriptPath)}): expected a PowerShell script ending in .ps1`,
      );
    }
    if (!isRooted(path)) {
      throw new ScriptFailure(
        `payload.script (${formatValue(scriptPath)}): expected a full path, e.g. C:\\Scripts\\PreUpdate.ps1`,
      );
    }
    const behaviour =
      phase === 'pre'
        ? (nthAttempt(node.spec.preUpdateScriptByAttempt, ++node.runsOf.pre) ??
          node.spec.preUpdateScript)
        : (nthAttempt(node.spec.postUpdateScriptByAttempt, ++node.runsOf.post) ??
          node.spec.postUpdateScript);
    const exitCode = behaviour?.exitCode ?? 0;
    run.log(`running the ${phase}-update script ${path}`);
    const started = run.now();
    const runMs = (behaviour?.minutes ?? 0.5) * 60_000;
    // run-script.ps1 stops the script at the command's deadline.
    if (started + runMs > deadline) {
      await run.sleep(Math.max(0, deadline - started));
      run.result({
        phase,
        script: scriptPath,
        exitCode: null,
        durationSeconds: round1(run.now() - started),
        timedOut: true,
      });
      throw new ScriptFailure(
        `the ${phase}-update script ${path} was still running at the command deadline and was stopped`,
      );
    }
    await run.sleep(runMs);
    run.log(
      `[${phase}-update script] ${exitCode === 0 ? 'done' : `exiting with code ${exitCode}`}`,
    );
    run.result({
      phase,
      script: scriptPath,
      exitCode,
      durationSeconds: round1(run.now() - started),
    });
    if (exitCode !== 0) {
      throw new ScriptFailure(`the ${phase}-update script ${path} exited with code ${exitCode}`);
    }
    return 0;
  }

  /** restart.ps1: first run asks for the restart (3010); the run after it reports. */
  private async restart(run: ScriptRun, payload: Record<string, unknown>): Promise<number> {
    const node = run.inv.node;
    const runId = payloadString(payload, 'runId', 'payload');
    if (!RUN_ID.test(runId)) {
      throw new ScriptFailure(
        `payload.runId (${formatValue(runId)}): expected 1 to 200 of A-Z a-z 0-9 . _ : - starting with a letter or digit`,
      );
    }
    const reason = payloadString(payload, 'reason', 'payload', true);
    let marker = node.restartMarkers.get(runId);
    if (marker && run.now() - marker.requestedAtMs > 24 * 3_600_000) {
      run.log(`restart marker for ${runId} is from ${marker.requestedAt}: stale, replaced`);
      marker = undefined;
    }
    if (marker && marker.bootSession !== node.bootSession) {
      await run.sleep(SIMULATED_TIMINGS.restartReportMs);
      node.restartMarkers.delete(runId);
      run.result({
        restarted: true,
        runId,
        lastBootTime: roundTrip(node.lastBootTime),
        previousBootTime: marker.lastBootTime,
        requestedAt: marker.requestedAt,
        reason,
      });
      return 0;
    }
    const now = run.now();
    node.restartMarkers.set(runId, {
      bootSession: node.bootSession,
      lastBootTime: roundTrip(node.lastBootTime),
      requestedAt: roundTrip(now),
      requestedAtMs: now,
      reason,
    });
    run.log(`restarting ${node.name} for run ${runId}: ${reason}`);
    return 3010;
  }

  // --- views ----------------------------------------------------------------------------------

  private record(inv: Invocation): CommandRecord {
    return {
      commandId: inv.commandId,
      instanceId: inv.node.instanceId,
      node: inv.node.name,
      document: inv.document,
      documentName: inv.documentName,
      comment: inv.comment,
      payload: inv.payload,
      requestedAt: new Date(inv.requestedAt).toISOString(),
      ...(inv.startedAt === undefined ? {} : { startedAt: new Date(inv.startedAt).toISOString() }),
      ...(inv.endedAt === undefined ? {} : { endedAt: new Date(inv.endedAt).toISOString() }),
      status: inv.status,
      statusDetails: inv.statusDetails,
      responseCode: inv.responseCode,
      stdout: joinLines(inv.stdout),
      stderr: joinLines(inv.stderr),
    };
  }

  private snapshot(node: SimNode): NodeSnapshot {
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      name: node.name,
      instanceId: node.instanceId,
      cluster: node.cluster,
      nodeState: node.cluster ? node.clusterState : null,
      drainStatus: node.cluster ? node.drainStatus : null,
      online: this.reachable(node),
      down: node.down,
      pingStatus: this.pingStatus(node),
      drainedCount: node.drainedCount,
      resumedCount: node.resumedCount,
      restarts: node.restarts,
      lastBootTime: iso(node.lastBootTime),
      pendingReboot: node.pendingReboot,
      installedUpdates: [...node.installed],
      binaries: Object.fromEntries([...node.binaries.values()].map((b) => [b.path, b.version])),
      attempts: Object.fromEntries([...node.attempts.values()].map((a) => [a.file, a.count])),
      installs: node.installs.map((i) => ({ ...i, at: iso(i.at) })),
      commands: node.invocations.map((inv) => ({
        commandId: inv.commandId,
        document: inv.document,
        requestedAt: iso(inv.requestedAt),
        ...(inv.startedAt === undefined ? {} : { startedAt: iso(inv.startedAt) }),
        ...(inv.endedAt === undefined ? {} : { endedAt: iso(inv.endedAt) }),
        status: inv.status,
        statusDetails: inv.statusDetails,
        responseCode: inv.responseCode,
      })),
    };
  }
}

/** What a running script can do: print, and wait in virtual time. */
class ScriptRun {
  constructor(
    private readonly clock: Clock,
    readonly inv: Invocation,
  ) {}

  now(): number {
    return this.clock.now().getTime();
  }

  /** Write-RolloutLog */
  log(message: string) {
    this.inv.stdout.push(`[rollout] ${singleLine(message)}`);
  }

  /** Write-RolloutResult */
  result(value: unknown) {
    this.inv.stdout.push(`${RESULT_LINE_PREFIX} ${powershellJson(value)}`);
  }

  /**
   * Waits in virtual time; throws {@link Aborted} when the invocation ended meanwhile. On a node
   * that is offline mid-install the script stalls until the node is back, and a cancel that
   * arrived meanwhile stops it there (the agent kills it before it goes on).
   */
  async sleep(ms: number) {
    if (ms > 0) await this.clock.sleep(ms);
    const node = this.inv.node;
    if (this.now() < node.offlineUntil) {
      await new Promise<void>((resolve) => node.upWaiters.push(resolve));
      if (this.inv.cancelRequested) throw new Aborted();
    }
    if (isEnded(this.inv)) throw new Aborted();
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Write-RolloutEnd: the end marker, counting the result lines written so far. */
function endMarkerLine(stdout: readonly string[]): string {
  const results = stdout.filter((line) => line.startsWith(`${RESULT_LINE_PREFIX} `)).length;
  return `${END_LINE_PREFIX} {"results":${results}}`;
}

/** Output as the agent captures it: CRLF line ends, as Windows writes them. */
function joinLines(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`;
}

function resourceType(instanceId: string): 'ManagedInstance' | 'EC2Instance' {
  return instanceId.startsWith('mi-') ? 'ManagedInstance' : 'EC2Instance';
}

/** The seconds after which the agent stops the command. */
function executionTimeoutOf(inv: Invocation): number {
  return DOCUMENT_STEP_TIMEOUT_SECONDS[inv.document];
}

const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$/;

/**
 * The payload's `deadline` less the contract's margin, in ms (Get-RolloutDeadline in
 * _common.ps1); no deadline (a hand-made payload in a test): none.
 */
function payloadDeadline(payload: unknown): number {
  const text = property(payload, 'deadline', 'payload', true);
  if (text === undefined || text === null) return Number.POSITIVE_INFINITY;
  const ms = typeof text === 'string' && UTC_INSTANT.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new ScriptFailure(
      `payload.deadline (${formatValue(text)}): expected an ISO 8601 UTC instant such as 2026-01-31T23:59:00.000Z`,
    );
  }
  return ms - DEADLINE_MARGIN_SECONDS * 1000;
}

function validationError(message: string): SSMServiceException {
  return new SSMServiceException({
    name: 'ValidationException',
    $fault: 'client',
    message,
    $metadata: {},
  });
}

function writeToken(token: { o: number; f: string }): string {
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64');
}

function readToken(text: string): { o: number; f: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    if (isRecord(value) && Number.isInteger(value.o) && typeof value.f === 'string') {
      return { o: value.o as number, f: value.f };
    }
  } catch {
    // not one of ours
  }
  return undefined;
}

/** Roles per owner node, as inventory.ps1 counts them from Get-ClusterGroup. */
function roleCountsOf(groups: readonly { owner: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const group of groups) counts[group.owner] = (counts[group.owner] ?? 0) + 1;
  return counts;
}

/** resume.ps1's optional failback fields: the roles to see back and the wait (issue 13 item 6). */
function resumeFailbackPayload(payload: Record<string, unknown>): {
  groups: string[];
  minutes: number;
} {
  const minutes =
    payload.failbackTimeoutMinutes === undefined
      ? 0
      : payloadInteger(payload, 'failbackTimeoutMinutes', 'payload', 0, 1440);
  const groups = payload.failbackGroups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string' || g === '')) {
    throw new ScriptFailure(`payload.failbackGroups (${formatValue(groups)}): expected role names`);
  }
  return { groups, minutes };
}
