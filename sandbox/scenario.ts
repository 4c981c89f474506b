/**
 * Sandbox scenarios: a simulated Windows fleet (its nodes, their facts and how their installers
 * behave), the hotfix root the rollouts read, and the rollouts to run against it with the
 * statuses they are expected to end in. One JSON file per scenario (`examples/scenarios/`).
 *
 * {@link parseScenario} checks a scenario with one strict zod schema (an unknown field is an
 * error naming its path), applies every default, resolves what depends on other fields (instance
 * ids, checksums, the nodes of each rollout) and validates each rollout exactly as the workflow
 * does ({@link parseRolloutInput}). Every problem is listed in one {@link ScenarioError}.
 */

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { NODE_STATUSES, type NodeStatus, RUN_STATUSES } from '../lambdas/core/contracts.js';
import { formatProblems, type ValidationProblem } from '../lambdas/core/errors.js';
import { ExitCodeError, normaliseExitCode } from '../lambdas/core/exit-codes.js';
import { HotfixConfigError, parseHotfixConfig } from '../lambdas/core/hotfix-config.js';
import { nodeKey, nodeNameProblem } from '../lambdas/core/node-names.js';
import {
  fieldPath,
  INSTANCE_ID_PATTERN,
  issueProblems,
  parseRolloutInput,
  type RolloutInput,
  RolloutInputError,
} from '../lambdas/core/rollout-input.js';
import {
  CLASSIFICATIONS,
  type Classification,
  MSRC_SEVERITIES,
  type MsrcSeverity,
} from '../lambdas/core/update-selection.js';
import { type HotpatchManifest, hotpatchManifestSchema } from '../lambdas/shared/hotfix-root.js';
import { FUNCTION_NAMES } from '../lib/rollout-functions.js';
import { healthGateProblems, scenarioAlarmSchema } from './alarms.js';

/** When a scenario's virtual clock starts unless it says otherwise (a Patch Tuesday evening). */
export const DEFAULT_START_TIME = '2026-01-13T22:00:00Z';

/** How long before `startTime` a node last booted unless it says otherwise. */
export const DEFAULT_UPTIME_MS = 7 * 24 * 3_600_000;

/** A KB id: `KB` and digits, e.g. `KB5034439`. */
const KB_ID = /^KB\d{1,10}$/i;
/** A KB number in a file name: the first `KB` followed by digits, any case. */
const KB_IN_FILE_NAME = /KB\d+/i;

// ---------------------------------------------------------------------------------------------
// Helpers shared with the fleet

