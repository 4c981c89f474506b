/**
 * storageRepairStopsRun (issue 13, item 6): checked from the fleet's log and the scenario's
 * storage jobs; each way the promise can break is found, and a kept promise passes.
 */
import { describe, expect, it } from 'vitest';
import type { FleetLogEntry } from '../../sandbox/fleet.js';
import { checkStorageRepairStopsRun } from '../../sandbox/storage-repair-invariants.js';

const T0 = Date.parse('2026-01-13T22:00:00.000Z');
const MIN = 60_000;
let seq = 0;
const entry = (node: string, kind: FleetLogEntry['kind'], at: number): FleetLogEntry => ({
  seq: seq++,
  at,
  node,
  kind,
  clusterState: 'Up',
  drainStatus: null,
  ...(kind === 'resume' ? { ok: true } : {}),
});

/** NODE1 back at T0 + 5, resumed at T0 + 6; its repair job runs `jobMinutes` after it is back. */
function evidence(opts: {
  wait?: number;
  jobMinutes: number;
  node1Status?: string;
  node2StartsAt?: number;
}) {
  return {
    rollout: {
      policy: opts.wait === undefined ? {} : { waitForStorageRepairTimeoutMinutes: opts.wait },
    },
    log: [
      entry('NODE1', 'restart', T0),
      entry('NODE1', 'back', T0 + 5 * MIN),
      entry('NODE1', 'resume', T0 + 6 * MIN),
    ],
    storageJobsOf: (node: string) =>
      node === 'NODE1' ? [{ name: 'CLUSTER1-Pool Repair', minutes: opts.jobMinutes }] : [],
    nodeStarts: [
      { at: T0 - MIN, node: 'NODE1' },
      ...(opts.node2StartsAt === undefined ? [] : [{ at: opts.node2StartsAt, node: 'NODE2' }]),
    ],
    status: (node: string) => (node === 'NODE1' ? (opts.node1Status ?? 'Failed') : 'NotStarted'),
  };
}

describe('storageRepairStopsRun', () => {
  it('holds when the outlasting repair failed the node and stopped the run', () => {
    const { problems, detail } = checkStorageRepairStopsRun(evidence({ wait: 20, jobMinutes: 90 }));
    expect(problems).toEqual([]);
    expect(detail).toMatch(/^1 resume/);
  });

  it('finds a node reported Succeeded although its repair outlasted the wait', () => {
    const { problems } = checkStorageRepairStopsRun(
      evidence({ wait: 20, jobMinutes: 90, node1Status: 'Succeeded' }),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /NODE1 is reported Succeeded although CLUSTER1-Pool Repair still ran/,
    );
  });

  it('finds a node started after that resume', () => {
    const { problems } = checkStorageRepairStopsRun(
      evidence({ wait: 20, jobMinutes: 90, node2StartsAt: T0 + 30 * MIN }),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^NODE2 started at .*after NODE1's resume/);
  });

  it('asks nothing of a repair that finished within the wait, nor of a run without the wait', () => {
    const within = evidence({
      wait: 20,
      jobMinutes: 10,
      node1Status: 'Succeeded',
      node2StartsAt: T0 + 30 * MIN,
    });
    expect(checkStorageRepairStopsRun(within).problems).toEqual([]);
    const without = evidence({
      jobMinutes: 90,
      node1Status: 'Succeeded',
      node2StartsAt: T0 + 30 * MIN,
    });
    expect(checkStorageRepairStopsRun(without)).toEqual({
      problems: [],
      detail: 'the run waits for no storage repair',
    });
  });
});
