/**
 * scan: what would install where, installing nothing (CAU's Invoke-CauScan), and whether the
 * nodes are online. For the hotfix plug-in, the plan of the hotfix root for every node; for the
 * Windows Update plug-in, the query each node will run (Windows Update scans on the node).
 *
 * Event `{ rollout: ResolvedRollout }` (the parts used are checked). Errors: `InvalidEvent`,
 * `NodesOffline` (policy.requireAllNodesOnline and a node is not Online), the hotfix
 * configuration's errors (`HotfixConfigSyntaxError`, `HotfixConfigValidationError`), and S3 or
 * SSM errors unchanged (e.g. `ThrottlingException`, for the state machine's Retry).
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { type IgnoredPath, planHotfixRoot } from '../core/hotfix-plan.js';
import { packageAllowsHotpatch } from '../core/hotpatch.js';
import { PLUGIN_NAMES } from '../core/plugin-arguments.js';
import {
  parseEvent,
  RUN_ID_PATTERN,
  resolvedPluginSchema,
  rolloutNodeRefSchema,
} from '../core/rollout-input.js';
import {
  type Exclusion,
  hotfixFileExclusion,
  kbFromFileName,
  type UpdateSelection,
} from '../core/update-selection.js';
import {
  findManifestEntry,
  type HotpatchManifest,
  listHotfixRoot,
  loadHotfixConfig,
  loadHotpatchManifest,
} from '../shared/hotfix-root.js';
import { NODE_LIST_HEAD, readNodeList } from '../shared/node-list.js';
import { logContext, logger, tracer } from '../shared/runtime.js';
import { makeScanNodeHandler, type ScanNodeSummary } from './scan-node.js';

export interface ScanDeps {
  readonly s3: S3Client;
  readonly ssm: SSMClient;
  readonly now: () => Date;
  /** Where a group's node list goes for the Distributed Map (env ARTIFACTS_BUCKET). */
  readonly artifactsBucket?: string;
}

/** Files named per node in the output; the count is always complete. */
export const MAX_FILES_PER_NODE = 50;
/** Ignored paths listed in the output. */
export const MAX_IGNORED = 100;
/** Warnings listed in the output. */
export const MAX_WARNINGS = 50;
/** The output crosses Step Functions (256 KB per payload): stay well under, with the input. */
export const MAX_SCAN_OUTPUT_BYTES = 128 * 1024;
/** DescribeInstanceInformation takes at most 50 results a page; we ask for 50 ids at a time. */
const INSTANCE_BATCH = 50;

const WINDOWS_UPDATE_NOTE =
  'Windows Update scans on each node when the plug-in runs: which updates match the query is known only then';

const scanEventSchema = z.object({
  rollout: z.object({
    runId: z.string().regex(RUN_ID_PATTERN),
    target: z.object({
      kind: z.enum(['cluster', 'group']),
      name: z.string().min(1),
      nodes: z.array(rolloutNodeRefSchema).min(1),
    }),
    plugins: z.array(resolvedPluginSchema),
    policy: z.object({ requireAllNodesOnline: z.boolean() }),
    approvalGate: z.object({ afterNodes: z.number().int().min(1) }).nullish(),
    /** Issue 11: a resolved selection's full node list is in S3, not in target.nodes. */
    targetResolution: z
      .object({
        count: z.number().int().min(1),
        nodeList: z.object({ bucket: z.string(), key: z.string(), sha256: z.string() }).optional(),
      })
      .nullish(),
    /** Phases (issue 13, item 4): a group's fleet runs one node list per phase. */
    phases: z
      .object({
        list: z.array(z.object({ start: z.number().int().min(0), end: z.number().int().min(0) })),
      })
      .nullish(),
  }),
});

export type ScanEvent = z.input<typeof scanEventSchema>;

/** One node in the scan. */
export interface ScanNode {
  readonly name: string;
  readonly instanceId: string;
  /** SSM PingStatus is `Online`. */
  readonly online: boolean;
  /** SSM PingStatus (`Online`, `ConnectionLost`, `Inactive`), or null: not registered with SSM. */
  readonly pingStatus: string | null;
  /** How many hotfix updates the node would install. */
  readonly hotfixUpdates: number;
  /** The first files of the node's plan, in install order (at most {@link MAX_FILES_PER_NODE}). */
  readonly files: readonly string[];
  /** Files of the plan not named in `files`. */
  readonly filesOmitted: number;
  /**
   * Planned hotfixes whose package can install as a hotpatch (hotpatch-manifest.json facts:
   * KB article, GDR, hotpatch month). Whether the node's OS and binaries allow it is decided
   * when the node runs, from its inventory.
   */
  readonly hotpatchCandidates: number;
  /**
   * A restart is expected: some planned update cannot hotpatch by its package facts (or has
   * none), or the Windows Update plug-in runs (its updates are known only on the node). False
   * means none is expected, should the node's inventory confirm every hotpatch.
   */
  readonly restartExpected: boolean;
}

