/**
 * Run policy: the Cluster-Aware Updating run parameters users know from Invoke-CauRun and
 * Add-CauClusterRole, plus SSM-style `maxConcurrency` for groups of standalone servers. One
 * schema checks the input; {@link resolveRunPolicy} adds the checks that need the run's nodes,
 * applies the defaults, and reports every problem in one {@link RunPolicyError}.
 *
 * Sources: DOMAIN.md §2; the Invoke-CauRun help (ClusterAwareUpdating module,
 * MicrosoftDocs/windows-powershell-docs) and "Cluster-Aware Updating advanced options and
 * updating run profiles" (MicrosoftDocs/windowsserverdocs) for the CAU parameters, ranges and
 * defaults; the SSM SendCommand reference for `MaxConcurrency`.
 *
 * Multi-plug-in switches. `stopOnPluginFailure` and `separateReboots` are NOT refused without
 * `runPluginsSerially`, though that was once assumed. The Invoke-CauRun help contradicts it:
 * its Example 2 passes `-StopOnPluginFailure -SeparateReboots` without `-RunPluginsSerially`,
 * and it says RunPluginsSerially only serialises scanning and staging ("regardless of the
 * configuration of this parameter, CAU installs the applicable updates for each plug-in
 * sequentially"). What the help does tie the three switches to is the number of plug-ins: each
 * is "valid only when multiple plug-ins are specified", and with a single plug-in CAU only
 * warns. The run policy does not know the plug-ins, so the three switches are accepted
 * independently here.
 */
import * as z from 'zod';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';
import { nodeListProblems, sameNode } from './node-names.js';

/** How drained roles return to a node after it is updated (Invoke-CauRun `-FailbackMode`). */
export const FAILBACK_MODES = ['NoFailback', 'Immediate', 'Policy'] as const;

/** One of {@link FAILBACK_MODES}. */
export type FailbackMode = (typeof FAILBACK_MODES)[number];

/** The nodes a run updates: the nodes of one failover cluster, or a group of standalone servers. */
export interface RunTarget {
  /** `cluster`: CAU, one node at a time. `group`: standalone servers, SSM-style concurrency. */
  readonly kind: 'cluster' | 'group';
  /** NetBIOS names of the nodes, in the default update order. */
  readonly nodes: readonly string[];
}

/**
 * Run parameters as a user writes them: the camelCase of the CAU names. Every field is optional.
 * A duration is minutes as a number (`90`), ISO 8601 (`PT1H30M`, `P1DT2H`) or a .NET TimeSpan
 * as PowerShell prints it (`01:30:00`, `1.02:00:00`); it must come to a whole number of minutes.
 */
