/**
 * Phases (issue 13, item 4): the resolution of the phases against the target's node order, the
 * problems that refuse them (each naming the field and the value), the verdict at a phase's
 * end, and the rollout input that carries them.
 */
import { describe, expect, it } from 'vitest';
import {
  bakeTick,
  nodesOfPercent,
  type PhaseInput,
  phaseInputSchema,
  phasesInputSchema,
  phaseVerdict,
  resolvePhases,
} from '../../lambdas/core/phases.js';
import { parseRolloutInput, RolloutInputError } from '../../lambdas/core/rollout-input.js';
import { descriptions, liveDescriptions, publishedProperty } from './published-schema.js';

const NODES = ['N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7', 'N8', 'N9', 'N10'];
const phase = (p: Record<string, unknown>): PhaseInput =>
  phaseInputSchema.parse({ bakeMinutes: 10, ...p });

function resolved(phases: Record<string, unknown>[], nodes = NODES, maxFailed = 3) {
  const result = resolvePhases(phases.map(phase), nodes, maxFailed);
  if ('problems' in result) throw new Error(JSON.stringify(result.problems));
  return result;
}

function problems(phases: Record<string, unknown>[], nodes = NODES) {
  const result = resolvePhases(phases.map(phase), nodes, 3);
  return 'problems' in result ? result.problems : [];
}

describe('resolvePhases: which nodes each phase takes', () => {
  it.each([
    {
      case: 'a count, then the rest ungated (Argo setWeight, ConfigMgr first collection)',
      phases: [{ nodeCount: 2 }],
      spans: [
        [0, 2, 'bake'],
        [2, 10, 'none'],
      ],
      order: NODES,
    },
    {
      case: 'percentages of the target, rounded up (10% of 10 is 1; 25% is 3)',
      phases: [{ percent: 10 }, { percent: 25 }],
      spans: [
        [0, 1, 'bake'],
        [1, 4, 'bake'],
        [4, 10, 'none'],
      ],
      order: NODES,
    },
    {
      case: 'a named set runs in its place; counts take the next free nodes in order',
      phases: [{ nodeCount: 1 }, { nodes: ['n9', 'N3'] }, { nodeCount: 2 }],
      spans: [
        [0, 1, 'bake'],
        [1, 3, 'bake'],
        [3, 5, 'bake'],
        [5, 10, 'none'],
      ],
      order: ['N1', 'N3', 'N9', 'N2', 'N4', 'N5', 'N6', 'N7', 'N8', 'N10'],
    },
    {
      case: 'phases that take every node leave no last phase',
      phases: [{ percent: 50 }, { percent: 50, approval: {}, bakeMinutes: undefined }],
      spans: [
        [0, 5, 'bake'],
        [5, 10, 'approval'],
      ],
      order: NODES,
    },
  ])('$case', ({ phases, spans, order }) => {
    const { order: got, plan } = resolved(phases);
    expect(plan.list.map((p) => [p.start, p.end, p.advance])).toEqual(spans);
    expect(got).toEqual(order);
    expect(plan).toMatchObject({ current: 0, count: spans.length });
  });

  it('the last, ungated phase may fail what the run budget allows; a listed one what it says', () => {
    const { plan } = resolved([{ nodeCount: 2, failuresAllowed: 1 }], NODES, 3);
    expect(plan.list.map((p) => p.failuresAllowed)).toEqual([1, 3]);
  });

  it('bake and approval times in seconds for the workflow', () => {
    const { plan } = resolved([
      { nodeCount: 1, bakeMinutes: 90 },
      { nodeCount: 1, bakeMinutes: undefined, approval: { timeoutMinutes: 30 } },
    ]);
    expect(
      plan.list.slice(0, 2).map((p) => [p.bakeSeconds, p.timeoutMinutes, p.timeoutSeconds]),
    ).toEqual([
      [5400, 0, 0],
      [0, 30, 1800],
    ]);
  });

  it.each([
    [10, 10, 1],
    [33, 3, 1],
    [34, 3, 2],
    [30, 10, 3],
    [100, 7, 7],
    [0.1, 1000, 1],
  ])('nodesOfPercent(%s%% of %s) is %s', (percent, size, nodes) => {
    expect(nodesOfPercent(percent, size)).toBe(nodes);
  });
});

