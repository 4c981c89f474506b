import 'aws-sdk-client-mock-vitest/extend';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UpdateResult } from '../../lambdas/core/contracts.js';
import { type LedgerEntry, LedgerError } from '../../lambdas/core/install-ledger.js';
import { RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const TABLE = 'rollout-runs';
const NOW = new Date('2025-03-01T10:00:00.000Z');

function makeStore(sleep = vi.fn(async (_ms: number) => {})) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return { store: new RunStore({ client, tableName: TABLE, sleep }), sleep };
}

const conditionFailed = (item?: Record<string, { S: string }>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(item ? { Item: item } : {}),
  });

/** Runs `fn` and returns what it rejects with; fails the test when it resolves. */
async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

const update = (index: number): UpdateResult => ({
  index,
  plugin: 'Microsoft.HotfixPlugin',
  update: `CAUHotfix_All/KB50${String(index).padStart(5, '0')}.msu`,
  command: undefined,
  exitCode: 0,
  outcome: 'Success',
  rebootRequired: false,
  rebootInitiated: false,
  transient: false,
  durationSeconds: 12,
  logTail: '',
});

afterEach(() => {
  ddb.reset();
});

describe('RunStore lock', () => {
  it('acquires with a conditional Put that admits a free, expired or own lock', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    const { store } = makeStore();

    // Act
    const lock = await store.acquireLock('Cluster1', 'run-1', 600, NOW);

    // Assert
    expect(lock).toEqual({
      target: 'Cluster1',
      holder: 'run-1',
      acquiredAt: '2025-03-01T10:00:00.000Z',
      leaseExpiresAt: '2025-03-01T10:10:00.000Z',
    });
    expect(ddb).toHaveReceivedCommandExactlyOnceWith(PutCommand, {
      TableName: TABLE,
      Item: {
        pk: 'LOCK#CLUSTER1',
        sk: 'LOCK',
        kind: 'lock',
        target: 'Cluster1',
        holder: 'run-1',
        acquiredAt: '2025-03-01T10:00:00.000Z',
        leaseExpiresAt: '2025-03-01T10:10:00.000Z',
      },
      // A lock that names an execution never lapses by time (see run-lock.dynalite.test.ts).
      ConditionExpression:
        'attribute_not_exists(#pk) OR #holder = :runId OR (attribute_not_exists(#execution) AND #leaseExpiresAt < :now)',
      ExpressionAttributeNames: {
        '#pk': 'pk',
        '#leaseExpiresAt': 'leaseExpiresAt',
        '#holder': 'holder',
        '#execution': 'execution',
      },
      ExpressionAttributeValues: { ':now': '2025-03-01T10:00:00.000Z', ':runId': 'run-1' },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('throws LockHeld naming the holder and its lease when the condition fails', async () => {
    // Arrange
    ddb.on(PutCommand).rejects(
      conditionFailed({
        holder: { S: 'run-other' },
        leaseExpiresAt: { S: '2025-03-01T10:30:00.000Z' },
      }),
    );
    const { store } = makeStore();

    // Act
    const error = await rejection(() => store.acquireLock('Cluster1', 'run-1', 600, NOW));

    // Assert
    expect(error.name).toBe('LockHeld');
    expect(error.message).toContain('run-other');
    expect(error.message).toContain('2025-03-01T10:30:00.000Z');
    expect(error.message).toContain('"Cluster1"');
  });

  it('renews only while holding, and throws LockLost naming the new holder', async () => {
    // Arrange
    ddb.on(UpdateCommand).rejects(conditionFailed({ holder: { S: 'run-2' } }));
    const { store } = makeStore();

    // Act
    const error = await rejection(() => store.renewLock('Cluster1', 'run-1', 600, NOW));

    // Assert
    expect(error.name).toBe('LockLost');
    expect(error.message).toContain('run run-2 holds it now');
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: 'LOCK#CLUSTER1', sk: 'LOCK' },
      ConditionExpression: '#holder = :runId',
      ExpressionAttributeValues: {
        ':lease': '2025-03-01T10:10:00.000Z',
        ':now': '2025-03-01T10:00:00.000Z',
        ':runId': 'run-1',
      },
    });
  });

  it("returns false and deletes nothing when releasing another run's lock", async () => {
    // Arrange
    ddb.on(DeleteCommand).rejects(conditionFailed());
    const { store } = makeStore();

    // Act
    const released = await store.releaseLock('Cluster1', 'run-1');

    // Assert
    expect(released).toBe(false);
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      Key: { pk: 'LOCK#CLUSTER1', sk: 'LOCK' },
      ConditionExpression: '#holder = :runId',
      ExpressionAttributeValues: { ':runId': 'run-1' },
    });
  });

  it('lets throttling propagate unchanged', async () => {
    // Arrange
    ddb
      .on(PutCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    const { store } = makeStore();

    // Act
    const error = await rejection(() => store.acquireLock('Cluster1', 'run-1', 600, NOW));

    // Assert
    expect(error.name).toBe('ProvisionedThroughputExceededException');
  });
});

