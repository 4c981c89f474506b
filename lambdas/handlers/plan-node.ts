/**
 * plan-node: what one node installs, ready for the install documents. For the hotfix plug-in,
 * the node's plan of the hotfix root with each file's S3 key and SHA-256 (the node verifies it
 * before running anything); for the Windows Update plug-in, the query and its options.
 *
 * Event `{ runId, node: { name, instanceId }, plugins: ResolvedPlugin[], inventory? }`.
 * Errors: `InvalidEvent`; `ChecksumMissing` (an update without a SHA-256 is never planned);
 * `NodeIdentityMismatch` (the inventory came from another computer than the node named);
 * `PlanTooLarge` (the plan would not fit a Step Functions payload); `CommandTimeoutTooLong` (the
 * updates x HotfixInstallerTimeoutMinutes would pass SSM's 48-hour command cap: refused here,
 * before the node is drained); the hotfix configuration's
 * and manifest's errors; S3 errors unchanged.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import {
  commandTimeout,
  type PlannedInstall,
  type RescanPayload,
  type WindowsUpdatePayload,
} from '../core/contracts.js';
import { planHotfixRoot } from '../core/hotfix-plan.js';
import { sameNode } from '../core/node-names.js';
import { PLUGIN_NAMES } from '../core/plugin-arguments.js';
import {
  parseEvent,
  RUN_ID_PATTERN,
  resolvedPluginSchema,
  rolloutNodeRefSchema,
} from '../core/rollout-input.js';
import { type Exclusion, hotfixFileExclusion, kbFromFileName } from '../core/update-selection.js';
import {
  checksumOf,
  findManifestEntry,
  listHotfixRoot,
  loadHotfixConfig,
  loadHotpatchManifest,
} from '../shared/hotfix-root.js';
import { logContext, logger, tracer } from '../shared/runtime.js';

export interface PlanNodeDeps {
  readonly s3: S3Client;
  readonly now: () => Date;
}

/**
 * Ours: how long the Windows Update install command may run. CAU documents no limit for the
 * plug-in; a cumulative update with its restart preparation can take well over an hour.
 */
export const WINDOWS_UPDATE_TIMEOUT_MINUTES = 180;

/** The plan is passed through Step Functions (256 KB per payload); refuse well before that. */
export const MAX_PLAN_BYTES = 192 * 1024;

/** GetObjectAttributes calls in flight at once. */
const CHECKSUM_CONCURRENCY = 8;

const planNodeEventSchema = z.object({
  runId: z.string().regex(RUN_ID_PATTERN),
  node: rolloutNodeRefSchema,
  plugins: z.array(resolvedPluginSchema),
  inventory: z.object({ computerName: z.string() }).nullish(),
});

/** Seconds added to a command's installer time for delivery, downloads and checksums. */
export const COMMAND_OVERHEAD_SECONDS = 900;

export type PlanNodeEvent = z.input<typeof planNodeEventSchema>;

export interface PlanNodeResult {
  /** The install-hotfixes payload; null without the hotfix plug-in or when nothing applies. */
  readonly hotfix: {
    readonly bucket: string;
    readonly updates: readonly PlannedInstall[];
    /** Minutes each installer may run (HotfixInstallerTimeoutMinutes). */
    readonly timeoutMinutes: number;
    /** How long the workflow waits for the whole install command: every installer's limit, plus downloads. */
    readonly commandTimeoutSeconds: number;
  } | null;
  /** The Windows Update payload; null without the Windows Update plug-in. */
  readonly windowsUpdate:
    | (WindowsUpdatePayload & { readonly commandTimeoutSeconds: number })
    | null;
  /** No hotfix updates for this node and no Windows Update plug-in. */
  readonly nothingToInstall: boolean;
  /** The hotfix root, for the hotpatch-eligibility task; null without the hotfix plug-in. */
  readonly hotfixRoot: { readonly bucket: string; readonly prefix: string } | null;
  /**
   * The binaries whose file versions the hotpatch check needs (from hotpatch-manifest.json),
   * for the Inventory document's payload.
   */
  readonly inventoryBinaries: readonly string[];
  /** Hotfix files the rollout's updateSelection (its KB lists) left out of the plan, with the rule. */
  readonly excluded: readonly (Exclusion & { readonly file: string })[];
  /** What the Verify inventory rescans after the final restart (issue 13 item 6). */
  readonly rescan: RescanPayload;
}

/** The inventory reports another computer than the node the run names. */
export class NodeIdentityMismatchError extends Error {
  override readonly name = 'NodeIdentityMismatch';
}

/** The install command would need a longer timeout than SSM allows (48 h). */
export class CommandTimeoutTooLongError extends Error {
  override readonly name = 'CommandTimeoutTooLong';
}

/** The node's plan is too big to pass through the state machine. */
export class PlanTooLargeError extends Error {
  override readonly name = 'PlanTooLarge';
}

/** The rescan after the final restart: the same Windows Update search, and the planned hotfix KBs. */
function rescanOf(
  hotfix: PlanNodeResult['hotfix'],
  windowsUpdate: PlanNodeResult['windowsUpdate'],
): RescanPayload {
  const hotfixes = (hotfix?.updates ?? []).flatMap((u) => {
    const kb = kbFromFileName(u.file);
    return kb === null ? [] : [{ kb, file: u.file }];
  });
  return {
    windowsUpdate:
      windowsUpdate === null
        ? null
        : {
            queryString: windowsUpdate.queryString,
            includeRecommendedUpdates: windowsUpdate.includeRecommendedUpdates,
            selection: windowsUpdate.selection ?? null,
          },
    hotfixes,
  };
}

