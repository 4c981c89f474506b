/**
 * Compliance items in the run-store table (issue 13, item 8): one item per node of a target, its
 * last assessment with the state before it, written only over the assessment it was judged
 * against, so two assessments racing on a node cannot both claim its change. Keys are spelled in
 * `lambdas/core/run-store-model.ts` (`COMPLIANCE#<target>` / `NODE#<node>`), next to the others.
 *
 * Also reads what an assessment judges a node by besides its scan: its last run's update results
 * (GSI1 `NODE#<node>`, newest first, then the run's partition).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { LastRun, NodeCompliance } from '../core/compliance.js';
import { KEYS, keys, nodeUpdatesPrefix } from '../core/run-store-model.js';
import { requiredEnv, tracer } from './runtime.js';

/** A node's compliance as stored: the assessment and whether its change event went out. */
export interface StoredCompliance extends NodeCompliance {
  /** Set once the Node Compliance Changed event of this assessment was published. */
  readonly changeNotifiedAt?: string;
}

/** One page of a target's compliance. */
export interface CompliancePage {
  readonly nodes: readonly StoredCompliance[];
  /** Pass back to read the next page; absent on the last. */
  readonly cursor?: string;
}

/** Another assessment recorded the node since this one read it: read again and judge again. */
export class ComplianceConflictError extends Error {
  constructor(
    readonly target: string,
    readonly node: string,
    options?: { cause?: unknown },
  ) {
    super(
      `the compliance of node ${JSON.stringify(node)} of ${JSON.stringify(target)} changed while it was assessed (another assessment recorded it); read it again and assess again`,
      options,
    );
    this.name = 'ComplianceConflict';
  }
}

/** A cursor this store did not return, or one of another target. */
export class InvalidComplianceCursorError extends Error {
  constructor(
    readonly cursor: string,
    reason: string,
  ) {
    super(`cursor ${JSON.stringify(cursor.slice(0, 40))}: ${reason}`);
    this.name = 'InvalidCursor';
  }
}

type Item = Record<string, unknown>;

const DEFAULT_PAGE_SIZE = 50;
const OWN_ATTRIBUTES = new Set([KEYS.partition, KEYS.sort, 'kind']);

export interface ComplianceStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** Compliance reads and writes on the run-store table. */
export class ComplianceStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(options: ComplianceStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
  }

  /** The node's last assessment under the target; undefined when it was never assessed. */
  async getNodeCompliance(target: string, node: string): Promise<StoredCompliance | undefined> {
    const out = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.compliance(target, node),
        ConsistentRead: true,
      }),
    );
    return out.Item && toRecord(out.Item);
  }

  /**
   * Records an assessment over `previousAssessmentId` (the one it was judged against; null: the
   * node had none). A retry of the same assessment is accepted and writes the same item.
   * @throws ComplianceConflictError when another assessment was recorded in between.
   */
  async putNodeCompliance(
    record: NodeCompliance,
    previousAssessmentId: string | null,
  ): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...stripUndefined(record),
            ...keys.compliance(record.target, record.node),
            kind: 'compliance',
          },
          ConditionExpression:
            previousAssessmentId === null
              ? 'attribute_not_exists(#pk) OR #assessmentId = :self'
              : '#assessmentId = :previous OR #assessmentId = :self',
          ExpressionAttributeNames: {
            '#assessmentId': 'assessmentId',
            ...(previousAssessmentId === null ? { '#pk': KEYS.partition } : {}),
          },
          ExpressionAttributeValues: {
            ':self': record.assessmentId,
            ...(previousAssessmentId === null ? {} : { ':previous': previousAssessmentId }),
          },
        }),
      );
    } catch (error) {
      if ((error as { name?: unknown })?.name === 'ConditionalCheckFailedException') {
        throw new ComplianceConflictError(record.target, record.node, { cause: error });
      }
      throw error;
    }
  }

  /** Notes that the assessment's change event went out (only while it is still the node's). */
  async markChangeNotified(
    target: string,
    node: string,
    assessmentId: string,
    at: string,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.compliance(target, node),
          UpdateExpression: 'SET #notified = :at',
          ConditionExpression: '#assessmentId = :id',
          ExpressionAttributeNames: {
            '#notified': 'changeNotifiedAt',
            '#assessmentId': 'assessmentId',
          },
          ExpressionAttributeValues: { ':at': at, ':id': assessmentId },
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: unknown })?.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** A page of the target's nodes' compliance, in node-key order. */
  async listCompliance(
    target: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<CompliancePage> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`limit ${limit}: expected a whole number of nodes, 1 or more`);
    }
    const partition = keys.compliance(target, 'x').pk;
    let startKey =
      options.cursor === undefined ? undefined : decodeCursor(options.cursor, partition);
    const nodes: StoredCompliance[] = [];
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :node)',
          ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
          ExpressionAttributeValues: { ':pk': partition, ':node': 'NODE#' },
          Limit: limit - nodes.length,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      nodes.push(...(page.Items ?? []).map(toRecord));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && nodes.length < limit);
    return { nodes, ...(startKey === undefined ? {} : { cursor: encodeCursor(startKey) }) };
  }

  /**
   * The node's last run (the newest node result in GSI1) and its update results, every attempt;
   * removals (`Rollout.Removal`) left out. Null when no run is recorded on the node.
   */
  async lastRunOfNode(node: string): Promise<LastRun | null> {
    const history = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: KEYS.gsi1Name,
        KeyConditionExpression: '#gsi1pk = :gsi1pk',
        ExpressionAttributeNames: { '#gsi1pk': KEYS.gsi1Partition },
        ExpressionAttributeValues: { ':gsi1pk': keys.nodeHistory(node, '', '').gsi1pk },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const runId = history.Items?.[0]?.runId;
    if (typeof runId !== 'string') return null;
    const updates: LastRun['updates'][number][] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
          ExpressionAttributeValues: {
            ':pk': keys.run(runId).pk,
            ':prefix': nodeUpdatesPrefix(node),
          },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      for (const found of page.Items ?? []) {
        if (found.plugin === 'Rollout.Removal') continue;
        updates.push({
          update: String(found.update),
          attempt: Number(found.attempt),
          outcome: String(found.outcome),
          exitCode: typeof found.exitCode === 'number' ? found.exitCode : null,
          ...(typeof found.detail === 'string' ? { detail: found.detail } : {}),
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return { runId, updates };
  }
}

/** The store of a deployed function: the run-store table from `TABLE_NAME`, traced. */
export function createComplianceStore(): ComplianceStore {
  const client = DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})));
  return new ComplianceStore({ client, tableName: requiredEnv('TABLE_NAME') });
}

function toRecord(found: Item): StoredCompliance {
  return Object.fromEntries(
    Object.entries(found).filter(([name]) => !OWN_ATTRIBUTES.has(name)),
  ) as unknown as StoredCompliance;
}

function stripUndefined(record: object): Item {
  return JSON.parse(JSON.stringify(record)) as Item;
}

function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, partition: string): Item {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidComplianceCursorError(cursor, 'not a cursor this service returned');
  }
  if (
    typeof key !== 'object' ||
    key === null ||
    Array.isArray(key) ||
    Object.keys(key).length !== 2 ||
    typeof (key as Item)[KEYS.partition] !== 'string' ||
    typeof (key as Item)[KEYS.sort] !== 'string'
  ) {
    throw new InvalidComplianceCursorError(cursor, 'not a cursor this service returned');
  }
  if ((key as Item)[KEYS.partition] !== partition) {
    throw new InvalidComplianceCursorError(cursor, 'it belongs to another target');
  }
  return key as Item;
}