export interface RunPolicyInput {
  /**
   * How many nodes may fail before the run stops: 0 to one less than the number of nodes (CAU),
   * or a percentage of the run's nodes from 0% to 99% (`"10%"`, as SSM's MaxErrors), taken of
   * the node count after a tag, Resource Group or manifest target is resolved and rounded DOWN
   * (never a larger budget than written; SSM's docs give only exact examples, so the rounding
   * is ours). 100% is refused: it would exceed one less than the node count.
   * @default - a third of the nodes, rounded down ("approximately one-third", Invoke-CauRun)
   */
  maxFailedNodes?: number | string;
  /**
   * How many times the update process (with its pre- and post-update scripts) is tried on one
   * node before the node counts as failed, from 1 to 64. CAU's help calls this the number of
   * retries but gives no lower bound and does not say whether the first try counts; we count
   * attempts, the first included, so 1 means one try and no retry, and 0 (never trying) is
   * refused. Not checked against a running CAU.
   * @default 3
   */
  maxRetriesPerNode?: number;
  /**
   * Nodes to update first, in this order. Each must be a node of the run, compared
   * case-insensitively as NetBIOS names are, and listed once. Nodes not listed follow in the
   * target's order.
   * @default - the target's node order
   */
  nodeOrder?: string[];
  /** All nodes must be online and reachable before updating begins. @default false */
  requireAllNodesOnline?: boolean;
  /**
   * PowerShell script run on each node before it is updated; if it fails the node is not
   * updated. A path ending `.ps1`, at most 260 characters (CAU). @default - no script
   */
  preUpdateScript?: string;
  /**
   * PowerShell script run on each node after it is updated. Same rules as preUpdateScript.
   * @default - no script
   */
  postUpdateScript?: string;
  /** Minutes a node may take to restart before its update fails, 1 to 1440. @default 15 */
  rebootTimeoutMinutes?: number;
  /** Warn if the run has not finished after this long; less than stopAfter. @default - never */
  warnAfter?: number | string;
  /** Cancel the run if it has not finished after this long. @default - no limit */
  stopAfter?: number | string;
  /** How drained roles come back to an updated node. @default 'Immediate' */
  failbackMode?: FailbackMode;
  /**
   * Minutes a cluster node's drain (Suspend-ClusterNode -Drain) may take before the node fails,
   * 1 to 1440 (CAU's SuspendClusterNodeTimeoutMinutes). @default 30
   */
  suspendClusterNodeTimeoutMinutes?: number;
  /**
   * Minutes to wait, after a cluster node is resumed and before the next node, for its Storage
   * Spaces Direct repair jobs (Get-StorageJob) to finish, 1 to 1440 (CAU's
   * WaitForStorageRepairTimeoutMinutes). Absent: no wait. Past it the run stops.
   */
  waitForStorageRepairTimeoutMinutes?: number;
  /**
   * Minutes to wait after a cluster node's resume, with failbackMode Immediate, for the roles its
   * drain moved off to be back on it, 1 to 1440 (issue 13 item 6). Past it the node fails.
   * @default 10
   */
  failbackTimeoutMinutes?: number;
  /**
   * Scan and stage plug-ins one after another instead of in parallel. Honoured always: the node
   * workflow runs a node's plug-ins one at a time, in the order given, whatever this says.
   * @default false
   */
  runPluginsSerially?: boolean;
  /** A plug-in failing on a node stops the remaining plug-ins on that node. @default false */
  stopOnPluginFailure?: boolean;
  /** Restart a node after each plug-in that needs it, not once after all. @default false */
  separateReboots?: boolean;
  /**
   * For a group: how many nodes are updated at once, a whole number (`5`) or a percentage of the
   * nodes (`"10%"`, rounded down, at least 1). For a cluster only 1 is accepted: CAU updates
   * one cluster node at a time.
   * @default 1
   */
  maxConcurrency?: number | string;
}

/** A run policy with every default applied and every value resolved against the run's nodes. */
export interface RunPolicy {
  readonly maxFailedNodes: number;
  /** The percentage maxFailedNodes was written as (`"10%"` → 10); absent for a count. */
  readonly maxFailedNodesPercent?: number;
  /** Attempts per node, the first included. */
  readonly maxRetriesPerNode: number;
  /** Every node of the run, in update order, spelled as in the target. */
  readonly nodeOrder: readonly string[];
  readonly requireAllNodesOnline: boolean;
  readonly preUpdateScript?: string;
  readonly postUpdateScript?: string;
  readonly rebootTimeoutMinutes: number;
  /** `warnAfter` in whole minutes; absent when not given. */
  readonly warnAfterMinutes?: number;
  /** `stopAfter` in whole minutes; absent when not given. */
  readonly stopAfterMinutes?: number;
  readonly failbackMode: FailbackMode;
  /** Minutes a drain may take (CAU's SuspendClusterNodeTimeoutMinutes). */
  readonly suspendClusterNodeTimeoutMinutes: number;
  /** Minutes to wait for storage repair after each resume; absent: no wait. */
  readonly waitForStorageRepairTimeoutMinutes?: number;
  /** Minutes to wait for the failback after each resume (Immediate); absent: the default, 10. */
  readonly failbackTimeoutMinutes?: number;
  readonly runPluginsSerially: boolean;
  readonly stopOnPluginFailure: boolean;
  readonly separateReboots: boolean;
  /** Nodes updated at the same time (1 for a cluster). */
  readonly maxConcurrency: number;
  /** The percentage maxConcurrency was written as (`"10%"` → 10); absent for a count. */
  readonly maxConcurrencyPercent?: number;
}