/** SHA-256 of a text, as lowercase hex. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A UUID-shaped id (version 4 layout) derived from a seed: stable across runs. */
export function deterministicUuid(seed: string): string {
  const h = sha256Hex(seed);
  const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The EC2 instance id a node gets when the scenario names none: `i-` + 17 hex from its name. */
export function defaultInstanceId(name: string): string {
  return `i-${sha256Hex(`instance:${nodeKey(name)}`).slice(0, 17)}`;
}

/**
 * The default SHA-256 of a hotfix file: a simulated file's bytes are its relative path in UTF-8,
 * so whoever uploads the root can write that body and S3 records the same checksum.
 */
export function defaultFileSha256(path: string): string {
  return sha256Hex(path);
}

/** The KB id in a file's name (`windows10.0-kb5034439-x64.msu` → `KB5034439`), upper-cased. */
export function kbOfFile(file: string): string | undefined {
  const name = file.split(/[\\/]/).pop() ?? file;
  return KB_IN_FILE_NAME.exec(name)?.[0]?.toUpperCase();
}

/** How a file path is compared: `/` separators, any case (Windows paths ignore case). */
export function fileKey(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\/+/, '').toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Schema

const EXIT_CODE_ACCEPTED =
  'expected an exit code: a number, or a string such as "3010", "0x80240017" or "2149842967"';

/** An installer exit code in any form {@link normaliseExitCode} reads; output: signed int32. */
const exitCodeSchema = z
  .union([z.number(), z.string()], { error: EXIT_CODE_ACCEPTED })
  .transform((value, ctx) => {
    try {
      return normaliseExitCode(value);
    } catch (error) {
      if (!(error instanceof ExitCodeError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
      return z.NEVER;
    }
  });

const minutes = (what: string) =>
  z
    .number({ error: `expected ${what} in minutes, from 0 to 10080` })
    .min(0, { error: `expected ${what} in minutes, from 0 to 10080` })
    .max(10_080, { error: `expected ${what} in minutes, from 0 to 10080` });

const flag = () => z.boolean({ error: 'expected true or false' });

const kbId = z
  .string({ error: 'expected a KB id such as "KB5034439"' })
  .regex(KB_ID, { error: 'expected a KB id such as "KB5034439"' })
  .transform((kb) => kb.toUpperCase());

const netbios = (what: string) =>
  z.string({ error: `expected ${what}: a NetBIOS computer name` }).superRefine((name, ctx) => {
    const problem = nodeNameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const sha256Schema = z
  .string({ error: 'expected 64 hexadecimal digits' })
  .regex(/^[0-9A-Fa-f]{64}$/, { error: 'expected 64 hexadecimal digits' })
  .transform((hex) => hex.toLowerCase());

/** What the installer of one update does on a node. */
export const updateBehaviourSchema = z.strictObject({
  /**
   * The installer's exit code on each attempt on this node, first attempt first; the last one
   * repeats. Attempts are counted per node and file across commands, so `[1603, 0]` fails the
   * first install and succeeds on the retry. Signed, unsigned or hex (`"0x80240017"`).
   * @default [0]
   */
  exitCodes: z
    .array(exitCodeSchema, { error: 'expected a list of exit codes, e.g. [1603, 0]' })
    .min(1, { error: 'expected at least one exit code' })
    .default([0]),
  /** How long the installer runs, in minutes. @default 3 */
  minutes: minutes('the install duration').default(3),
  /**
   * The installer never exits: it is stopped at HotfixInstallerTimeoutMinutes (or the command's
   * deadline) and reported `timedOut`. @default false
   */
  hangs: flag().default(false),
  /**
   * Binaries (as in `binaries` of a node) the update replaces: a successful install raises the
   * last number of their file version by one. @default []
   */
  replacesFiles: z
    .array(z.string({ error: 'expected a binary path' }).min(1, { error: 'expected a path' }))
    .default([]),
  /**
   * The update is on the node already: the installer answers the AlreadyInstalled code of its
   * rule (0x240006 for `.msu` in our default configuration; 0 when the rule lists none), whatever
   * `exitCodes` says. A node whose `installedUpdates` holds the file's KB answers the same
   * without this flag, when its rule lists an AlreadyInstalled code. @default false
   */
  alreadyInstalled: flag().default(false),
  /**
   * The installer reports success (its exit code says installed) but the update is not on the
   * node afterwards: a package that did nothing, or servicing that rolled it back. The node's
   * installed updates and binaries are left as they were; the rescan after the final restart
   * should report it `installedButNotPresent`. @default false
   */
  notApplied: flag()
    .default(false)
    .describe('The installer says installed, but the update is not on the node afterwards'),
  /**
   * With `hangs` (or an install past the timeout): Windows servicing (TrustedInstaller) is still
   * busy when the installer is stopped, and the install line says `servicingBusy: true`.
   * @default false
   */
  servicingBusy: flag()
    .default(false)
    .describe('A stopped installer leaves Windows servicing busy (servicingBusy: true)'),
  /**
   * What `wusa.exe /uninstall` answers for this update (RemoveUpdates), first code only.
   * @default { exitCodes: [3010] }
   */
  removal: z
    .strictObject({
      exitCodes: z
        .array(exitCodeSchema, { error: 'expected a list of exit codes, e.g. [3010]' })
        .min(1, { error: 'expected at least one exit code' }),
    })
    .optional(),
});
export type UpdateBehaviour = z.output<typeof updateBehaviourSchema>;
export type UpdateBehaviourInput = z.input<typeof updateBehaviourSchema>;

const updatesSchema = z
  .record(z.string().min(1, { error: 'expected a file path or a KB id' }), updateBehaviourSchema, {
    error: 'expected an object: { "<file path or KB id>": { exitCodes, minutes, ... } }',
  })
  .default({});

/**
 * What updateSelection reads of an update (issue 13 item 2): its WUA classification, MSRC
 * severity, publish date and RebootBehavior.
 */
const windowsUpdateSelectionFacts = {
  /** WUA's update classification. @default "Security Updates" */
  classification: z
    .enum(CLASSIFICATIONS as [Classification, ...Classification[]], {
      error: `expected a WUA update classification: one of ${CLASSIFICATIONS.map((c) => JSON.stringify(c)).join(', ')}`,
    })
    .default('Security Updates'),
  /** IUpdate.MsrcSeverity. @default "Unspecified" (none) */
  msrcSeverity: z
    .enum(MSRC_SEVERITIES as [MsrcSeverity, ...MsrcSeverity[]], {
      error: `expected an MSRC severity: one of ${MSRC_SEVERITIES.join(', ')}`,
    })
    .default('Unspecified'),
  /** IUpdate.LastDeploymentChangeTime, ISO 8601. @default - unknown (the date rules exclude it) */
  published: z.iso
    .datetime({ offset: true, error: 'expected an ISO 8601 date-time, e.g. 2026-11-10T17:00:00Z' })
    .optional(),
  /**
   * InstallationBehavior.RebootBehavior before the install. @default - AlwaysRequiresReboot when
   * rebootRequired, else NeverReboots
   */
  rebootBehavior: z
    .enum(['NeverReboots', 'AlwaysRequiresReboot', 'CanRequestReboot'], {
      error: 'expected NeverReboots, AlwaysRequiresReboot or CanRequestReboot',
    })
    .optional(),
};

/** One update Windows Update offers a node. */
const windowsUpdateItemSchema = z
  .strictObject({
    /** The update's KB id, e.g. `KB5034439`. */
    kb: kbId,
    /** The update's title as WUA shows it. */
    title: z.string({ error: 'expected the update title' }).min(1, { error: 'expected a title' }),
    /** WUA's UpdateID. @default - a UUID derived from the KB id */
    updateId: z
      .string()
      .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
        error: 'expected a GUID such as "f6ce46c1-971c-43f9-a3a1-c64d3a1d2b1c"',
      })
      .optional(),
    /** WUA OperationResultCode of the install: 2 succeeded, 3 with errors, 4 failed, 5 aborted. @default 2 */
    resultCode: z
      .number({ error: 'expected a WUA result code from 0 to 5' })
      .int({ error: 'expected a WUA result code from 0 to 5' })
      .min(0, { error: 'expected a WUA result code from 0 to 5' })
      .max(5, { error: 'expected a WUA result code from 0 to 5' })
      .default(2),
    /** HRESULT of the install (any exit-code form). @default 0 */
    hResult: exitCodeSchema.default(0),
    /** The installed update needs a restart. @default false */
    rebootRequired: flag().default(false),
    /**
     * A recommended (not important) update: installed only with IncludeRecommendedUpdates=True.
     * @default false
     */
    recommended: flag().default(false),
    /** How long the download and install take, in minutes. @default 5 */
    minutes: minutes('the install duration').default(5),
    /**
     * Offered only once this KB is installed (a cumulative update that needs its servicing stack
     * update first): the rescan after the final restart finds it newly offered.
     * @default - offered from the start
     */
    offeredAfter: kbId.optional(),
    ...windowsUpdateSelectionFacts,
  })
  .transform((item) => ({
    ...item,
    updateId: item.updateId ?? deterministicUuid(`windows-update:${item.kb}`),
  }));
export type WindowsUpdateItem = z.output<typeof windowsUpdateItemSchema>;

/** What Windows Update offers: the updates a search finds while they are not installed. */
const windowsUpdateSchema = z.strictObject({
  /** The updates, in the order WUA lists them. @default [] */
  available: z.array(windowsUpdateItemSchema, { error: 'expected a list of updates' }).default([]),
});
export type ScenarioWindowsUpdate = z.output<typeof windowsUpdateSchema>;

const scriptBehaviourSchema = z.strictObject({
  /** The script's exit code; not 0 fails the RunUpdateScript command. */
  exitCode: exitCodeSchema,
  /** How long the script runs, in minutes. @default 0.5 */
  minutes: minutes('the script duration').default(0.5),
});

const PING_STATUSES = ['Online', 'ConnectionLost', 'Inactive'] as const;
export type PingStatus = (typeof PING_STATUSES)[number];

/** One simulated Windows server. */
const nodeSchema = z.strictObject({
  /** NetBIOS computer name; what `COMPUTERNAME` and the inventory report. */
  name: netbios('the node name'),
  /** The SSM managed node. @default - `i-` + 17 hex digits derived from the name */
  instanceId: z
    .string({ error: 'expected an EC2 instance id (i-0123456789abcdef0) or mi-...' })
    .regex(INSTANCE_ID_PATTERN, {
      error: 'expected an EC2 instance id (i-0123456789abcdef0) or a managed node id (mi-...)',
    })
    .optional(),
  /** The failover cluster the node belongs to. @default - a standalone server */
  cluster: netbios('the cluster name').optional(),
  /** Issue 11: the instance's EC2/SSM tags, for targets chosen by tag. @default - none */
  tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
  /** Issue 11: the Resource Groups the instance is a member of. @default - none */
  resourceGroups: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,300}$/)).optional(),
  /** What Win32_OperatingSystem and the registry say. */
  os: z
    .strictObject({
      /** @default 'Microsoft Windows Server 2022 Datacenter' */
      caption: z.string().min(1).default('Microsoft Windows Server 2022 Datacenter'),
      /** @default '10.0.20348' */
      version: z.string().min(1).default('10.0.20348'),
      /** Build and revision (UBR), as the inventory reports it. @default '20348.2227' */
      build: z
        .string()
        .regex(/^\d{4,5}(?:\.\d{1,6})?$/, { error: 'expected a build such as "20348.2227"' })
        .default('20348.2227'),
      /** @default 0 */
      servicePack: z.number().int().min(0).default(0),
      /** @default 'x64' */
      architecture: z.string().min(1).default('x64'),
      /** EditionID; `ServerTurbine` is Datacenter: Azure Edition. @default 'ServerDatacenter' */
      editionId: z.string().default('ServerDatacenter'),
    })
    .prefault({}),
  /**
   * File version strings of binaries, by path as payloads name them (e.g.
   * `%windir%\\system32\\ntoskrnl.exe`); compared ignoring case, `%windir%` and `%SystemRoot%`
   * meaning `C:\\Windows`. A binary not listed reports `fileVersion: null`. @default {}
   */
  binaries: z.record(z.string().min(1), z.string()).default({}),
  /** KB ids Get-HotFix lists. @default [] */
  installedUpdates: z.array(kbId, { error: 'expected a list of KB ids' }).default([]),
  /** Hotpatch enrolment facts the inventory reports. Each @default false */
  hotpatch: z
    .strictObject({
      enrolled: flag().default(false),
      vbsEnabled: flag().default(false),
      secureBoot: flag().default(false),
      azureArcConnected: flag().default(false),
    })
    .prefault({}),
  /** The node already waits for a restart. @default false */
  pendingReboot: flag().default(false),
  /** When the node last booted (ISO 8601). @default - 7 days before startTime */
  lastBootTime: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time' }).optional(),
  /**
   * SSM Agent is reachable. A node that is not never picks commands up (they end
   * DeliveryTimedOut). @default - true, or false when pingStatus says otherwise
   */
  online: flag().optional(),
  /**
   * PingStatus while the node is not restarting. `Inactive` (instance stopped): SendCommand
   * refuses it with InvalidInstanceId. @default - 'Online' when online, else 'ConnectionLost'
   */
  pingStatus: z
    .enum(PING_STATUSES, { error: `expected one of ${PING_STATUSES.join(', ')}` })
    .optional(),
  /** Minutes a restart takes, down to back online. @default 4 */
  restartMinutes: minutes('the restart duration').default(4),
  /** The node never comes back from a restart (its commands never end). @default false */
  neverReturnsFromRestart: flag().default(false),
  /**
   * The node drops off the network while it installs hotfixes (once, on its first
   * InstallHotfixes command): its agent neither picks commands up nor reports, and the running
   * script stalls, until it is back. @default - stays online
   */
  offlineDuringInstall: z
    .strictObject({
      /** Minutes after the install command starts. @default 1 */
      afterMinutes: minutes('the time before the node goes offline')
        .default(1)
        .describe('Minutes after the install command starts'),
      /** Minutes offline. @default - never comes back */
      minutes: minutes('the time offline')
        .optional()
        .describe('Minutes offline; absent: never comes back'),
    })
    .optional()
    .describe('The node drops off the network while it installs hotfixes (once)'),
  /**
   * A cluster node already Paused (and drained) when the run starts, e.g. left so by an earlier
   * run. Ignored on a standalone server. @default false
   */
  pausedAtStart: flag()
    .default(false)
    .describe('A cluster node already Paused and drained when the run starts'),
  /**
   * Clustered roles (cluster groups) the node owns when the run starts, as Get-ClusterGroup
   * lists them; the computed node order puts the node with the fewest first (issue 13, item 7).
   * Ignored on a standalone server. @default 1
   */
  roles: z
    .number({ error: 'expected a whole number of clustered roles, 0 to 1000' })
    .int({ error: 'expected a whole number of clustered roles, 0 to 1000' })
    .min(0, { error: 'expected a whole number of clustered roles, 0 to 1000' })
    .max(1000, { error: 'expected a whole number of clustered roles, 0 to 1000' })
    .default(1)
    .describe('Clustered roles the node owns at the start (computed node order)'),
  /**
   * Storage Spaces Direct repair jobs (Get-StorageJob) that run on a cluster node after each of
   * its restarts, each for `minutes` (issue 13, item 6: WaitForStorageRepairTimeoutMinutes).
   * @default - none
   */
  storageJobs: z
    .array(
      z
        .object({
          /** The job's name, e.g. `CLUSTER1-Pool Repair`; it must say Repair or Regeneration. */
          name: z
            .string()
            .regex(/Repair|Regenerat/, { error: 'expected a name with Repair or Regeneration' }),
          /** Minutes the job runs after the restart. */
          minutes: minutes('the storage job duration'),
        })
        .strict(),
      { error: 'expected a list of { name, minutes }' },
    )
    .max(20)
    .optional()
    .describe('Storage repair jobs that run after each restart of the node'),
  /** How draining the node's clustered roles goes. */
  drain: z
    .strictObject({
      /** The drain ends Failed, leaving the node paused. @default false */
      fails: flag().default(false),
      /** Minutes until the drain completes (or fails). @default 2 */
      minutes: minutes('the drain duration').default(2),
      /**
       * Whether each drain of this node fails, first drain first; the last one repeats (like
       * `exitCodes`). Replaces `fails` when given, e.g. `[false, true]`: the drain before the
       * install succeeds, a later one fails. @default - `fails` for every drain
       */
      failsByAttempt: z
        .array(flag(), { error: 'expected a list of true or false, one per drain' })
        .min(1, { error: 'expected at least one value' })
        .optional()
        .describe('Whether each drain fails, first first; the last one repeats'),
    })
    .prefault({}),
  /**
   * Minutes after Resume-ClusterNode (failback Immediate or Policy) until the roles the drain
   * moved off are owned by the node again (issue 13 item 6: the failback check). @default 0
   */
  failbackMinutes: minutes('the failback duration')
    .default(0)
    .describe('Minutes after the resume until the node owns its drained roles again'),
  /**
   * After each restart the node boots (SSM answers) but stays Down in the cluster: the resume
   * finds it not Up (issue 13 item 6). @default false
   */
  staysDownAfterRestart: flag()
    .default(false)
    .describe('After a restart the node stays Down in the cluster (its cluster service)'),
  /** Resume-ClusterNode leaves the node Paused. @default false */
  resumeFails: flag().default(false),
  /**
   * Whether each resume of this node fails, first first; the last one repeats. Replaces
   * `resumeFails` when given. @default - `resumeFails` for every resume
   */
  resumeFailsByAttempt: z
    .array(flag(), { error: 'expected a list of true or false, one per resume' })
    .min(1, { error: 'expected at least one value' })
    .optional()
    .describe('Whether each resume fails, first first; the last one repeats'),
  /** The PreUpdateScript on this node. @default - exists and exits 0 */
  preUpdateScript: scriptBehaviourSchema.optional(),
  /**
   * The PreUpdateScript on each run, first first; the last one repeats. Replaces
   * `preUpdateScript` when given. @default - `preUpdateScript` on every run
   */
  preUpdateScriptByAttempt: z
    .array(scriptBehaviourSchema, { error: 'expected a list of { exitCode, minutes }' })
    .min(1, { error: 'expected at least one run' })
    .optional()
    .describe('The PreUpdateScript on each run, first first; the last one repeats'),
  /** The PostUpdateScript on this node. @default - exists and exits 0 */
  postUpdateScript: scriptBehaviourSchema.optional(),
  /**
   * The PostUpdateScript on each run, first first; the last one repeats. Replaces
   * `postUpdateScript` when given. @default - `postUpdateScript` on every run
   */
  postUpdateScriptByAttempt: z
    .array(scriptBehaviourSchema, { error: 'expected a list of { exitCode, minutes }' })
    .min(1, { error: 'expected at least one run' })
    .optional()
    .describe('The PostUpdateScript on each run, first first; the last one repeats'),
  /**
   * GetCommandInvocation answers InvocationDoesNotExist this many times for each command sent
   * to this node before it answers. @default 0
   */
  invocationDoesNotExistReads: z
    .number({ error: 'expected a whole number from 0 to 100' })
    .int({ error: 'expected a whole number from 0 to 100' })
    .min(0, { error: 'expected a whole number from 0 to 100' })
    .max(100, { error: 'expected a whole number from 0 to 100' })
    .default(0),
  /**
   * Installer behaviour by file (path relative to the hotfix root, or a KB id matched against
   * the file name). Looked up before the scenario's `updates`. @default {}
   */
  updates: updatesSchema,
  /** What Windows Update offers this node instead of the scenario's list. */
  windowsUpdate: windowsUpdateSchema.optional(),
});
type ParsedNode = z.output<typeof nodeSchema>;

