/**
 * Health gates during a phase's bake (issue 13, item 1) through the synthesized rollout workflow
 * in the sandbox: the bake is a loop of shorter waits that reads the alarms (and a cancel) every
 * healthGates.checkEveryMinutes, so an alarm that fires and clears inside the bake stops the run
 * (or holds it for approval), and a cancel during the bake ends the run at the next check rather
 * than at the bake's end.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type ApprovalGate,
  describeApprovalGate,
  LIFECYCLE_EVENT_TYPES,
} from '../../lambdas/core/contracts.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario, ScenarioError } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const PATH = fileURLToPath(
  new URL('../../examples/scenarios/health-gate-bake.json', import.meta.url),
);
const INVALID = fileURLToPath(new URL('../../examples/scenarios/invalid/', import.meta.url));
const MINUTE = 60_000;

type Rollout = {
  healthGates?: Record<string, unknown>;
  phases: Record<string, unknown>[];
};

async function scenarioWith(change: (s: Scenario, rollout: Rollout) => void): Promise<Scenario> {
  const scenario = structuredClone(await loadScenario(PATH)) as Scenario;
  change(scenario, scenario.runs[0]?.rollout as unknown as Rollout);
  return scenario;
}

/** When the node's last command ended (its update is over). */
const lastEnd = (result: ScenarioResult, node: string) =>
  Math.max(...result.fleet.node(node).commands.map((c) => Date.parse(c.endedAt ?? c.requestedAt)));

const events = (result: ScenarioResult, type: string) =>
  result.sandbox.events.received.filter((e) => e.detailType === type).map((e) => e.detail);

