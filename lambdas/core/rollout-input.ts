/**
 * The input of the rollout workflow: what the console, the CLI and the API send to start a run.
 * One zod schema is the contract, published as JSON Schema ({@link rolloutInputJsonSchema});
 * {@link parseRolloutInput} checks it, adds the checks a schema cannot express (duplicates, the
 * run policy against the nodes, the plug-in arguments) and resolves every default, so the state
 * machine reads one fully resolved {@link ResolvedRollout}.
 *
 * Also here: the check of a Lambda handler's event ({@link parseEvent}), which shares the mapping
 * of zod issues to problems that name the field and the value.
 *
 * Pure: no AWS SDK, no I/O.
 */

import * as z from 'zod';
import {
  type ApprovalGate,
  commandTimeout,
  NODE_CONTRACT,
  REBOOT_OPTIONS,
  type RebootOption,
  type RemovalItem,
} from './contracts.js';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';
import { type HealthGates, healthGatesInputSchema } from './health-gates.js';
import { NETBIOS_MAX_LENGTH, nodeKey, nodeNameProblem } from './node-names.js';
import { type PhasePlan, phasesInputSchema, resolvePhases } from './phases.js';
import {
  type HotfixPluginArguments,
  PLUGIN_NAMES,
  PluginArgumentError,
  parsePluginArgumentsFor,
  type WindowsUpdatePluginArguments,
} from './plugin-arguments.js';
import {
  type RunPolicy,
  RunPolicyError,
  resolveRunPolicy,
  runPolicyInputSchema,
} from './run-policy.js';
import { parseSchedule, scheduleTriggerSchema, shouldRunAt } from './schedule.js';
import {
  DEFAULT_STAGING_CONCURRENCY,
  type StagingOptions,
  stagingOptionsSchema,
} from './staging.js';
import {
  MAX_RESOLVED_NODES,
  type TargetResolution,
  targetSelectionSchema,
} from './target-selection.js';
import {
  resolvedUpdateSelectionSchema,
  resolveUpdateSelection,
  type UpdateSelection,
  updateSelectionInputSchema,
} from './update-selection.js';

// ---------------------------------------------------------------------------------------------
// Constants

/**
 * A run id: 1 to 64 letters, digits, `-` and `_` (it appears in keys, log groups and S3 keys).
 * One source: node-contract.json, which the node's scripts read too.
 */
export const RUN_ID_PATTERN = new RegExp(NODE_CONTRACT.runIdPattern);