/** Raised when a run policy or its target is invalid; lists every problem found. */
export class RunPolicyError extends RolloutRuleError {
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[], options?: { cause?: unknown }) {
    super(formatProblems('run policy is invalid', problems), options);
    this.problems = problems;
  }
}

const DURATION_ACCEPTED =
  'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00)';
const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i;
const TIME_SPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/;

/** Reads a duration; returns whole minutes, or the reason it cannot be read. */
function readDuration(value: unknown): { minutes: number } | { problem: string } {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 1
      ? { minutes: value }
      : { problem: 'expected a whole number of minutes, 1 or more' };
  }
  if (typeof value !== 'string') return { problem: DURATION_ACCEPTED };
  const text = value.trim();
  let seconds: number;
  const iso = ISO_DURATION.exec(text);
  const span = iso ? null : TIME_SPAN.exec(text);
  if (iso && text.length > 1 && !/T$/i.test(text)) {
    const [weeks, days, hours, minutes, secs] = iso.slice(1).map((d) => Number(d ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
    ];
    seconds = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + secs;
  } else if (span) {
    const [days, hours, minutes, secs] = span.slice(1, 5).map((d) => Number(d ?? 0)) as [
      number,
      number,
      number,
      number,
    ];
    if (hours > 23 || minutes > 59 || secs > 59) {
      return { problem: `${DURATION_ACCEPTED}; hours go to 23, minutes and seconds to 59` };
    }
    if (/[1-9]/.test(span[5] ?? '')) return { problem: 'not a whole number of minutes' };
    seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs;
  } else if (/^\d+$/.test(text)) {
    return {
      problem:
        'a number in a string is ambiguous (a .NET TimeSpan reads "90" as 90 days): give minutes as a number (90) or as PT90M',
    };
  } else if (/^P[^T]*[YM]/i.test(text)) {
    return {
      problem: 'years and months have no fixed length: use weeks, days, hours, minutes (P1DT2H)',
    };
  } else {
    return { problem: DURATION_ACCEPTED };
  }
  if (!Number.isSafeInteger(seconds)) return { problem: `${DURATION_ACCEPTED}; this is too long` };
  if (seconds % 60 !== 0) return { problem: 'not a whole number of minutes' };
  if (seconds < 60) return { problem: 'expected at least 1 minute' };
  return { minutes: seconds / 60 };
}

/**
 * Reads a duration given as minutes (a number), ISO 8601 (`PT2H30M`, `P1DT2H`, `P1W`) or a
 * .NET TimeSpan (`hh:mm`, `hh:mm:ss`, `d.hh:mm:ss`, optional `.fffffff` of zeros) and returns
 * whole minutes, at least 1. A number inside a string is refused: .NET would read `"90"` as
 * 90 days. ISO years and months are refused: they have no fixed length.
 *
 * @throws RunPolicyError with one problem naming `field` when the value cannot be read.
 */
export function parseDurationMinutes(value: unknown, field: string): number {
  const result = readDuration(value);
  if ('problem' in result) {
    throw new RunPolicyError([{ field, value, message: result.problem }]);
  }
  return result.minutes;
}

function wholeNumber(min: number, max: number, message: string) {
  return (
    z
      .number({ error: message })
      .refine((v) => Number.isInteger(v) && v >= min && v <= max, { error: message })
      // The published JSON Schema says what the refinement checks (issue 12 §6).
      .meta({ type: 'integer', minimum: min, maximum: max })
  );
}

/**
 * The durations the JSON Schema accepts: whole minutes as a number, ISO 8601 without years and
 * months, or a TimeSpan of whole minutes. It cannot check that ISO seconds make whole minutes
 * or that the total is at least 1 minute; the validator does.
 */
const DURATION_JSON_SCHEMA = {
  oneOf: [
    { type: 'integer', minimum: 1 },
    {
      type: 'string',
      pattern:
        '^\\s*(?:[Pp](?=\\d|[Tt]\\d)(?:\\d+[Ww])?(?:\\d+[Dd])?(?:[Tt](?=\\d)(?:\\d+[Hh])?(?:\\d+[Mm])?(?:\\d+[Ss])?)?|(?:\\d+\\.)?(?:[01]?\\d|2[0-3]):[0-5]?\\d(?::0?0(?:\\.0{1,7})?)?)\\s*$',
    },
  ],
};

