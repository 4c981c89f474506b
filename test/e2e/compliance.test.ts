/**
 * Issue 13, item 8: compliance between runs, through the synthesized assessment workflow
 * (lib/compliance-assessment.ts: the scan workflow, then record-compliance) in the sandbox, on
 * both fleets (the pwsh fleet runs ssm/scan-updates.ps1 itself; skipped with one loud line where
 * pwsh does not run, failed under REQUIRE_PWSH=1).
 *
 * - Before the run every node misses KB5034441; after it, the node whose update failed shows it
 *   failed and missing, the node left waiting for a restart (rebootOption Never) shows the
 *   restart pending, the third is Compliant, and GET /compliance says so.
 * - A node that falls out of compliance between two assessments emits exactly one event.
 * - The assessments drained, installed, restarted and removed nothing: the fleet's own log.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { CompliancePageView } from '../../lambdas/core/compliance-api.js';
import { LIFECYCLE_EVENT_TYPES } from '../../lambdas/core/contracts.js';
import { checkAssessmentReadOnly } from '../../sandbox/compliance-invariants.js';
import { PwshWorkerPool, pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';
import { apiEvent } from '../helpers/api-event.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const SCENARIO = new URL('../../examples/scenarios/compliance.json', import.meta.url).pathname;
const available = pwshAvailable();
if (!available) {
  const line = '!!! compliance on the pwsh fleet SKIPPED: dotnet pwsh does not run here !!!';
  if (process.env.REQUIRE_PWSH === '1') throw new Error(`${line} (REQUIRE_PWSH=1: a skip fails)`);
  console.error(line);
}
let pool: PwshWorkerPool | undefined;
afterAll(() => pool?.close());

async function start(fleet: 'model' | 'pwsh') {
  if (fleet === 'pwsh' && !pool) {
    pool = new PwshWorkerPool();
    await pool.render();
  }
  const scenario = await loadScenario(SCENARIO);
  const result = await runScenario(scenario, {
    runRollouts: false,
    fleet,
    ...(fleet === 'pwsh' && pool ? { pwshPool: pool } : {}),
  });
  const api = result.sandbox.api();
  const compliance = async (target: string) => {
    const res = await api(
      apiEvent({
        method: 'GET',
        path: '/compliance',
        query: { target },
        callerArn: 'arn:aws:iam::000000000000:user/operator',
      }) as never,
    );
    expect(res.statusCode).toBe(200);
    return JSON.parse(res.body) as CompliancePageView;
  };
  const input = JSON.parse(JSON.stringify(scenario.runs[0]?.rollout)) as Record<string, unknown>;
  const assess = async (name: string) => {
    const from = result.fleet.log.length;
    const { done } = result.sandbox.startAssessment(input, name);
    await result.sandbox.settle();
    const execution = await done;
    const readOnly = checkAssessmentReadOnly({
      assessmentId: name,
      log: result.fleet.log.slice(from),
      installsSince: (node) =>
        result.fleet
          .node(node)
          .installs.filter((i) => Date.parse(i.at) >= execution.startedAt.getTime()),
      nodes: ['WEB01', 'WEB02', 'WEB03'],
    });
    return { execution, readOnly };
  };
  const changes = () =>
    result.sandbox.events.received
      .filter((e) => e.detailType === LIFECYCLE_EVENT_TYPES.nodeComplianceChanged)
      .map((e) => ({ ...e, detail: e.detail as Record<string, unknown> }));
  return { ...result, input, compliance, assess, changes };
}

const byNode = (page: CompliancePageView) => new Map(page.nodes.map((n) => [n.node, n]));

for (const fleet of ['model', 'pwsh'] as const) {
  describe.skipIf(fleet === 'pwsh' && !available)(`compliance on the ${fleet} fleet`, () => {
    it('shows missing, failed and pending restart right, and one event per node that changed', async () => {
      const env = await start(fleet);
      try {
        // Act: an assessment before any run.
        const before = await env.assess('assess-1');

        // Assert: every node misses the update; the first assessment is the baseline.
        expect(before.execution.status).toBe('SUCCEEDED');
        expect(before.readOnly.problems).toEqual([]);
        const first = byNode(await env.compliance('web'));
        for (const name of ['WEB01', 'WEB02', 'WEB03']) {
          expect(first.get(name)?.state).toBe('NonCompliant');
          expect(first.get(name)?.missing.map((m) => m.kb)).toEqual(['KB5034441']);
          expect(first.get(name)?.change).toBeNull();
        }
        expect(env.changes()).toEqual([]);

        // Act: the rollout, then a second assessment.
        const run = await env.sandbox.runRollout(env.input, 'compliance-run');
        // WEB01's failure fails the run (within maxFailedNodes: the others still ran).
        expect([run.status, run.error]).toEqual(['FAILED', 'RolloutFailed']);
        const after = await env.assess('assess-2');

        // Assert: per node, what the run left.
        expect(after.readOnly.problems).toEqual([]);
        const page = await env.compliance('web');
        const second = byNode(page);
        const web01 = second.get('WEB01');
        expect(web01?.state).toBe('NonCompliant');
        expect(web01?.missing.map((m) => m.kb)).toEqual(['KB5034441']);
        expect(web01?.failed.map((f) => [f.kb, f.exitCode, f.runId])).toEqual([
          ['KB5034441', 1603, 'compliance-run'],
        ]);
        expect(web01?.installed).toEqual([]);
        const web02 = second.get('WEB02');
        expect(web02).toMatchObject({
          state: 'NonCompliant',
          pendingRestart: true,
          missing: [],
          failed: [],
        });
        // Hotfix plug-in only: the scan searches no Windows Update and reads no restart marker,
        // so the ledger's InstalledPendingReboot install says the restart is owed.
        expect(web02?.reasons).toEqual([
          "a restart is owed: KB5034441 installed without one (rebootOption Never); the scan did not read the node's restart markers",
        ]);
        expect(web02?.installed.map((i) => [i.kb, i.runId, i.installedPendingReboot])).toEqual([
          ['KB5034441', 'compliance-run', true],
        ]);
        const web03 = second.get('WEB03');
        expect(web03).toMatchObject({
          state: 'Compliant',
          previousState: 'NonCompliant',
          change: 'CameBack',
          pendingRestart: false,
        });
        expect(page.counts).toEqual({ Compliant: 1, NonCompliant: 2, Unknown: 0 });
        expect(env.changes().map((e) => [e.detail.node, e.detail.change])).toEqual([
          ['WEB03', 'CameBack'],
        ]);

        // Act: a new update in the hotfix root; WEB03 falls out of compliance. Assessed twice.
        env.sandbox.s3.put(
          'rollout-sandbox-hotfixes',
          'compliance/CAUHotfix_All/windows10.0-kb5036892-x64.msu',
          'sandbox update',
        );
        await env.assess('assess-3');
        await env.assess('assess-4');

        // Assert: exactly one event for the fall, none for the nodes that stayed out.
        const fell = env.changes().filter((e) => e.detail.change === 'FellOut');
        expect(fell.map((e) => [e.detail.node, e.detail.assessmentId])).toEqual([
          ['WEB03', 'assess-3'],
        ]);
        expect(fell[0]?.detail).toMatchObject({
          state: 'NonCompliant',
          previousState: 'Compliant',
          missing: ['KB5036892'],
        });
        expect(env.changes()).toHaveLength(2);
        const fourth = byNode(await env.compliance('web'));
        expect(fourth.get('WEB03')).toMatchObject({ state: 'NonCompliant', change: null });
        expect(
          fourth
            .get('WEB01')
            ?.missing.map((m) => m.kb)
            .sort(),
        ).toEqual(['KB5034441', 'KB5036892']);
      } finally {
        await env.sandbox.stop();
      }
    });
  });
}

describe('an assessment refuses bad input naming the field', () => {
  it('a bad target fails the assessment before anything is sent', async () => {
    const env = await start('model');
    try {
      const from = env.fleet.log.length;
      const { done } = env.sandbox.startAssessment(
        { ...env.input, target: { kind: 'group', name: '-web', nodes: [] } },
        'assess-bad',
      );
      await env.sandbox.settle();
      const execution = await done;
      expect(execution.status).toBe('FAILED');
      expect(execution.cause).toMatch(/target\.name/);
      expect(env.fleet.log.slice(from)).toEqual([]);
    } finally {
      await env.sandbox.stop();
    }
  });
});

describe('a scenario with assess: the assessmentReadOnly invariant on every run', () => {
  it('runs an assessment after the rollout and finds it changed nothing', async () => {
    const scenario = { ...(await loadScenario(SCENARIO)), assess: true };
    const result = await runScenario(scenario, { fleet: 'model', keepRunning: true });
    try {
      const [run] = result.runs;
      const verdict = run?.invariants.find((i) => i.name === 'assessmentReadOnly');
      expect(verdict?.ok).toBe(true);
      expect(verdict?.detail).toMatch(
        /^assessment compliance-1-assessment: \d+ ScanUpdates command update\(s\) on 3 node\(s\)/,
      );
      expect(run?.mismatches).toEqual([]);
      const page = await result.sandbox.compliance.listCompliance('web');
      expect(page.nodes.map((n) => n.state)).toEqual(['NonCompliant', 'NonCompliant', 'Compliant']);
    } finally {
      await result.sandbox.stop();
    }
  });
});

describe('the shipped bad compliance scenario is refused naming the field', () => {
  it('assess-not-a-flag.json: assess ("daily")', async () => {
    const path = new URL('../../examples/scenarios/invalid/assess-not-a-flag.json', import.meta.url)
      .pathname;
    await expect(loadScenario(path)).rejects.toThrow(/assess \("daily"\): expected true or false/);
  });
});