describe('resolvePhases: refused, naming the field and the value', () => {
  it.each([
    {
      case: 'a phase bigger than the target',
      phases: [{ nodeCount: 11 }],
      field: 'phases[0].nodeCount',
      value: 11,
      message: /bigger than the target: it has 10 nodes/,
    },
    {
      case: 'phases together bigger than the target',
      phases: [{ nodeCount: 6 }, { nodeCount: 5 }],
      field: 'phases[1].nodeCount',
      value: 5,
      message: /took 6 of the target's 10/,
    },
    {
      case: 'percentages over 100 in all',
      phases: [{ percent: 60 }, { percent: 50 }],
      field: 'phases[1].percent',
      value: 50,
      message: /110%/,
    },
    {
      case: 'an unknown node',
      phases: [{ nodes: ['N1', 'WEB01'] }],
      field: 'phases[0].nodes[1]',
      value: 'WEB01',
      message: /not a node of the target/,
    },
    {
      case: 'overlapping named sets (case-insensitive)',
      phases: [{ nodes: ['N1', 'N2'] }, { nodes: ['n2'] }],
      field: 'phases[1].nodes[0]',
      value: 'n2',
      message: /already in phases\[0\]/,
    },
    {
      case: 'a node twice in one set',
      phases: [{ nodes: ['N1', 'N1'] }],
      field: 'phases[0].nodes[1]',
      value: 'N1',
      message: /twice in this phase/,
    },
  ])('$case', ({ phases, field, value, message }) => {
    const found = problems(phases);
    expect(found).toEqual([expect.objectContaining({ field, value })]);
    expect(found[0]?.message).toMatch(message);
  });
});

describe('phaseInputSchema', () => {
  it.each([
    [{ bakeMinutes: 10 }, /exactly one of nodeCount, percent and nodes; got none/],
    [{ nodeCount: 1, percent: 10, bakeMinutes: 10 }, /got nodeCount and percent/],
    [{ nodeCount: 1 }, /exactly one of bakeMinutes .* and approval; got none/],
    [{ nodeCount: 1, bakeMinutes: 5, approval: {} }, /got bakeMinutes and approval/],
    [{ percent: 0, bakeMinutes: 5 }, /more than 0 and at most 100/],
    [{ nodeCount: 1, bakeMinutes: 10081 }, /from 1 to 10080/],
    [{ nodeCount: 1, bakeMinutes: 5, failuresAllowed: -1 }, /0 or more/],
  ])('%j is refused: %s', (input, message) => {
    const result = phaseInputSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('; ')).toMatch(message);
  });
});

describe('phaseVerdict', () => {
  const status: Record<string, string> = { N1: 'Succeeded', N2: 'Failed', N3: 'Failed' };
  const p = { index: 1, name: 'ring 1', start: 1, end: 3, failuresAllowed: 1 };
  it.each([
    [1, false, /2 failed \(N2, N3\), more than the 1/],
    [2, true, /2 failed, 2 allowed: the criteria hold/],
  ])('failuresAllowed %s: passed %s', (allowed, passed, reason) => {
    const verdict = phaseVerdict({ ...p, failuresAllowed: allowed }, NODES, (n) => status[n]);
    expect(verdict).toMatchObject({ nodes: ['N2', 'N3'], failed: ['N2', 'N3'], passed });
    expect(verdict.reason).toMatch(reason);
  });
});