/** EC2 instance ids (`i-` + 8 or 17 hex digits) and SSM hybrid managed nodes (`mi-` + 17). */
export const INSTANCE_ID_PATTERN = /^(?:i-(?:[0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/;

/** A group name: letters, digits, `.`, `-` and `_`, starting with a letter or digit, up to 64. */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A failover cluster has at most 64 nodes (Windows Server 2016 and later). */
export const MAX_CLUSTER_NODES = 64;

/**
 * Ours, for a group that lists its nodes in the input: that list travels through every Step
 * Functions state, whose payload limit is 256 KB; 2,000 nodes keep it under three quarters of
 * that (README "Limits"). A larger group is a selection (tags, Resource Group, or a manifest the
 * CLI/API uploads), whose list goes through S3, up to MAX_RESOLVED_NODES (target-selection.ts).
 */
export const MAX_GROUP_NODES = 2000;

/**
 * When a node is drained (its clustered roles moved off) before updating. `whenRestartPossible`:
 * only when the hotpatch check says a restart may be needed; `always`: every node, as CAU does.
 */
export const DRAIN_MODES = ['whenRestartPossible', 'always'] as const;
export type DrainMode = (typeof DRAIN_MODES)[number];

/** The plug-ins a rollout may name, in the spelling CAU uses. */
export const ROLLOUT_PLUGIN_NAMES = [PLUGIN_NAMES.hotfix, PLUGIN_NAMES.windowsUpdate] as const;

/** At most this many problems are spelled out in an error message; all stay in `problems`. */
const MAX_PROBLEMS_IN_MESSAGE = 50;

// ---------------------------------------------------------------------------------------------
// Schema

const INSTANCE_ID_ACCEPTED =
  'expected an EC2 instance id ("i-" and 8 or 17 lowercase hex digits) or a hybrid managed node id ("mi-" and 17 lowercase hex digits)';
const RUN_ID_ACCEPTED = 'expected 1 to 64 letters, digits, "-" or "_"';
const GROUP_NAME_ACCEPTED =
  'expected 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit';

const quoted = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(', ');

/** A NetBIOS computer name, checked by {@link nodeNameProblem}; the length is in the JSON Schema. */
const netbiosName = (what: string) =>
  z
    .string({ error: `expected ${what}: a NetBIOS computer name` })
    .min(1, { error: `expected ${what}: a NetBIOS computer name`, abort: true })
    .max(NETBIOS_MAX_LENGTH, {
      error: `expected a NetBIOS name of at most ${NETBIOS_MAX_LENGTH} characters`,
      abort: true,
    })
    .superRefine((name, ctx) => {
      const problem = nodeNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe(`${what}: a NetBIOS computer name (compared case-insensitively)`);

const text = (what: string, max: number) =>
  z
    .string({ error: `expected ${what}: text of 1 to ${max} characters` })
    .min(1, { error: `expected ${what}: text of 1 to ${max} characters` })
    .max(max, { error: `expected ${what}: text of 1 to ${max} characters` });

const rolloutNodeSchema = z
  .strictObject(
    {
      name: netbiosName('the node name'),
      instanceId: z
        .string({ error: INSTANCE_ID_ACCEPTED })
        .regex(INSTANCE_ID_PATTERN, { error: INSTANCE_ID_ACCEPTED })
        .describe('The SSM managed node that is this node: i-… (EC2) or mi-… (hybrid)'),
    },
    { error: 'expected a node: { name, instanceId }' },
  )
  .describe('One node of the target');

const nodeList = (max: number, kind: string) =>
  z
    .array(rolloutNodeSchema, { error: 'expected a list of nodes: [{ name, instanceId }, ...]' })
    .min(1, { error: 'expected at least one node' })
    .max(max, { error: `expected at most ${max} nodes in a ${kind}` })
    .describe('The nodes to update, in the default update order; names and ids unique');

const clusterTargetSchema = z
  .strictObject({
    kind: z.literal('cluster'),
    name: netbiosName('the cluster name'),
    nodes: nodeList(MAX_CLUSTER_NODES, 'cluster'),
  })
  .describe('The nodes of one failover cluster: CAU, one node at a time');

// Issue 11 §1: set by the ResolveTarget state when the target was a tag, Resource Group or
// manifest selection; the run records it and the report shows it.
const targetResolutionSchema = z
  .strictObject({
    by: z.enum(['tags', 'resourceGroup', 'manifest']),
    selector: z.string().max(2048),
    count: z.number().int().min(1),
    skipped: z.number().int().min(0),
    resolvedAt: z.iso.datetime({ offset: true }),
    nodeList: z
      .strictObject({
        bucket: z.string().min(3),
        key: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
      })
      .optional(),
    firstNodes: z.array(z.string()).max(20).optional(),
  })
  // readOnly (JSON Schema, OpenAPI): documented for those who read the workflow's input, never
  // sent by a client; the API refuses it (parseRolloutRequest).
  .meta({
    description:
      'Set by the workflow when target.select was resolved: how the nodes were chosen and how many. Read-only: leave it out when starting a rollout',
    readOnly: true,
  });

const groupTargetSchema = z
  .strictObject({
    kind: z.literal('group'),
    name: z
      .string({ error: GROUP_NAME_ACCEPTED })
      .regex(GROUP_NAME_PATTERN, { error: GROUP_NAME_ACCEPTED })
      .describe('The name of the group; one run per group at a time'),
    nodes: nodeList(MAX_GROUP_NODES, 'group'),
    resolution: targetResolutionSchema.optional(),
  })
  .describe('A group of standalone servers, updated policy.maxConcurrency at a time');

// Issue 11: a resolved selection's nodes, read back from S3 by validate-input: up to
// MAX_RESOLVED_NODES, as they never travel in the state.
const referencedGroupTargetSchema = groupTargetSchema.extend({
  nodes: nodeList(MAX_RESOLVED_NODES, 'group'),
});

const targetSchema = z.discriminatedUnion('kind', [clusterTargetSchema, groupTargetSchema], {
  error: (issue) =>
    issue.code === 'invalid_union'
      ? 'expected "cluster" or "group"'
      : 'expected a target: { kind: "cluster" | "group", name, nodes: [...] }',
});

const PLUGIN_ARGUMENTS_ACCEPTED =
  'expected the plug-in arguments as CAU text, e.g. HotfixRootFolderPath="s3://bucket/prefix";HotfixInstallerTimeoutMinutes=60';

const pluginSchema = z
  .strictObject(
    {
      name: z
        .enum(ROLLOUT_PLUGIN_NAMES, { error: `expected one of ${quoted(ROLLOUT_PLUGIN_NAMES)}` })
        .describe('The CAU plug-in'),
      arguments: z
        .string({ error: PLUGIN_ARGUMENTS_ACCEPTED })
        .max(8192, { error: 'expected at most 8192 characters of plug-in arguments' })
        .optional()
        .describe(
          'CAU plug-in arguments, Name1=Value1;Name2="Value with Spaces". The hotfix plug-in needs HotfixRootFolderPath, an s3://bucket/prefix URI',
        ),
    },
    { error: 'expected a plug-in: { name, arguments? }' },
  )
  .describe('One CAU plug-in of the run');

const DEFAULT_PLUGINS = [{ name: PLUGIN_NAMES.windowsUpdate }];

const changeTicketSchema = z
  .strictObject(
    {
      system: text('the change-management system, e.g. "ServiceNow"', 64),
      id: text('the ticket id, e.g. "CHG0031337"', 128),
      url: z
        .url({ protocol: /^https?$/, error: 'expected an http(s) URL of the ticket' })
        .max(2048, { error: 'expected a URL of at most 2048 characters' })
        .optional(),
    },
    { error: 'expected a change ticket: { system, id, url? }' },
  )
  .describe('The change ticket that authorises the run');

const REMOVAL_UPDATE_ACCEPTED = 'expected a KB id: KB followed by 4 to 8 digits, e.g. KB5034439';
/** Default minutes each `wusa.exe /uninstall` may run. */
export const REMOVAL_TIMEOUT_MINUTES = 30;
/** At most this many updates in one removal. */
export const MAX_REMOVAL_UPDATES = 50;

const removalKbSchema = z
  .string({ error: REMOVAL_UPDATE_ACCEPTED })
  .regex(/^KB[1-9][0-9]{3,7}$/i, { error: REMOVAL_UPDATE_ACCEPTED });
const REMOVAL_ITEM_ACCEPTED =
  'expected a KB id, or { updateId, method: "wusa" } or { updateId, method: "dism", packageName } as the install ledger records it';
/** An update with how to remove it, as the install ledger records it (POST /nodes/{id}/removals). */
const removalItemSchema = z
  .strictObject({
    updateId: removalKbSchema,
    method: z.enum(['wusa', 'dism'], { error: 'expected wusa or dism' }).default('wusa'),
    /** The DISM package name (`Package_for_RollupFix~...`); required with method dism. */
    packageName: z
      .string({ error: 'expected a DISM package name' })
      .regex(/^[A-Za-z0-9_~.-]{1,256}$/, {
        error: 'expected a DISM package name: letters, digits, _ ~ . and -',
      })
      .optional(),
  })
  .refine((item) => (item.method === 'dism') === (item.packageName !== undefined), {
    path: ['packageName'],
    error: 'expected packageName with method dism, and only with it',
  });
const removalIdOf = (item: string | { updateId: string }) =>
  (typeof item === 'string' ? item : item.updateId).toUpperCase();

const removalSchema = z
  .strictObject(
    {
      updates: z
        .array(z.union([removalKbSchema, removalItemSchema], { error: REMOVAL_ITEM_ACCEPTED }), {
          error: 'expected a list of KB ids',
        })
        .min(1, { error: 'expected at least one update to remove' })
        .max(MAX_REMOVAL_UPDATES, {
          error: `expected at most ${MAX_REMOVAL_UPDATES} updates to remove`,
        })
        .describe(
          'The updates to remove, in the safe order (latest installed first, as POST /nodes/{id}/removals plans it)',
        ),
      timeoutMinutes: z
        .number({ error: 'expected whole minutes from 1 to 1440' })
        .int({ error: 'expected whole minutes from 1 to 1440' })
        .min(1, { error: 'expected whole minutes from 1 to 1440' })
        .max(1440, { error: 'expected whole minutes from 1 to 1440' })
        .default(REMOVAL_TIMEOUT_MINUTES)
        .describe(`How long each wusa.exe /uninstall may run. Default ${REMOVAL_TIMEOUT_MINUTES}`),
    },
    { error: 'expected a removal: { updates, timeoutMinutes? }' },
  )
  .describe(
    'Remove these updates (wusa.exe /uninstall) from every node before any plug-in runs, then restart; plugins default to none',
  );

/**
 * The rollout workflow's input. Strict: unknown fields are errors. The run policy is
 * {@link runPolicyInputSchema}, the CAU run parameters.
 */
export const rolloutInputSchema = z
  .strictObject(
    {
      runId: z
        .string({ error: RUN_ID_ACCEPTED })
        .regex(RUN_ID_PATTERN, { error: RUN_ID_ACCEPTED })
        .optional()
        .describe(
          'The run id. Default: the Step Functions execution name, else <yyyymmddThhmmss>-<6 random base36>',
        ),
      target: targetSchema.describe('What to update: a failover cluster or a group of servers'),
      plugins: z
        .array(pluginSchema, { error: 'expected a list of plug-ins: [{ name, arguments? }]' })
        .min(1, { error: 'expected at least one plug-in' })
        .max(ROLLOUT_PLUGIN_NAMES.length, {
          error: `expected at most ${ROLLOUT_PLUGIN_NAMES.length} plug-ins, each named once`,
        })
        .default(DEFAULT_PLUGINS)
        .describe(
          `The plug-ins, in run order, each once. Default: [{ "name": "${PLUGIN_NAMES.windowsUpdate}" }], as CAU; none when the run is a removal`,
        ),
      policy: runPolicyInputSchema
        .optional()
        .describe('CAU run parameters (Invoke-CauRun), camelCase; every field optional'),
      changeTicket: changeTicketSchema.optional(),
      requestedBy: text('who asked for the run', 256)
        .optional()
        .describe('Who asked for the run (a user or a system), for the report'),
      drain: z
        .enum(DRAIN_MODES, { error: `expected one of ${quoted(DRAIN_MODES)}` })
        .default('whenRestartPossible')
        .describe(
          'When to drain a node: whenRestartPossible (default: only when a restart may be needed) or always',
        ),
      staging: stagingOptionsSchema.optional(),
      rebootOption: z
        .enum(REBOOT_OPTIONS, { error: `expected one of ${quoted(REBOOT_OPTIONS)}` })
        .default('IfRequired')
        .describe(
          'When the run restarts a node (SSM RebootOption, Azure rebootSetting): IfRequired (default: when an update or a pending restart needs it), Never (install, do not restart: the node ends InstalledPendingReboot and a cluster node is not drained for the restart) or Always (restart after installing even when not required, drained first)',
        ),
      approvalGate: z
        .strictObject({
          afterNodes: z
            .number({ error: 'expected a whole number of pilot nodes, 1 or more' })
            .int({ error: 'expected a whole number of pilot nodes, 1 or more' })
            .min(1, { error: 'expected a whole number of pilot nodes, 1 or more' }),
          timeoutMinutes: z
            .number({ error: 'expected whole minutes from 1 to 10080 (a week)' })
            .int({ error: 'expected whole minutes from 1 to 10080 (a week)' })
            .min(1, { error: 'expected whole minutes from 1 to 10080 (a week)' })
            .max(10080, { error: 'expected whole minutes from 1 to 10080 (a week)' })
            .default(1440),
        })
        .optional()
        .describe(
          'Pilot first: after the first afterNodes nodes (in update order) the run waits for an approve or reject; no decision within timeoutMinutes (default 1440) counts as rejected',
        ),
      schedule: scheduleTriggerSchema.optional(),
      removal: removalSchema.optional(),
      phases: phasesInputSchema.optional(),
      updateSelection: updateSelectionInputSchema.optional(),
      // Issue 13, item 1: CloudWatch alarms read before each cluster node and each wave.
      healthGates: healthGatesInputSchema.optional(),
    },
    {
      error:
        'expected the rollout input: an object with target and, optionally, plugins, policy, ...',
    },
  )
  .meta({
    title: 'Rollout input',
    description:
      'Starts a rollout of Windows updates to a failover cluster (Cluster-Aware Updating) or a group of servers',
  });

/** The input with a resolved selection's nodes read back from S3 (issue 11). */
const referencedRolloutInputSchema = rolloutInputSchema.extend({
  target: z.discriminatedUnion('kind', [clusterTargetSchema, referencedGroupTargetSchema]),
});

/** The rollout input as a caller writes it. */
export type RolloutInput = z.input<typeof rolloutInputSchema>;

// Issue 11: a group chosen by `target.select`. ResolveTarget turns it into listed nodes before
// the input is validated (and the API checks it with parseTargetSelection, whose rules are
// targetSelectionSchema), so only the published schemas carry this form.
const selectedGroupTargetSchema = z
  .strictObject({
    kind: z.literal('group'),
    name: groupTargetSchema.shape.name,
    select: targetSelectionSchema,
  })
  .describe(
    `A group of standalone servers chosen by tags, a Resource Group or a node list in S3 when the run starts (up to ${MAX_RESOLVED_NODES.toLocaleString('en-US')} nodes), updated policy.maxConcurrency at a time`,
  );

/**
 * What a caller may send, as published (schemas/rollout-input.schema.json, the OpenAPI
 * document's RolloutRequest): the input, whose group target may also be a selection.
 */
export const publishedRolloutInputSchema = rolloutInputSchema
  .extend({
    target: z
      .union([clusterTargetSchema, groupTargetSchema, selectedGroupTargetSchema])
      .describe(
        'What to update: a failover cluster, a group of servers, or a group chosen by target.select',
      ),
  })
  .meta(z.globalRegistry.get(rolloutInputSchema) ?? {});

/** The rollout input as JSON Schema (draft 2020-12), for publishing; what a caller may send. */
export function rolloutInputJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(publishedRolloutInputSchema, {
    io: 'input',
    target: 'draft-2020-12',
  });
  return withStandardFormats(schema) as Record<string, unknown>;
}

// zod names some string checks with formats JSON Schema does not define (`starts_with`); the
// pattern beside them says the same, so they are dropped for standard validators.
const JSON_SCHEMA_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'duration',
  'email',
  'uri',
  'uuid',
  'regex',
  'ipv4',
  'ipv6',
  'hostname',
]);

function withStandardFormats(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withStandardFormats);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => key !== 'format' || JSON_SCHEMA_FORMATS.has(value as string))
      .map(([key, value]) => [key, withStandardFormats(value)]),
  );
}