export interface ScanResult {
  readonly runId: string;
  readonly scannedAt: string;
  /** In update order. Empty for a group too large to list here (see nodesOmitted). */
  readonly nodes: readonly ScanNode[];
  /** Nodes left out of `nodes` to keep the output under 128 KB: a large group's. */
  readonly nodesOmitted?: number;
  readonly ignored: readonly IgnoredPath[];
  readonly ignoredOmitted: number;
  readonly warnings: readonly string[];
  readonly nodeOrder: readonly string[];
  /** Names left out of `nodeOrder` when `nodes` is omitted (issue 11: the order is in S3). */
  readonly nodeOrderOmitted?: number;
  /** The hotfix root and the configuration used; null without the hotfix plug-in. */
  readonly hotfix: { readonly root: string; readonly config: string } | null;
  /** What Windows Update will be asked for; null without the Windows Update plug-in. */
  readonly windowsUpdate: {
    readonly queryString: string;
    readonly includeRecommendedUpdates: boolean;
    /** The rollout's updateSelection, which each node applies to its search; null: none. */
    readonly selection: UpdateSelection | null;
    readonly note: string;
  } | null;
  /**
   * Hotfix files the rollout's updateSelection (its KB lists) leaves out of every node's plan,
   * each once, with the rule (at most {@link MAX_IGNORED}; `excludedOmitted` counts the rest).
   */
  readonly excluded: readonly (Exclusion & { readonly file: string })[];
  readonly excludedOmitted: number;
  /**
   * For a group: the artifacts-bucket key of the node list (`[{ name, instanceId }]` in update
   * order) that the fleet's Distributed Map reads. Null for a cluster, whose nodes run in a loop.
   */
  readonly nodeListKey: string | null;
  /**
   * For a group with an approval gate: the pilot's node list (the first `afterNodes` nodes) and
   * the rest's, which the fleet updates in two Distributed Map runs around the gate.
   */
  readonly pilotListKey: string | null;
  readonly restListKey: string | null;
  /** For a group with phases: one node list per phase, in phase order. Null otherwise. */
  readonly phaseListKeys: readonly string[] | null;
}

/** policy.requireAllNodesOnline is set and some nodes are not online. */
export class NodesOfflineError extends Error {
  override readonly name = 'NodesOffline';

  constructor(
    readonly nodes: readonly { name: string; instanceId: string; pingStatus: string | null }[],
  ) {
    super(
      `requireAllNodesOnline is set and ${nodes.length} node${nodes.length === 1 ? ' is' : 's are'} not online: ${nodes.map(describeOffline).join('; ')}. Bring them online (SSM Agent running and reachable), or run without requireAllNodesOnline`,
    );
  }
}

function describeOffline(node: { name: string; instanceId: string; pingStatus: string | null }) {
  return `${node.name} (${node.instanceId}): ${node.pingStatus === null ? 'not registered with SSM' : `PingStatus ${node.pingStatus}`}`;
}

/** The SSM PingStatus of each instance that SSM knows. */
export async function pingStatuses(
  ssm: SSMClient,
  instanceIds: readonly string[],
): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  const ids = [...new Set(instanceIds)];
  for (let i = 0; i < ids.length; i += INSTANCE_BATCH) {
    const batch = ids.slice(i, i + INSTANCE_BATCH);
    let token: string | undefined;
    do {
      const page = await ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: batch }],
          MaxResults: INSTANCE_BATCH,
          NextToken: token,
        }),
      );
      for (const info of page.InstanceInformationList ?? []) {
        if (info.InstanceId !== undefined && info.PingStatus !== undefined) {
          statuses.set(info.InstanceId, info.PingStatus);
        }
      }
      token = page.NextToken || undefined;
    } while (token !== undefined);
  }
  return statuses;
}

