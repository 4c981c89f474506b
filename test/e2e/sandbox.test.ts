/**
 * End to end: the synthesized rollout and node workflows, the real handlers, a real local
 * DynamoDB and the simulated fleet, one scenario per case of issue 4. Each test asserts the run
 * status, per-node outcomes, restarts and drains done (on the simulated nodes), the ledger, the
 * run history rows and that the lock was released.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/core/run-store-model.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const scenarioPath = (name: string) =>
  fileURLToPath(new URL(`../../examples/scenarios/${name}.json`, import.meta.url));

async function run(
  name: string,
  options: Parameters<typeof runScenario>[1] = {},
): Promise<ScenarioResult> {
  return runScenario(await loadScenario(scenarioPath(name)), { ...options, keepRunning: true });
}

/** The first run's report, with the checks every case shares. */
function firstRun(result: ScenarioResult) {
  const run = result.runs[0];
  expect(run, 'the scenario ran a rollout').toBeDefined();
  const report = run?.report;
  expect(report, `run ${run?.execution.name} is in the run store`).toBeDefined();
  expect(report?.lockReleased, 'the target lock was released').toBe(true);
  return { run: run as NonNullable<typeof run>, report: report as NonNullable<typeof report> };
}

const node = (result: ScenarioResult, name: string) => result.fleet.node(name);
const reportNode = (report: ReturnType<typeof firstRun>['report'], name: string) => {
  const found = report.nodes.find((n) => n.name === name);
  expect(found, `${name} is in the report`).toBeDefined();
  return found as NonNullable<typeof found>;
};

