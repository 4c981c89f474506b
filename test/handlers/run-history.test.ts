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
import {
  type LifecycleDetailType,
  type LifecycleEvent,
  lifecycleDetailSchemas,
} from '../../lambdas/core/lifecycle-events.js';
import { makeRunHistoryHandler, summariseRun } from '../../lambdas/handlers/run-history.js';
import {
  EventPublishError,
  type LifecyclePublisher,
  NoopPublisher,
} from '../../lambdas/shared/event-publisher.js';
import { type NodeResultRecord, type RunRecord, RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-03-01T12:00:00.000Z');

function makeHandler(publisher?: LifecyclePublisher, now: () => Date = () => NOW) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return makeRunHistoryHandler({
    store: new RunStore({ client, tableName: 'runs' }),
    now,
    ...(publisher ? { publisher } : {}),
  });
}

/** A publisher that keeps what it is given; `fail` makes the next publish calls reject. */
function recordingPublisher() {
  const published: { detailType: LifecycleDetailType; detail: LifecycleEvent['detail'] }[] = [];
  const failures: Error[] = [];
  const publisher: LifecyclePublisher = {
    enabled: true,
    publish: async (detailType, detail) => {
      const failure = failures.shift();
      if (failure) throw failure;
      published.push({ detailType, detail });
    },
  };
  return { publisher, published, fail: (error: Error) => failures.push(error) };
}

type Item = Record<string, unknown>;

/**
 * The run partition as the mocked client sees it: Put stores, the ADD takes the next sequence
 * from the stored run, SET updates it, Query returns it. Enough of DynamoDB for the handler.
 */
function fakeRunPartition() {
  const items = new Map<string, Item>();
  ddb.on(PutCommand).callsFake((input: { Item: Item; ConditionExpression?: string }) => {
    const key = `${input.Item.pk}|${input.Item.sk}`;
    if (input.ConditionExpression && items.has(key)) {
      throw new ConditionalCheckFailedException({ message: 'exists', $metadata: {} });
    }
    items.set(key, { ...input.Item });
    return {};
  });
  ddb.on(GetCommand).callsFake((input: { Key: Item }) => ({
    Item: items.get(`${input.Key.pk}|${input.Key.sk}`),
  }));
  ddb
    .on(UpdateCommand)
    .callsFake(
      (input: {
        Key: Item;
        UpdateExpression: string;
        ExpressionAttributeNames: Record<string, string>;
        ExpressionAttributeValues: Record<string, unknown>;
      }) => {
        const key = `${input.Key.pk}|${input.Key.sk}`;
        const found = items.get(key);
        if (!found)
          throw new ConditionalCheckFailedException({ message: 'missing', $metadata: {} });
        if (input.UpdateExpression.startsWith('ADD')) {
          found.eventSequence = ((found.eventSequence as number | undefined) ?? 0) + 1;
        } else {
          for (const [alias, name] of Object.entries(input.ExpressionAttributeNames)) {
            const value = input.ExpressionAttributeValues[alias.replace('#', ':')];
            if (value !== undefined) found[name] = value;
          }
        }
        return { Attributes: { ...found } };
      },
    );
  ddb.on(QueryCommand).callsFake(() => ({
    Items: [...items.values()].filter((i) => i.pk === 'RUN#run-1'),
  }));
  return items;
}

