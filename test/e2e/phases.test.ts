/**
 * Phases that advance themselves (issue 13, item 4) through the synthesized rollout workflow in
 * the sandbox: the phase order, the bake in virtual time, the approval, the success criteria
 * stopping the run before the next phase, the failure budget across phases, the Rollout Phase
 * Completed events, and bad phases refused with the field and the value.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderReportText } from '../../cli/report-format.js';
import type { RunReportView } from '../../lambdas/core/api-model.js';
import { LIFECYCLE_EVENT_TYPES } from '../../lambdas/core/contracts.js';
import {
  buildScenario,
  type ChaosPhases,
  FAULT_KINDS,
  generateSpec,
  runSpec,
} from '../../sandbox/chaos.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario, ScenarioError } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const path = (name: string) =>
  fileURLToPath(new URL(`../../examples/scenarios/${name}.json`, import.meta.url));

async function run(
  name: string,
  change: (s: Scenario) => void = () => {},
): Promise<ScenarioResult> {
  const scenario = structuredClone(await loadScenario(path(name))) as Scenario;
  change(scenario);
  return runScenario(scenario, { keepRunning: true });
}

/** When each node's first command was sent and its last one ended, from the fleet. */
function span(result: ScenarioResult, name: string) {
  const commands = result.fleet.node(name).commands;
  return {
    first: Math.min(...commands.map((c) => Date.parse(c.requestedAt))),
    last: Math.max(...commands.map((c) => Date.parse(c.endedAt ?? c.requestedAt))),
  };
}

const phaseEvents = (result: ScenarioResult) =>
  result.sandbox.events.received
    .filter((e) => e.detailType === LIFECYCLE_EVENT_TYPES.phaseCompleted)
    .map((e) => e.detail as { phase: { index: number; nodes: string[] }; passed: boolean });

const MINUTE = 60_000;