export function makePlanNodeHandler(deps: PlanNodeDeps) {
  return async function planNode(event: unknown): Promise<PlanNodeResult> {
    const { runId, node, plugins, inventory } = parseEvent('plan-node', planNodeEventSchema, event);
    logContext({ runId, node: node.name });
    if (inventory) {
      // A wrong name-to-instance mapping would install on another computer: stop here.
      const reported = inventory.computerName.split('.')[0] ?? '';
      if (!sameNode(reported, node.name)) {
        throw new NodeIdentityMismatchError(
          `${node.name} (${node.instanceId}): the inventory reports computer name ${JSON.stringify(inventory.computerName)}; fix the instanceId of ${node.name} in the rollout's target`,
        );
      }
    }

    let hotfix: PlanNodeResult['hotfix'] = null;
    let hotfixRoot: PlanNodeResult['hotfixRoot'] = null;
    let inventoryBinaries: string[] = [];
    let windowsUpdate: PlanNodeResult['windowsUpdate'] = null;
    let timeoutProblem: string | undefined;
    const excluded: (Exclusion & { file: string })[] = [];
    for (const plugin of plugins) {
      if (plugin.name === PLUGIN_NAMES.windowsUpdate) {
        windowsUpdate = {
          queryString: plugin.arguments.queryString,
          includeRecommendedUpdates: plugin.arguments.includeRecommendedUpdates,
          timeoutMinutes: WINDOWS_UPDATE_TIMEOUT_MINUTES,
          selection: plugin.selection ?? null,
          commandTimeoutSeconds: WINDOWS_UPDATE_TIMEOUT_MINUTES * 60 + COMMAND_OVERHEAD_SECONDS,
        };
        continue;
      }
      const { bucket, prefix } = plugin.hotfixRoot;
      const configFileName = plugin.arguments.hotfixConfigFileName;
      hotfixRoot = { bucket, prefix };
      const [files, loaded, manifest] = await Promise.all([
        listHotfixRoot(deps.s3, bucket, prefix),
        loadHotfixConfig(deps.s3, bucket, prefix, configFileName),
        loadHotpatchManifest(deps.s3, bucket, prefix),
      ]);
      const plan = planHotfixRoot({
        files,
        nodes: [node.name],
        config: loaded.config,
        configFileName,
      });
      const allPlanned = plan.nodes[node.name] ?? [];
      const planned: (typeof allPlanned)[number][] = [];
      for (const u of allPlanned) {
        const exclusion = hotfixFileExclusion(kbFromFileName(u.file), plugin.selection ?? null);
        if (exclusion === null) planned.push(u);
        else excluded.push({ file: u.file, ...exclusion });
      }
      const checksums = await mapLimit(planned, CHECKSUM_CONCURRENCY, (u) =>
        checksumOf(deps.s3, bucket, `${prefix}${u.file}`),
      );
      const updates: PlannedInstall[] = planned.map((u, index) => ({
        index,
        file: u.file,
        key: `${prefix}${u.file}`,
        sha256: checksums[index] as string,
        localPath: u.localPath,
        path: u.path,
        parameters: u.parameters,
        rule: u.rule,
        exitConditions: u.exitConditions,
        alwaysReboot: u.alwaysReboot,
        replacesFiles: findManifestEntry(manifest, u.file)?.binaries ?? [],
      }));
      const binaries = new Map<string, string>();
      for (const u of updates) {
        for (const binary of findManifestEntry(manifest, u.file)?.binaries ?? []) {
          binaries.set(binary.toLowerCase(), binaries.get(binary.toLowerCase()) ?? binary);
        }
      }
      inventoryBinaries = [...binaries.values()];
      const timeout = commandTimeout(
        updates.length,
        plugin.arguments.hotfixInstallerTimeoutMinutes,
        COMMAND_OVERHEAD_SECONDS,
        { count: 'updates', minutes: 'HotfixInstallerTimeoutMinutes' },
      );
      if ('problem' in timeout) timeoutProblem = `${node.name}: ${timeout.problem}`;
      hotfix =
        updates.length === 0
          ? null
          : {
              bucket,
              updates,
              timeoutMinutes: plugin.arguments.hotfixInstallerTimeoutMinutes,
              commandTimeoutSeconds: 'seconds' in timeout ? timeout.seconds : 0,
            };
    }

    const result: PlanNodeResult = {
      hotfix,
      windowsUpdate,
      nothingToInstall: hotfix === null && windowsUpdate === null,
      hotfixRoot,
      inventoryBinaries,
      excluded,
      rescan: rescanOf(hotfix, windowsUpdate),
    };
    const bytes = Buffer.byteLength(JSON.stringify(result));
    if (bytes > MAX_PLAN_BYTES) {
      throw new PlanTooLargeError(
        `${node.name}: the plan of ${hotfix?.updates.length ?? 0} hotfix updates is ${bytes} bytes, over the ${MAX_PLAN_BYTES} a Step Functions payload leaves room for; split the hotfix root into several runs`,
      );
    }
    if (timeoutProblem !== undefined) throw new CommandTimeoutTooLongError(timeoutProblem);
    logger.info('planned node', {
      hotfixUpdates: hotfix?.updates.length ?? 0,
      excluded,
      windowsUpdate: windowsUpdate !== null,
      generatedAt: deps.now().toISOString(),
    });
    return result;
  };
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

let cached: ReturnType<typeof makePlanNodeHandler> | undefined;

function productionDeps(): PlanNodeDeps {
  return { s3: tracer.captureAWSv3Client(new S3Client({})), now: () => new Date() };
}

export const handler = async (event: unknown, _context?: Context): Promise<PlanNodeResult> => {
  cached ??= makePlanNodeHandler(productionDeps());
  return cached(event);
};