describe('health gates during a bake', () => {
  it('an alarm that fires and clears inside the bake stops the run at the next check', async () => {
    const scenario = await loadScenario(PATH);
    const start = Date.parse(scenario.startTime);
    const result = await runScenario(scenario, { keepRunning: true });
    await result.sandbox.stop();
    const run = result.runs[0];

    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(run?.report?.reason).toMatch(
      /^HealthGateAlarm: health gate bake: web-5xx-rate is in ALARM \(Threshold Crossed: 3 datapoints/,
    );
    // The canary ended before the alarm fired: the alarm came during the bake.
    expect(lastEnd(result, 'NODE1')).toBeLessThan(start + 60 * MINUTE);
    // Read within one check interval of firing (5 minutes), not at the bake's end 2 h later.
    const ended = Date.parse(run?.report?.finishedAt ?? '');
    expect(ended).toBeGreaterThanOrEqual(start + 60 * MINUTE);
    expect(ended).toBeLessThanOrEqual(start + 66 * MINUTE);
    for (const node of ['NODE2', 'NODE3']) {
      expect(result.fleet.node(node).commands, node).toEqual([]);
    }
    // Rollout Health Gate says the bake's gate read it.
    expect(events(result, LIFECYCLE_EVENT_TYPES.healthGate)).toEqual([
      expect.objectContaining({
        checkpoint: 'bake',
        action: 'stop',
        firing: [expect.objectContaining({ name: 'web-5xx-rate' })],
      }),
    ]);
    // The invariant saw the bake's interval and the alarm in it.
    expect(run?.invariants.find((i) => i.name === 'noNodeStartsInAlarm')?.detail).toMatch(
      /1 bake\(s\) checked/,
    );
  });

  it('the same alarm read only at the end of a bake would have let the run go on: a longer checkEvery misses it', async () => {
    // 60-minute checks: the bake reads at its start, one hour in and at its end; the alarm's
    // 15 minutes fall between two reads, so the run goes on (this is what a single Wait did).
    const scenario = await scenarioWith((s, rollout) => {
      rollout.healthGates = { ...rollout.healthGates, checkEveryMinutes: 60 };
      (s.runs[0] as { expect?: unknown }).expect = undefined;
    });
    const start = Date.parse(scenario.startTime);
    const result = await runScenario(scenario);
    const run = result.runs[0];
    // The premise: the canary's bake reads at its start and an hour later, around the alarm.
    const bakeStart = lastEnd(result, 'NODE1');
    expect(bakeStart).toBeLessThan(start + 45 * MINUTE);
    expect(bakeStart + 60 * MINUTE).toBeGreaterThan(start + 75 * MINUTE);

    expect(run?.report?.status).toBe('Succeeded');
    expect(events(result, LIFECYCLE_EVENT_TYPES.healthGate)).toEqual([]);
    // and the invariant does not claim the run should have seen it.
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
  });

  it('onAlarm approve holds the bake; after the approval the bake goes on and the run completes', async () => {
    const scenario = await scenarioWith((s, rollout) => {
      rollout.healthGates = { ...rollout.healthGates, onAlarm: 'approve' };
      Object.assign(s, {
        actions: [
          {
            action: 'approve',
            onState: 'ClusterPhaseBakeHealthGateAwaitApproval',
            delayMinutes: 20,
            reason: 'the 5xx spike was the load balancer draining; go on',
            rollout: 0,
          },
        ],
      });
      Object.assign(s.runs[0] as object, {
        expect: {
          runStatus: 'Succeeded',
          nodes: { NODE1: 'Succeeded', NODE2: 'Succeeded', NODE3: 'Succeeded' },
        },
      });
    });
    const start = Date.parse(scenario.startTime);
    const result = await runScenario(scenario);
    const run = result.runs[0];

    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(run?.actions?.map((a) => [a.action, a.statusCode])).toEqual([['approve', 202]]);
    const approvedAt = Date.parse(run?.actions?.[0]?.at ?? '');
    expect(approvedAt).toBeGreaterThanOrEqual(start + 80 * MINUTE);
    expect(approvedAt).toBeLessThanOrEqual(start + 86 * MINUTE);
    // The bake's two hours still ran out before the next phase: NODE2 started after them.
    const firstNode2 = Math.min(
      ...result.fleet.node('NODE2').commands.map((c) => Date.parse(c.requestedAt)),
    );
    expect(firstNode2 - lastEnd(result, 'NODE1')).toBeGreaterThanOrEqual(120 * MINUTE);
    // The hold said which phase's bake held the run.
    const required = events(result, LIFECYCLE_EVENT_TYPES.approvalRequired) as {
      gate: { heldBy?: string; phase?: { index: number; name: string } };
    }[];
    expect(required).toHaveLength(1);
    expect(required[0]?.gate).toMatchObject({
      heldBy: 'ClusterPhaseBakeHealthGate',
      phase: { index: 0, name: 'canary' },
    });
  });

  it.each([
    ['with health gates', true],
    ['without health gates', false],
  ])(
    'a cancel during the bake (%s) ends the run at the next check, not at the bake’s end',
    async (_, gated) => {
      const scenario = await scenarioWith((s, rollout) => {
        // The alarm stays quiet: only the cancel ends the bake.
        s.alarms = s.alarms.map((a) => ({ ...a, timeline: a.timeline.slice(0, 1) }));
        if (!gated) delete rollout.healthGates;
        Object.assign(s, {
          actions: [
            {
              action: 'cancel',
              onState: 'StartClusterPhaseBake',
              delayMinutes: 12,
              reason: 'change freeze',
              rollout: 0,
            },
          ],
        });
        Object.assign(s.runs[0] as object, {
          expect: {
            runStatus: 'Cancelled',
            nodes: { NODE1: 'Succeeded', NODE2: 'NotStarted', NODE3: 'NotStarted' },
          },
        });
      });
      const result = await runScenario(scenario);
      const run = result.runs[0];

      expect(run?.mismatches).toEqual([]);
      expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
      const cancelledAt = Date.parse(run?.actions?.[0]?.at ?? '');
      const ended = Date.parse(run?.report?.finishedAt ?? '');
      // The next check is at most 5 minutes after the cancel; the bake had 108 minutes left.
      expect(ended).toBeGreaterThanOrEqual(cancelledAt);
      expect(ended - cancelledAt).toBeLessThanOrEqual(5 * MINUTE + 30_000);
      expect(run?.report?.reason).toMatch(/the run was called off/);
      for (const node of ['NODE2', 'NODE3']) {
        expect(result.fleet.node(node).commands, node).toEqual([]);
      }
    },
  );

  it('refuses a checkEveryMinutes of 0, naming the field and the value', async () => {
    const error = await loadScenario(`${INVALID}health-gate-check-every-zero.json`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as Error).message).toContain('healthGates.checkEveryMinutes');
    expect((error as Error).message).toMatch(/\(0\)|: 0\b| 0 /);
  });

  it("a phase's approval says which phase in Rollout Approval Required, not the pilot", async () => {
    const scenario = await loadScenario(
      fileURLToPath(new URL('../../examples/scenarios/phases-approval.json', import.meta.url)),
    );
    const result = await runScenario(scenario, { keepRunning: true });
    // What the approval-gate function announced (the sandbox records it as the function hands
    // it to the publisher, which builds Rollout Approval Required from it).
    const required = events(result, LIFECYCLE_EVENT_TYPES.approvalRequired) as {
      gate: ApprovalGate;
    }[];
    await result.sandbox.stop();
    expect(result.runs[0]?.mismatches).toEqual([]);
    expect(required).toHaveLength(1);
    const gate = required[0]?.gate as ApprovalGate;
    expect(gate.heldBy).toBeUndefined();
    expect(gate.phase).toEqual({ index: 0, name: expect.any(String) });
    expect(describeApprovalGate(gate)).toMatch(
      /^phase ".+" \(phases\[0\]\) is done after 1 node\(s\)$/,
    );
  });
});