// ---------------------------------------------------------------------------------------------
// Resolved rollout

/** One node of the run: its NetBIOS name and the SSM managed node that is it. */
export interface RolloutNode {
  readonly name: string;
  readonly instanceId: string;
}

/** The run's target, nodes in update order (policy.nodeOrder applied). */
export interface RolloutTarget {
  readonly kind: 'cluster' | 'group';
  readonly name: string;
  readonly nodes: readonly RolloutNode[];
}

/** Where a hotfix root is: an S3 bucket and a key prefix (empty, or ending in `/`). */
export interface HotfixRootLocation {
  readonly bucket: string;
  readonly prefix: string;
  /** `s3://bucket/prefix`, as the user wrote it (normalised). */
  readonly uri: string;
}

/** A plug-in with its arguments read and defaults applied. */
export type ResolvedPlugin =
  | {
      readonly name: typeof PLUGIN_NAMES.hotfix;
      readonly arguments: HotfixPluginArguments;
      readonly hotfixRoot: HotfixRootLocation;
      /** The input's updateSelection (only its KB lists apply here); absent when none. */
      readonly selection?: UpdateSelection;
    }
  | {
      readonly name: typeof PLUGIN_NAMES.windowsUpdate;
      readonly arguments: WindowsUpdatePluginArguments;
      /** The input's updateSelection, which the node applies; absent when none. */
      readonly selection?: UpdateSelection;
    };