/** One file of the hotfix root. */
const hotfixFileSchema = z.strictObject({
  /** Path relative to the root with `/`, e.g. `CAUHotfix_All/windows10.0-kb5034439-x64.msu`. */
  path: z
    .string({ error: 'expected a path relative to the hotfix root' })
    .superRefine((path, ctx) => {
      const segments = path.split('/');
      if (
        path === '' ||
        path.includes('\\') ||
        segments.some((s) => s === '' || s === '.' || s === '..')
      ) {
        ctx.addIssue({
          code: 'custom',
          message:
            'expected a relative path with "/" separators and no empty, "." or ".." segments, e.g. "CAUHotfix_All/windows10.0-kb5034439-x64.msu"',
        });
      }
    }),
  /** The object's size. @default - the length of the path in UTF-8 (the simulated body) */
  sizeBytes: z.number().int().min(0).optional(),
  /** SHA-256 recorded at upload. @default - the SHA-256 of the path (the simulated body) */
  sha256: sha256Schema.optional(),
  /**
   * SHA-256 of what the node downloads. A value other than `sha256` simulates a file changed
   * after upload: the node refuses to run it. @default - sha256
   */
  deliveredSha256: sha256Schema.optional(),
});

const hotfixRootSchema = z.strictObject({
  /** The files under the root. @default [] */
  files: z.array(hotfixFileSchema, { error: 'expected a list of files' }).default([]),
  /** Text of the root's DefaultHotfixConfig.xml. @default - none: our built-in configuration */
  config: z.string({ error: 'expected the XML text of DefaultHotfixConfig.xml' }).optional(),
  /** Content of the root's hotpatch-manifest.json. @default - none */
  manifest: hotpatchManifestSchema.optional(),
});

