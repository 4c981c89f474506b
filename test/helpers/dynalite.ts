/**
 * One dynalite server per test file, on loopback, and a fresh run-store table per call: the key
 * schema of the real table (`KEYS`: pk, sk and the gsi1 index), so a store's conditional writes
 * and queries run against a DynamoDB implementation. Shared by the handler and store tests that
 * each built the same server and table before.
 *
 *   const db = useDynalite();
 *   beforeEach(async () => { store = new RunStore(await db.table('runs')); });
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, type TranslateConfig } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { KEYS } from '../../lambdas/core/run-store-model.js';

interface DynaliteServer {
  listen(port: number, host: string, callback: () => void): void;
  close(callback: () => void): void;
  address(): AddressInfo;
}
const dynalite = createRequire(import.meta.url)('dynalite') as (options: {
  createTableMs: number;
}) => DynaliteServer;

/** A table made for one test: its name and a document client on it. */
export interface TestTable {
  readonly tableName: string;
  readonly client: DynamoDBDocumentClient;
}

export interface Dynalite {
  /** The low-level client (after beforeAll). */
  readonly raw: () => DynamoDBClient;
  /**
   * Creates `<prefix>-<n>` with the run store's keys and its gsi1 index.
   * @param translate the document client's marshalling options @default none
   */
  table(prefix: string, translate?: TranslateConfig): Promise<TestTable>;
}

/** Starts dynalite before the file's tests and stops it after them. */
export function useDynalite(): Dynalite {
  let server: DynaliteServer | undefined;
  let raw: DynamoDBClient | undefined;
  let made = 0;
  beforeAll(async () => {
    const started = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => started.listen(0, '127.0.0.1', resolve));
    server = started;
    raw = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${started.address().port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(async () => {
    raw?.destroy();
    const running = server;
    if (running) await new Promise<void>((resolve) => running.close(resolve));
  });
  const client = () => {
    if (raw === undefined) throw new Error('useDynalite: the server starts in beforeAll');
    return raw;
  };
  return {
    raw: client,
    async table(prefix, translate) {
      const tableName = `${prefix}-${++made}`;
      await client().send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [KEYS.partition, KEYS.sort, KEYS.gsi1Partition, KEYS.gsi1Sort].map(
            (AttributeName) => ({ AttributeName, AttributeType: 'S' }),
          ),
          KeySchema: [
            { AttributeName: KEYS.partition, KeyType: 'HASH' },
            { AttributeName: KEYS.sort, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: KEYS.gsi1Name,
              KeySchema: [
                { AttributeName: KEYS.gsi1Partition, KeyType: 'HASH' },
                { AttributeName: KEYS.gsi1Sort, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
        }),
      );
      // dynalite answers CreateTable while the table is CREATING and flips it to ACTIVE on a
      // timer; a write before that is "Requested resource not found" (seen under Stryker's
      // instrumentation). Wait for ACTIVE, as a real client would.
      for (let tries = 0; ; tries++) {
        const { Table } = await client().send(new DescribeTableCommand({ TableName: tableName }));
        if (Table?.TableStatus === 'ACTIVE') break;
        if (tries >= 200)
          throw new Error(`useDynalite: ${tableName} is still ${Table?.TableStatus}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return { tableName, client: DynamoDBDocumentClient.from(client(), translate) };
    },
  };
}