const duration = z
  .union([z.number(), z.string()], { error: DURATION_ACCEPTED })
  .transform((value, ctx) => {
    const result = readDuration(value);
    if ('problem' in result) {
      ctx.addIssue({ code: 'custom', message: result.problem });
      return z.NEVER;
    }
    return result.minutes;
  })
  .meta(DURATION_JSON_SCHEMA);

const SCRIPT_ACCEPTED =
  'expected the path of a PowerShell script ending in .ps1, at most 260 characters';
const scriptPath = z
  .string({ error: SCRIPT_ACCEPTED })
  .refine((v) => /[^\\/:]\.ps1$/i.test(v) && v.length <= 260, { error: SCRIPT_ACCEPTED });

const BOOLEAN_ACCEPTED = 'expected true or false';
const flag = () => z.boolean({ error: BOOLEAN_ACCEPTED });

const CONCURRENCY_ACCEPTED =
  'expected a whole number of nodes, 1 or more, or a percentage of the nodes from 1% to 100% (e.g. "10%")';

/** `maxConcurrency` as written: a node count or a percentage of the nodes. */
type Concurrency = { readonly nodes: number } | { readonly percent: number };

const concurrency = z
  .union([z.number(), z.string()], { error: CONCURRENCY_ACCEPTED })
  .transform((value, ctx): Concurrency => {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) {
      return { nodes: value };
    }
    if (typeof value === 'string') {
      const text = value.trim();
      const count = /^\d{1,15}$/.test(text) ? Number(text) : 0;
      if (count >= 1) return { nodes: count };
      const percent = /^(\d{1,3})\s*%$/.exec(text);
      const p = percent ? Number(percent[1]) : 0;
      if (p >= 1 && p <= 100) return { percent: p };
    }
    ctx.addIssue({ code: 'custom', message: CONCURRENCY_ACCEPTED });
    return z.NEVER;
  });

const FAILED_NODES_ACCEPTED =
  'expected a whole number of nodes, 0 or more, or a percentage of the nodes from 0% to 99% (e.g. "10%")';

/** `maxFailedNodes` as written: a node count or a percentage of the run's nodes. */
type FailedNodes = { readonly nodes: number } | { readonly percent: number };

/** The JSON Schema of maxFailedNodes: what the transform below accepts. */
const FAILED_NODES_JSON_SCHEMA = {
  oneOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^\\s*(?:[0-9]|[1-9][0-9])\\s*%\\s*$' },
  ],
};

const failedNodes = z
  .union([z.number(), z.string()], { error: FAILED_NODES_ACCEPTED })
  .transform((value, ctx): FailedNodes => {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      return { nodes: value };
    }
    if (typeof value === 'string') {
      const percent = /^\s*(\d{1,2})\s*%\s*$/.exec(value);
      if (percent) return { percent: Number(percent[1]) };
    }
    ctx.addIssue({ code: 'custom', message: FAILED_NODES_ACCEPTED });
    return z.NEVER;
  })
  .meta(FAILED_NODES_JSON_SCHEMA);

/**
 * The failure budget a percentage gives on `nodeCount` nodes: rounded down, so the budget is
 * never larger than written, and never above one less than the node count (CAU).
 */
export function resolveFailedNodesPercent(percent: number, nodeCount: number): number {
  return Math.min(Math.floor((nodeCount * percent) / 100), Math.max(0, nodeCount - 1));
}

const sameName = sameNode;

const nodeOrder = z
  .array(z.string({ error: 'expected a node name' }), { error: 'expected a list of node names' })
  .superRefine(
    (names, ctx) => {
      if (!Array.isArray(names)) return;
      names.forEach((name, i) => {
        if (typeof name !== 'string') return;
        const first = names.findIndex(
          (other) => typeof other === 'string' && sameName(other, name),
        );
        if (first < i) {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `same node as nodeOrder[${first}] (${JSON.stringify(names[first])}); node names compare case-insensitively`,
          });
        }
      });
    },
    { when: () => true },
  );