const targetNodeSchema = z.strictObject({
  /** A node of the scenario. */
  name: z.string({ error: 'expected a node name' }).min(1, { error: 'expected a node name' }),
  /** @default - the scenario node's instanceId */
  instanceId: z.string({ error: 'expected an instance id' }).optional(),
});

/**
 * A rollout input as the workflow takes it (`lambdas/core/rollout-input.ts`), except that
 * `target.nodes` may be left out, and its items may leave out `instanceId`. The rest is checked
 * by {@link parseRolloutInput} itself.
 */
const rolloutEntrySchema = z.looseObject({
  target: z.strictObject({
    kind: z.enum(['cluster', 'group'], { error: 'expected "cluster" or "group"' }),
    name: z.string({ error: 'expected the target name' }).min(1),
    /**
     * @default - a cluster: every scenario node whose `cluster` is the target's name; a group:
     * every standalone scenario node
     */
    nodes: z.array(targetNodeSchema).min(1, { error: 'expected at least one node' }).optional(),
  }),
});

const EXPECTED_RUN_STATUSES = RUN_STATUSES.filter((s) => s !== 'Running') as [
  'Succeeded',
  'Failed',
  'Stopped',
  'Cancelled',
];

/** What a run must end in. */
const expectSchema = z.strictObject(
  {
    /** The run's final status. */
    runStatus: z.enum(EXPECTED_RUN_STATUSES, {
      error: `expected one of ${EXPECTED_RUN_STATUSES.join(', ')}`,
    }),
    /** Final status of nodes of the run, by name. @default - not checked */
    nodes: z
      .record(
        z.string(),
        z.enum(NODE_STATUSES, { error: `expected one of ${NODE_STATUSES.join(', ')}` }),
      )
      .optional(),
  },
  { error: 'expected { runStatus, nodes? }' },
);
export type ScenarioExpect = z.output<typeof expectSchema>;