export interface ChangeTicket {
  readonly system: string;
  readonly id: string;
  readonly url?: string;
}

/**
 * The rollout with every default resolved: what validate-input returns and every later state
 * reads. `changeTicket` and `requestedBy` are `null` when not given, so JSONPath can test them
 * with IsNull.
 */
export interface ResolvedRollout {
  readonly runId: string;
  readonly target: RolloutTarget;
  /** In run order. */
  readonly plugins: readonly ResolvedPlugin[];
  readonly policy: RunPolicy;
  readonly changeTicket: ChangeTicket | null;
  readonly requestedBy: string | null;
  readonly drain: DrainMode;
  /** When the run restarts a node; see {@link REBOOT_OPTIONS}. */
  readonly rebootOption: RebootOption;
  /** Staging before the window (issue 13 item 5): nodes at once, and hours ahead of a window. */
  readonly staging: StagingOptions;
  /**
   * A cluster run of 2 or more nodes whose input names no policy.nodeOrder: the workflow orders the nodes fewest
   * clustered roles first (CAU), from an inventory, before the first node (issue 13, item 7).
   */
  readonly computeNodeOrder: boolean;
  /** When the run was requested (the execution's start), ISO 8601. */
  readonly requestedAt: string;
  /**
   * `requestedAt` + policy.warnAfterMinutes / stopAfterMinutes, ISO 8601; absent when the policy
   * sets no limit (as warnAfterMinutes / stopAfterMinutes are).
   */
  readonly deadlines: { readonly warnAt?: string; readonly stopAt?: string };
  /** The pilot gate (with its timeout in seconds, for the wait), or null when there is none. */
  readonly approvalGate: (ApprovalGate & { readonly timeoutSeconds: number }) | null;
  /**
   * Phases that advance themselves (issue 13, item 4), in the order they run, with the one being
   * run; the node order is theirs. Null when the input gives none.
   */
  readonly phases: PhasePlan | null;
  /**
   * CloudWatch alarms read before each cluster node and before each wave of a group (issue 13,
   * item 1); absent (not null) when the input names none, so a Choice tests it with IsPresent.
   */
  readonly healthGates?: HealthGates;
  /**
   * Set when a scheduled trigger fired outside its schedule (an off-week of intervalWeeks, before
   * startDate, or after the window closed): the run ends at once, touching nothing. Null otherwise.
   */
  readonly skip: { readonly reason: string; readonly message: string } | null;
  /** The scheduled window that started the run, if any. */
  readonly schedule: {
    readonly name: string;
    readonly windowStart: string;
    readonly windowStop: string;
  } | null;
  /**
   * Updates each node removes (RemoveUpdates) before the plug-ins, in order, with the command's
   * timeouts; null when the run removes nothing.
   */
  /** How the nodes were chosen when the target was a selection (issue 11); null for a list. */
  readonly targetResolution: TargetResolution | null;
  readonly removal: {
    readonly updates: readonly RemovalItem[];
    readonly timeoutMinutes: number;
    readonly commandTimeoutSeconds: number;
  } | null;
}