const DURATION_FIELDS = ['warnAfter', 'stopAfter'];

/** Ours (the drain limit before this was configurable): 30 minutes per drain. */
export const DEFAULT_SUSPEND_CLUSTER_NODE_TIMEOUT_MINUTES = 30;

/**
 * The schema of {@link RunPolicyInput}, strict: unknown fields are errors. It checks each field
 * alone and warnAfter against stopAfter; {@link resolveRunPolicy} adds the checks that need the
 * run's nodes. Output: durations in minutes, maxConcurrency as `{ nodes }` or `{ percent }`.
 */
export const runPolicyInputSchema = z
  .strictObject(
    {
      maxFailedNodes: failedNodes.optional(),
      maxRetriesPerNode: wholeNumber(
        1,
        64,
        'expected a whole number of attempts from 1 to 64',
      ).optional(),
      nodeOrder: nodeOrder.optional(),
      requireAllNodesOnline: flag().optional(),
      preUpdateScript: scriptPath.optional(),
      postUpdateScript: scriptPath.optional(),
      rebootTimeoutMinutes: wholeNumber(
        1,
        1440,
        'expected a whole number of minutes from 1 to 1440',
      ).optional(),
      waitForStorageRepairTimeoutMinutes: wholeNumber(
        1,
        1440,
        'expected a whole number of minutes from 1 to 1440',
      ).optional(),
      failbackTimeoutMinutes: wholeNumber(
        1,
        1440,
        'expected a whole number of minutes from 1 to 1440',
      ).optional(),
      warnAfter: duration.optional(),
      stopAfter: duration.optional(),
      failbackMode: z
        .enum(FAILBACK_MODES, { error: `expected one of ${FAILBACK_MODES.join(', ')}` })
        .optional(),
      suspendClusterNodeTimeoutMinutes: wholeNumber(
        1,
        1440,
        'expected a whole number of minutes from 1 to 1440',
      ).optional(),
      runPluginsSerially: flag().optional(),
      stopOnPluginFailure: flag().optional(),
      separateReboots: flag().optional(),
      maxConcurrency: concurrency.optional(),
    },
    { error: 'expected an object of run parameters' },
  )
  .superRefine(
    (policy, ctx) => {
      const { warnAfter, stopAfter } = policy;
      if (
        typeof warnAfter === 'number' &&
        typeof stopAfter === 'number' &&
        warnAfter >= stopAfter
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['warnAfter'],
          message: `must be less than stopAfter; warnAfter is ${warnAfter} minutes, stopAfter ${stopAfter}`,
        });
      }
    },
    {
      // Run even when other fields failed, so one error lists everything; skip when either
      // duration failed, as its value is then not a number of minutes.
      when: (payload) =>
        typeof payload.value === 'object' &&
        payload.value !== null &&
        !payload.issues.some((issue) => DURATION_FIELDS.includes(String(issue.path?.[0]))),
    },
  );

type ParsedRunPolicyInput = z.output<typeof runPolicyInputSchema>;

const POLICY_FIELDS = Object.keys(runPolicyInputSchema.shape);

function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(run policy)';
  return path
    .map((part, i) =>
      typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

function issueProblems(issues: readonly z.core.$ZodIssue[], input: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        problems.push({
          field: fieldName(path),
          value: valueAt(input, path),
          message: `unknown field; accepted fields: ${POLICY_FIELDS.join(', ')}`,
        });
      }
    } else {
      problems.push({
        field: fieldName(issue.path),
        value: valueAt(input, issue.path),
        message: issue.message,
      });
    }
  }
  return problems;
}

/** The fields that parse on their own, for the node checks when the whole input did not parse. */
function parseFieldsAlone(input: unknown): Partial<ParsedRunPolicyInput> {
  if (typeof input !== 'object' || input === null) return {};
  const parsed: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(runPolicyInputSchema.shape)) {
    const result = schema.safeParse((input as Record<string, unknown>)[key]);
    if (result.success && result.data !== undefined) parsed[key] = result.data;
  }
  return parsed as Partial<ParsedRunPolicyInput>;
}