/** What an operator can do to a running rollout, as the change-management API offers it. */
export const OPERATOR_ACTIONS = ['cancel', 'approve', 'reject', 'forceRecovery'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/**
 * An operator action at a simulated time or state: it is made through the change-management
 * API (`POST /rollouts/{id}/cancel`, `/approve`, `/reject`, `/force-recovery`), and its answer is
 * recorded in the run's result. Exactly one of `atMinutes` and `onState`.
 */
const actionSchema = z.strictObject({
  /** What the operator does. */
  action: z.enum(OPERATOR_ACTIONS, { error: `expected one of ${OPERATOR_ACTIONS.join(', ')}` }),
  /** Which rollout, by position in `rollouts` (0 for `rollout`). @default 0 */
  rollout: z
    .number({ error: 'expected a rollout position from 0' })
    .int({ error: 'expected a rollout position from 0' })
    .min(0, { error: 'expected a rollout position from 0' })
    .default(0),
  /** Minutes of simulated time after the rollout starts. */
  atMinutes: minutes('the time after the rollout starts').optional(),
  /**
   * When an execution of the rollout (its own or a node's) first enters the state of this name
   * in the synthesized definitions, e.g. `AwaitFleetApproval`.
   */
  onState: z.string({ error: 'expected a state name' }).min(1).optional(),
  /** With `onState`: minutes to wait after entering the state. @default 0 */
  delayMinutes: minutes('the delay after the state').default(0),
  /**
   * With `onState`: act each time an execution of the rollout enters the state (an operator who
   * answers every hold of a health gate, say), not only the first time. @default false
   */
  every: z.boolean({ error: 'expected true or false' }).default(false),
  /** The reason or comment the operator gives. */
  reason: z.string().max(2000).optional(),
});
export type ScenarioAction = z.output<typeof actionSchema>;

/** A scenario file. Strict: unknown fields are errors. */
export const scenarioSchema = z.strictObject({
  /** Short name, for reports. */
  name: z.string({ error: 'expected the scenario name' }).min(1).max(128),
  /** What the scenario shows. */
  description: z.string().optional(),
  /** When the virtual clock starts (ISO 8601). @default DEFAULT_START_TIME */
  startTime: z.iso
    .datetime({ offset: true, error: 'expected an ISO 8601 time, e.g. "2026-01-13T22:00:00Z"' })
    .default(DEFAULT_START_TIME),
  /** The hotfix root the hotfix plug-in reads. @default { files: [] } */
  hotfixRoot: hotfixRootSchema.prefault({}),
  /** The simulated servers. */
  nodes: z.array(nodeSchema, { error: 'expected a list of nodes' }).min(1, {
    error: 'expected at least one node',
  }),
  /**
   * Installer behaviour by file path or KB id for every node; a node's own `updates` come first.
   * @default {}
   */
  updates: updatesSchema,
  /** Installer behaviour of any file nothing else names. @default { exitCodes: [0], minutes: 3 } */
  defaultUpdate: updateBehaviourSchema.prefault({}),
  /** What Windows Update offers every node (a node's own `windowsUpdate` replaces it). */
  windowsUpdate: windowsUpdateSchema.prefault({}),
  /**
   * Lambda throttling: the first N invocations of each named function fail with
   * `Lambda.TooManyRequestsException`, as Lambda answers past its concurrency. @default {}
   */
  throttle: z
    .partialRecord(
      z.enum(FUNCTION_NAMES, { error: `expected a function: ${FUNCTION_NAMES.join(', ')}` }),
      z
        .number({ error: 'expected a whole number of invocations from 0 to 1000' })
        .int({ error: 'expected a whole number of invocations from 0 to 1000' })
        .min(0, { error: 'expected a whole number of invocations from 0 to 1000' })
        .max(1000, { error: 'expected a whole number of invocations from 0 to 1000' }),
    )
    .default({}),
  /**
   * Simulated CloudWatch alarms for health gates (issue 13, item 1), each with its states on a
   * timeline of virtual time. @default []
   */
  alarms: z.array(scenarioAlarmSchema, { error: 'expected a list of alarms' }).default([]),
  /**
   * Staging before the window (issue 13 item 5): each rollout's nodes are staged (the staging
   * workflow) just before it runs; `corrupt` names nodes whose first staged copy then changes on
   * disk, so their install must not use it. @default - no staging
   */
  staging: z
    .strictObject(
      {
        corrupt: z
          .array(z.string({ error: 'expected a node name' }), {
            error: 'expected a list of node names',
          })
          .default([]),
      },
      { error: 'expected { corrupt?: [node names] }' },
    )
    .optional(),
  /** Operator actions at simulated times or states, in any order. @default [] */
  actions: z.array(actionSchema, { error: 'expected a list of operator actions' }).default([]),
  /**
   * After each rollout, a read-only compliance assessment of its target (issue 13, item 8); the
   * assessmentReadOnly invariant checks it changed nothing. @default false
   */
  assess: flag().default(false),
  /** The one rollout to run. Exactly one of `rollout` and `rollouts`. */
  rollout: rolloutEntrySchema.optional(),
  /** Rollouts to run one after another on the same fleet. Exactly one of `rollout` and `rollouts`. */
  rollouts: z
    .array(rolloutEntrySchema)
    .min(1, { error: 'expected at least one rollout' })
    .optional(),
  /**
   * The expected outcome: an object for `rollout`; for `rollouts`, a list with one entry per
   * rollout, in order. @default - nothing checked
   */
  expect: z.unknown().optional(),
});
export type ScenarioInput = z.input<typeof scenarioSchema>;
type ParsedScenario = z.output<typeof scenarioSchema>;

// ---------------------------------------------------------------------------------------------
// The resolved scenario

/** A node with every default resolved. */
export interface ScenarioNode
  extends Omit<ParsedNode, 'instanceId' | 'online' | 'pingStatus' | 'lastBootTime'> {
  readonly instanceId: string;
  /** SSM Agent is reachable (when the node is not restarting). */
  readonly online: boolean;
  readonly pingStatus: PingStatus;
  readonly lastBootTime: string;
}

/** A hotfix file with its checksums and size resolved. */
export interface ScenarioHotfixFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly deliveredSha256: string;
}