describe('RunStore.putUpdateResults', () => {
  it('writes chunks of 25 and retries unprocessed items until they are written', async () => {
    // Arrange
    const results = Array.from({ length: 30 }, (_, i) => update(i));
    const leftOver = [{ PutRequest: { Item: { pk: 'RUN#run-1', sk: 'left-over' } } }];
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { [TABLE]: leftOver } })
      .resolves({ UnprocessedItems: {} });
    const { store, sleep } = makeStore();

    // Act
    await store.putUpdateResults('run-1', 'node1', 2, results);

    // Assert
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 3);
    const calls = ddb.commandCalls(BatchWriteCommand);
    const sizes = calls.map((call) => call.args[0].input.RequestItems?.[TABLE]?.length);
    expect(sizes).toEqual([25, 1, 5]);
    expect(calls[1]?.args[0].input.RequestItems?.[TABLE]).toEqual(leftOver);
    expect(sleep).toHaveBeenCalledOnce();
    const first = calls[0]?.args[0].input.RequestItems?.[TABLE]?.[0]?.PutRequest?.Item;
    expect(first).toMatchObject({
      pk: 'RUN#run-1',
      sk: 'NODE#NODE1#ATTEMPT#02#HOTFIX#UPDATE#0000',
      kind: 'updateResult',
      runId: 'run-1',
      node: 'node1',
      attempt: 2,
    });
    expect(first).not.toHaveProperty('command');
  });

  it('throws UnprocessedItems once every attempt left items unprocessed', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({
      UnprocessedItems: { [TABLE]: [{ PutRequest: { Item: { pk: 'x', sk: 'y' } } }] },
    });
    const { store, sleep } = makeStore();

    // Act
    const error = await rejection(() => store.putUpdateResults('run-1', 'node1', 1, [update(0)]));

    // Assert
    expect(error.name).toBe('UnprocessedItems');
    expect(error.message).toContain('after 5 BatchWriteItem attempts');
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 5);
    expect(sleep).toHaveBeenCalledTimes(4);
  });
});

