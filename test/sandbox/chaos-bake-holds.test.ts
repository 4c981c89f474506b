/**
 * The chaos generator and the bake of a phase (issue 13, items 1 and 4):
 * - it draws healthGates.checkEveryMinutes for runs with health gates, as the last draw of a
 *   run, so the draws before it (and so every seeded campaign's runs) stay what they were;
 * - its `approve` answers every hold of a health gate: during a phase's bake (each check), at
 *   the phase's end and before each node, through the scenario action's `every`.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildScenario,
  type ChaosSpec,
  FAULT_KINDS,
  FLEET_HEALTH_GATE_PHASE_HOLDS,
  FLEET_HEALTH_GATE_WAVE_HOLDS,
  generateSpec,
  HEALTH_GATE_PHASE_HOLDS,
  selectFaultKinds,
} from '../../sandbox/chaos.js';
import { synthesize } from '../../sandbox/engine.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { parseScenario, ScenarioError, type ScenarioInput } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

describe('chaos draws healthGates.checkEveryMinutes', () => {
  it('after every other draw: the specs of seeds 20261204 and 20261205 (38 kinds) are unchanged', () => {
    // The 38 kinds of 3ce3b68; new kinds go last, so these keep their draws.
    const kinds = FAULT_KINDS.slice(0, 38);
    const digests = [20261204, 20261205].map((seed) => {
      const specs = Array.from({ length: 1000 }, (_, i) => {
        const { bakeCheckEveryMinutes: _drawnLast, ...before } = generateSpec(seed, i, kinds);
        return before;
      });
      return createHash('sha256').update(JSON.stringify(specs)).digest('hex');
    });
    // The digests of the same specs generated at 3ce3b68, before the draw was added.
    expect(digests).toEqual([
      'db8a875af0cfa9ca7664b7425db56bfcdbb894fdc90852366fcf7ce51574b9ff',
      'f93831f470166b57cfef403a1cb1c3df726bf2a69ffd6be4af49bcbfd8502f69',
    ]);
  });

  it('puts it in the rollout input of runs with health gates only, from 1 to 60', () => {
    const kinds = selectFaultKinds(undefined);
    const seen = new Set<number>();
    let gatedWithout = 0;
    for (let index = 0; index < 1000; index++) {
      const spec = generateSpec(20261205, index, kinds);
      const draft = buildScenario(spec);
      const every = draft.rollout.healthGates?.checkEveryMinutes;
      if (draft.rollout.healthGates === undefined) {
        expect(every).toBeUndefined();
        continue;
      }
      if (spec.bakeCheckEveryMinutes === null || spec.bakeCheckEveryMinutes === undefined) {
        expect(every).toBeUndefined();
        gatedWithout++;
        continue;
      }
      expect(every).toBe(spec.bakeCheckEveryMinutes);
      expect(draft.description).toContain(`health gates read every ${every} minute(s)`);
      seen.add(every as number);
    }
    // Spread over the range, and left at the default in some gated runs.
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...seen)).toBeLessThanOrEqual(60);
    expect(seen.size).toBeGreaterThan(10);
    expect(gatedWithout).toBeGreaterThan(0);
  });
});

/** A 3-node cluster, a first phase of one node with a 90-minute bake, and a health-gate fault. */
const spec = (value: number): ChaosSpec => ({
  seed: 1,
  index: 0,
  target: 'cluster',
  nodes: 3,
  updates: 1,
  maxFailedNodes: 0,
  maxRetriesPerNode: 1,
  maxConcurrency: 1,
  gateAfterNodes: null,
  // value % 3 === 0: onAlarm approve (a cluster); value % 20: the operator's delay in minutes.
  faults: [{ kind: 'health-gate', node: 0, update: 0, value }],
  phases: { first: 'count', failuresAllowed: 0, approval: false, bakeMinutes: 90, second: false },
  storageRepair: null,
  bakeCheckEveryMinutes: 5,
});

async function run(
  value: number,
  target: 'cluster' | 'group' = 'cluster',
  change: Partial<ChaosSpec> = {},
) {
  const draft = buildScenario({
    ...spec(value),
    ...(target === 'group' ? { target, nodes: 4, maxConcurrency: 2 } : {}),
    ...change,
  });
  const result = await runScenario(parseScenario(draft as unknown as ScenarioInput, draft.name), {
    fleet: 'model',
  });
  const held = result.sandbox.events.received
    .filter((e) => e.detailType === 'Rollout Approval Required')
    .map((e) => (e.detail as { gate: { heldBy: string } }).gate.heldBy);
  return { draft, run: result.runs[0], held };
}