export interface ScenarioHotfixRoot {
  readonly files: readonly ScenarioHotfixFile[];
  readonly config?: string;
  readonly manifest?: HotpatchManifest;
}

/** One rollout of the scenario, ready to start, and what it must end in. */
export interface ScenarioRun {
  /** The workflow's input, `target.nodes` filled in (name and instanceId). */
  readonly rollout: RolloutInput;
  readonly expect?: ScenarioExpect;
}

/** A parsed scenario with every default applied. */
export interface Scenario
  extends Omit<ParsedScenario, 'hotfixRoot' | 'nodes' | 'rollout' | 'rollouts' | 'expect'> {
  /** Where the scenario came from (a file path), for messages. */
  readonly source: string;
  readonly hotfixRoot: ScenarioHotfixRoot;
  readonly nodes: readonly ScenarioNode[];
  /** The rollouts in run order: `rollout` alone, or each of `rollouts`. */
  readonly runs: readonly ScenarioRun[];
}

/** A scenario is not valid JSON or breaks the schema; lists every problem. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';

  constructor(
    readonly source: string,
    readonly problems: readonly ValidationProblem[],
    options?: { cause?: unknown },
  ) {
    super(formatProblems(`${source}: invalid scenario`, problems), options);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The fields a strict object of the schema accepts at an issue's path, for messages. */
function acceptedFields(path: readonly PropertyKey[]): readonly string[] {
  let schema: z.ZodType | undefined = scenarioSchema;
  for (const segment of path) {
    schema = schema === undefined ? undefined : unwrap(schema);
    if (schema instanceof z.ZodObject) {
      schema = (schema.shape as Record<string, z.ZodType>)[String(segment)];
    } else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    else return [];
  }
  schema = schema === undefined ? undefined : unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let i = 0; i < 10; i++) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
    else break;
  }
  return current;
}

/**
 * Checks a scenario and resolves its defaults.
 *
 * @param json the parsed JSON
 * @param source how to name it in errors (e.g. its path)
 * @throws ScenarioError listing every problem: field path, value and what is accepted.
 */
export function parseScenario(json: unknown, source: string): Scenario {
  const problems: ValidationProblem[] = [];
  const result = scenarioSchema.safeParse(json);
  if (!result.success) problems.push(...issueProblems(result.error.issues, json, acceptedFields));
  const raw = isRecord(json) ? json : {};
  const expects = isRecord(json) ? parseExpects(raw, problems) : [];
  let runsGiven = true;
  if (isRecord(json)) {
    const hasRollout = raw.rollout !== undefined;
    const hasRollouts = raw.rollouts !== undefined;
    runsGiven = hasRollout !== hasRollouts;
    if (hasRollout && hasRollouts) {
      problems.push({
        field: 'rollouts',
        value: raw.rollouts,
        message: 'give either rollout (one run) or rollouts (runs in order), not both',
      });
    } else if (!hasRollout && !hasRollouts) {
      problems.push({
        field: 'rollout',
        message: 'missing; expected rollout (one run) or rollouts (runs in order)',
      });
    }
  }
  if (!result.success || !runsGiven) {
    throw new ScenarioError(source, problems, result.success ? {} : { cause: result.error });
  }

  const parsed = result.data;
  const nodes = resolveNodes(parsed, problems);
  const hotfixRoot = resolveHotfixRoot(parsed, problems);
  checkUpdateKeys(parsed, hotfixRoot, problems);
  const runs = resolveRuns(parsed, raw, expects, nodes, problems);
  checkActions(parsed, runs.length, problems);
  (parsed.staging?.corrupt ?? []).forEach((name, i) => {
    if (!nodes.some((n) => nodeKey(n.name) === nodeKey(name))) {
      problems.push({
        field: `staging.corrupt[${i}]`,
        value: name,
        message: `expected a node of the scenario: ${nodes.map((n) => n.name).join(', ')}`,
      });
    }
  });
  problems.push(
    ...healthGateProblems(parsed.alarms, runs, (i) =>
      raw.rollouts === undefined ? 'rollout' : `rollouts[${i}]`,
    ),
  );
  if (problems.length > 0) throw new ScenarioError(source, problems);

  const { rollout: _rollout, rollouts: _rollouts, expect: _expect, ...rest } = parsed;
  return { ...rest, source, hotfixRoot, nodes, runs };
}