describe('sandbox end to end', () => {
  beforeAll(() => {
    // Warm the synth once so the first test's time is not all CDK.
  });

  it('all updates succeed without restart: hotpatch-eligible, no drain, no restart', async () => {
    const result = await run('no-restart');
    const { report } = firstRun(result);
    expect(report.status).toBe('Succeeded');
    for (const name of ['NODE1', 'NODE2']) {
      const n = reportNode(report, name);
      expect(n.status).toBe('Succeeded');
      expect(n.restarts).toBe(0);
      expect(n.drained).toBe(false);
      expect(node(result, name).drainedCount).toBe(0);
      expect(node(result, name).restarts).toBe(0);
      expect(n.updates.map((u) => u.outcome)).toEqual(['Success']);
      expect(n.ledger.map((e) => e.updateId)).toEqual(['KB5036001']);
    }
    await result.sandbox.stop();
  });

  it('restart required on one node only', async () => {
    const result = await run('restart-one-node');
    const { report } = firstRun(result);
    expect(report.status).toBe('Succeeded');
    expect(report.nodes.map((n) => [n.name, n.status, n.restarts])).toEqual([
      ['WEB01', 'Succeeded', 0],
      ['WEB02', 'Succeeded', 1],
      ['WEB03', 'Succeeded', 0],
    ]);
    expect(node(result, 'WEB02').restarts).toBe(1);
    expect(node(result, 'WEB02').pendingReboot).toBe(false);
    expect(reportNode(report, 'WEB02').updates[0]).toMatchObject({
      outcome: 'Success_RebootRequired',
      exitCode: 3010,
    });
    await result.sandbox.stop();
  });

  it('Fail_RebootRequired: the node restarts and counts as failed', async () => {
    const result = await run('fail-reboot-required');
    const { report } = firstRun(result);
    expect(report.status).toBe('Failed');
    const web01 = reportNode(report, 'WEB01');
    expect(web01.status).toBe('Failed');
    expect(web01.updates.some((u) => u.outcome === 'Fail_RebootRequired' && u.rebootRequired)).toBe(
      true,
    );
    expect(node(result, 'WEB01').restarts).toBeGreaterThanOrEqual(1);
    expect(web01.ledger).toEqual([]);
    expect(reportNode(report, 'WEB02').status).toBe('Succeeded');
    await result.sandbox.stop();
  });

  it('already installed everywhere: nothing restarts, no ledger entry', async () => {
    const result = await run('already-installed');
    const { report } = firstRun(result);
    expect(report.status).toBe('Succeeded');
    for (const n of report.nodes) {
      expect(n.updates.map((u) => u.outcome)).toEqual(['AlreadyInstalled']);
      expect(n.restarts).toBe(0);
      expect(node(result, n.name).restarts).toBe(0);
      expect(n.ledger).toEqual([]);
    }
    await result.sandbox.stop();
  });

  it('1603 then success within MaxRetriesPerNode', async () => {
    const result = await run('retry-1603');
    const { report } = firstRun(result);
    expect(report.status).toBe('Succeeded');
    const node1 = reportNode(report, 'NODE1');
    expect(node1.attempts).toBe(2);
    expect(node1.updates.map((u) => [u.attempt, u.outcome, u.exitCode])).toEqual([
      [1, 'Failed', 1603],
      [2, expect.stringMatching(/^Success/), expect.any(Number)],
    ]);
    expect(node1.ledger).toHaveLength(1);
    await result.sandbox.stop();
  });

  it('failures beyond MaxFailedNodes stop the run and leave later nodes untouched', async () => {
    const result = await run('max-failed-nodes');
    const { report } = firstRun(result);
    expect(report.status).toBe('Failed');
    expect(report.nodes.map((n) => [n.name, n.status])).toEqual([
      ['NODE1', 'Failed'],
      ['NODE2', 'NotStarted'],
      ['NODE3', 'NotStarted'],
    ]);
    for (const name of ['NODE2', 'NODE3']) expect(node(result, name).commands).toEqual([]);
    // NODE1 was drained for the update and resumed after it failed.
    expect(node(result, 'NODE1').drainedCount).toBe(1);
    expect(node(result, 'NODE1').nodeState).toBe('Up');
    await result.sandbox.stop();
  });

  it('RequireAllNodesOnline with one node offline: nothing is touched', async () => {
    const result = await run('require-all-online');
    const { run: r, report } = firstRun(result);
    expect(r.execution.status).toBe('FAILED');
    expect(r.execution.cause).toContain('WEB03');
    expect(report.status).toBe('Failed');
    expect(report.nodes.every((n) => n.status === 'NotStarted')).toBe(true);
    expect(result.fleet.commands).toEqual([]);
    await result.sandbox.stop();
  });

  it('a node that never returns from restart fails at RebootTimeoutMinutes', async () => {
    const result = await run('never-returns');
    const { report } = firstRun(result);
    const node2 = reportNode(report, 'NODE2');
    expect(node2.status).toBe('Failed');
    expect(node2.detail).toMatch(/RebootTimeout/);
    expect(reportNode(report, 'NODE1').status).toBe('Succeeded');
    // NODE2 could not be resumed: it is left Paused, so NODE3 is never drained (issue 8, point 8).
    expect(reportNode(report, 'NODE3').status).toBe('NotStarted');
    expect(node(result, 'NODE3').drainedCount).toBe(0);
    expect(report.status).toBe('Failed');
    expect(report.reason).toContain('NODE2 is left Paused');
    await result.sandbox.stop();
  });

  it('an installer that hangs past HotfixInstallerTimeoutMinutes is stopped and fails', async () => {
    const result = await run('installer-hangs');
    const { report } = firstRun(result);
    const web01 = reportNode(report, 'WEB01');
    expect(web01.status).toBe('Failed');
    expect(web01.updates[0]).toMatchObject({ outcome: 'Failed', exitCode: null });
    expect(web01.updates[0]?.detail).toMatch(/HotfixInstallerTimeoutMinutes/);
    expect(reportNode(report, 'WEB02').status).toBe('Succeeded');
    await result.sandbox.stop();
  });

  it('a pre-update script failure: the node is not updated and not drained', async () => {
    const result = await run('pre-script-fails');
    const { report } = firstRun(result);
    const node1 = reportNode(report, 'NODE1');
    expect(node1.status).toBe('Failed');
    expect(node1.detail).toMatch(/PreUpdateScriptFailed/);
    expect(node1.updates).toEqual([]);
    expect(node(result, 'NODE1').drainedCount).toBe(0);
    expect(node(result, 'NODE1').commands.map((c) => c.document)).not.toContain('installHotfixes');
    expect(reportNode(report, 'NODE2').status).toBe('Succeeded');
    await result.sandbox.stop();
  });

  it('a drain failure: the node is resumed, counts as failed, and is not updated', async () => {
    const result = await run('drain-fails');
    const { report } = firstRun(result);
    const node2 = reportNode(report, 'NODE2');
    expect(node2.status).toBe('Failed');
    expect(node2.detail).toMatch(/DrainFailed/);
    expect(node2.updates).toEqual([]);
    expect(node(result, 'NODE2').nodeState).toBe('Up');
    expect(node(result, 'NODE2').commands.map((c) => c.document)).toContain('resume');
    await result.sandbox.stop();
  });

  it('StopAfter reached mid-run: later nodes are not started and the run ends Stopped', async () => {
    const result = await run('stop-after');
    const { report } = firstRun(result);
    expect(report.status).toBe('Stopped');
    expect(report.nodes.map((n) => n.status)).toEqual(['Succeeded', 'NotStarted', 'NotStarted']);
    expect(node(result, 'NODE2').commands).toEqual([]);
    await result.sandbox.stop();
  });

  it('InvocationDoesNotExist right after SendCommand is retried', async () => {
    const result = await run('invocation-does-not-exist');
    const { report } = firstRun(result);
    expect(report.status).toBe('Succeeded');
    expect(reportNode(report, 'WEB01').status).toBe('Succeeded');
    await result.sandbox.stop();
  });

  it('a second rollout on a locked cluster is refused and touches nothing', async () => {
    const result = await run('retry-1603', {
      beforeRuns: async (sandbox) => {
        await sandbox.store.acquireLock('CLUSTER1', 'other-run', 3600, sandbox.clock.now());
      },
    });
    const execution = result.runs[0]?.execution;
    expect(execution?.status).toBe('FAILED');
    expect(execution?.error).toBe('TargetLocked');
    expect(execution?.cause).toContain('other-run');
    expect(result.fleet.commands).toEqual([]);
    // The other run's lock is untouched.
    expect((await result.sandbox.store.getLock('CLUSTER1'))?.holder).toBe('other-run');
    await result.sandbox.stop();
  });

  it('a run whose lock holder died is recovered after the lease', async () => {
    const result = await run('retry-1603', {
      beforeRuns: async (sandbox) => {
        // A run that died 7 hours ago with a 6-hour lease.
        await sandbox.store.acquireLock(
          'CLUSTER1',
          'dead-run',
          6 * 3600,
          new Date(sandbox.clock.now().getTime() - 7 * 3600_000),
        );
      },
    });
    const { report } = firstRun(result);
    expect(report.status).toBe('Succeeded');
    expect(await result.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await result.sandbox.stop();
  });

  it('Lambda throttling is retried by the workflows', async () => {
    const result = await run('restart-one-node', {
      throttle: { preflight: 2, sendCommand: 2, runHistory: 1 },
    });
    const { report } = firstRun(result);
    expect(report.status).toBe('Succeeded');
    // 3 nodes: 3 preflights + 2 throttled attempts.
    expect(result.sandbox.invocations.get('preflight')).toBe(5);
    await result.sandbox.stop();
  });

  it('run history rows: the run, each node and each update, under the run key', async () => {
    const result = await run('restart-one-node');
    const { report } = firstRun(result);
    const items = await result.sandbox.store.getRunItems(report.runId);
    expect(items.run).toMatchObject({
      runId: report.runId,
      target: 'web-servers',
      status: 'Succeeded',
    });
    expect(items.nodes.map((n) => n.node).sort()).toEqual(['WEB01', 'WEB02', 'WEB03']);
    expect(items.updates.length).toBeGreaterThanOrEqual(3);
    expect(keys.run(report.runId).pk).toBe(`RUN#${report.runId}`);
    await result.sandbox.stop();
  });

  it('the default scenario ends as it expects (what npm start runs)', async () => {
    const result = await run('default');
    expect(result.runs.map((r) => r.mismatches)).toEqual([[], []]);
    expect(result.expectationsMet).toBe(true);
    const cluster = result.runs[0]?.report;
    // Cluster nodes were drained and resumed one at a time.
    for (const name of ['NODE1', 'NODE2', 'NODE3', 'NODE4']) {
      expect(node(result, name).drainedCount).toBe(1);
      expect(node(result, name).nodeState).toBe('Up');
    }
    expect(cluster?.nodes.every((n) => n.drained)).toBe(true);
    await result.sandbox.stop();
  });
});
