/**
 * The run stops before the next node when a node's storage repair outlasted
 * WaitForStorageRepairTimeoutMinutes (issue 13, item 6): run-history's pausedNodes check.
 */
import { describe, expect, it } from 'vitest';
import { storageRepairStop } from '../../lambdas/handlers/run-history.js';
import type { NodeResultRecord } from '../../lambdas/shared/run-store.js';

const RUN = { nodes: ['NODE1', 'NODE2', 'NODE3'], target: 'CLUSTER1' };
const result = (node: string, extra: Partial<NodeResultRecord>): NodeResultRecord => ({
  runId: 'run-1',
  node,
  status: 'Succeeded',
  startedAt: '2026-01-13T22:00:00.000Z',
  ...extra,
});

describe('storageRepairStop', () => {
  it('names nothing when no node timed out waiting for storage repair', () => {
    expect(
      storageRepairStop(RUN, [
        result('NODE1', {}),
        result('NODE2', { status: 'Failed', leftPaused: false }),
      ]),
    ).toBeUndefined();
  });

  it('stops the run naming the node and its recorded jobs', () => {
    const stop = storageRepairStop(RUN, [
      result('NODE1', {}),
      result('node2', {
        status: 'Failed',
        storageRepairTimedOut: true,
        detail:
          'StorageRepairTimedOut: storage repair jobs still running after 20 minutes: Pool Repair (Running, 22%)',
      }),
    ]);
    expect(stop?.error).toBe('StorageRepairTimedOut');
    expect(stop?.nodes).toEqual(['NODE2']);
    expect(stop?.reason).toContain(
      'NODE2: StorageRepairTimedOut: storage repair jobs still running after 20 minutes: Pool Repair (Running, 22%)',
    );
    expect(stop?.reason).toContain('before the next node of CLUSTER1');
  });
});
