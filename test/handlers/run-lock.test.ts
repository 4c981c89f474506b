import 'aws-sdk-client-mock-vitest/extend';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeRunLockHandler } from '../../lambdas/handlers/run-lock.js';
import { RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-03-01T10:00:00.000Z');

function makeHandler() {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return makeRunLockHandler({
    store: new RunStore({ client, tableName: 'runs' }),
    now: () => NOW,
    executionStatus: async () => 'NOT_FOUND' as const,
  });
}

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

const throttled = (name: string) => Object.assign(new Error(`${name}: rate exceeded`), { name });

let addMetric: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  addMetric = vi.spyOn(Metrics.prototype, 'addMetric').mockImplementation(function (this: Metrics) {
    return this;
  });
});
afterEach(() => {
  ddb.reset();
  vi.restoreAllMocks();
});

describe('run-lock handler', () => {
  it('acquires with the default lease of one hour', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});

    // Act
    const result = await makeHandler()({ action: 'acquire', target: 'Cluster1', runId: 'run-1' });

    // Assert
    expect(result).toEqual({
      target: 'Cluster1',
      runId: 'run-1',
      held: true,
      leaseExpiresAt: '2025-03-01T11:00:00.000Z',
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ pk: 'LOCK#CLUSTER1', holder: 'run-1' }),
    });
    expect(addMetric).not.toHaveBeenCalled();
  });

  it('throws LockHeld naming the holder, and counts the contention', async () => {
    // Arrange: a lock without an execution, within its lease.
    ddb.on(GetCommand).resolves({
      Item: {
        target: 'Cluster1',
        holder: 'run-7',
        acquiredAt: '2025-03-01T09:45:00.000Z',
        leaseExpiresAt: '2025-03-01T10:45:00.000Z',
      },
    });
    ddb.on(PutCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { holder: { S: 'run-7' }, leaseExpiresAt: { S: '2025-03-01T10:45:00.000Z' } },
      }),
    );

    // Act
    const error = await rejection(() =>
      makeHandler()({ action: 'acquire', target: 'Cluster1', runId: 'run-1' }),
    );

    // Assert
    expect(error.name).toBe('LockHeld');
    expect(error.message).toContain('run-7');
    expect(addMetric).toHaveBeenCalledWith('LockContention', 'Count', 1);
  });

  it('renews with the lease it is given', async () => {
    // Arrange
    ddb.on(UpdateCommand).resolves({
      Attributes: {
        target: 'Cluster1',
        holder: 'run-1',
        acquiredAt: '2025-03-01T09:00:00.000Z',
        leaseExpiresAt: '2025-03-01T10:02:00.000Z',
      },
    });

    // Act
    const result = await makeHandler()({
      action: 'renew',
      target: 'Cluster1',
      runId: 'run-1',
      leaseSeconds: 120,
    });

    // Assert
    expect(result).toEqual({
      target: 'Cluster1',
      runId: 'run-1',
      held: true,
      leaseExpiresAt: '2025-03-01T10:02:00.000Z',
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ExpressionAttributeValues: expect.objectContaining({ ':lease': '2025-03-01T10:02:00.000Z' }),
    });
  });

  it('throws LockLost when renewing a lock the run lost', async () => {
    // Arrange
    ddb
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));

    // Act
    const error = await rejection(() =>
      makeHandler()({ action: 'renew', target: 'Cluster1', runId: 'run-1' }),
    );

    // Assert
    expect(error.name).toBe('LockLost');
  });

  it("treats releasing another run's lock as a no-op", async () => {
    // Arrange
    ddb
      .on(DeleteCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));

    // Act
    const result = await makeHandler()({ action: 'release', target: 'Cluster1', runId: 'run-1' });

    // Assert
    expect(result).toEqual({ target: 'Cluster1', runId: 'run-1', held: false });
    expect(ddb).toHaveReceivedCommandTimes(DeleteCommand, 1);
  });

  it.each([
    ['action', { action: 'grab', target: 'Cluster1', runId: 'run-1' }, '"grab"'],
    ['leaseSeconds', { action: 'acquire', target: 'C1', runId: 'run-1', leaseSeconds: 5 }, '(5)'],
    ['runId', { action: 'acquire', target: 'C1', runId: 'run 1' }, '"run 1"'],
  ])('throws InvalidEvent naming %s and its value', async (field, event, shown) => {
    // Arrange
    const handler = makeHandler();

    // Act
    const error = await rejection(() => handler(event));

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain(`${field} (`);
    expect(error.message).toContain(shown);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it.each([
    new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }),
    throttled('ThrottlingException'),
  ])('lets $name propagate for the state machine to retry', async (error) => {
    // Arrange
    ddb.on(PutCommand).rejects(error);

    // Act
    const thrown = await rejection(() =>
      makeHandler()({ action: 'acquire', target: 'Cluster1', runId: 'run-1' }),
    );

    // Assert
    expect(thrown.name).toBe(error.name);
    expect(addMetric).not.toHaveBeenCalled();
  });
});