/**
 * Reads and checks a scenario file.
 *
 * @throws ScenarioError when the file is not JSON or not a valid scenario; the file system's
 *   error when it cannot be read.
 */
export async function loadScenario(path: string): Promise<Scenario> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ScenarioError(
      path,
      [{ field: '(root)', message: `not valid JSON: ${(error as Error).message}` }],
      { cause: error },
    );
  }
  return parseScenario(json, path);
}

/** Each action names a rollout of the scenario and exactly one moment. */
function checkActions(parsed: ParsedScenario, runCount: number, problems: ValidationProblem[]) {
  parsed.actions.forEach((action, i) => {
    if (action.rollout >= runCount) {
      problems.push({
        field: `actions[${i}].rollout`,
        value: action.rollout,
        message: `no such rollout; the scenario has ${runCount} (positions 0 to ${runCount - 1})`,
      });
    }
    if ((action.atMinutes === undefined) === (action.onState === undefined)) {
      problems.push({
        field: `actions[${i}]`,
        value: action,
        message:
          'expected exactly one of atMinutes (simulated minutes after the rollout starts) and onState (a state name)',
      });
    }
    if (action.every && action.onState === undefined) {
      problems.push({
        field: `actions[${i}].every`,
        value: action.every,
        message: 'every applies only with onState (act each time the run enters that state)',
      });
    }
  });
}

function resolveNodes(parsed: ParsedScenario, problems: ValidationProblem[]): ScenarioNode[] {
  const start = Date.parse(parsed.startTime);
  const names = new Map<string, number>();
  const ids = new Map<string, number>();
  return parsed.nodes.map((node, i) => {
    const at = `nodes[${i}]`;
    const firstName = names.get(nodeKey(node.name));
    if (firstName === undefined) names.set(nodeKey(node.name), i);
    else {
      problems.push({
        field: `${at}.name`,
        value: node.name,
        message: `same node as nodes[${firstName}].name; node names compare case-insensitively`,
      });
    }
    const instanceId = node.instanceId ?? defaultInstanceId(node.name);
    const firstId = ids.get(instanceId);
    if (firstId === undefined) ids.set(instanceId, i);
    else {
      problems.push({
        field: `${at}.instanceId`,
        value: instanceId,
        message: `same instance as nodes[${firstId}]; each node is one managed instance`,
      });
    }
    if (
      node.online !== undefined &&
      node.pingStatus !== undefined &&
      node.online !== (node.pingStatus === 'Online')
    ) {
      problems.push({
        field: `${at}.pingStatus`,
        value: node.pingStatus,
        message: `contradicts online: ${node.online}; give one of them, or make them agree`,
      });
    }
    const online = node.online ?? (node.pingStatus === undefined || node.pingStatus === 'Online');
    const pingStatus: PingStatus = node.pingStatus ?? (online ? 'Online' : 'ConnectionLost');
    const lastBootTime = new Date(
      node.lastBootTime === undefined ? start - DEFAULT_UPTIME_MS : Date.parse(node.lastBootTime),
    ).toISOString();
    return {
      ...node,
      instanceId,
      online,
      pingStatus,
      lastBootTime,
      installedUpdates: [...new Set(node.installedUpdates)],
    };
  });
}

function resolveHotfixRoot(
  parsed: ParsedScenario,
  problems: ValidationProblem[],
): ScenarioHotfixRoot {
  const { config, manifest } = parsed.hotfixRoot;
  const seen = new Map<string, number>();
  const files = parsed.hotfixRoot.files.map((file, i) => {
    const first = seen.get(fileKey(file.path));
    if (first === undefined) seen.set(fileKey(file.path), i);
    else {
      problems.push({
        field: `hotfixRoot.files[${i}].path`,
        value: file.path,
        message: `same file as hotfixRoot.files[${first}].path; paths compare ignoring case`,
      });
    }
    const sha256 = file.sha256 ?? defaultFileSha256(file.path);
    return {
      path: file.path,
      sizeBytes: file.sizeBytes ?? Buffer.byteLength(file.path, 'utf8'),
      sha256,
      deliveredSha256: file.deliveredSha256 ?? sha256,
    };
  });
  if (config !== undefined) {
    try {
      parseHotfixConfig(config, 'hotfixRoot.config');
    } catch (error) {
      if (!(error instanceof HotfixConfigError)) throw error;
      problems.push({ field: 'hotfixRoot.config', message: error.message });
    }
  }
  for (const key of Object.keys(manifest ?? {})) {
    if (!seen.has(fileKey(key))) {
      problems.push({
        field: fieldPath(['hotfixRoot', 'manifest', key]),
        message: 'no file of hotfixRoot.files has this path',
      });
    }
  }
  return {
    files,
    ...(config === undefined ? {} : { config }),
    ...(manifest === undefined ? {} : { manifest }),
  };
}

/** Each key of an `updates` map must name a file of the root, by path or by KB number. */
function checkUpdateKeys(
  parsed: ParsedScenario,
  root: ScenarioHotfixRoot,
  problems: ValidationProblem[],
) {
  const paths = new Set(root.files.map((f) => fileKey(f.path)));
  const kbs = new Set(root.files.map((f) => kbOfFile(f.path)).filter((kb) => kb !== undefined));
  const check = (updates: Readonly<Record<string, unknown>>, at: readonly PropertyKey[]) => {
    for (const key of Object.keys(updates)) {
      const matches = KB_ID.test(key) ? kbs.has(key.toUpperCase()) : paths.has(fileKey(key));
      if (!matches) {
        problems.push({
          field: fieldPath([...at, key]),
          message: KB_ID.test(key)
            ? 'no file of hotfixRoot.files has this KB number in its name'
            : 'no file of hotfixRoot.files has this path; a key is a path relative to the root or a KB id',
        });
      }
    }
  };
  check(parsed.updates, ['updates']);
  parsed.nodes.forEach((node, i) => {
    check(node.updates, ['nodes', i, 'updates']);
  });
}