describe("chaos's approve answers each health-gate hold", () => {
  it('during a bake: each check that finds the alarm in ALARM holds, and each hold is approved', async () => {
    // Act: the alarm fires 24 minutes in (inside the bake) and clears 29 minutes later.
    const { draft, run: result, held } = await run(24);
    // Assert
    expect(draft.rollout.healthGates).toMatchObject({ onAlarm: 'approve', checkEveryMinutes: 5 });
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(new Set(held)).toEqual(new Set(['ClusterPhaseBakeHealthGate']));
    expect(result?.actions.map((a) => [a.action, a.statusCode])).toEqual(
      held.map(() => ['approve', 202]),
    );
    expect(result?.report?.status).toBe('Succeeded');
    expect(result?.invariants.filter((i) => !i.ok)).toEqual([]);
  });

  it('an alarm that never clears: the bake, the phase end and each later node are approved', async () => {
    // Act: value 42 fires at 42 minutes and never clears (42 % 7 === 0).
    const { run: result, held } = await run(42);
    // Assert: every kind of hold came, each was answered, and the run finished every node.
    expect(held).toContain('ClusterPhaseBakeHealthGate');
    expect(held).toContain('ClusterPhaseHealthGate');
    expect(held.filter((h) => h === 'HealthGateBeforeNode')).toHaveLength(2);
    expect(result?.actions).toHaveLength(held.length);
    expect(result?.actions.every((a) => a.action === 'approve' && a.statusCode === 202)).toBe(true);
    expect(result?.report?.status).toBe('Succeeded');
    expect(result?.report?.nodes.map((n) => n.status)).toEqual([
      'Succeeded',
      'Succeeded',
      'Succeeded',
    ]);
    expect(result?.invariants.filter((i) => !i.ok)).toEqual([]);
  });

  it('a scenario action with every but no onState is refused, naming the field', () => {
    const draft = buildScenario(spec(24));
    draft.actions.push({ action: 'approve', atMinutes: 5, every: true } as never);
    const index = draft.actions.length - 1;
    expect(() => parseScenario(draft as unknown as ScenarioInput, draft.name)).toThrow(
      ScenarioError,
    );
    expect(() => parseScenario(draft as unknown as ScenarioInput, draft.name)).toThrow(
      `actions[${index}].every`,
    );
  });
});

describe("chaos's approve on a group (fleet holds)", () => {
  it('names only hold states the synthesized rollout workflow has', () => {
    const states = JSON.stringify(synthesize().rollout.definition);
    for (const hold of [
      'HealthGateBeforeNodeAwaitApproval',
      ...HEALTH_GATE_PHASE_HOLDS,
      ...FLEET_HEALTH_GATE_WAVE_HOLDS,
      ...FLEET_HEALTH_GATE_PHASE_HOLDS,
    ]) {
      expect(states).toContain(`"${hold}":{`);
    }
  });

  it('an alarm that never clears: the bake, the phase end and the next wave are approved', async () => {
    // Act: a 4-node group, a first phase of one node with a 90-minute bake; value 42 fires at
    // 42 minutes (inside the bake) and never clears.
    const { draft, run: result, held } = await run(42, 'group');
    // Assert: the fleet's holds came, each was answered, and every node was updated.
    expect(draft.rollout.healthGates).toMatchObject({ onAlarm: 'approve' });
    expect(held).toContain('FleetPhaseBakeHealthGate');
    expect(held).toContain('FleetPhaseHealthGate');
    expect(held).toContain('HealthGateBeforePhaseWave');
    expect(result?.actions).toHaveLength(held.length);
    expect(result?.actions.every((a) => a.action === 'approve' && a.statusCode === 202)).toBe(true);
    expect(result?.report?.status).toBe('Succeeded');
    expect(result?.report?.nodes.map((n) => n.status)).toEqual([
      'Succeeded',
      'Succeeded',
      'Succeeded',
      'Succeeded',
    ]);
    expect(result?.invariants.filter((i) => !i.ok)).toEqual([]);
  });

  it('without phases, after the pilot: the hold before the rest wave is approved', async () => {
    // Act: an approval gate after 1 node (approved by the spec), no phases; value 273 fires 3
    // minutes in, during the pilot (273 % 90), and never clears (273 % 7 === 0).
    const { run: result, held } = await run(273, 'group', { phases: null, gateAfterNodes: 1 });
    // Assert
    expect(held).toContain('HealthGateBeforeRestWave');
    expect(result?.actions.every((a) => a.action === 'approve' && a.statusCode === 202)).toBe(true);
    expect(result?.report?.status).toBe('Succeeded');
    expect(result?.invariants.filter((i) => !i.ok)).toEqual([]);
  });
});