/** Checks the target; returns its kind and nodes when they are usable for the other checks. */
function checkTarget(
  target: unknown,
  problems: ValidationProblem[],
): { kind?: RunTarget['kind']; nodes?: readonly string[] } {
  if (typeof target !== 'object' || target === null) {
    problems.push({
      field: 'target',
      value: target,
      message: 'expected { kind: "cluster" | "group", nodes: [...] }',
    });
    return {};
  }
  const { kind, nodes } = target as { kind?: unknown; nodes?: unknown };
  const found: { kind?: RunTarget['kind']; nodes?: readonly string[] } = {};
  if (kind === 'cluster' || kind === 'group') found.kind = kind;
  else
    problems.push({ field: 'target.kind', value: kind, message: 'expected "cluster" or "group"' });

  if (!Array.isArray(nodes) || nodes.length === 0) {
    problems.push({
      field: 'target.nodes',
      value: nodes,
      message: 'expected a non-empty list of node names',
    });
    return found;
  }
  const before = problems.length;
  problems.push(...nodeListProblems(nodes, 'target.nodes'));
  if (problems.length === before) found.nodes = nodes as string[];
  return found;
}

/** Orders problems as a reader scans: the target, fields in schema order, unknown fields. */
function sortProblems(problems: readonly ValidationProblem[]): ValidationProblem[] {
  const rank = (field: string): [number, number] => {
    const top = /^[^.[]*/.exec(field)?.[0] ?? field;
    const item = /\[(\d+)\]/.exec(field);
    const known = POLICY_FIELDS.indexOf(top);
    const position = top === 'target' ? -1 : known === -1 ? POLICY_FIELDS.length : known;
    return [position, item ? Number(item[1]) : -1];
  };
  return problems
    .map((problem, i) => ({ problem, i, key: rank(problem.field) }))
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.i - b.i)
    .map((entry) => entry.problem);
}

function listNodes(nodes: readonly string[]): string {
  const shown = nodes.slice(0, 10).join(', ');
  return nodes.length > 10 ? `${shown} and ${nodes.length - 10} more` : shown;
}

function resolveConcurrency(value: Concurrency, nodeCount: number): number {
  if ('nodes' in value) return Math.min(value.nodes, nodeCount);
  return Math.max(1, Math.floor((nodeCount * value.percent) / 100));
}

function resolveFailedNodes(
  value: FailedNodes | undefined,
  nodeCount: number,
): Pick<RunPolicy, 'maxFailedNodes' | 'maxFailedNodesPercent'> {
  if (value === undefined) return { maxFailedNodes: Math.floor(nodeCount / 3) };
  if ('nodes' in value) return { maxFailedNodes: value.nodes };
  return {
    maxFailedNodes: resolveFailedNodesPercent(value.percent, nodeCount),
    maxFailedNodesPercent: value.percent,
  };
}

/**
 * Validates a run policy against the run's target and resolves it. `input` undefined means all
 * defaults. Besides the schema's checks: maxFailedNodes at most one less than the node count;
 * every nodeOrder entry a node of the target; maxConcurrency 1 for a cluster; the target's
 * nodes valid NetBIOS names, unique case-insensitively.
 *
 * Default node order: the order of `target.nodes` as given. Nodes named in `nodeOrder` come
 * first, in that order; the rest follow in the target's order. Names are returned as the
 * target spells them. (CAU itself starts with the node owning the fewest clustered roles; a
 * caller that wants that passes `target.nodes` sorted by role count.)
 *
 * `maxConcurrency` for a group: a count above the node count means all nodes; a percentage is
 * rounded down, and never below 1. `maxFailedNodes` as a percentage: rounded down (0 allowed).
 *
 * @throws RunPolicyError listing every problem found in the input and the target.
 */