/**
 * `expect`: one object for `rollout`; a list with one entry per rollout for `rollouts`. Checked
 * on the raw input, so its problems are listed even when the rest of the scenario is invalid.
 */
function parseExpects(
  raw: Record<string, unknown>,
  problems: ValidationProblem[],
): (ScenarioExpect | undefined)[] {
  const single = raw.rollouts === undefined;
  const count = Array.isArray(raw.rollouts) ? raw.rollouts.length : 1;
  const result = z
    .object({
      expect: (single
        ? expectSchema
        : z
            .array(expectSchema, {
              error: 'expected a list with one expect per rollout, in order (rollouts is a list)',
            })
            .length(count, { error: `expected one entry per rollout: ${count}` })
      ).optional(),
    })
    .safeParse({ expect: raw.expect });
  if (!result.success) {
    problems.push(
      ...issueProblems(result.error.issues, { expect: raw.expect }, (path) =>
        path.length >= 1 ? Object.keys(expectSchema.shape) : [],
      ),
    );
    return [];
  }
  const value = result.data.expect;
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function resolveRuns(
  parsed: ParsedScenario,
  raw: Record<string, unknown>,
  expects: readonly (ScenarioExpect | undefined)[],
  nodes: readonly ScenarioNode[],
  problems: ValidationProblem[],
): ScenarioRun[] {
  const single = parsed.rollout !== undefined;
  const entries = single ? [parsed.rollout] : (parsed.rollouts ?? []);
  const rawEntries: unknown[] = single
    ? [raw.rollout]
    : Array.isArray(raw.rollouts)
      ? raw.rollouts
      : [];

  const byName = new Map(nodes.map((n) => [nodeKey(n.name), n]));
  const start = new Date(parsed.startTime);
  return entries.map((entry, i): ScenarioRun => {
    const prefix = single ? 'rollout' : `rollouts[${i}]`;
    const target = (entry as z.output<typeof rolloutEntrySchema>).target;
    let runNodes: { name: string; instanceId: string }[];
    if (target.nodes === undefined) {
      const members =
        target.kind === 'cluster'
          ? nodes.filter(
              (n) => n.cluster !== undefined && nodeKey(n.cluster) === nodeKey(target.name),
            )
          : nodes.filter((n) => n.cluster === undefined);
      if (members.length === 0) {
        problems.push({
          field: `${prefix}.target`,
          value: { kind: target.kind, name: target.name },
          message:
            target.kind === 'cluster'
              ? `no scenario node has cluster ${JSON.stringify(target.name)}; give target.nodes or set the nodes' cluster`
              : 'no standalone scenario node (one without cluster); give target.nodes',
        });
      }
      runNodes = members.map((n) => ({ name: n.name, instanceId: n.instanceId }));
    } else {
      runNodes = target.nodes.map((ref, j) => {
        const at = `${prefix}.target.nodes[${j}]`;
        const node = byName.get(nodeKey(ref.name));
        if (node === undefined) {
          problems.push({
            field: `${at}.name`,
            value: ref.name,
            message: `not a node of the scenario; nodes: ${nodes.map((n) => n.name).join(', ')}`,
          });
          return { name: ref.name, instanceId: ref.instanceId ?? '' };
        }
        if (ref.instanceId !== undefined && ref.instanceId !== node.instanceId) {
          problems.push({
            field: `${at}.instanceId`,
            value: ref.instanceId,
            message: `node ${node.name} is instance ${node.instanceId} in the scenario`,
          });
        }
        if (
          target.kind === 'cluster' &&
          (node.cluster === undefined || nodeKey(node.cluster) !== nodeKey(target.name))
        ) {
          problems.push({
            field: `${at}.name`,
            value: ref.name,
            message: `node ${node.name} is not a node of cluster ${target.name} in the scenario (its cluster: ${node.cluster ?? 'none'})`,
          });
        }
        // A group restarts its nodes undrained (the node workflow refuses a member it meets).
        if (target.kind === 'group' && node.cluster !== undefined) {
          problems.push({
            field: `${at}.name`,
            value: ref.name,
            message: `node ${node.name} is a member of cluster ${node.cluster} in the scenario: a group target restarts its nodes undrained; target the cluster so its nodes are drained one at a time`,
          });
        }
        return { name: ref.name, instanceId: node.instanceId };
      });
    }

    const rawEntry = isRecord(rawEntries[i]) ? (rawEntries[i] as Record<string, unknown>) : {};
    const rollout = {
      ...rawEntry,
      target: { kind: target.kind, name: target.name, nodes: runNodes },
    } as RolloutInput;
    try {
      parseRolloutInput(rollout, start, { defaultRunId: 'scenario-check' });
    } catch (error) {
      if (!(error instanceof RolloutInputError)) throw error;
      for (const p of error.problems) {
        // The nodes come from the scenario, whose own problems (names, duplicates) are listed
        // already; only the list as a whole (e.g. too many for a cluster) is news.
        if (p.field.startsWith('target.nodes[')) continue;
        if (p.field === 'target.nodes' && runNodes.length === 0) continue;
        problems.push({ ...p, field: p.field === '(root)' ? prefix : `${prefix}.${p.field}` });
      }
    }

    const expected = expects[i];
    if (expected?.nodes) {
      const names = new Set(runNodes.map((n) => nodeKey(n.name)));
      for (const name of Object.keys(expected.nodes)) {
        if (!names.has(nodeKey(name))) {
          problems.push({
            field: single
              ? fieldPath(['expect', 'nodes', name])
              : fieldPath(['expect', i, 'nodes', name]),
            value: expected.nodes[name] as NodeStatus,
            message: `not a node of this rollout; its nodes: ${runNodes.map((n) => n.name).join(', ')}`,
          });
        }
      }
    }
    return { rollout, ...(expected ? { expect: expected } : {}) };
  });
}