describe('RunStore.listRunsByTarget', () => {
  const runItem = (runId: string, startedAt: string) => ({
    pk: `RUN#${runId}`,
    sk: 'RUN',
    gsi1pk: 'TARGET#CLUSTER1',
    gsi1sk: `${startedAt}#${runId}`,
    kind: 'run',
    runId,
    target: 'Cluster1',
    nodes: ['NODE1'],
    maxFailedNodes: 0,
    status: 'Succeeded',
    startedAt,
  });
  const lastKey = {
    pk: 'RUN#run-2',
    sk: 'RUN',
    gsi1pk: 'TARGET#CLUSTER1',
    gsi1sk: '2025-02-01T00:00:00.000Z#run-2',
  };

  it('pages newest first and resumes from the cursor it handed out', async () => {
    // Arrange
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [
          runItem('run-3', '2025-03-01T00:00:00.000Z'),
          runItem('run-2', '2025-02-01T00:00:00.000Z'),
        ],
        LastEvaluatedKey: lastKey,
      })
      .resolvesOnce({ Items: [runItem('run-1', '2025-01-01T00:00:00.000Z')] });
    const { store } = makeStore();

    // Act
    const first = await store.listRunsByTarget('Cluster1', { limit: 2 });
    const second = await store.listRunsByTarget('Cluster1', {
      limit: 2,
      ...(first.cursor === undefined ? {} : { cursor: first.cursor }),
    });

    // Assert
    expect(first.runs.map((r) => r.runId)).toEqual(['run-3', 'run-2']);
    expect(first.runs[0]).not.toHaveProperty('pk');
    expect(first.runs[0]).not.toHaveProperty('gsi1sk');
    expect(first.runs[0]).not.toHaveProperty('kind');
    expect(first.cursor).toEqual(expect.any(String));
    expect(second).toEqual({ runs: [expect.objectContaining({ runId: 'run-1' })] });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      IndexName: 'gsi1',
      KeyConditionExpression: '#gsi1pk = :gsi1pk',
      ExpressionAttributeValues: { ':gsi1pk': 'TARGET#CLUSTER1' },
      ScanIndexForward: false,
      Limit: 2,
    });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, { ExclusiveStartKey: lastKey });
  });

  it('keeps reading when DynamoDB returns a short page with more to come', async () => {
    // Arrange
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [runItem('run-3', '2025-03-01T00:00:00.000Z')],
        LastEvaluatedKey: lastKey,
      })
      .resolvesOnce({
        Items: [
          runItem('run-2', '2025-02-01T00:00:00.000Z'),
          runItem('run-1', '2025-01-01T00:00:00.000Z'),
        ],
      });
    const { store } = makeStore();

    // Act
    const page = await store.listRunsByTarget('Cluster1', { limit: 3 });

    // Assert
    expect(page.runs.map((r) => r.runId)).toEqual(['run-3', 'run-2', 'run-1']);
    expect(page.cursor).toBeUndefined();
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, {
      Limit: 2,
      ExclusiveStartKey: lastKey,
    });
  });

  it("refuses another target's cursor", async () => {
    // Arrange
    const foreign = Buffer.from(
      JSON.stringify({ ...lastKey, gsi1pk: 'TARGET#CLUSTER2' }),
      'utf8',
    ).toString('base64url');
    const { store } = makeStore();

    // Act
    const error = await rejection(() =>
      store.listRunsByTarget('Cluster1', { limit: 2, cursor: foreign }),
    );

    // Assert
    expect(error.name).toBe('InvalidCursor');
    expect(error.message).toContain('another target');
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });
});

describe('RunStore.getRunItems', () => {
  it('reads every page of the run partition and sorts items by kind', async () => {
    // Arrange
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ pk: 'RUN#run-1', sk: 'RUN', kind: 'run', runId: 'run-1', status: 'Running' }],
        LastEvaluatedKey: { pk: 'RUN#run-1', sk: 'RUN' },
      })
      .resolvesOnce({
        Items: [
          { pk: 'RUN#run-1', sk: 'NODE#NODE1', kind: 'nodeResult', node: 'NODE1' },
          { pk: 'RUN#run-1', sk: 'NODE#NODE1#ATTEMPT#01#HOTFIX#UPDATE#0000', kind: 'updateResult' },
        ],
      });
    const { store } = makeStore();

    // Act
    const items = await store.getRunItems('run-1');

    // Assert
    expect(items.run).toEqual({ runId: 'run-1', status: 'Running' });
    expect(items.nodes).toEqual([{ node: 'NODE1' }]);
    expect(items.updates).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      ExpressionAttributeValues: { ':pk': 'RUN#run-1' },
      ConsistentRead: true,
    });
  });
});