export function resolveRunPolicy(input: unknown, target: RunTarget): RunPolicy {
  const problems: ValidationProblem[] = [];
  const { kind, nodes } = checkTarget(target, problems);
  const raw = input === undefined ? {} : input;

  const result = runPolicyInputSchema.safeParse(raw);
  if (!result.success) problems.push(...issueProblems(result.error.issues, raw));
  const parsed: Partial<ParsedRunPolicyInput> = result.success
    ? result.data
    : parseFieldsAlone(raw);

  if (nodes !== undefined) {
    const failed = parsed.maxFailedNodes;
    if (failed !== undefined && 'nodes' in failed && failed.nodes > nodes.length - 1) {
      problems.push({
        field: 'maxFailedNodes',
        value: failed.nodes,
        message: `expected a whole number from 0 to ${nodes.length - 1} (one less than the ${nodes.length} nodes of the run)`,
      });
    }
    const order = valueAt(raw, ['nodeOrder']);
    if (Array.isArray(order)) {
      order.forEach((name: unknown, i) => {
        const field = `nodeOrder[${i}]`;
        if (typeof name !== 'string' || problems.some((p) => p.field === field)) return;
        if (!nodes.some((node) => sameName(node, name))) {
          problems.push({
            field,
            value: name,
            message: `not a node of this run; its nodes are ${listNodes(nodes)}`,
          });
        }
      });
    }
  }
  if (kind === 'cluster' && parsed.maxConcurrency !== undefined) {
    const one = 'nodes' in parsed.maxConcurrency && parsed.maxConcurrency.nodes === 1;
    if (!one) {
      problems.push({
        field: 'maxConcurrency',
        value: valueAt(raw, ['maxConcurrency']),
        message: 'CAU updates one cluster node at a time: expected 1, or leave it out',
      });
    }
  }
  if (problems.length > 0 || !result.success || nodes === undefined || kind === undefined) {
    throw new RunPolicyError(sortProblems(problems));
  }

  const policy = result.data;
  const listed = (policy.nodeOrder ?? []).map(
    (name) => nodes.find((node) => sameName(node, name)) as string,
  );
  const nodeOrderResolved = [...listed, ...nodes.filter((node) => !listed.includes(node))];
  return {
    ...resolveFailedNodes(policy.maxFailedNodes, nodes.length),
    maxRetriesPerNode: policy.maxRetriesPerNode ?? 3,
    nodeOrder: nodeOrderResolved,
    requireAllNodesOnline: policy.requireAllNodesOnline ?? false,
    ...(policy.preUpdateScript === undefined ? {} : { preUpdateScript: policy.preUpdateScript }),
    ...(policy.postUpdateScript === undefined ? {} : { postUpdateScript: policy.postUpdateScript }),
    rebootTimeoutMinutes: policy.rebootTimeoutMinutes ?? 15,
    ...(policy.warnAfter === undefined ? {} : { warnAfterMinutes: policy.warnAfter }),
    ...(policy.stopAfter === undefined ? {} : { stopAfterMinutes: policy.stopAfter }),
    failbackMode: policy.failbackMode ?? 'Immediate',
    suspendClusterNodeTimeoutMinutes:
      policy.suspendClusterNodeTimeoutMinutes ?? DEFAULT_SUSPEND_CLUSTER_NODE_TIMEOUT_MINUTES,
    ...(policy.waitForStorageRepairTimeoutMinutes === undefined
      ? {}
      : { waitForStorageRepairTimeoutMinutes: policy.waitForStorageRepairTimeoutMinutes }),
    ...(policy.failbackTimeoutMinutes === undefined
      ? {}
      : { failbackTimeoutMinutes: policy.failbackTimeoutMinutes }),
    runPluginsSerially: policy.runPluginsSerially ?? false,
    stopOnPluginFailure: policy.stopOnPluginFailure ?? false,
    separateReboots: policy.separateReboots ?? false,
    maxConcurrency:
      kind === 'cluster' || policy.maxConcurrency === undefined
        ? 1
        : resolveConcurrency(policy.maxConcurrency, nodes.length),
    ...(kind === 'group' &&
    policy.maxConcurrency !== undefined &&
    'percent' in policy.maxConcurrency
      ? { maxConcurrencyPercent: policy.maxConcurrency.percent }
      : {}),
  };
}