/** Raised by {@link parseRolloutInput}; lists every problem, each with its field and value. */
export class RolloutInputError extends RolloutRuleError {
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[], options?: { cause?: unknown }) {
    super(formatCapped('rollout input is invalid', problems), options);
    this.problems = problems;
  }
}

export interface ParseRolloutOptions {
  /** Random numbers in [0, 1) for a generated run id. @default Math.random */
  readonly random?: () => number;
  /**
   * The group's nodes were resolved from a selection and read back from S3 (issue 11): up to
   * MAX_RESOLVED_NODES instead of the MAX_GROUP_NODES an input may list. @default false
   */
  readonly nodesByReference?: boolean;
  /**
   * The run id when the input has none, e.g. the execution name; used only when it is a valid
   * run id. @default - a generated run id
   */
  readonly defaultRunId?: string;
}

/**
 * Checks the rollout input and resolves it: run id, run policy (against the target's kind and
 * nodes), plug-in arguments (the hotfix root must be `s3://bucket/prefix`), node order and
 * deadlines from `now`.
 *
 * @throws RolloutInputError listing every problem: schema, duplicates, run policy (fields
 *   prefixed `policy.`) and plug-in arguments (`plugins[i].arguments`).
 */
export function parseRolloutInput(
  input: unknown,
  now: Date,
  options: ParseRolloutOptions = {},
): ResolvedRollout {
  if (Number.isNaN(now.getTime())) {
    throw new RangeError('parseRolloutInput: now is not a valid date');
  }
  let result: ReturnType<typeof rolloutInputSchema.safeParse>;
  try {
    result = (
      options.nodesByReference === true ? referencedRolloutInputSchema : rolloutInputSchema
    ).safeParse(input) as typeof result;
  } catch (error) {
    // Only reachable with exotic objects (throwing getters); JSON never gets here.
    const problem = { field: '(root)', message: `could not be read: ${String(error)}` };
    throw new RolloutInputError([problem], { cause: error });
  }
  const raw = isRecord(input) ? input : {};
  const problems: ValidationProblem[] = [];
  // The run policy reports its own schema problems, with better names: skip zod's copy.
  if (!result.success) {
    const issues = result.error.issues.filter((issue) => issue.path[0] !== 'policy');
    problems.push(...issueProblems(issues, input, acceptedRolloutFields));
  }
  problems.push(...duplicateProblems(raw));
  const policy = resolvePolicy(raw, problems);
  // A removal runs no plug-in unless it names some.
  const plugins = resolvePlugins(
    raw.plugins === undefined ? (raw.removal === undefined ? DEFAULT_PLUGINS : []) : raw.plugins,
    problems,
  );

  if (problems.length > 0 || !result.success || policy === undefined || plugins === undefined) {
    if (problems.length === 0 && !result.success) {
      problems.push(...issueProblems(result.error.issues, input, acceptedRolloutFields));
    }
    throw new RolloutInputError(
      sortProblems(problems),
      result.success ? {} : { cause: result.error },
    );
  }

  const data = result.data;
  const removalIds = (data.removal?.updates ?? []).map(removalIdOf);
  const repeated = removalIds.findIndex((id, i) => removalIds.indexOf(id) !== i);
  if (repeated !== -1) {
    throw new RolloutInputError([
      {
        field: `removal.updates[${repeated}]`,
        value: data.removal?.updates[repeated],
        message: `repeats removal.updates[${removalIds.indexOf(removalIds[repeated] as string)}]; list each update once`,
      },
    ]);
  }
  const removalTimeout = data.removal
    ? commandTimeout(data.removal.updates.length, data.removal.timeoutMinutes, 900, {
        count: 'removal.updates',
        minutes: 'removal.timeoutMinutes',
      })
    : undefined;
  if (removalTimeout !== undefined && 'problem' in removalTimeout) {
    throw new RolloutInputError([
      {
        field: 'removal.timeoutMinutes',
        value: data.removal?.timeoutMinutes,
        message: removalTimeout.problem,
      },
    ]);
  }
  if (data.approvalGate && data.approvalGate.afterNodes >= data.target.nodes.length) {
    throw new RolloutInputError([
      {
        field: 'approvalGate.afterNodes',
        value: data.approvalGate.afterNodes,
        message: `expected fewer pilot nodes than the ${data.target.nodes.length} nodes of the target, so some wait for the approval`,
      },
    ]);
  }
  const phased = resolvePhasesOf(data, policy);
  let skip: ResolvedRollout['skip'] = null;
  let schedule: ResolvedRollout['schedule'] = null;
  let windowStop: string | undefined;
  if (data.schedule) {
    let decision: ReturnType<typeof shouldRunAt>;
    try {
      decision = shouldRunAt(
        parseSchedule(data.schedule.definition),
        new Date(data.schedule.scheduledTime),
        now,
      );
    } catch (error) {
      throw new RolloutInputError(
        [{ field: 'schedule', value: data.schedule.name, message: (error as Error).message }],
        { cause: error },
      );
    }
    if (decision.run) {
      windowStop = decision.window.stopAt.toISOString();
      schedule = {
        name: data.schedule.name,
        windowStart: decision.window.startAt.toISOString(),
        windowStop,
      };
    } else {
      skip = { reason: decision.reason, message: decision.message };
    }
  }
  const byName = new Map(data.target.nodes.map((node) => [node.name, node]));
  const order = phased?.order ?? policy.nodeOrder;
  const nodes = order.map((name) => byName.get(name) as RolloutNode);
  const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
  const defaultRunId =
    options.defaultRunId !== undefined && RUN_ID_PATTERN.test(options.defaultRunId)
      ? options.defaultRunId
      : undefined;
  return {
    runId: data.runId ?? defaultRunId ?? generateRunId(now, options.random ?? Math.random),
    target: { kind: data.target.kind, name: data.target.name, nodes },
    plugins: withSelection(plugins, resolveUpdateSelection(data.updateSelection)),
    policy: phased ? { ...policy, nodeOrder: phased.order } : policy,
    changeTicket: data.changeTicket ?? null,
    requestedBy: data.requestedBy ?? null,
    drain: data.drain,
    rebootOption: data.rebootOption,
    staging: data.staging ?? { maxConcurrency: DEFAULT_STAGING_CONCURRENCY },
    // One node has no order to compute; phases give the order (each phase's nodes in turn).
    computeNodeOrder:
      data.target.kind === 'cluster' &&
      data.target.nodes.length > 1 &&
      phased === undefined &&
      (typeof data.policy !== 'object' ||
        data.policy === null ||
        (data.policy as { nodeOrder?: unknown }).nodeOrder === undefined),
    requestedAt: now.toISOString(),
    deadlines: deadlinesOf(policy, at, windowStop),
    approvalGate: data.approvalGate
      ? {
          afterNodes: data.approvalGate.afterNodes,
          timeoutMinutes: data.approvalGate.timeoutMinutes,
          timeoutSeconds: data.approvalGate.timeoutMinutes * 60,
        }
      : null,
    phases: phased?.plan ?? null,
    ...(data.healthGates ? { healthGates: data.healthGates } : {}),
    skip,
    schedule,
    // Only a group can carry one: the cluster target's schema refuses unknown fields.
    targetResolution: (data.target as { resolution?: TargetResolution }).resolution ?? null,
    removal: data.removal
      ? {
          updates: data.removal.updates.map(
            (item, index): RemovalItem =>
              typeof item === 'string'
                ? { index, updateId: removalIdOf(item) }
                : item.method === 'wusa'
                  ? { index, updateId: removalIdOf(item), method: 'wusa' }
                  : {
                      index,
                      updateId: removalIdOf(item),
                      method: 'dism',
                      packageName: item.packageName as string,
                    },
          ),
          timeoutMinutes: data.removal.timeoutMinutes,
          commandTimeoutSeconds: (removalTimeout as { seconds: number }).seconds,
        }
      : null,
  };
}