describe('phases that advance themselves (issue 13, item 4)', () => {
  it('a cluster runs phase by phase, baking in virtual time between them, and advances by itself', async () => {
    // Act
    const result = await run('phases-bake');
    const report = result.runs[0]?.report;

    // Assert: the expectation held and every invariant with it.
    expect(result.runs[0]?.mismatches).toEqual([]);
    expect(report?.status).toBe('Succeeded');
    const [node4, node1, node2, node3] = ['NODE4', 'NODE1', 'NODE2', 'NODE3'].map((n) =>
      span(result, n),
    );
    // canary (NODE4), a 2-hour bake, ring 1 (NODE1, NODE2), a 30-minute bake, the rest (NODE3).
    expect((node1?.first ?? 0) - (node4?.last ?? 0)).toBeGreaterThanOrEqual(120 * MINUTE);
    expect(node2?.first).toBeGreaterThanOrEqual(node1?.last ?? Infinity);
    expect((node3?.first ?? 0) - (node2?.last ?? 0)).toBeGreaterThanOrEqual(30 * MINUTE);
    // No bake after ring 1's first node: NODE2 follows NODE1 within minutes.
    expect((node2?.first ?? 0) - (node1?.last ?? 0)).toBeLessThan(30 * MINUTE);
    const events = phaseEvents(result);
    expect(events.map((e) => [e.phase.index, e.phase.nodes, e.passed])).toEqual([
      [0, ['NODE4'], true],
      [1, ['NODE1', 'NODE2'], true],
      [2, ['NODE3'], true],
    ]);
    await result.sandbox.stop();
  });

  it('a group waits for approval after its named pilot, then bakes after the percentage phase', async () => {
    const result = await run('phases-approval');
    const { report, actions } = result.runs[0] ?? {};

    expect(result.runs[0]?.mismatches).toEqual([]);
    expect(report?.status).toBe('Succeeded');
    expect(actions?.map((a) => [a.action, a.statusCode])).toEqual([['approve', 202]]);
    const approvedAt = Date.parse(actions?.[0]?.at ?? '');
    const pilot = span(result, 'WEB03');
    // Nothing else started before the approval.
    for (const name of ['WEB01', 'WEB02', 'WEB04']) {
      expect(span(result, name).first, name).toBeGreaterThanOrEqual(approvedAt);
    }
    expect(approvedAt - pilot.last).toBeGreaterThanOrEqual(30 * MINUTE);
    // 50% of 4 is WEB01 and WEB02 (in update order, WEB03 taken); WEB04 after the 15-minute bake.
    const half = Math.max(span(result, 'WEB01').last, span(result, 'WEB02').last);
    expect(span(result, 'WEB04').first - half).toBeGreaterThanOrEqual(15 * MINUTE);
    expect(phaseEvents(result).map((e) => e.phase.nodes)).toEqual([
      ['WEB03'],
      ['WEB01', 'WEB02'],
      ['WEB04'],
    ]);
    expect(
      result.sandbox.events.received.filter(
        (e) => e.detailType === LIFECYCLE_EVENT_TYPES.approvalRequired,
      ),
    ).toHaveLength(1);
    await result.sandbox.stop();
  });

  it('a phase over its failures allowed stops the run before the next phase, within MaxFailedNodes', async () => {
    const result = await run('phases-criteria-fail');
    const { report } = result.runs[0] ?? {};

    expect(result.runs[0]?.mismatches).toEqual([]);
    expect(report?.status).toBe('Failed');
    expect(report?.reason).toContain('PhaseCriteriaNotMet');
    expect(report?.reason).toContain('WEB02');
    expect(result.fleet.node('WEB03').commands).toEqual([]);
    expect(result.fleet.node('WEB04').commands).toEqual([]);
    expect(phaseEvents(result).map((e) => [e.phase.index, e.passed])).toEqual([[0, false]]);
    // The report (GET /rollouts/{id}/report, as the CLI renders it) states the phase's verdict.
    const api = await result.sandbox.api()({
      httpMethod: 'GET',
      path: `/rollouts/${report?.runId}/report`,
      headers: { Accept: 'application/json' },
      queryStringParameters: null,
      body: null,
      requestContext: { requestId: 't', identity: { userArn: 'arn:aws:iam::0:user/ops' } },
    });
    const view = JSON.parse(api.body) as RunReportView;
    expect(view.phases).toEqual([
      expect.objectContaining({
        name: 'first half',
        nodes: ['WEB01', 'WEB02'],
        failed: ['WEB02'],
        failuresAllowed: 0,
        passed: false,
        advance: 'bake',
      }),
    ]);
    expect(report?.phases?.map((p) => p.passed)).toEqual([false]);
    expect(renderReportText(view, { timeZone: 'UTC' })).toMatch(
      /PHASES \(1\):\n {4}1\. first half: WEB01, WEB02; 1 failed of 0 allowed; FAILED its criteria: the run stopped; judged 2026-01-13/,
    );
    // The bake never ran: the run ended at once, not an hour later.
    const ended = Date.parse(report?.finishedAt ?? '');
    expect(ended - span(result, 'WEB02').last).toBeLessThan(60 * MINUTE);
    await result.sandbox.stop();
  });

  it('MaxFailedNodes spans the phases: a phase within its criteria leaves the next only the rest of the budget', async () => {
    // Arrange: maxFailedNodes 1; phase 1 (WEB01, WEB02) allows 1 and WEB02 fails; in the rest
    // WEB03 fails: the budget is spent, so WEB04 (after WEB03, one at a time) is never started.
    const result = await run('phases-criteria-fail', (s) => {
      const rollout = s.runs[0]?.rollout as {
        policy: Record<string, unknown>;
        phases: Record<string, unknown>[];
      };
      rollout.policy = { maxFailedNodes: 1, maxRetriesPerNode: 1, maxConcurrency: 1 };
      rollout.phases = [{ percent: 50, failuresAllowed: 1, bakeMinutes: 10 }];
      const web03 = s.nodes.find((n) => n.name === 'WEB03') as { updates?: unknown };
      web03.updates = { KB5034439: { exitCodes: [1603], minutes: 3 } };
      (s.runs[0] as { expect?: unknown }).expect = undefined;
    });
    const { report } = result.runs[0] ?? {};
    const statuses = Object.fromEntries((report?.nodes ?? []).map((n) => [n.name, n.status]));

    expect(statuses).toEqual({
      WEB01: 'Succeeded',
      WEB02: 'Failed',
      WEB03: 'Failed',
      WEB04: 'NotStarted',
    });
    expect(report?.status).toBe('Failed');
    expect(result.fleet.node('WEB04').commands).toEqual([]);
    expect(phaseEvents(result).map((e) => [e.phase.index, e.passed])).toEqual([[0, true]]);
    const budget = result.runs[0]?.invariants.find((i) => i.name === 'failureBudget');
    expect(budget?.ok).toBe(true);
    await result.sandbox.stop();
  });

  it('each shipped bad phase scenario is refused naming the field and the value', async () => {
    const dir = fileURLToPath(new URL('../../examples/scenarios/invalid/', import.meta.url));
    const files = (await readdir(dir)).filter((f) => f.startsWith('phase-')).sort();
    const expected: Record<string, [string, string]> = {
      'phase-bigger-than-target.json': ['phases[0].nodeCount', '5'],
      'phase-no-gate.json': ['phases[0]', 'bakeMinutes'],
      'phase-percent-over-100.json': ['phases[1].percent', '50'],
      'phase-sets-overlap.json': ['phases[1].nodes[0]', '"node2"'],
      'phase-unknown-node.json': ['phases[0].nodes[1]', '"NODE9"'],
    };
    expect(files).toEqual(Object.keys(expected));
    for (const file of files) {
      const error = await loadScenario(`${dir}${file}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, file).toBeInstanceOf(ScenarioError);
      const [field, value] = expected[file] as [string, string];
      expect((error as Error).message, file).toContain(field);
      expect((error as Error).message, file).toContain(value);
    }
  });

  it('faulted runs with every shape of phase keep every invariant, phasesGateInOrder included', async () => {
    // Arrange: the campaign's own draws (seed 13, faults of every kind), each given phases.
    const shapes: ChaosPhases[] = [
      { first: 'count', failuresAllowed: 0, approval: false, bakeMinutes: 45, second: true },
      { first: 'percent', failuresAllowed: 1, approval: false, bakeMinutes: 20, second: false },
      { first: 'named', failuresAllowed: 0, approval: true, bakeMinutes: 10, second: true },
      { first: 'count', failuresAllowed: 1, approval: true, bakeMinutes: 5, second: false },
      { first: 'percent', failuresAllowed: 0, approval: false, bakeMinutes: 90, second: true },
      { first: 'named', failuresAllowed: 1, approval: false, bakeMinutes: 30, second: false },
    ];
    const specs = shapes.map((phases, i) => ({
      ...generateSpec(13, i, FAULT_KINDS),
      gateAfterNodes: null,
      phases,
    }));

    expect(specs.map((spec) => (buildScenario(spec).rollout.phases?.length ?? 0) > 0)).toEqual(
      specs.map(() => true),
    );

    // Act
    const results = [];
    for (const spec of specs) results.push(await runSpec(spec));

    // Assert: each run had phases, and no run broke an invariant or missed its expectation.
    const phaseInvariant = results.map((r) => r.violations.map((v) => `${v.name}: ${v.detail}`));
    expect(phaseInvariant).toEqual(specs.map(() => []));
    expect(results.map((r) => r.expectationFailures)).toEqual(specs.map(() => []));
  }, 300_000);
});
