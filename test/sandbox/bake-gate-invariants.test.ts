/**
 * The bake part of noNodeStartsInAlarm (issue 13, item 1) on hand-made evidence: a later phase's
 * node that starts after a bake in which an alarm was in ALARM for a whole check interval is a
 * violation; a shorter spike, a spike outside the bake, or a run that stopped is not.
 */
import { describe, expect, it } from 'vitest';
import { checkBakeGates } from '../../sandbox/bake-gate-invariants.js';

const T0 = Date.parse('2026-01-13T02:00:00.000Z');
const MIN = 60_000;
const ROLLOUT = {
  runId: 'bake-inv-1',
  target: {
    kind: 'cluster',
    name: 'CLUSTER1',
    nodes: ['NODE1', 'NODE2'].map((name, i) => ({ name, instanceId: `i-0000000000000000${i}` })),
  },
  plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
  policy: { nodeOrder: ['NODE1', 'NODE2'] },
  phases: [{ name: 'canary', nodeCount: 1, bakeMinutes: 120 }],
  healthGates: { alarmNames: ['web-5xx-rate'], checkEveryMinutes: 5 },
};

/** NODE1 ends 30 min in; NODE2 starts at `node2At` minutes; the alarm is in ALARM [from, to). */
function evidence(alarm: { from: number; to: number }, node2At: number | undefined) {
  const changes = [
    { at: T0, state: 'OK' },
    { at: T0 + alarm.from * MIN, state: 'ALARM' },
    { at: T0 + alarm.to * MIN, state: 'OK' },
  ];
  const stateAt = (at: number) => changes.filter((c) => c.at <= at).at(-1)?.state;
  return {
    runId: 'bake-inv-1',
    rollout: ROLLOUT,
    startedAt: new Date(T0).toISOString(),
    alarmNames: ['web-5xx-rate'],
    inAlarmThroughout: (_: string, from: number, to: number) =>
      stateAt(from) === 'ALARM' &&
      !changes.some((c) => c.at > from && c.at <= to && c.state !== 'ALARM'),
    changesOf: () => changes,
    nodeResults: [{ at: T0 + 30 * MIN, runId: 'bake-inv-1', node: 'NODE1' }],
    nodeStarts: [
      { at: T0, runId: 'bake-inv-1', node: 'NODE1' },
      ...(node2At === undefined
        ? []
        : [{ at: T0 + node2At * MIN, runId: 'bake-inv-1', node: 'NODE2' }]),
    ],
  };
}

describe('checkBakeGates', () => {
  it('a node started after a bake with a 15-minute ALARM in it is a violation', () => {
    const { problems, bakes } = checkBakeGates(evidence({ from: 60, to: 75 }, 151));
    expect(bakes).toBe(1);
    expect(problems).toEqual([
      expect.stringMatching(
        /^NODE2 started at 2026-01-13T04:31:00\.000Z after the bake of canary \(phases\[0\]\) in which web-5xx-rate was in ALARM from 2026-01-13T03:00:00\.000Z/,
      ),
    ]);
  });

  it.each([
    ['a spike shorter than a check interval', { from: 60, to: 63 }, 151],
    ['an alarm before the bake', { from: 5, to: 25 }, 151],
    ['an alarm after the next phase started', { from: 160, to: 200 }, 151],
    ['a run that stopped in the bake', { from: 60, to: 75 }, undefined],
  ] as const)('%s is not', (_, alarm, node2At) => {
    const { problems, bakes } = checkBakeGates(evidence(alarm, node2At));
    expect(problems).toEqual([]);
    expect(bakes).toBe(1);
  });

  it('a run without phases has no bake to check', () => {
    const { phases: _, ...rollout } = ROLLOUT;
    expect(checkBakeGates({ ...evidence({ from: 60, to: 75 }, 151), rollout })).toEqual({
      problems: [],
      bakes: 0,
    });
  });
});