/** Phases (issue 13, item 4) against the resolved node order; refused with every problem. */
function resolvePhasesOf(
  data: {
    phases?: Parameters<typeof resolvePhases>[0];
    approvalGate?: unknown;
    healthGates?: { checkEveryMinutes?: number };
  },
  policy: RunPolicy,
): { order: string[]; plan: PhasePlan } | undefined {
  if (data.phases === undefined) return undefined;
  if (data.approvalGate !== undefined) {
    throw new RolloutInputError([
      {
        field: 'approvalGate',
        value: data.approvalGate,
        message:
          'expected phases or approvalGate, not both: give the pilot as the first phase, with an approval',
      },
    ]);
  }
  const resolved = resolvePhases(
    data.phases,
    policy.nodeOrder,
    policy.maxFailedNodes,
    data.healthGates?.checkEveryMinutes,
  );
  if ('problems' in resolved) throw new RolloutInputError(resolved.problems);
  return resolved;
}

/**
 * Each plug-in carries the update selection (issue 13 item 2), so plan-node and scan read it
 * with the plug-in; nothing is added when the input selects everything.
 */
function withSelection(
  plugins: readonly ResolvedPlugin[],
  selection: UpdateSelection | null,
): ResolvedPlugin[] {
  return selection === null ? [...plugins] : plugins.map((plugin) => ({ ...plugin, selection }));
}

/** WarnAfter and StopAfter as times; a scheduled window's end caps StopAfter. */
function deadlinesOf(
  policy: RunPolicy,
  at: (minutes: number) => string,
  windowStop: string | undefined,
): ResolvedRollout['deadlines'] {
  const stopAfter = policy.stopAfterMinutes === undefined ? undefined : at(policy.stopAfterMinutes);
  const stopAt =
    stopAfter !== undefined && windowStop !== undefined
      ? stopAfter < windowStop
        ? stopAfter
        : windowStop
      : (stopAfter ?? windowStop);
  return {
    ...(policy.warnAfterMinutes === undefined ? {} : { warnAt: at(policy.warnAfterMinutes) }),
    ...(stopAt === undefined ? {} : { stopAt }),
  };
}

/** `<yyyymmddThhmmss>-<6 random base36>` in UTC, e.g. `20250513T220501-k3x9qa`. */
export function generateRunId(now: Date, random: () => number = Math.random): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d{3}Z$/, '')
    .replace(/[-:]/g, '');
  let suffix = '';
  for (let i = 0; i < 6; i++) {
    const digit = Math.min(35, Math.max(0, Math.floor(random() * 36)));
    suffix += Number.isFinite(digit) ? digit.toString(36) : '0';
  }
  return `${stamp}-${suffix}`;
}

/**
 * Reads a hotfix root URI: `s3://bucket` or `s3://bucket/prefix`. The prefix comes back empty or
 * ending in `/`, so `prefix + file` is the key and listing it cannot match a sibling prefix.
 * Returns the reason when it is not one.
 */