export function makeScanHandler(deps: ScanDeps) {
  return async function scan(event: unknown): Promise<ScanResult> {
    const { rollout } = parseEvent('scan', scanEventSchema, event);
    logContext({ runId: rollout.runId, target: rollout.target.name });
    // Issue 11: a resolved selection carries only its first nodes; the list is in S3.
    const listed = rollout.targetResolution?.nodeList;
    const nodes = listed
      ? await readNodeList(deps.s3, listed, rollout.targetResolution?.count ?? 0)
      : rollout.target.nodes;
    const names = nodes.map((n) => n.name);

    const statuses = await pingStatuses(
      deps.ssm,
      nodes.map((n) => n.instanceId),
    );
    const offline = nodes
      .map((n) => ({ ...n, pingStatus: statuses.get(n.instanceId) ?? null }))
      .filter((n) => n.pingStatus !== 'Online');
    if (rollout.policy.requireAllNodesOnline && offline.length > 0) {
      throw new NodesOfflineError(offline);
    }

    const warnings: string[] = [];
    let planned: Readonly<Record<string, readonly { file: string }[]>> = {};
    let ignored: readonly IgnoredPath[] = [];
    let hotfix: ScanResult['hotfix'] = null;
    let windowsUpdate: ScanResult['windowsUpdate'] = null;
    let manifest: HotpatchManifest = {};
    const excluded = new Map<string, Exclusion & { file: string }>();
    for (const plugin of rollout.plugins) {
      if (plugin.name === PLUGIN_NAMES.hotfix) {
        const { bucket, prefix, uri } = plugin.hotfixRoot;
        const configFileName = plugin.arguments.hotfixConfigFileName;
        const [files, loaded, loadedManifest] = await Promise.all([
          listHotfixRoot(deps.s3, bucket, prefix),
          loadHotfixConfig(deps.s3, bucket, prefix, configFileName),
          loadHotpatchManifest(deps.s3, bucket, prefix),
        ]);
        manifest = loadedManifest;
        const plan = planHotfixRoot({ files, nodes: names, config: loaded.config, configFileName });
        planned = selectPlanned(plan.nodes, plugin.selection ?? null, excluded);
        ignored = plan.ignored;
        warnings.push(...loaded.config.warnings, ...plan.warnings);
        hotfix = { root: uri, config: loaded.source };
      } else {
        windowsUpdate = {
          queryString: plugin.arguments.queryString,
          includeRecommendedUpdates: plugin.arguments.includeRecommendedUpdates,
          selection: plugin.selection ?? null,
          note: WINDOWS_UPDATE_NOTE,
        };
      }
    }
    for (const node of offline) {
      warnings.push(
        `${describeOffline(node)}: not online; requireAllNodesOnline is off, so the run goes on and this node's commands may fail`,
      );
    }

    let nodeListKey: string | null = null;
    let pilotListKey: string | null = null;
    let restListKey: string | null = null;
    let phaseListKeys: string[] | null = null;
    if (rollout.target.kind === 'group') {
      const bucket = deps.artifactsBucket;
      if (!bucket) {
        throw new Error(
          'environment variable ARTIFACTS_BUCKET is not set; the stack sets it on the scan function',
        );
      }
      const write = async (name: string, list: typeof nodes) => {
        const key = `runs/${rollout.runId}/${name}.json`;
        await deps.s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            ContentType: 'application/json',
            Body: JSON.stringify(list.map((n) => ({ name: n.name, instanceId: n.instanceId }))),
          }),
        );
        return key;
      };
      nodeListKey = await write('nodes', nodes);
      const pilot = rollout.approvalGate?.afterNodes;
      if (pilot !== undefined) {
        pilotListKey = await write('pilot', nodes.slice(0, pilot));
        restListKey = await write('rest', nodes.slice(pilot));
      }
      if (rollout.phases) {
        phaseListKeys = [];
        for (const [i, phase] of rollout.phases.list.entries()) {
          phaseListKeys.push(await write(`phase-${i}`, nodes.slice(phase.start, phase.end)));
        }
      }
    }

    const result = fitOutput(
      {
        runId: rollout.runId,
        scannedAt: deps.now().toISOString(),
        nodeOrder: names,
        hotfix,
        windowsUpdate,
        nodeListKey,
        pilotListKey,
        restListKey,
        phaseListKeys,
        excluded: [...excluded.values()].slice(0, MAX_IGNORED),
        excludedOmitted: Math.max(0, excluded.size - MAX_IGNORED),
      },
      nodes.map((n) => ({
        name: n.name,
        instanceId: n.instanceId,
        pingStatus: statuses.get(n.instanceId) ?? null,
        files: (planned[n.name] ?? []).map((u) => u.file),
        hotpatchable: (planned[n.name] ?? []).map((u) => {
          const entry = findManifestEntry(manifest, u.file);
          return entry !== undefined && packageAllowsHotpatch(entry).allows;
        }),
        windowsUpdate: windowsUpdate !== null,
      })),
      ignored,
      warnings,
    );
    logger.info('scan', {
      nodes: result.nodes.length,
      offline: offline.length,
      hotfixUpdates: result.nodes.reduce((sum, n) => sum + n.hotfixUpdates, 0),
      ignored: ignored.length,
    });
    return result;
  };
}

