/**
 * The phases invariant (sandbox/phase-invariants.ts) on hand-made evidence: it holds for a run
 * that went through each gate, and names the phase when a later phase started too early or after
 * a phase that failed its criteria.
 */
import { describe, expect, it } from 'vitest';
import { checkPhasesGateInOrder, type PhaseEvidence } from '../../sandbox/phase-invariants.js';

const T0 = Date.parse('2026-01-13T22:00:00Z');
const MIN = 60_000;
const rollout = {
  target: {
    kind: 'group',
    name: 'web',
    nodes: ['WEB01', 'WEB02', 'WEB03'].map((name, i) => ({
      name,
      instanceId: `i-0000000${i}`,
    })),
  },
  policy: { maxFailedNodes: 2 },
  phases: [{ nodeCount: 1, bakeMinutes: 60, failuresAllowed: 0 }],
};

function evidence(results: [string, string, number][], starts: [string, number][]): PhaseEvidence {
  return {
    runId: 'r1',
    rollout,
    startedAt: new Date(T0).toISOString(),
    nodeResults: results.map(([node, status, at]) => ({ runId: 'r1', node, status, at })),
    nodeStarts: starts.map(([node, at]) => ({ runId: 'r1', node, at })),
  };
}

describe('phasesGateInOrder', () => {
  it('holds when the next phase starts after the bake', () => {
    const { problems } = checkPhasesGateInOrder(
      evidence(
        [
          ['WEB01', 'Succeeded', T0 + 5 * MIN],
          ['WEB02', 'Succeeded', T0 + 70 * MIN],
        ],
        [
          ['WEB01', T0],
          ['WEB02', T0 + 65 * MIN],
          ['WEB03', T0 + 65 * MIN],
        ],
      ),
    );
    expect(problems).toEqual([]);
  });

  it('is broken by a later phase that starts before the bake has passed', () => {
    const { problems } = checkPhasesGateInOrder(
      evidence(
        [['WEB01', 'Succeeded', T0 + 5 * MIN]],
        [
          ['WEB01', T0],
          ['WEB02', T0 + 30 * MIN],
        ],
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^phase 1: a later phase started at .*bake 3600 s/),
    ]);
  });

  it('is broken by a later phase that starts after the phase failed its criteria', () => {
    const { problems } = checkPhasesGateInOrder(
      evidence(
        [['WEB01', 'Failed', T0 + 5 * MIN]],
        [
          ['WEB01', T0],
          ['WEB02', T0 + 90 * MIN],
        ],
      ),
    );
    expect(problems).toEqual([
      'phase 1: 1 failed (WEB01), 0 allowed, yet WEB02 of later phases started',
    ]);
  });

  it('has nothing to check without phases', () => {
    const result = checkPhasesGateInOrder({
      ...evidence([], [['WEB02', T0]]),
      rollout: { ...rollout, phases: undefined },
    });
    expect(result).toEqual({ problems: [], detail: 'the run has no phases' });
  });
});