export function parseHotfixRootUri(uri: string): HotfixRootLocation | { problem: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(uri.trim());
  if (!match) {
    return {
      problem: `HotfixRootFolderPath ${JSON.stringify(uri)}: our hotfix root is an S3 prefix; expected s3://bucket/prefix, e.g. HotfixRootFolderPath="s3://my-hotfixes/2025-05"`,
    };
  }
  const bucket = match[1] as string;
  const path = (match[2] ?? '').replace(/\/+$/, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
    return {
      problem: `HotfixRootFolderPath ${JSON.stringify(uri)}: bucket ${JSON.stringify(bucket)} is not an S3 bucket name (3 to 63 lowercase letters, digits, "." and "-")`,
    };
  }
  const badSegment = path.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (path !== '' && (path.includes('\\') || badSegment)) {
    return {
      problem: `HotfixRootFolderPath ${JSON.stringify(uri)}: expected a key prefix of "/"-separated names, without "\\", empty, "." or ".." segments`,
    };
  }
  return {
    bucket,
    prefix: path === '' ? '' : `${path}/`,
    uri: path === '' ? `s3://${bucket}` : `s3://${bucket}/${path}`,
  };
}

function resolvePolicy(
  raw: Record<string, unknown>,
  problems: ValidationProblem[],
): RunPolicy | undefined {
  const target = isRecord(raw.target) ? raw.target : {};
  const nodes = Array.isArray(target.nodes)
    ? target.nodes.map((node: unknown) => (isRecord(node) ? node.name : node))
    : target.nodes;
  try {
    return resolveRunPolicy(raw.policy, { kind: target.kind, nodes } as never);
  } catch (error) {
    if (!(error instanceof RunPolicyError)) throw error;
    // Target problems are already reported by the schema, with the node's field named.
    for (const p of error.problems) {
      if (p.field === 'target' || p.field.startsWith('target.')) continue;
      const field =
        p.field === '(run policy)'
          ? 'policy'
          : p.field.startsWith('[')
            ? `policy${p.field}`
            : `policy.${p.field}`;
      problems.push({ ...p, field });
    }
    return undefined;
  }
}

function resolvePlugins(
  plugins: unknown,
  problems: ValidationProblem[],
): ResolvedPlugin[] | undefined {
  if (!Array.isArray(plugins)) return undefined;
  // Every plug-in is read, so one error lists the problems of all of them.
  const resolved = plugins.map((plugin: unknown, i) =>
    isRecord(plugin) ? resolvePlugin(plugin, i, problems) : undefined,
  );
  return resolved.every((p) => p !== undefined) ? resolved : undefined;
}

function resolvePlugin(
  plugin: Record<string, unknown>,
  i: number,
  problems: ValidationProblem[],
): ResolvedPlugin | undefined {
  const { name, arguments: args } = plugin;
  if (typeof name !== 'string' || !ROLLOUT_PLUGIN_NAMES.includes(name as never)) return undefined;
  if (!(args === undefined || typeof args === 'string')) return undefined;
  const field = `plugins[${i}].arguments`;
  try {
    const parsed = parsePluginArgumentsFor(name, args ?? '');
    if (parsed.pluginName === PLUGIN_NAMES.windowsUpdate) {
      return { name: parsed.pluginName, arguments: parsed.arguments };
    }
    const root = parseHotfixRootUri(parsed.arguments.hotfixRootFolderPath);
    if ('problem' in root) {
      problems.push({ field, value: args, message: root.problem });
      return undefined;
    }
    return { name: parsed.pluginName, arguments: parsed.arguments, hotfixRoot: root };
  } catch (error) {
    if (!(error instanceof PluginArgumentError)) throw error;
    // The parser's example is a UNC path; ours is S3.
    const message = /HotfixRootFolderPath is required/.test(error.message)
      ? `${PLUGIN_NAMES.hotfix} needs HotfixRootFolderPath, the S3 URI of the hotfix root, e.g. HotfixRootFolderPath="s3://my-hotfixes/2025-05"`
      : error.message;
    problems.push({ field, value: args, message });
    return undefined;
  }
}

/** Same node twice (names compare case-insensitively), same instance twice, same plug-in twice. */
function duplicateProblems(raw: Record<string, unknown>): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const target = isRecord(raw.target) ? raw.target : {};
  if (Array.isArray(target.nodes)) {
    const names = new Map<string, number>();
    const ids = new Map<string, number>();
    target.nodes.forEach((node: unknown, i) => {
      if (!isRecord(node)) return;
      if (typeof node.name === 'string' && nodeNameProblem(node.name) === undefined) {
        const first = names.get(nodeKey(node.name));
        if (first === undefined) names.set(nodeKey(node.name), i);
        else {
          problems.push({
            field: `target.nodes[${i}].name`,
            value: node.name,
            message: `same node as target.nodes[${first}].name; node names compare case-insensitively`,
          });
        }
      }
      if (typeof node.instanceId === 'string' && INSTANCE_ID_PATTERN.test(node.instanceId)) {
        const first = ids.get(node.instanceId);
        if (first === undefined) ids.set(node.instanceId, i);
        else {
          problems.push({
            field: `target.nodes[${i}].instanceId`,
            value: node.instanceId,
            message: `same instance as target.nodes[${first}].instanceId; each node is one managed instance`,
          });
        }
      }
    });
  }
  if (Array.isArray(raw.plugins)) {
    const seen = new Map<string, number>();
    raw.plugins.forEach((plugin: unknown, i) => {
      if (!isRecord(plugin) || typeof plugin.name !== 'string') return;
      const key = plugin.name.toUpperCase();
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else {
        problems.push({
          field: `plugins[${i}].name`,
          value: plugin.name,
          message: `same plug-in as plugins[${first}]; name each plug-in once and put all its arguments there`,
        });
      }
    });
  }
  return problems;
}

const TOP_FIELDS = Object.keys(rolloutInputSchema.shape);

