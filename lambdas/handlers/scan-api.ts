/**
 * The scan routes of the change-management API (issue 12, point 4): POST /scans starts the scan
 * workflow (lib/scan-workflow.ts), GET /scans/{id} describes it and, once it ended, reads each
 * node's result (lambdas/core/scan-result.ts) from the artifacts bucket.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { z } from 'zod';
import { ApiError, executionArnFor, type ScanStatus } from '../core/api-model.js';
import type { scanAcceptedSchema, scanViewSchema } from '../core/api-responses.js';
import { parseScanNodeResult, type ScanNodeResult } from '../core/scan-result.js';
import { logger } from '../shared/runtime.js';

export type ScanAccepted = z.output<typeof scanAcceptedSchema>;
export type ScanView = z.output<typeof scanViewSchema>;

/** What the scan routes need. */
export interface ScanApiDeps {
  /** The scan workflow's ARN. */
  readonly stateMachineArn: string;
  /** The stored result of one node (`scans/<scanId>/nodes/<node>.json`); undefined: none. */
  readonly readNodeResult: (scanId: string, node: string) => Promise<string | undefined>;
}

const STATUS_OF: Readonly<Record<string, ScanStatus>> = {
  RUNNING: 'Running',
  PENDING_REDRIVE: 'Running',
  SUCCEEDED: 'Succeeded',
  FAILED: 'Failed',
  ABORTED: 'Cancelled',
  TIMED_OUT: 'TimedOut',
};

/** Results read from S3 at once. */
const READ_CONCURRENCY = 8;

function nameOf(error: unknown): string {
  return (error as { name?: unknown } | null)?.name === undefined
    ? ''
    : String((error as { name: unknown }).name);
}

/** A Lambda error's JSON cause (`{"errorType","errorMessage"}`), or the cause as it is. */
export function causeMessage(cause: string | undefined): string {
  if (cause === undefined || cause === '') return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause as it is
  }
  return cause;
}

export function makeScanRoutes(sfn: Pick<SFNClient, 'send'>, deps: ScanApiDeps) {
  const machine = deps.stateMachineArn;

  /** Starts the scan named `scanId` with the rollout input (validated by the caller). */
  async function startScan(
    scanId: string,
    input: Readonly<Record<string, unknown>>,
  ): Promise<ScanAccepted> {
    try {
      const out = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: machine,
          name: scanId,
          input: JSON.stringify(input),
        }),
      );
      return {
        scanId,
        executionArn: out.executionArn ?? executionArnFor(machine, scanId),
        status: 'Running',
      };
    } catch (error) {
      if (nameOf(error) !== 'ExecutionAlreadyExists') throw error;
      throw new ApiError(
        'RolloutIdInUse',
        `scan id ${JSON.stringify(scanId)} is already used by another scan; leave runId out to get a new one`,
        { field: 'runId', value: scanId, cause: error },
      );
    }
  }

  async function getScan(scanId: string): Promise<ScanView> {
    const arn = executionArnFor(machine, scanId);
    let execution: Awaited<ReturnType<typeof describe>>;
    try {
      execution = await describe(arn);
    } catch (error) {
      if (nameOf(error) !== 'ExecutionDoesNotExist') throw error;
      throw new ApiError('NotFound', `no scan ${JSON.stringify(scanId)}`, {
        field: 'id',
        value: scanId,
      });
    }
    const status = STATUS_OF[execution.status ?? ''] ?? 'Running';
    const base = {
      scanId,
      status,
      startedAt: (execution.startDate ?? new Date(0)).toISOString(),
      stoppedAt: execution.stopDate ? execution.stopDate.toISOString() : null,
      error:
        status === 'Failed' || status === 'TimedOut'
          ? {
              code: execution.error ?? status,
              message: causeMessage(execution.cause) || `the scan ended ${status}`,
            }
          : null,
      plan: null,
      nodes: [] as ScanNodeResult[],
      nodesMissing: [] as string[],
    };
    if (status !== 'Succeeded' || execution.output === undefined) return base;
    const output = JSON.parse(execution.output) as {
      plan: ScanView['plan'];
      nodes: string[];
    };
    const results: (ScanNodeResult | undefined)[] = new Array(output.nodes.length);
    let next = 0;
    const worker = async () => {
      while (next < output.nodes.length) {
        const index = next++;
        const node = output.nodes[index] as string;
        const text = await deps.readNodeResult(scanId, node);
        if (text === undefined) continue;
        try {
          results[index] = parseScanNodeResult(JSON.parse(text), `scan ${scanId} node ${node}`);
        } catch (error) {
          logger.error('a scan node result is unreadable', {
            node,
            error: (error as Error).message,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: READ_CONCURRENCY }, worker));
    return {
      ...base,
      plan: output.plan,
      nodes: results.filter((r): r is ScanNodeResult => r !== undefined),
      nodesMissing: output.nodes.filter((_, i) => results[i] === undefined),
    };
  }

  async function describe(arn: string) {
    return sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  }

  return { startScan, getScan };
}

/** An object of the artifacts bucket as text; undefined when there is none. */
export async function readArtifact(
  s3: Pick<S3Client, 'send'>,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body?.transformToString('utf-8');
  } catch (error) {
    if (nameOf(error) === 'NoSuchKey') return undefined;
    throw error;
  }
}
