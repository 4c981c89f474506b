/**
 * clusterHealthAfterRestart (issue 13, item 6): checked from the fleet's log and the scenario's
 * failback; each way the promise can break is found, and a kept promise passes.
 */
import { describe, expect, it } from 'vitest';
import { checkClusterHealthAfterRestart } from '../../sandbox/failback-invariants.js';
import type { FleetLogEntry } from '../../sandbox/fleet.js';

const T0 = Date.parse('2026-01-13T22:00:00.000Z');
const MIN = 60_000;
let seq = 0;
const entry = (
  node: string,
  kind: FleetLogEntry['kind'],
  at: number,
  clusterState: FleetLogEntry['clusterState'] = 'Paused',
): FleetLogEntry => ({
  seq: seq++,
  at,
  node,
  kind,
  clusterState,
  drainStatus: null,
  ...(kind === 'resume' || kind === 'drain' ? { ok: true } : {}),
});

/** NODE1 restarted, back (Paused, or Down), resumed; NODE2 maybe drained after it. */
function evidence(opts: {
  policy?: Record<string, unknown>;
  failbackMinutes?: number;
  roles?: number;
  backDown?: boolean;
  node1Status?: string;
  node2Drained?: boolean;
}) {
  return {
    rollout: { policy: opts.policy ?? {} },
    log: [
      entry('NODE1', 'restart', T0),
      entry('NODE1', 'back', T0 + 5 * MIN, opts.backDown ? 'Down' : 'Paused'),
      ...(opts.backDown ? [] : [entry('NODE1', 'resume', T0 + 6 * MIN, 'Up')]),
      ...(opts.node2Drained ? [entry('NODE2', 'drain', T0 + 30 * MIN)] : []),
    ],
    failbackOf: (node: string) =>
      node === 'NODE1'
        ? { minutes: opts.failbackMinutes ?? 0, roles: opts.roles ?? 1 }
        : { minutes: 0, roles: 1 },
    clusterOf: () => 'CLUSTER1',
    status: (node: string) => (node === 'NODE1' ? (opts.node1Status ?? 'Failed') : 'Succeeded'),
  };
}

describe('clusterHealthAfterRestart', () => {
  it('holds when a node back Down failed and nothing of its cluster was drained after', () => {
    const { problems, detail } = checkClusterHealthAfterRestart(evidence({ backDown: true }));
    expect(problems).toEqual([]);
    expect(detail).toMatch(/^1 node\(s\) back Down/);
  });

  it('finds a node back Down reported Succeeded, and a drain of its cluster after it', () => {
    const { problems } = checkClusterHealthAfterRestart(
      evidence({ backDown: true, node1Status: 'Succeeded', node2Drained: true }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(
      /^NODE1 came back from a restart Down .* but is reported Succeeded$/,
    );
    expect(problems[1]).toMatch(
      /^NODE2 was drained at .* after NODE1 of the same cluster came back Down/,
    );
  });

  it('finds a node reported Succeeded although its roles came back after the default 10 minutes', () => {
    const { problems } = checkClusterHealthAfterRestart(
      evidence({ failbackMinutes: 30, node1Status: 'Succeeded' }),
    );
    expect(problems).toEqual([
      'NODE1 is reported Succeeded although its roles came back 30 minutes after its resume (2026-01-13T22:06:00.000Z), past the 10-minute failback wait',
    ]);
  });

  it.each([
    ['a failback within the wait (and its poll slack)', { failbackMinutes: 11 }],
    ['the late node failed', { failbackMinutes: 30, node1Status: 'Failed' }],
    ['a longer wait', { failbackMinutes: 30, policy: { failbackTimeoutMinutes: 45 } }],
    [
      'failbackMode Policy (not waited for)',
      { failbackMinutes: 30, policy: { failbackMode: 'Policy' } },
    ],
    ['a node without roles', { failbackMinutes: 30, roles: 0 }],
  ])('holds for %s', (_, opts) => {
    const { problems } = checkClusterHealthAfterRestart(
      evidence({ node1Status: 'Succeeded', ...opts }),
    );
    expect(problems).toEqual([]);
  });
});
