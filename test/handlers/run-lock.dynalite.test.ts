/**
 * The run-lock function against a DynamoDB implementation (dynalite) and a scripted Step
 * Functions: the lock lives as long as its execution, whatever the lease says; a competitor or
 * the status-change rule frees it only once that execution has ended.
 */

import { Metrics } from '@aws-lambda-powertools/metrics';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExecutionStatus } from '../../lambdas/core/target-lock.js';
import { makeRunLockHandler } from '../../lambdas/handlers/run-lock.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { useDynalite } from '../helpers/dynalite.js';

const T0 = new Date('2025-03-01T10:00:00.000Z');
const HOUR = 3600;
const MACHINE = 'arn:aws:states:eu-west-1:111122223333:execution:RolloutWorkflow';
const arnOf = (name: string) => `${MACHINE}:${name}`;
const ROLLOUT = {
  target: {
    kind: 'cluster',
    name: 'CLUSTER1',
    nodes: [
      { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
      { name: 'NODE2', instanceId: 'i-0123456789abcdef1' },
    ],
  },
  plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
};

const db = useDynalite();
let store: RunStore;
let now: Date;
/** What DescribeExecution answers, per execution ARN; unknown ones are NOT_FOUND. */
let statuses: Map<string, ExecutionStatus>;
let described: string[];

const handler = () =>
  makeRunLockHandler({
    store,
    now: () => now,
    executionStatus: async (arn) => {
      described.push(arn);
      return statuses.get(arn) ?? 'NOT_FOUND';
    },
  });
const acquire = (runId: string, leaseSeconds = HOUR) =>
  handler()({
    action: 'acquire',
    target: 'CLUSTER1',
    runId,
    execution: arnOf(runId),
    leaseSeconds,
  });
const later = (seconds: number) => {
  now = new Date(now.getTime() + seconds * 1000);
};

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

beforeEach(async () => {
  vi.spyOn(Metrics.prototype, 'addMetric').mockImplementation(function (this: Metrics) {
    return this;
  });
  const { tableName, client } = await db.table('locks', {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new RunStore({ client, tableName });
  now = T0;
  statuses = new Map();
  described = [];
});

describe('run-lock: the lock lives as long as its execution', () => {
  it('a running holder keeps its lock days past its lease; the competitor is refused naming it', async () => {
    // Arrange: run-a waits at an approval gate for three days, far past its one-hour lease.
    await acquire('run-a');
    statuses.set(arnOf('run-a'), 'RUNNING');
    later(3 * 24 * HOUR);

    // Act
    const error = await rejection(() => acquire('run-b'));

    // Assert
    expect(error.name).toBe('LockHeld');
    expect(error.message).toContain('run-a');
    expect(error.message).toContain(arnOf('run-a'));
    expect(described).toEqual([arnOf('run-a')]);
    expect(await store.getLock('CLUSTER1')).toMatchObject({
      holder: 'run-a',
      execution: arnOf('run-a'),
    });
  });

  it.each(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const)(
    'a holder whose execution is %s loses the lock to the next run, at once',
    async (status) => {
      // Arrange: within its lease, but its execution has ended.
      await acquire('run-a');
      statuses.set(arnOf('run-a'), status);
      later(60);

      // Act
      const result = await acquire('run-b');

      // Assert
      expect(result).toMatchObject({ held: true, runId: 'run-b', takenOverFrom: 'run-a' });
      expect(await store.getLock('CLUSTER1')).toMatchObject({
        holder: 'run-b',
        execution: arnOf('run-b'),
        takenOverFrom: 'run-a',
      });
    },
  );

  it('a claim whose execution cannot be seen yet holds until its lease ends, then lapses', async () => {
    // Arrange: a claim (the API's, before StartExecution lands): the execution is unknown.
    await acquire('run-a', 300);

    // Act
    later(120);
    const early = await rejection(() => acquire('run-b'));
    later(300);
    const late = await acquire('run-b');

    // Assert
    expect(early.name).toBe('LockHeld');
    expect(late).toMatchObject({ held: true, takenOverFrom: 'run-a' });
  });

  it('the holder acquiring again adopts its own lock; the same run id from another execution does not', async () => {
    // Arrange
    await acquire('run-a');
    statuses.set(arnOf('run-a'), 'RUNNING');

    // Act
    const again = await acquire('run-a');
    const twin = await rejection(() =>
      handler()({
        action: 'acquire',
        target: 'CLUSTER1',
        runId: 'run-a',
        execution: arnOf('run-a-second-start'),
      }),
    );

    // Assert
    expect(again).toMatchObject({ held: true, runId: 'run-a' });
    expect(twin.name).toBe('LockHeld');
  });

  it('of two competitors that both saw the holder end, exactly one wins', async () => {
    // Arrange
    await acquire('run-a');
    statuses.set(arnOf('run-a'), 'FAILED');

    // Act
    const results = await Promise.allSettled([acquire('run-b'), acquire('run-c')]);

    // Assert
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason.name).toBe('LockHeld');
    const holder = (await store.getLock('CLUSTER1'))?.holder;
    expect(holder).toBe((won[0] as PromiseFulfilledResult<{ runId: string }>).value.runId);
  });
});

describe('run-lock: the status-change rule releases the lock of a run that died', () => {
  const ended = (name: string, status: string, input: unknown = { ...ROLLOUT }) => ({
    version: '0',
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn: arnOf(name),
      stateMachineArn: MACHINE.replace(':execution:', ':stateMachine:'),
      name,
      status,
      input: JSON.stringify(input),
    },
  });

  it('releases the lock the aborted execution still names, and marks its run Failed', async () => {
    // Arrange
    await acquire('run-a');
    await store.putRun({
      runId: 'run-a',
      target: 'CLUSTER1',
      nodes: ['NODE1', 'NODE2'],
      maxFailedNodes: 0,
      status: 'Running',
      startedAt: T0.toISOString(),
      execution: arnOf('run-a'),
    });

    // Act
    const result = await handler()(ended('run-a', 'ABORTED'));

    // Assert
    expect(result).toEqual({
      executionArn: arnOf('run-a'),
      target: 'CLUSTER1',
      released: true,
      runMarkedFailed: true,
    });
    expect(await store.getLock('CLUSTER1')).toBeUndefined();
    expect(await store.getRun('run-a')).toMatchObject({
      status: 'Failed',
      failureReason: expect.stringContaining('ABORTED'),
    });
  });

  it('publishes Rollout Failed for the run it marks Failed, with the stored reason and status', async () => {
    // Arrange
    await acquire('run-a');
    await store.putRun({
      runId: 'run-a',
      target: 'CLUSTER1',
      targetKind: 'cluster',
      nodes: ['NODE1', 'NODE2'],
      maxFailedNodes: 0,
      status: 'Running',
      startedAt: T0.toISOString(),
      execution: arnOf('run-a'),
    });
    const published: { detailType: string; detail: Record<string, unknown> }[] = [];
    const withBus = makeRunLockHandler({
      store,
      now: () => now,
      executionStatus: async () => 'ABORTED',
      publisher: {
        enabled: true,
        publish: async (detailType, detail) => {
          published.push({ detailType, detail: detail as unknown as Record<string, unknown> });
        },
      },
    });

    // Act
    await withBus(ended('run-a', 'ABORTED'));

    // Assert
    expect(published.map((p) => p.detailType)).toEqual(['Rollout Failed']);
    expect(published[0]?.detail).toMatchObject({
      rolloutId: 'run-a',
      status: 'Failed',
      reason: expect.stringContaining(
        'the execution ended ABORTED before the run recorded its end',
      ),
      nodes: expect.objectContaining({ total: 2, notStarted: 2 }),
    });
  });

  it("never releases a lock another execution holds (the rule's event came late)", async () => {
    // Arrange: run-a ended and run-b took the lock before the event arrived.
    await acquire('run-a');
    statuses.set(arnOf('run-a'), 'ABORTED');
    await acquire('run-b');

    // Act
    const result = await handler()(ended('run-a', 'ABORTED'));

    // Assert
    expect(result).toMatchObject({ released: false, runMarkedFailed: false });
    expect((await store.getLock('CLUSTER1'))?.holder).toBe('run-b');
  });

  it('an execution with an input the workflow refused took no lock and releases nothing', async () => {
    // Arrange
    await acquire('run-b');

    // Act
    const result = await handler()(ended('run-x', 'FAILED', { target: 'nothing' }));

    // Assert
    expect(result).toEqual({
      executionArn: arnOf('run-x'),
      released: false,
      runMarkedFailed: false,
    });
    expect((await store.getLock('CLUSTER1'))?.holder).toBe('run-b');
  });

  it('refuses a status-change event of another kind, naming the field', async () => {
    // Act
    const error = await rejection(() => handler()(ended('run-a', 'SUCCEEDED')));

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('status');
  });
});
