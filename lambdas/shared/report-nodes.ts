/**
 * The nodes a run's report lists (issue 11): every node of the run, in update order. Above
 * MAX_GROUP_NODES a selected run's record names only its first nodes (a DynamoDB item holds
 * 400 KB) and keeps the reference of its resolved list in S3 (`targetResolution.nodeList`); the
 * report reads that list, so the nodes that never started are listed as NotStarted rather than
 * left out. A list that no longer reads back as resolved (expired by the bucket's lifecycle, or
 * changed) leaves the report with the names the record holds; the summary still counts them all.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { NodeListMismatchError, type NodeListRef, readNodeList } from './node-list.js';
import { logger } from './runtime.js';

export interface ReportedRun {
  readonly nodes: readonly string[];
  readonly targetResolution?: { readonly count: number; readonly nodeList?: NodeListRef } | null;
}

/** Every node name of the run, in update order (see the module's comment). */
export async function reportNodeNames(
  run: ReportedRun,
  s3: Pick<S3Client, 'send'> | undefined,
): Promise<string[]> {
  const resolution = run.targetResolution;
  if (!resolution?.nodeList || resolution.count <= run.nodes.length) return [...run.nodes];
  if (s3 === undefined) {
    logger.warn('the report lists the recorded names only: no S3 client to read the node list', {
      recorded: run.nodes.length,
      count: resolution.count,
    });
    return [...run.nodes];
  }
  try {
    return (await readNodeList(s3, resolution.nodeList, resolution.count)).map((n) => n.name);
  } catch (error) {
    if (!(error instanceof NodeListMismatchError)) throw error;
    logger.warn('the report lists the recorded names only: the node list does not read back', {
      error: error.message,
    });
    return [...run.nodes];
  }
}
