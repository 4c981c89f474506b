/**
 * The store's conditional writes evaluated by a DynamoDB implementation (dynalite), not by a
 * mock: a mock can only check the condition's text, this checks what it admits and refuses.
 * Dynalite does not return the old item with a failed condition, so the holder named in the
 * messages is checked in run-store.test.ts instead.
 */

import { beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../lambdas/core/install-ledger.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { useDynalite } from '../helpers/dynalite.js';

const T0 = new Date('2025-03-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const db = useDynalite();
let store: RunStore;

beforeEach(async () => {
  // A fresh table per test, so no test sees another's items.
  const { tableName, client } = await db.table('runs');
  store = new RunStore({ client, tableName });
});

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

describe('RunStore lock against DynamoDB semantics', () => {
  it('refuses a second run while the lease runs, whatever the target spelling', async () => {
    // Arrange
    await store.acquireLock('Cluster1', 'run-a', 600, T0);

    // Act
    const error = await rejection(() => store.acquireLock('CLUSTER1', 'run-b', 600, at(599)));

    // Assert
    expect(error.name).toBe('LockHeld');
    expect((await store.getLock('cluster1'))?.holder).toBe('run-a');
  });

  it('lets another run take over an expired lease', async () => {
    // Arrange
    await store.acquireLock('Cluster1', 'run-a', 600, T0);

    // Act
    const lock = await store.acquireLock('Cluster1', 'run-b', 600, at(601));

    // Assert
    expect(lock.holder).toBe('run-b');
    expect(await store.getLock('Cluster1')).toEqual(lock);
  });

  it('is re-entrant: the holder acquiring again renews its lease', async () => {
    // Arrange
    await store.acquireLock('Cluster1', 'run-a', 600, T0);

    // Act
    const again = await store.acquireLock('Cluster1', 'run-a', 600, at(300));
    const renewed = await store.renewLock('Cluster1', 'run-a', 600, at(500));

    // Assert
    expect(again.leaseExpiresAt).toBe('2025-03-01T10:15:00.000Z');
    expect(renewed.leaseExpiresAt).toBe('2025-03-01T10:18:20.000Z');
  });

  it("never releases another run's lock, and a lost lock cannot be renewed", async () => {
    // Arrange
    await store.acquireLock('Cluster1', 'run-a', 600, T0);
    await store.acquireLock('Cluster1', 'run-b', 600, at(700));

    // Act
    const released = await store.releaseLock('Cluster1', 'run-a');
    const error = await rejection(() => store.renewLock('Cluster1', 'run-a', 600, at(701)));

    // Assert
    expect(released).toBe(false);
    expect(error.name).toBe('LockLost');
    expect((await store.getLock('Cluster1'))?.holder).toBe('run-b');
    expect(await store.releaseLock('Cluster1', 'run-b')).toBe(true);
    expect(await store.getLock('Cluster1')).toBeUndefined();
  });
});

describe('RunStore ledger against DynamoDB semantics', () => {
  const entry = (sequence: number, updateId: string): LedgerEntry => ({
    node: 'NODE1',
    sequence,
    updateId,
    installedAt: '2025-03-01T10:00:00.000Z',
    hotpatched: false,
    replacedFiles: [{ path: '%windir%\\system32\\authz.dll' }],
  });

  it('lets only the first of two writers take a sequence', async () => {
    // Arrange
    await store.appendLedgerEntries('NODE1', [entry(1, 'KB5000001')]);

    // Act
    const error = await rejection(() =>
      store.appendLedgerEntries('node1', [entry(1, 'KB5000002')]),
    );

    // Assert
    expect(error.name).toBe('LedgerConflict');
    expect(await store.getLedger('NODE1')).toEqual({
      node: 'NODE1',
      entries: [entry(1, 'KB5000001')],
    });
  });

  it('marks an entry removed once, and refuses a second removal', async () => {
    // Arrange
    await store.appendLedgerEntries('NODE1', [entry(1, 'KB5000001')]);

    // Act
    const removed = await store.markRemoved('NODE1', 1, {
      removedAt: '2025-03-02T10:00:00.000Z',
      removedByRunId: 'run-9',
    });
    const error = await rejection(() =>
      store.markRemoved('NODE1', 1, { removedAt: '2025-03-03T10:00:00.000Z' }),
    );

    // Assert
    expect(removed).toEqual({
      ...entry(1, 'KB5000001'),
      removedAt: '2025-03-02T10:00:00.000Z',
      removedByRunId: 'run-9',
    });
    expect(error.name).toBe('LedgerConflict');
  });
});

describe('RunStore event sequence against DynamoDB semantics', () => {
  it('hands concurrent callers distinct, gapless numbers from 1', async () => {
    // Arrange
    await store.putRun({
      runId: 'run-1',
      target: 'Group1',
      nodes: ['NODE1'],
      maxFailedNodes: 0,
      status: 'Running',
      startedAt: T0.toISOString(),
    });

    // Act
    const taken = await Promise.all(
      Array.from({ length: 20 }, () => store.nextEventSequence('run-1')),
    );

    // Assert
    expect(taken.map((t) => t.sequence).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    expect(taken[0]?.run).toMatchObject({ runId: 'run-1', target: 'Group1' });
    expect((await store.getRun('run-1'))?.eventSequence).toBe(20);
  });

  it('creates no partial run for an unknown run id', async () => {
    // Act
    const error = await rejection(() => store.nextEventSequence('run-404'));

    // Assert
    expect(error.name).toBe('RunNotFound');
    expect(await store.getRun('run-404')).toBeUndefined();
  });
});