describe('RunStore.nextEventSequence', () => {
  it('adds 1 to the run item atomically and returns the number with the run', async () => {
    // Arrange
    ddb.on(UpdateCommand).resolves({
      Attributes: { pk: 'RUN#run-1', sk: 'RUN', kind: 'run', runId: 'run-1', eventSequence: 4 },
    });
    const { store } = makeStore();

    // Act
    const next = await store.nextEventSequence('run-1');

    // Assert
    expect(next).toEqual({ sequence: 4, run: { runId: 'run-1', eventSequence: 4 } });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'RUN#run-1', sk: 'RUN' },
      UpdateExpression: 'ADD #eventSequence :one',
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'ALL_NEW',
    });
  });

  it('throws RunNotFound for a run that does not exist, creating nothing', async () => {
    // Arrange
    ddb.on(UpdateCommand).rejects(conditionFailed());
    const { store } = makeStore();

    // Act
    const error = await rejection(() => store.nextEventSequence('run-404'));

    // Assert
    expect(error.name).toBe('RunNotFound');
    expect(error.message).toContain('run-404');
  });
});

describe('RunStore ledger', () => {
  const entry = (sequence: number, updateId: string): LedgerEntry => ({
    node: 'NODE1',
    sequence,
    updateId,
    installedAt: `2025-03-01T10:0${sequence}:00.000Z`,
    runId: 'run-1',
    hotpatched: false,
    replacedFiles: [],
  });

  it('writes each entry only if its sequence is free and stops at a conflict', async () => {
    // Arrange
    ddb.on(PutCommand).rejectsOnce(conditionFailed()).resolves({});
    const { store } = makeStore();

    // Act
    const error = await rejection(() =>
      store.appendLedgerEntries('NODE1', [entry(3, 'KB5000001'), entry(4, 'KB5000002')]),
    );

    // Assert
    expect(error.name).toBe('LedgerConflict');
    expect(error.message).toContain('sequence 3');
    expect(error.message).toContain('KB5000001');
    expect(ddb).toHaveReceivedCommandExactlyOnceWith(PutCommand, {
      Item: expect.objectContaining({ pk: 'LEDGER#NODE1', sk: 'SEQ#00000003' }),
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
  });

  it('reads the ledger in sequence order without key attributes, validated', async () => {
    // Arrange
    const stored = [entry(1, 'KB5000001'), entry(2, 'KB5000002')].map((e) => ({
      pk: 'LEDGER#NODE1',
      sk: `SEQ#0000000${e.sequence}`,
      kind: 'ledgerEntry',
      ...e,
    }));
    ddb.on(QueryCommand).resolves({ Items: stored });
    const { store } = makeStore();

    // Act
    const ledger = await store.getLedger('node1');

    // Assert
    expect(ledger).toEqual({
      node: 'NODE1',
      entries: [entry(1, 'KB5000001'), entry(2, 'KB5000002')],
    });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'LEDGER#NODE1', ':prefix': 'SEQ#' },
    });
  });

  it('refuses a stored ledger that breaks the ledger rules', async () => {
    // Arrange: the same update installed twice and never removed
    const stored = [entry(1, 'KB5000001'), entry(2, 'KB5000001')].map((e) => ({
      pk: 'LEDGER#NODE1',
      sk: `SEQ#0000000${e.sequence}`,
      kind: 'ledgerEntry',
      ...e,
    }));
    ddb.on(QueryCommand).resolves({ Items: stored });
    const { store } = makeStore();

    // Act
    const error = await rejection(() => store.getLedger('NODE1'));

    // Assert
    expect(error).toBeInstanceOf(LedgerError);
    expect(error.message).toContain('entries[1].updateId');
  });
});

describe('RunStore task tokens', () => {
  it('stores the token under the invocation with the TTL attribute', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    const { store } = makeStore();

    // Act
    await store.putTaskToken('cmd-1', 'i-0123456789abcdef0', {
      taskToken: 'token-1',
      runId: 'run-1',
      node: 'NODE1',
      document: 'inventory',
      expiresAt: 1_750_000_000,
    });

    // Assert
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: {
        pk: 'TASK#cmd-1#i-0123456789abcdef0',
        sk: 'TOKEN',
        kind: 'taskToken',
        commandId: 'cmd-1',
        instanceId: 'i-0123456789abcdef0',
        taskToken: 'token-1',
        runId: 'run-1',
        node: 'NODE1',
        document: 'inventory',
        expiresAt: 1_750_000_000,
      },
    });
  });
});
