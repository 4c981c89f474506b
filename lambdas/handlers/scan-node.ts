/**
 * scan-node: one node's scan result (lambdas/core/scan-result.ts), from its hotfix plan and the
 * ScanUpdates command the scan workflow sent it, written to the artifacts bucket at
 * `scans/<scanId>/nodes/<node>.json`. Installs nothing, sends nothing. Runs in the scan function
 * (event `action: 'scanNode'`).
 *
 * Event `{ action: 'scanNode', scanId, node: { name, instanceId }, plugins, command, commandError }`:
 * `command` is the ScanUpdates CommandOutcome (null: no Windows Update plug-in, or it failed),
 * `commandError` the workflow's caught error `{ Error, Cause }` (null: none).
 * Returns a summary of the node's result (the object itself is in S3).
 * Errors: `InvalidEvent`; the hotfix configuration's and S3's errors unchanged.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { ScanUpdatesResultLine } from '../core/contracts.js';
import { planHotfixRoot } from '../core/hotfix-plan.js';
import { packageAllowsHotpatch } from '../core/hotpatch.js';
import { PLUGIN_NAMES } from '../core/plugin-arguments.js';
import {
  parseEvent,
  RUN_ID_PATTERN,
  resolvedPluginSchema,
  rolloutNodeRefSchema,
} from '../core/rollout-input.js';
import {
  combineScanNode,
  type PlannedHotfix,
  type ScanNodeInput,
  type ScanNodeResult,
  scanNodeResultKey,
} from '../core/scan-result.js';
import { hotfixFileExclusion, kbFromFileName } from '../core/update-selection.js';
import {
  findManifestEntry,
  listHotfixRoot,
  loadHotfixConfig,
  loadHotpatchManifest,
} from '../shared/hotfix-root.js';
import { logContext, logger } from '../shared/runtime.js';
import { pingStatuses } from './scan.js';

export interface ScanNodeDeps {
  readonly s3: S3Client;
  readonly ssm: SSMClient;
  readonly now: () => Date;
  /** Where the node results go (env ARTIFACTS_BUCKET). */
  readonly artifactsBucket?: string;
}

const commandSchema = z.object({
  status: z.string(),
  responseCode: z.number(),
  results: z.array(z.unknown()),
  outputTail: z.string(),
});

const scanNodeEventSchema = z.object({
  action: z.literal('scanNode'),
  scanId: z.string().regex(RUN_ID_PATTERN),
  node: rolloutNodeRefSchema,
  plugins: z.array(resolvedPluginSchema),
  command: commandSchema.nullable(),
  commandError: z.object({ Error: z.string(), Cause: z.string().optional() }).nullable(),
});

export type ScanNodeEvent = z.input<typeof scanNodeEventSchema>;

/** What the workflow keeps of a node's scan: the object itself is in S3. */
export interface ScanNodeSummary {
  readonly node: string;
  readonly status: ScanNodeResult['status'];
  readonly updates: number;
  readonly excluded: number;
  readonly key: string;
}

/** The last characters of a failed command's output kept in the node result's error. */
const ERROR_TAIL = 600;

function isResultLine(value: unknown): value is ScanUpdatesResultLine {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return kind === 'update' || kind === 'node';
}

/** Lambda's error JSON in a Cause (`{"errorType","errorMessage"}`), or the Cause as it is. */
function causeMessage(cause: string | undefined): string {
  if (cause === undefined) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause as it is
  }
  return cause;
}

export function makeScanNodeHandler(deps: ScanNodeDeps) {
  return async function scanNode(event: unknown): Promise<ScanNodeSummary> {
    const input = parseEvent('scan-node', scanNodeEventSchema, event);
    const { scanId, node } = input;
    logContext({ runId: scanId, node: node.name });
    const bucket = deps.artifactsBucket;
    if (!bucket) {
      throw new Error(
        'environment variable ARTIFACTS_BUCKET is not set; the stack sets it on the scan function',
      );
    }
    const statuses = await pingStatuses(deps.ssm, [node.instanceId]);

    let hotfix: ScanNodeInput['hotfix'] = null;
    let windowsUpdate: ScanNodeInput['windowsUpdate'] = null;
    for (const plugin of input.plugins) {
      if (plugin.name === PLUGIN_NAMES.windowsUpdate) {
        windowsUpdate = windowsUpdateOf(input.command, input.commandError);
        continue;
      }
      const { bucket: root, prefix } = plugin.hotfixRoot;
      const configFileName = plugin.arguments.hotfixConfigFileName;
      const [files, loaded, manifest] = await Promise.all([
        listHotfixRoot(deps.s3, root, prefix),
        loadHotfixConfig(deps.s3, root, prefix, configFileName),
        loadHotpatchManifest(deps.s3, root, prefix),
      ]);
      const plan = planHotfixRoot({
        files,
        nodes: [node.name],
        config: loaded.config,
        configFileName,
      });
      const planned: PlannedHotfix[] = [];
      const excluded: { file: string; rule: string; reason: string }[] = [];
      for (const u of plan.nodes[node.name] ?? []) {
        const exclusion = hotfixFileExclusion(kbFromFileName(u.file), plugin.selection ?? null);
        if (exclusion !== null) {
          excluded.push({ file: u.file, ...exclusion });
          continue;
        }
        const entry = findManifestEntry(manifest, u.file);
        planned.push({
          file: u.file,
          alwaysReboot: u.alwaysReboot,
          hotpatch: entry === undefined ? null : packageAllowsHotpatch(entry),
        });
      }
      hotfix = { planned, excluded };
    }

    const result = combineScanNode({
      scanId,
      node: node.name,
      instanceId: node.instanceId,
      scannedAt: deps.now().toISOString(),
      pingStatus: statuses.get(node.instanceId) ?? null,
      hotfix,
      windowsUpdate,
    });
    const key = scanNodeResultKey(scanId, node.name);
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        ContentType: 'application/json',
        Body: JSON.stringify(result),
      }),
    );
    logger.info('node scanned', {
      status: result.status,
      updates: result.updates.length,
      excluded: result.excluded.length,
    });
    return {
      node: node.name,
      status: result.status,
      updates: result.updates.length,
      excluded: result.excluded.length,
      key,
    };
  };
}

/** The Windows Update part of the input: the command's result lines, or why there are none. */
function windowsUpdateOf(
  command: z.output<typeof commandSchema> | null,
  commandError: { Error: string; Cause?: string | undefined } | null,
): NonNullable<ScanNodeInput['windowsUpdate']> {
  if (commandError !== null) {
    const message = causeMessage(commandError.Cause);
    return {
      error: {
        code: commandError.Error,
        message:
          commandError.Error === 'States.Timeout'
            ? `the Windows Update search did not answer in time; it was cancelled${message ? ` (${message})` : ''}`
            : message || commandError.Error,
      },
    };
  }
  if (command === null) {
    return { error: { code: 'NotSearched', message: 'the Windows Update search was not run' } };
  }
  if (command.status !== 'Success') {
    return {
      error: {
        code: `ScanUpdates${command.status}`,
        message: `ScanUpdates ended ${command.status} (exit ${command.responseCode}): ${command.outputTail.slice(-ERROR_TAIL)}`,
      },
    };
  }
  const unparsed = command.results.find((r) => !isResultLine(r));
  if (unparsed !== undefined) {
    return {
      error: {
        code: 'ScanOutputInvalid',
        message: `ScanUpdates printed a result line that is not an update or node line: ${JSON.stringify(unparsed).slice(0, ERROR_TAIL)}`,
      },
    };
  }
  return { lines: command.results as ScanUpdatesResultLine[] };
}