/** Orders problems as the input reads: fields in schema order, items by index. */
function sortProblems(problems: readonly ValidationProblem[]): ValidationProblem[] {
  const rank = (field: string): number => {
    const top = /^[^.[]*/.exec(field)?.[0] ?? field;
    const known = TOP_FIELDS.indexOf(top);
    return known === -1 ? TOP_FIELDS.length : known;
  };
  const items = (field: string) => [...field.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  const compareItems = (a: number[], b: number[]) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
    }
    return 0;
  };
  return problems
    .map((problem, i) => ({ problem, i, rank: rank(problem.field), items: items(problem.field) }))
    .sort((a, b) => a.rank - b.rank || compareItems(a.items, b.items) || a.i - b.i)
    .map((entry) => entry.problem);
}

/** The fields accepted at a path of the rollout input, for "unknown field" messages. */
function acceptedRolloutFields(path: readonly PropertyKey[]): readonly string[] {
  const shape = path.filter((p) => typeof p === 'string').join('.');
  switch (shape) {
    case '':
      return TOP_FIELDS;
    case 'target':
      return ['kind', 'name', 'nodes'];
    case 'target.nodes':
      return Object.keys(rolloutNodeSchema.shape);
    case 'plugins':
      return Object.keys(pluginSchema.shape);
    case 'changeTicket':
      return Object.keys(changeTicketSchema.shape);
    case 'removal':
      return Object.keys(removalSchema.shape);
    case 'updateSelection':
      return Object.keys(updateSelectionInputSchema.shape);
    default:
      return [];
  }
}

function formatCapped(heading: string, problems: readonly ValidationProblem[]): string {
  if (problems.length <= MAX_PROBLEMS_IN_MESSAGE) return formatProblems(heading, problems);
  const shown = formatProblems(heading, problems.slice(0, MAX_PROBLEMS_IN_MESSAGE)).replace(
    /\(\d+ problems\)/,
    `(${problems.length} problems)`,
  );
  return `${shown}\n  ... and ${problems.length - MAX_PROBLEMS_IN_MESSAGE} more`;
}

// ---------------------------------------------------------------------------------------------
// Zod issues as problems, and handler events

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A field path as users read it: `target.nodes[2].instanceId`; keys that are not identifiers
 * in brackets, `["CAUHotfix_All/KB1.msu"].update.kb`.
 */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) {
      out += `${out === '' ? '' : '.'}${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(root)' : out;
}

function valueAt(
  input: unknown,
  path: readonly PropertyKey[],
): { present: boolean; value: unknown } {
  let current: unknown = input;
  for (const segment of path) {
    if (typeof segment === 'symbol' || typeof current !== 'object' || current === null) {
      return { present: false, value: undefined };
    }
    if (!Object.hasOwn(current, segment)) return { present: false, value: undefined };
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { present: true, value: current };
}

/**
 * Turns zod issues into problems naming the field (see {@link fieldPath}) and the value as
 * written; a missing field says so. `accepted` lists the fields allowed where an unknown one is.
 */
export function issueProblems(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  accepted: (path: readonly PropertyKey[]) => readonly string[] = () => [],
): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const fields = accepted(issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        problems.push({
          field: fieldPath(path),
          value: valueAt(input, path).value,
          message:
            fields.length > 0
              ? `unknown field; accepted here: ${fields.join(', ')}`
              : 'unknown field',
        });
      }
      continue;
    }
    const { present, value } = valueAt(input, issue.path);
    problems.push({
      field: fieldPath(issue.path),
      ...(present ? { value } : {}),
      message: present || issue.path.length === 0 ? issue.message : `missing; ${issue.message}`,
    });
  }
  return problems;
}

/** A Lambda handler's event does not have the shape the handler takes. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEvent';
  readonly problems: readonly ValidationProblem[];

  constructor(
    handler: string,
    problems: readonly ValidationProblem[],
    options?: { cause?: unknown },
  ) {
    super(formatCapped(`${handler}: invalid event`, problems), options);
    this.problems = problems;
  }
}

/**
 * Checks a handler's event against its schema.
 *
 * @throws InvalidEventError (name `InvalidEvent`) naming each bad field and its value.
 */
export function parseEvent<S extends z.ZodType>(
  handler: string,
  schema: S,
  event: unknown,
): z.output<S> {
  const result = schema.safeParse(event);
  if (result.success) return result.data;
  throw new InvalidEventError(handler, issueProblems(result.error.issues, event), {
    cause: result.error,
  });
}

// ---------------------------------------------------------------------------------------------
// Schemas of the resolved rollout, for the handlers that receive parts of it

const nonEmpty = z.string().min(1);

/** A node reference in an event: `{ name, instanceId }`. */
export const rolloutNodeRefSchema = z.object({
  name: z.string().refine((name) => nodeNameProblem(name) === undefined, {
    error: 'expected a NetBIOS computer name',
  }),
  instanceId: z.string().regex(INSTANCE_ID_PATTERN, { error: INSTANCE_ID_ACCEPTED }),
});

/** A {@link ResolvedPlugin} in an event. */
export const resolvedPluginSchema = z.discriminatedUnion('name', [
  z.object({
    name: z.literal(PLUGIN_NAMES.hotfix),
    arguments: z.object({
      hotfixRootFolderPath: nonEmpty,
      hotfixConfigFileName: nonEmpty,
      hotfixInstallerTimeoutMinutes: z.number().int().min(1).max(1440),
      disableAclChecks: z.boolean(),
      requireSmbEncryption: z.boolean(),
    }),
    hotfixRoot: z.object({
      bucket: nonEmpty,
      prefix: z.string().refine((p) => p === '' || p.endsWith('/'), {
        error: 'expected an empty prefix or one ending in "/"',
      }),
      uri: nonEmpty,
    }),
    selection: resolvedUpdateSelectionSchema.optional(),
  }),
  z.object({
    name: z.literal(PLUGIN_NAMES.windowsUpdate),
    arguments: z.object({
      includeRecommendedUpdates: z.boolean(),
      queryString: nonEmpty,
      queryStringGiven: z.boolean(),
    }),
    selection: resolvedUpdateSelectionSchema.optional(),
  }),
]);
