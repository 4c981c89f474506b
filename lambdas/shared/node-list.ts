/**
 * A resolved group's node list by reference (issue 11 §1): the ResolveTarget state writes the
 * list to the control plane's artifacts bucket, under a key of its own execution, and the state
 * carries only `{ bucket, key, sha256 }`, the count and the first names. Validation and the scan
 * read it back (checking the digest and the count); the Distributed Map reads the scan's
 * per-wave lists with its ItemReader. So nothing in the workflow's state grows with the group.
 *
 * Objects are encrypted by the bucket's default encryption (SSE-KMS with the stack's key, or
 * SSE-S3), and expire with the bucket's lifecycle rule.
 */

import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** Where resolved node lists go in the artifacts bucket: `targets/<execution name>/nodes.json`. */
export const NODE_LIST_PREFIX = 'targets/';

/** How many node names the state and the run record keep of a list given by reference. */
export const NODE_LIST_HEAD = 20;

/** A node list in S3, as the state carries it. */
export interface NodeListRef {
  readonly bucket: string;
  readonly key: string;
  /** Hex SHA-256 of the object's bytes, as written: a reader refuses any other object. */
  readonly sha256: string;
}

export interface ListedNode {
  readonly name: string;
  readonly instanceId: string;
}

/** The list does not read back as written (changed, missing, or a different count). */
export class NodeListMismatchError extends Error {
  override readonly name = 'NodeListMismatch';
}

/** The key of an execution's resolved node list. */
export function nodeListKey(executionName: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(executionName)) {
    throw new RangeError(
      `nodeListKey: ${JSON.stringify(executionName)} is not an execution name (1 to 80 of A-Z a-z 0-9 _ -)`,
    );
  }
  return `${NODE_LIST_PREFIX}${executionName}/nodes.json`;
}

/** The bytes of a node list: a JSON array of `{ name, instanceId }`, what an ItemReader reads. */
export function nodeListBody(nodes: readonly ListedNode[]): string {
  return JSON.stringify(nodes.map((n) => ({ name: n.name, instanceId: n.instanceId })));
}

export function sha256Hex(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/** Writes the list; returns its reference. */
export async function writeNodeList(
  s3: Pick<S3Client, 'send'>,
  bucket: string,
  key: string,
  nodes: readonly ListedNode[],
): Promise<NodeListRef> {
  const body = nodeListBody(nodes);
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
  );
  return { bucket, key, sha256: sha256Hex(body) };
}

/**
 * Reads a list back and checks it is the one written: same digest and `count` entries.
 *
 * @throws NodeListMismatchError naming the object and what differs.
 */
export async function readNodeList(
  s3: Pick<S3Client, 'send'>,
  ref: NodeListRef,
  count: number,
): Promise<ListedNode[]> {
  const where = `s3://${ref.bucket}/${ref.key}`;
  let body: string;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    body = (await object.Body?.transformToString('utf-8')) ?? '';
  } catch (error) {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === 'NoSuchKey' || name === 'NoSuchBucket') {
      throw new NodeListMismatchError(`the resolved node list ${where} is gone (${String(name)})`, {
        cause: error,
      });
    }
    throw error;
  }
  const digest = sha256Hex(body);
  if (digest !== ref.sha256) {
    throw new NodeListMismatchError(
      `the resolved node list ${where} changed after it was resolved: sha256 ${digest}, expected ${ref.sha256}`,
    );
  }
  const nodes = JSON.parse(body) as ListedNode[];
  if (!Array.isArray(nodes) || nodes.length !== count) {
    throw new NodeListMismatchError(
      `the resolved node list ${where} has ${Array.isArray(nodes) ? nodes.length : 'no'} nodes, expected ${count}`,
    );
  }
  return nodes;
}