describe('the rollout input with phases', () => {
  const input = (extra: Record<string, unknown>) => ({
    target: {
      kind: 'group',
      name: 'web',
      nodes: ['WEB01', 'WEB02', 'WEB03', 'WEB04'].map((name, i) => ({
        name,
        instanceId: `i-0000000${i}`,
      })),
    },
    ...extra,
  });
  const now = new Date('2026-01-13T22:00:00Z');

  it('orders the nodes phase by phase and carries the plan; none without phases', () => {
    const rollout = parseRolloutInput(
      input({
        phases: [
          { nodes: ['WEB03'], approval: {} },
          { percent: 25, bakeMinutes: 30 },
        ],
      }),
      now,
    );
    expect(rollout.target.nodes.map((n) => n.name)).toEqual(['WEB03', 'WEB01', 'WEB02', 'WEB04']);
    expect(rollout.policy.nodeOrder).toEqual(['WEB03', 'WEB01', 'WEB02', 'WEB04']);
    expect(rollout.phases?.list.map((p) => [p.name, p.advance, p.timeoutMinutes])).toEqual([
      ['phase 1', 'approval', 1440],
      ['phase 2', 'bake', 0],
      ['the rest', 'none', 0],
    ]);
    expect(parseRolloutInput(input({}), now).phases).toBeNull();
  });

  it('refuses phases with approvalGate, naming approvalGate', () => {
    const error = (() => {
      try {
        parseRolloutInput(
          input({
            phases: [{ nodeCount: 1, bakeMinutes: 5 }],
            approvalGate: { afterNodes: 1 },
          }),
          now,
        );
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RolloutInputError);
    expect((error as RolloutInputError).problems).toEqual([
      expect.objectContaining({
        field: 'approvalGate',
        message: expect.stringMatching(/not both/),
      }),
    ]);
  });

  it('refuses a bad phase with its field and value in the message', () => {
    expect(() =>
      parseRolloutInput(input({ phases: [{ nodeCount: 9, bakeMinutes: 5 }] }), now),
    ).toThrow(/phases\[0\]\.nodeCount.*9.*bigger than the target: it has 4 nodes/s);
  });
});

describe('phase input: what the user reads when a field is wrong', () => {
  const valid = { nodeCount: 1, bakeMinutes: 5 };
  it.each([
    [{ ...valid, name: 5 }, 'expected a phase name: text of 1 to 64 characters'],
    [{ ...valid, name: '' }, 'expected a phase name: text of 1 to 64 characters'],
    [{ ...valid, name: 'x'.repeat(65) }, 'expected a phase name: text of 1 to 64 characters'],
    [{ ...valid, nodeCount: '2' }, 'expected a whole number of nodes, 1 or more'],
    [{ ...valid, nodeCount: 1.5 }, 'expected a whole number of nodes, 1 or more'],
    [{ ...valid, nodeCount: 0 }, 'expected a whole number of nodes, 1 or more'],
    [
      { bakeMinutes: 5, percent: '10' },
      'expected a percentage of the target, more than 0 and at most 100',
    ],
    [
      { bakeMinutes: 5, percent: 100.5 },
      'expected a percentage of the target, more than 0 and at most 100',
    ],
    [{ bakeMinutes: 5, nodes: 'N1' }, 'expected a list of node names'],
    [{ bakeMinutes: 5, nodes: [] }, 'expected at least one node name'],
    [{ bakeMinutes: 5, nodes: [5] }, 'expected a node of the target: a NetBIOS computer name'],
    [{ bakeMinutes: 5, nodes: [''] }, 'expected a node of the target: a NetBIOS computer name'],
    [
      { bakeMinutes: 5, nodes: ['N'.repeat(16)] },
      'expected a node of the target: a NetBIOS computer name',
    ],
    [{ ...valid, failuresAllowed: 'none' }, 'expected a whole number of failed nodes, 0 or more'],
    [{ ...valid, failuresAllowed: 0.5 }, 'expected a whole number of failed nodes, 0 or more'],
    [{ ...valid, alarmsQuiet: 'yes' }, 'expected true or false'],
    [{ nodeCount: 1, bakeMinutes: '5' }, 'expected whole minutes from 1 to 10080 (a week)'],
    [{ nodeCount: 1, bakeMinutes: 0 }, 'expected whole minutes from 1 to 10080 (a week)'],
    [{ nodeCount: 1, approval: 30 }, 'expected an approval: { timeoutMinutes? }'],
    [
      { nodeCount: 1, approval: { timeoutMinutes: 1.5 } },
      'expected whole minutes from 1 to 10080 (a week)',
    ],
    ['ring 1', 'expected a phase: { nodeCount | percent | nodes, bakeMinutes | approval, ... }'],
  ])('%j: %s', (input, message) => {
    const result = phaseInputSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(message);
  });

  it.each([
    [{}, 'expected a list of phases'],
    [[], 'expected at least one phase'],
    [
      Array.from({ length: 21 }, () => ({ nodeCount: 1, bakeMinutes: 5 })),
      'expected at most 20 phases',
    ],
  ])('phases %j: %s', (input, message) => {
    const result = phasesInputSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(message);
  });

  it('accepts a name of 1 to 64 characters; a phase gates its alarms by default', () => {
    for (const name of ['r', 'ring 1', 'x'.repeat(64)]) {
      expect(phaseInputSchema.parse({ ...valid, name })).toMatchObject({
        name,
        failuresAllowed: 0,
        alarmsQuiet: true,
      });
    }
    const { plan } = resolved([{ nodeCount: 2, name: 'pilot' }]);
    expect(plan.list.map((p) => [p.name, p.alarmsQuiet])).toEqual([
      ['pilot', true],
      ['the rest', false],
    ]);
  });

  it('the published JSON Schema carries the same descriptions (schemas/rollout-input.schema.json)', () => {
    const published = descriptions(publishedProperty('phases'));
    expect(Object.keys(published).length).toBeGreaterThanOrEqual(10);
    expect(liveDescriptions(phasesInputSchema)).toEqual(published);
  });
});

describe('resolvePhases: the edges of the target', () => {
  const ten = NODES;
  it.each([
    {
      case: 'a named node that is not a NetBIOS name',
      phases: [{ nodes: ['N 1'] }],
      field: 'phases[0].nodes[0]',
      value: 'N 1',
      message: 'expected a NetBIOS name without spaces',
    },
    {
      case: 'an unknown node, naming every node of the target',
      phases: [{ nodes: ['WEB01'] }],
      field: 'phases[0].nodes[0]',
      value: 'WEB01',
      message: `is not a node of the target; expected one of ${ten.join(', ')}`,
    },
    {
      case: 'a named set that, with a count after it, is bigger than the target',
      phases: [{ nodes: ['N1', 'N2', 'N3', 'N4', 'N5', 'N6'] }, { nodeCount: 5 }],
      field: 'phases[1].nodeCount',
      value: 5,
      message: "takes 5 node(s) when the phases before it took 6 of the target's 10",
    },
    {
      case: 'a phase after phases that took the whole target',
      phases: [{ nodeCount: 5 }, { nodeCount: 5 }, { nodeCount: 1 }],
      field: 'phases[2].nodeCount',
      value: 1,
      message: "takes 1 node(s) when the phases before it took 10 of the target's 10",
    },
    {
      case: 'a percentage that goes past the target',
      phases: [{ nodeCount: 9 }, { percent: 20 }],
      field: 'phases[1].percent',
      value: 20,
      message: "takes 2 node(s) when the phases before it took 9 of the target's 10",
    },
    {
      case: 'a named set that goes past the target',
      phases: [{ nodeCount: 9 }, { nodes: ['N10', 'N1'] }],
      field: 'phases[1].nodes',
      value: ['N10', 'N1'],
      message: "takes 2 node(s) when the phases before it took 9 of the target's 10",
    },
  ])('$case', ({ phases, field, value, message }) => {
    const found = problems(phases);
    expect(found).toEqual([expect.objectContaining({ field, value })]);
    expect(found[0]?.message).toContain(message);
  });

  it('a count of the whole target is not bigger than it', () => {
    expect(resolved([{ nodeCount: 10 }]).plan.list.map((p) => [p.start, p.end])).toEqual([[0, 10]]);
  });

  it('names one node as one node', () => {
    expect(problems([{ nodeCount: 2 }], ['N1'])[0]?.message).toBe(
      'is bigger than the target: it has 1 node',
    );
  });
});

describe('phaseVerdict: the reason the report and the event show', () => {
  const status: Record<string, string> = { N1: 'Succeeded', N2: 'Failed', N3: 'Succeeded' };
  it.each([
    [
      { index: 0, name: 'pilot', start: 0, end: 1, failuresAllowed: 0 },
      [],
      'pilot (phases[0], 1 node): 0 failed, 0 allowed: the criteria hold',
    ],
    [
      { index: 1, name: 'ring 1', start: 1, end: 3, failuresAllowed: 1 },
      ['N2'],
      'ring 1 (phases[1], 2 nodes): 1 failed, 1 allowed: the criteria hold',
    ],
    [
      { index: 1, name: 'ring 1', start: 1, end: 3, failuresAllowed: 0 },
      ['N2'],
      'ring 1 (phases[1], 2 nodes): 1 failed (N2), more than the 0 its criteria allow: the run stops before the next phase',
    ],
  ])('%j', (phase, failed, reason) => {
    const verdict = phaseVerdict(phase, NODES, (n) => status[n]);
    expect(verdict.failed).toEqual(failed);
    expect(verdict.reason).toBe(reason);
  });
});

describe('bake checks (issue 13, item 1: alarms read during a bake)', () => {
  it('the check interval is checkEveryMinutes (default 5), at most the bake, 0 without a bake', () => {
    const phases = [
      phase({ nodeCount: 1, bakeMinutes: 90 }),
      phase({ nodeCount: 1, bakeMinutes: 3 }),
      phase({ nodeCount: 1, bakeMinutes: undefined, approval: { timeoutMinutes: 30 } }),
    ];
    const of = (every?: number) => {
      const r = resolvePhases(phases, NODES, 3, every);
      if ('problems' in r) throw new Error('refused');
      return r.plan.list.map((p) => p.bakeCheckSeconds);
    };
    expect(of()).toEqual([300, 180, 0, 0]);
    expect(of(15)).toEqual([900, 180, 0, 0]);
    expect(of(1)).toEqual([60, 60, 0, 0]);
  });

  it('counts a bake down in check intervals, the last wait being what is left', () => {
    const p = { index: 0, name: 'canary', bakeSeconds: 720, bakeCheckSeconds: 300 };
    const waits: number[] = [];
    let state = { leftSeconds: p.bakeSeconds, checks: 0 };
    for (let i = 0; i < 10; i++) {
      const tick = bakeTick(p, state, false);
      expect(tick.cancelled).toBe(false);
      if (tick.done) {
        expect(tick).toMatchObject({ checks: 4, leftSeconds: 0, waitSeconds: 0 });
        expect(tick.message).toBe('the bake of canary (phases[0]) is over after 720 s');
        break;
      }
      waits.push(tick.waitSeconds);
      state = { leftSeconds: tick.leftSeconds, checks: tick.checks };
    }
    expect(waits).toEqual([300, 300, 120]);
    expect(bakeTick(p, { leftSeconds: 720, checks: 0 }, false).message).toBe(
      'the bake of canary (phases[0]): check 1, 720 s left; next check in 300 s',
    );
  });

  it('a cancel ends the bake at this check, whatever is left', () => {
    const tick = bakeTick(
      { index: 1, name: 'ring 1', bakeSeconds: 3600, bakeCheckSeconds: 300 },
      { leftSeconds: 2700, checks: 3 },
      true,
    );
    expect(tick).toEqual({
      leftSeconds: 2700,
      checks: 4,
      done: false,
      cancelled: true,
      waitSeconds: 0,
      message:
        'a cancel was requested during the bake of ring 1 (phases[1]), 2700 s before its end: the run stops at check 4',
    });
  });

  it('an interval of 0 (a phase without checks) waits out what is left in one wait', () => {
    const tick = bakeTick(
      { index: 0, name: 'p', bakeSeconds: 600, bakeCheckSeconds: 0 },
      { leftSeconds: 600, checks: 0 },
      false,
    );
    expect(tick).toMatchObject({ waitSeconds: 600, leftSeconds: 0, done: false, checks: 1 });
  });

  it('the rollout input carries healthGates.checkEveryMinutes into the phases; 0 is refused naming it', () => {
    const input = (checkEveryMinutes: unknown) => ({
      target: {
        kind: 'cluster',
        name: 'C1',
        nodes: ['N1', 'N2'].map((name, i) => ({ name, instanceId: `i-0000000000000000${i}` })),
      },
      plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
      phases: [{ nodeCount: 1, bakeMinutes: 60 }],
      healthGates: { alarmNames: ['a'], checkEveryMinutes },
    });
    const now = new Date('2026-01-13T02:00:00Z');
    expect(parseRolloutInput(input(10), now).phases?.list[0]?.bakeCheckSeconds).toBe(600);
    for (const bad of [0, 61, 2.5, '5']) {
      const error = (() => {
        try {
          parseRolloutInput(input(bad), now);
        } catch (e) {
          return e;
        }
      })();
      expect(error, String(bad)).toBeInstanceOf(RolloutInputError);
      expect((error as RolloutInputError).problems[0]).toMatchObject({
        field: 'healthGates.checkEveryMinutes',
        value: bad,
        message: 'expected whole minutes from 1 to 60',
      });
    }
  });
});