/** Each node's plan without the files the selection's KB lists exclude, which go to `excluded`. */
function selectPlanned<T extends { file: string }>(
  nodes: Readonly<Record<string, readonly T[]>>,
  selection: UpdateSelection | null,
  excluded: Map<string, Exclusion & { file: string }>,
): Record<string, T[]> {
  const kept: Record<string, T[]> = {};
  for (const [node, updates] of Object.entries(nodes)) {
    kept[node] = updates.filter((u) => {
      const exclusion = hotfixFileExclusion(kbFromFileName(u.file), selection);
      if (exclusion !== null && !excluded.has(u.file))
        excluded.set(u.file, { file: u.file, ...exclusion });
      return exclusion === null;
    });
  }
  return kept;
}

/**
 * Shapes the output within {@link MAX_SCAN_OUTPUT_BYTES}: at most 50 files per node, fewer when
 * there are many nodes; counts stay complete.
 */
function fitOutput(
  head: Pick<
    ScanResult,
    | 'runId'
    | 'scannedAt'
    | 'nodeOrder'
    | 'hotfix'
    | 'windowsUpdate'
    | 'nodeListKey'
    | 'pilotListKey'
    | 'restListKey'
    | 'phaseListKeys'
    | 'excluded'
    | 'excludedOmitted'
  >,
  nodes: readonly {
    name: string;
    instanceId: string;
    pingStatus: string | null;
    files: string[];
    hotpatchable: boolean[];
    windowsUpdate: boolean;
  }[],
  ignored: readonly IgnoredPath[],
  warnings: readonly string[],
): ScanResult {
  const shownWarnings =
    warnings.length > MAX_WARNINGS
      ? [
          ...warnings.slice(0, MAX_WARNINGS),
          `... and ${warnings.length - MAX_WARNINGS} more warnings`,
        ]
      : warnings;
  let result: ScanResult | undefined;
  for (const [fileCap, ignoredCap] of [
    [MAX_FILES_PER_NODE, MAX_IGNORED],
    [20, 50],
    [5, 20],
    [0, 0],
  ] as const) {
    result = {
      ...head,
      nodes: nodes.map((n) => ({
        name: n.name,
        instanceId: n.instanceId,
        online: n.pingStatus === 'Online',
        pingStatus: n.pingStatus,
        hotfixUpdates: n.files.length,
        files: n.files.slice(0, fileCap),
        filesOmitted: Math.max(0, n.files.length - fileCap),
        hotpatchCandidates: n.hotpatchable.filter(Boolean).length,
        restartExpected: n.windowsUpdate || n.hotpatchable.some((ok) => !ok),
      })),
      ignored: ignored.slice(0, ignoredCap),
      ignoredOmitted: Math.max(0, ignored.length - ignoredCap),
      warnings: shownWarnings,
    };
    if (Buffer.byteLength(JSON.stringify(result)) <= MAX_SCAN_OUTPUT_BYTES) break;
  }
  // Issue 11: a large group's nodes alone pass the limit (about 190 bytes each). Its fleet map
  // reads the node list from S3 (nodeListKey), so the state keeps the counts, not the nodes.
  if (
    result !== undefined &&
    head.nodeListKey !== null &&
    Buffer.byteLength(JSON.stringify(result)) > MAX_SCAN_OUTPUT_BYTES
  ) {
    result = {
      ...result,
      nodes: [],
      nodesOmitted: result.nodes.length,
      // The order is the list's in S3; the state keeps its head (nodeOrderOmitted counts the rest).
      ...(result.nodeOrder.length > NODE_LIST_HEAD
        ? {
            nodeOrder: result.nodeOrder.slice(0, NODE_LIST_HEAD),
            nodeOrderOmitted: result.nodeOrder.length - NODE_LIST_HEAD,
          }
        : {}),
    };
  }
  return result as ScanResult;
}

let cached: ReturnType<typeof makeScanHandler> | undefined;

function productionDeps(): ScanDeps {
  return {
    s3: tracer.captureAWSv3Client(new S3Client({})),
    ssm: tracer.captureAWSv3Client(new SSMClient({})),
    now: () => new Date(),
    ...(process.env.ARTIFACTS_BUCKET ? { artifactsBucket: process.env.ARTIFACTS_BUCKET } : {}),
  };
}

let cachedNode: ReturnType<typeof makeScanNodeHandler> | undefined;

/**
 * The scan function serves both steps of the scan workflow: the plan (this file) and, for an
 * event with `action: 'scanNode'`, one node's result (scan-node.ts), so one role holds the reads.
 */
export const handler = async (
  event: unknown,
  _context?: Context,
): Promise<ScanResult | ScanNodeSummary> => {
  if ((event as { action?: unknown } | null)?.action === 'scanNode') {
    cachedNode ??= makeScanNodeHandler(productionDeps());
    return cachedNode(event);
  }
  cached ??= makeScanHandler(productionDeps());
  return cached(event);
};