const START_RUN = {
  action: 'startRun',
  run: {
    runId: 'run-1',
    target: 'Cluster1',
    targetKind: 'cluster',
    nodes: ['NODE1', 'NODE2'],
    maxFailedNodes: 0,
    startedAt: '2025-03-01T10:00:00.000Z',
    execution: 'arn:aws:states:us-east-1:000000000000:execution:Rollout:run-1',
    changeTicket: { system: 'ServiceNow', id: 'CHG0031337', url: 'https://example.invalid/c' },
    requestedBy: 'alice',
  },
} as const;
const recordNode = (name: string, status: NodeStatus, extra: object = {}) => ({
  action: 'recordNode',
  runId: 'run-1',
  node: name,
  result: { status, startedAt: '2025-03-01T10:30:00.000Z', ...extra },
});

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
      source: 'issue 13 item 3: rebootOption Never did what it was asked (InstalledPendingReboot)',
      run: run(),
      results: statuses('InstalledPendingReboot', 'NothingToInstall', 'Succeeded', 'Succeeded'),
      status: 'Succeeded',
      reason: '1 installed with a restart pending (rebootOption Never)',
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
      source: 'issue 13 item 6: a storage repair that outlasted its wait halted new nodes',
      run: run({
        haltedBy: {
          error: 'StorageRepairTimedOut',
          node: 'NODE2',
          reason: 'storage repair did not finish in time on NODE2: Pool Repair (Running, 22%)',
          at: '2025-03-01T11:00:00.000Z',
        },
      }),
      results: statuses('Succeeded', 'Failed', 'NotStarted', 'NotStarted'),
      status: 'Failed',
      reason:
        'StorageRepairTimedOut: storage repair did not finish in time on NODE2: Pool Repair (Running, 22%); no node of',
    },
    {
      source: 'brief: a cancel flag wins over everything',
      run: run({ cancelRequested: true }),
      results: statuses('Failed', 'Failed', 'Failed'),
      status: 'Cancelled',
      reason: 'called off',
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

  it("recordNode stores the rescan after the final restart explained by the node's update results (issue 13 item 6)", async () => {
    // Arrange: the node's results of this run: KB5034441 failed on its last attempt.
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({});
    ddb.on(QueryCommand).resolves({
      Items: [
        {
          kind: 'updateResult',
          runId: 'run-1',
          node: 'NODE2',
          attempt: 2,
          index: 0,
          plugin: 'Microsoft.HotfixPlugin',
          update: 'CAUHotfix_All/windows10.0-kb5034441-x64.msu',
          exitCode: 1603,
          outcome: 'Failed',
        },
      ],
    });
    const hotfix = {
      kb: 'KB5034441',
      title: 'CAUHotfix_All/windows10.0-kb5034441-x64.msu',
      source: 'Hotfix',
      restartPending: false,
    };
    const offered = {
      kb: 'KB5035002',
      title: 'CU (KB5035002)',
      source: 'WindowsUpdate',
      restartPending: false,
    };

    // Act
    await makeHandler()(
      recordNode('NODE2', 'Failed', {
        reason: 'UpdateFailed',
        rescan: {
          stillApplicable: [hotfix, offered],
          searchError: 'Windows Update search failed: x',
        },
      }),
    );
    await makeHandler()(
      recordNode('NODE3', 'Succeeded', { rescan: { stillApplicable: [], searchError: null } }),
    );

    // Assert: one query, by the node's update results only; the node status stays as recorded.
    const queries = ddb.commandCalls(QueryCommand);
    expect(queries).toHaveLength(1);
    expect(queries[0]?.args[0].input.ExpressionAttributeValues).toEqual({
      ':pk': 'RUN#run-1',
      ':sk': 'NODE#NODE2#ATTEMPT#',
    });
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item as Item);
    const node2 = puts.find((i) => i.node === 'NODE2');
    expect(node2).toMatchObject({
      status: 'Failed',
      detail: 'UpdateFailed',
      stillApplicable: [
        {
          kb: 'KB5034441',
          source: 'Hotfix',
          reason: 'installFailed',
          detail: 'its install failed (Failed, exit code 1603)',
        },
        { kb: 'KB5035002', source: 'WindowsUpdate', reason: 'newlyOffered' },
      ],
      rescanError: 'Windows Update search failed: x',
    });
    expect(node2).not.toHaveProperty('rescan');
    const node3 = puts.find((i) => i.node === 'NODE3');
    expect(node3).toMatchObject({ status: 'Succeeded', stillApplicable: [] });
    expect(node3).not.toHaveProperty('rescanError');
  });

  it('recordNode of a storage repair timeout halts the run: no new node starts (issue 13 item 6)', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    ddb.on(GetCommand).resolves({});

    // Act
    await makeHandler()(
      recordNode('NODE2', 'Failed', {
        storageRepairTimedOut: true,
        detail: 'StorageRepairTimedOut: Pool Repair (Running, 22%)',
        finishedAt: '2025-03-01T11:00:00.000Z',
      }),
    );
    await makeHandler()(recordNode('NODE3', 'Failed', { detail: 'exit 1603' }));

    // Assert: once, for the node that timed out, kept if already set.
    const halts = ddb
      .commandCalls(UpdateCommand)
      .filter((c) => c.args[0].input.ExpressionAttributeNames?.['#halted'] === 'haltedBy');
    expect(halts).toHaveLength(1);
    expect(halts[0]?.args[0].input).toMatchObject({
      Key: { pk: 'RUN#run-1', sk: 'RUN' },
      UpdateExpression: 'SET #halted = if_not_exists(#halted, :halt)',
      ExpressionAttributeValues: {
        ':halt': {
          error: 'StorageRepairTimedOut',
          node: 'NODE2',
          reason:
            'storage repair did not finish in time on NODE2: StorageRepairTimedOut: Pool Repair (Running, 22%)',
          at: '2025-03-01T11:00:00.000Z',
        },
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

  it.each([
    [
      'a node left Paused by a failed resume',
      { ...node('NODE2', 'Failed'), leftPaused: true },
      { anyPaused: true, clusterNotUp: false, nodes: ['NODE2'] },
      /NODE2 is left Paused \(the resume failed\)/,
    ],
    [
      "a member found not Up by a node's inventory before any drain",
      { ...node('NODE1', 'NotStarted'), clusterNotUp: 'NODE3 is Paused' },
      { anyPaused: true, clusterNotUp: true, nodes: ['NODE1'] },
      /^NODE3 is Paused \(found by NODE1's inventory\): a node of Cluster1 was not Up before the run, so it stops before draining or updating any node of it/,
    ],
    ['no such node', node('NODE1', 'Failed'), { anyPaused: false, clusterNotUp: false }, undefined],
  ])('pausedNodes: %s', async (_what, result, expected, reason) => {
    // Arrange
    const item = (r: object, sk: string, kind: string) => ({ pk: 'RUN#run-1', sk, kind, ...r });
    ddb.on(QueryCommand).resolves({
      Items: [item(run(), 'RUN', 'run'), item(result, `NODE#${result.node}`, 'nodeResult')],
    });

    // Act
    const answer = await makeHandler()({ action: 'pausedNodes', runId: 'run-1' });

    // Assert
    expect(answer).toMatchObject(expected);
    if (reason) expect((answer as { reason?: string }).reason).toMatch(reason);
    else expect(answer).not.toHaveProperty('reason');
  });

  it('recordNode refuses an empty clusterNotUp, naming the field', async () => {
    const error = await rejection(() =>
      makeHandler()(recordNode('NODE1', 'NotStarted', { clusterNotUp: '' })),
    );
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('clusterNotUp');
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

describe('run-history lifecycle events', () => {
  it('publishes started, node updated per node, then finished, in sequence, with the ticket', async () => {
    // Arrange
    fakeRunPartition();
    const { publisher, published } = recordingPublisher();
    const handler = makeHandler(publisher);

    // Act
    await handler(START_RUN);
    await handler(
      recordNode('NODE1', 'Succeeded', { restarts: 1, drained: true, reason: 'Succeeded' }),
    );
    await handler(
      recordNode('NODE2', 'Failed', { restarts: 0, drained: true, reason: 'exit code 0x80240017' }),
    );
    await handler({ action: 'finishRun', runId: 'run-1' });

    // Assert
    expect(published.map((p) => p.detailType)).toEqual([
      'Rollout Started',
      'Rollout Node Updated',
      'Rollout Node Updated',
      'Rollout Failed',
    ]);
    expect(published.map((p) => p.detail.sequence)).toEqual([1, 2, 3, 4]);
    for (const { detail } of published) {
      expect(detail).toMatchObject({
        rolloutId: 'run-1',
        target: { kind: 'cluster', name: 'Cluster1' },
        changeTicket: { system: 'ServiceNow', id: 'CHG0031337', url: 'https://example.invalid/c' },
        requestedBy: 'alice',
      });
    }
    expect(published[2]?.detail).toMatchObject({
      node: 'NODE2',
      status: 'Failed',
      detail: 'exit code 0x80240017',
      restarts: 0,
      drained: true,
      finishedAt: NOW.toISOString(),
      occurredAt: NOW.toISOString(),
    });
    expect(published[3]?.detail).toMatchObject({
      status: 'Failed',
      failedNodes: ['NODE2'],
      nodes: { total: 2, succeeded: 1, failed: 1 },
    });
    const schemas = {
      'Rollout Started': lifecycleDetailSchemas.rolloutStarted,
      'Rollout Node Updated': lifecycleDetailSchemas.nodeUpdated,
      'Rollout Failed': lifecycleDetailSchemas.rolloutFailed,
    } as Record<string, (typeof lifecycleDetailSchemas)[keyof typeof lifecycleDetailSchemas]>;
    for (const { detailType, detail } of published) {
      expect(schemas[detailType]?.safeParse(detail).success).toBe(true);
    }
  });

  it('publishes a run that StopAfter ended as Rollout Failed with status Stopped', async () => {
    // Arrange
    fakeRunPartition();
    const { publisher, published } = recordingPublisher();
    await makeHandler(publisher)({
      ...START_RUN,
      run: { ...START_RUN.run, deadlines: { stopAt: '2025-03-01T11:00:00.000Z' } },
    });
    await makeHandler(publisher)(recordNode('NODE1', 'Succeeded'));

    // Act
    await makeHandler(publisher)({ action: 'finishRun', runId: 'run-1' });

    // Assert
    expect(published.at(-1)).toMatchObject({
      detailType: 'Rollout Failed',
      detail: { status: 'Stopped', sequence: 3 },
    });
  });

  it('records before publishing: a failed publish throws and the node result is kept', async () => {
    // Arrange
    const items = fakeRunPartition();
    const { publisher, published, fail } = recordingPublisher();
    const handler = makeHandler(publisher);
    await handler(START_RUN);
    fail(new EventPublishError('InternalFailure', []));

    // Act
    const error = await rejection(() => handler(recordNode('NODE1', 'Succeeded')));
    await handler(recordNode('NODE1', 'Succeeded'));

    // Assert
    expect(error.name).toBe('LifecycleEventNotPublished');
    expect(items.get('RUN#run-1|NODE#NODE1')).toMatchObject({ status: 'Succeeded' });
    // The retry publishes the same occurrence (same eventId) with a later sequence.
    expect(published.map((p) => [p.detailType, p.detail.sequence])).toEqual([
      ['Rollout Started', 1],
      ['Rollout Node Updated', 3],
    ]);
    expect(published[1]?.detail.eventId).toBe('run-1:node:NODE1:2025-03-01T10:30:00.000Z');
  });

  it('startRun retried after its write publishes Rollout Started again', async () => {
    // Arrange
    fakeRunPartition();
    const { publisher, published, fail } = recordingPublisher();
    const handler = makeHandler(publisher);
    fail(new EventPublishError('ThrottlingException', []));
    const error = await rejection(() => handler(START_RUN));

    // Act
    const result = await handler(START_RUN);

    // Assert
    expect(error.name).toBe('LifecycleEventNotPublished');
    expect(result).toEqual({
      runId: 'run-1',
      status: 'Running',
      startedAt: '2025-03-01T10:00:00.000Z',
    });
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      detailType: 'Rollout Started',
      detail: { eventId: 'run-1:started', sequence: 2, occurredAt: '2025-03-01T10:00:00.000Z' },
    });
  });

  it('finishRun retried after its write returns the stored summary, counted once, and publishes it', async () => {
    // Arrange
    fakeRunPartition();
    const { publisher, published, fail } = recordingPublisher();
    await makeHandler(publisher)(START_RUN);
    await makeHandler(publisher)(recordNode('NODE1', 'Succeeded'));
    await makeHandler(publisher)(recordNode('NODE2', 'NothingToInstall'));
    fail(new EventPublishError('InternalFailure', []));
    const first = await rejection(() =>
      makeHandler(publisher)({ action: 'finishRun', runId: 'run-1' }),
    );

    // Act
    const later = new Date(NOW.getTime() + 60_000);
    const summary = await makeHandler(
      publisher,
      () => later,
    )({
      action: 'finishRun',
      runId: 'run-1',
    });

    // Assert
    expect(first.name).toBe('LifecycleEventNotPublished');
    expect(summary).toEqual({
      runId: 'run-1',
      status: 'Succeeded',
      nodes: { total: 2, succeeded: 1, failed: 0, notStarted: 0, nothingToInstall: 1, skipped: 0 },
      failedNodes: [],
      reason: 'every node succeeded or had nothing to install',
    });
    expect(addMetric).toHaveBeenCalledExactlyOnceWith('RolloutSucceeded', 'Count', 1);
    expect(published.at(-1)).toMatchObject({
      detailType: 'Rollout Succeeded',
      detail: { eventId: 'run-1:finished', sequence: 5, occurredAt: NOW.toISOString() },
    });
  });

  it('takes no sequence number and publishes nothing without a bus', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});

    // Act
    await makeHandler(new NoopPublisher())(recordNode('NODE1', 'Succeeded'));

    // Assert
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('run-history orderNodes (issue 13, item 7)', () => {
  const NODES = [
    { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
    { name: 'NODE2', instanceId: 'i-0123456789abcdef1' },
    { name: 'NODE3', instanceId: 'i-0123456789abcdef2' },
  ];
  const inventory = (roleCounts: Record<string, number>) => ({
    status: 'Success',
    results: [{ cluster: { name: 'CLUSTER1', nodeState: 'Up', roleCounts } }],
  });

  it('orders fewest roles first and records the order on the run', async () => {
    // Arrange
    ddb.on(UpdateCommand).resolves({});
    // Act
    const result = await makeHandler()({
      action: 'orderNodes',
      runId: 'run-1',
      nodes: NODES,
      command: inventory({ NODE1: 2, NODE3: 1 }),
    });
    // Assert
    expect((result as { nodes: readonly { name: string }[] }).nodes.map((n) => n.name)).toEqual([
      'NODE2',
      'NODE3',
      'NODE1',
    ]);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'SET #order = :order',
      ExpressionAttributeValues: {
        ':order': expect.objectContaining({
          source: 'computed',
          counts: [
            { node: 'NODE2', roles: 0 },
            { node: 'NODE3', roles: 1 },
            { node: 'NODE1', roles: 2 },
          ],
          from: 'NODE1',
        }),
      },
    });
  });

  it.each([
    [
      'the inventory failed',
      { error: { Error: 'States.Timeout', Cause: 'no answer' } },
      'the inventory on NODE1 failed (States.Timeout: no answer)',
    ],
    [
      'the command did not succeed',
      { command: { status: 'Failed' } },
      'the inventory on NODE1 ended Failed',
    ],
    [
      'the inventory had no counts',
      { command: { status: 'Success', results: [{ cluster: null }] } },
      'the inventory reported no clustered role counts',
    ],
  ])('%s: keeps the given order and records why', async (_what, outcome, reason) => {
    // Arrange
    ddb.on(UpdateCommand).resolves({});
    // Act
    const result = await makeHandler()({
      action: 'orderNodes',
      runId: 'run-1',
      nodes: NODES,
      ...outcome,
    });
    // Assert
    expect(result).toMatchObject({ nodes: NODES, order: { source: 'given', reason } });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ExpressionAttributeValues: { ':order': { source: 'given', reason } },
    });
  });
});

describe('phaseVerdict (issue 13, item 4)', () => {
  afterEach(() => ddb.reset());
  const phase = {
    index: 0,
    name: 'canary',
    start: 0,
    end: 2,
    failuresAllowed: 0,
    advance: 'bake',
  } as const;

  it.each([
    { allowed: 0, passed: false, reason: /1 failed \(NODE2\), more than the 0/ },
    { allowed: 1, passed: true, reason: /1 failed, 1 allowed: the criteria hold/ },
  ])(
    'judges the phase against failuresAllowed $allowed and publishes Rollout Phase Completed',
    async ({ allowed, passed, reason }) => {
      // Arrange
      fakeRunPartition();
      const { publisher, published } = recordingPublisher();
      const handler = makeHandler(publisher);
      await handler(START_RUN);
      await handler(recordNode('NODE1', 'Succeeded'));
      await handler(recordNode('NODE2', 'Failed'));

      // Act
      const verdict = await handler({
        action: 'phaseVerdict',
        runId: 'run-1',
        phase: { ...phase, failuresAllowed: allowed },
      });

      // Assert
      expect(verdict).toMatchObject({ nodes: ['NODE1', 'NODE2'], failed: ['NODE2'], passed });
      expect((verdict as { reason: string }).reason).toMatch(reason);
      const event = published.at(-1);
      expect(event?.detailType).toBe('Rollout Phase Completed');
      expect(lifecycleDetailSchemas.phaseCompleted.safeParse(event?.detail).success).toBe(true);
      expect(event?.detail).toMatchObject({
        eventId: 'run-1:phase:0',
        passed,
        advance: 'bake',
        phase: { name: 'canary', failed: ['NODE2'], failuresAllowed: allowed },
      });
    },
  );

  it('refuses a phase without its bounds, naming the field', async () => {
    fakeRunPartition();
    const handler = makeHandler();
    const error = await rejection(() =>
      handler({ action: 'phaseVerdict', runId: 'run-1', phase: { ...phase, end: undefined } }),
    );
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('phase.end');
  });
});
