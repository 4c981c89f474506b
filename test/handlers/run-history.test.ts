import 'aws-sdk-client-mock-vitest/extend';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NodeStatus } from '../../lambdas/core/contracts.js';
import { makeRunHistoryHandler, summariseRun } from '../../lambdas/handlers/run-history.js';
import { type NodeResultRecord, type RunRecord, RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-03-01T12:00:00.000Z');

function makeHandler() {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return makeRunHistoryHandler({
    store: new RunStore({ client, tableName: 'runs' }),
    now: () => NOW,
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

const run = (overrides: Partial<RunRecord> = {}): RunRecord => ({
  runId: 'run-1',
  target: 'Cluster1',
  nodes: ['NODE1', 'NODE2', 'NODE3', 'NODE4'],
  maxFailedNodes: 1,
  status: 'Running',
  startedAt: '2025-03-01T10:00:00.000Z',
  ...overrides,
});
const node = (name: string, status: NodeStatus): NodeResultRecord => ({
  runId: 'run-1',
  node: name,
  status,
  startedAt: '2025-03-01T10:00:00.000Z',
});
const statuses = (...list: NodeStatus[]) => list.map((status, i) => node(`NODE${i + 1}`, status));

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

describe('summariseRun', () => {
  it.each([
    {
      source: 'brief: every node Succeeded or NothingToInstall',
      run: run(),
      results: statuses('Succeeded', 'NothingToInstall', 'Succeeded', 'Succeeded'),
      status: 'Succeeded',
      reason: 'every node succeeded',
    },
    {
      source: 'CAU MaxFailedNodes: more failures than allowed',
      run: run(),
      results: statuses('Failed', 'Failed', 'Succeeded', 'NotStarted'),
      status: 'Failed',
      reason: 'more than maxFailedNodes (1)',
    },
    {
      source: 'brief: not every node updated, failures within maxFailedNodes',
      run: run(),
      results: statuses('Failed', 'Succeeded', 'Succeeded', 'Succeeded'),
      status: 'Failed',
      reason: '1 node(s) failed (within maxFailedNodes 1)',
    },
    {
      source: 'CAU StopAfter: nodes not started once it passed',
      run: run({ stopAt: '2025-03-01T11:00:00.000Z' }),
      results: statuses('Succeeded', 'Succeeded', 'NotStarted'),
      status: 'Stopped',
      reason: 'before 2 node(s) started',
    },
    {
      source: 'nodes never started without StopAfter passing are not a stop',
      run: run({ stopAt: '2025-03-01T13:00:00.000Z' }),
      results: statuses('Succeeded', 'Succeeded', 'NotStarted'),
      status: 'Failed',
      reason: '2 node(s) never started',
    },
    {
      source: 'brief: the run was marked failed',
      run: run({ status: 'Failed', failureReason: 'drain failed on NODE1' }),
      results: statuses('Succeeded', 'Succeeded', 'Succeeded', 'Succeeded'),
      status: 'Failed',
      reason: 'drain failed on NODE1',
    },
    {
      source: 'brief: a cancel flag wins over everything',
      run: run({ cancelRequested: true }),
      results: statuses('Failed', 'Failed', 'Failed'),
      status: 'Cancelled',
      reason: 'cancel',
    },
  ])('$source: $status', ({ run: r, results, status, reason }) => {
    // Act
    const summary = summariseRun(r, results, NOW);

    // Assert
    expect(summary.status).toBe(status);
    expect(summary.reason).toContain(reason);
  });

  it('counts a node of the run with no result as NotStarted, matching names in any case', () => {
    // Act
    const summary = summariseRun(run(), [node('node1', 'Failed'), node('Node2', 'Succeeded')], NOW);

    // Assert
    expect(summary.nodes).toEqual({
      total: 4,
      succeeded: 1,
      failed: 1,
      notStarted: 2,
      nothingToInstall: 0,
      skipped: 0,
    });
    expect(summary.failedNodes).toEqual(['NODE1']);
  });
});

describe('run-history handler', () => {
  it('startRun stores the run with its target-history keys and StopAfter deadline', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});

    // Act
    const result = await makeHandler()({
      action: 'startRun',
      run: {
        runId: 'run-1',
        target: 'Cluster1',
        nodes: ['NODE1', 'NODE2'],
        maxFailedNodes: 0,
        stopAfterMinutes: 90,
      },
    });

    // Assert
    expect(result).toEqual({ runId: 'run-1', status: 'Running', startedAt: NOW.toISOString() });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: {
        pk: 'RUN#run-1',
        sk: 'RUN',
        gsi1pk: 'TARGET#CLUSTER1',
        gsi1sk: '2025-03-01T12:00:00.000Z#run-1',
        kind: 'run',
        runId: 'run-1',
        target: 'Cluster1',
        nodes: ['NODE1', 'NODE2'],
        maxFailedNodes: 0,
        status: 'Running',
        startedAt: '2025-03-01T12:00:00.000Z',
        stopAt: '2025-03-01T13:30:00.000Z',
      },
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
  });

  it('startRun retried after its write succeeded carries on with the stored run', async () => {
    // Arrange
    ddb
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetCommand).resolves({ Item: { pk: 'RUN#run-1', sk: 'RUN', kind: 'run', ...run() } });

    // Act
    const result = await makeHandler()({
      action: 'startRun',
      run: { runId: 'run-1', target: 'Cluster1', nodes: ['NODE1'], maxFailedNodes: 0 },
    });

    // Assert
    expect(result).toEqual({
      runId: 'run-1',
      status: 'Running',
      startedAt: '2025-03-01T10:00:00.000Z',
    });
  });

  it('startRun with the id of a finished run throws RunExists', async () => {
    // Arrange
    ddb
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetCommand).resolves({ Item: { ...run({ status: 'Succeeded' }) } });

    // Act
    const error = await rejection(() =>
      makeHandler()({
        action: 'startRun',
        run: { runId: 'run-1', target: 'Cluster1', nodes: ['NODE1'], maxFailedNodes: 0 },
      }),
    );

    // Assert
    expect(error.name).toBe('RunExists');
  });

  it('recordNode stores the result with the node-history keys', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});

    // Act
    await makeHandler()({
      action: 'recordNode',
      runId: 'run-1',
      node: 'node2',
      result: { status: 'Succeeded', startedAt: '2025-03-01T11:00:00Z', attempts: 1 },
    });

    // Assert
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: {
        pk: 'RUN#run-1',
        sk: 'NODE#NODE2',
        gsi1pk: 'NODE#NODE2',
        gsi1sk: '2025-03-01T11:00:00Z#run-1',
        kind: 'nodeResult',
        runId: 'run-1',
        node: 'node2',
        status: 'Succeeded',
        startedAt: '2025-03-01T11:00:00Z',
        finishedAt: NOW.toISOString(),
        attempts: 1,
      },
    });
  });

  it('finishRun reads every page of the run, writes the status and counts a failed rollout', async () => {
    // Arrange
    const item = (r: object, sk: string, kind: string) => ({ pk: 'RUN#run-1', sk, kind, ...r });
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [
          item(run(), 'RUN', 'run'),
          item(node('NODE1', 'Failed'), 'NODE#NODE1', 'nodeResult'),
        ],
        LastEvaluatedKey: { pk: 'RUN#run-1', sk: 'NODE#NODE1' },
      })
      .resolvesOnce({
        Items: [
          item(node('NODE2', 'Failed'), 'NODE#NODE2', 'nodeResult'),
          item(node('NODE3', 'Succeeded'), 'NODE#NODE3', 'nodeResult'),
          item(node('NODE4', 'Succeeded'), 'NODE#NODE4', 'nodeResult'),
        ],
      });
    ddb.on(UpdateCommand).resolves({ Attributes: {} });

    // Act
    const summary = await makeHandler()({ action: 'finishRun', runId: 'run-1' });

    // Assert
    expect(summary).toEqual({
      runId: 'run-1',
      status: 'Failed',
      nodes: { total: 4, succeeded: 2, failed: 2, notStarted: 0, nothingToInstall: 0, skipped: 0 },
      failedNodes: ['NODE1', 'NODE2'],
      reason: '2 node(s) failed, more than maxFailedNodes (1)',
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: 'RUN#run-1', sk: 'RUN' },
      ExpressionAttributeValues: expect.objectContaining({
        ':status': 'Failed',
        ':f0': '2025-03-01T12:00:00.000Z',
      }),
    });
    expect(addMetric).toHaveBeenCalledExactlyOnceWith('RolloutFailed', 'Count', 1);
  });

  it('finishRun counts a successful rollout', async () => {
    // Arrange
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: 'RUN#run-1', sk: 'RUN', kind: 'run', ...run({ nodes: ['NODE1'] }) },
        { pk: 'RUN#run-1', sk: 'NODE#NODE1', kind: 'nodeResult', ...node('NODE1', 'Succeeded') },
      ],
    });
    ddb.on(UpdateCommand).resolves({ Attributes: {} });

    // Act
    const summary = await makeHandler()({ action: 'finishRun', runId: 'run-1' });

    // Assert
    expect(summary).toMatchObject({ status: 'Succeeded' });
    expect(addMetric).toHaveBeenCalledExactlyOnceWith('RolloutSucceeded', 'Count', 1);
  });

  it('finishRun of an unknown run throws RunNotFound', async () => {
    // Arrange
    ddb.on(QueryCommand).resolves({ Items: [] });

    // Act
    const error = await rejection(() => makeHandler()({ action: 'finishRun', runId: 'run-404' }));

    // Assert
    expect(error.name).toBe('RunNotFound');
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('throws InvalidEvent naming an unknown action', async () => {
    // Act
    const error = await rejection(() => makeHandler()({ action: 'endRun', runId: 'run-1' }));

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('action ("endRun")');
  });

  it('lets throttling propagate', async () => {
    // Arrange
    ddb
      .on(QueryCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow', $metadata: {} }));

    // Act
    const error = await rejection(() => makeHandler()({ action: 'finishRun', runId: 'run-1' }));

    // Assert
    expect(error.name).toBe('ProvisionedThroughputExceededException');
  });
});
