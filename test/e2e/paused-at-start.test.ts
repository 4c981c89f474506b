/**
 * End to end, issue 8: a cluster node paused by an operator before the run. The node's
 * inventory lists every member of the cluster; one not Up stops the run before anything on the
 * cluster is drained or installed, and that node is left as it was. Runs the shipped scenario
 * (and a variant with the paused node first) through the synthesized workflows, the real
 * handlers and the simulated fleet, and checks the fleet's own record of what happened.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_TYPES } from '../../lambdas/core/contracts.js';
import { INVARIANTS } from '../../sandbox/invariants.js';
import { PwshWorkerPool, pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { loadScenario, parseScenario, type ScenarioInput } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/paused-at-start.json', import.meta.url),
);

/** Documents that change a node (everything but the inventory). */
const CHANGING = ['drain', 'resume', 'installHotfixes', 'restart', 'runScript', 'removeUpdates'];

async function expectStoppedUntouched(result: ScenarioResult, paused: string) {
  const run = result.runs[0];
  expect(run?.report, 'the run is in the run store').toBeDefined();
  const report = run?.report as NonNullable<typeof run>['report'] & object;
  expect(report.status).toBe('Failed');
  expect(report.lockReleased).toBe(true);
  // Nothing on the cluster was changed: only inventories ran.
  for (const node of result.fleet.nodes()) {
    const changed = node.commands.filter((c) => CHANGING.includes(c.document));
    expect(changed.map((c) => `${node.name} ${c.document}`)).toEqual([]);
  }
  const pausedNode = result.fleet.node(paused);
  expect(pausedNode.nodeState).toBe('Paused');
  expect(pausedNode.drainStatus).toBe('Completed');
  const items = await result.sandbox.store.getRunItems(report.runId);
  expect(items.run?.failureReason).toMatch(/^ClusterNodeNotUp: /);
  expect(items.run?.failureReason).toContain(`${paused} is Paused`);
  expect(items.nodes.every((n) => n.status === 'NotStarted')).toBe(true);
  const finished = result.sandbox.events.received.filter(
    (e) =>
      e.detailType === LIFECYCLE_EVENT_TYPES.rolloutFailed &&
      (e.detail as { rolloutId?: string }).rolloutId === report.runId,
  );
  expect(finished.length, 'a Rollout Failed event').toBeGreaterThan(0);
  const detail = (finished.at(-1)?.detail ?? {}) as { reason?: string };
  expect(String(detail.reason ?? '')).toContain(`${paused} is Paused`);
  // Every invariant holds: nodesLeftClean through its exemption, backed by the fleet log.
  expect(run?.invariants.map((i) => i.name)).toEqual(INVARIANTS.map((i) => i.name));
  expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
  const clean = run?.invariants.find((i) => i.name === 'nodesLeftClean');
  expect(clean?.detail).toContain(`${paused} stays Paused, drain Completed`);
  expect(clean?.detail).toContain('left it untouched');
}

describe('issue 8: a cluster node paused before the run', () => {
  it('stops the run before any drain, naming the node, and leaves it paused (shipped scenario)', async () => {
    const result = await runScenario(await loadScenario(SCENARIO), { keepRunning: true });
    expect(result.expectationsMet).toBe(true);
    // NODE1's inventory saw NODE2 Paused; NODE2 itself was never reached.
    expect(result.fleet.node('NODE1').commands.map((c) => c.document)).toEqual(['inventory']);
    expect(result.fleet.node('NODE2').commands).toEqual([]);
    await expectStoppedUntouched(result, 'NODE2');
  });

  it('stops at the paused node itself when it comes first, running only its inventory', async () => {
    const input: ScenarioInput = {
      name: 'paused-first',
      hotfixRoot: { files: [{ path: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu' }] },
      nodes: [
        { name: 'NODE1', cluster: 'CLUSTER1', pausedAtStart: true },
        { name: 'NODE2', cluster: 'CLUSTER1' },
      ],
      rollout: {
        target: { kind: 'cluster', name: 'CLUSTER1' },
        plugins: [
          {
            name: 'Microsoft.HotfixPlugin',
            arguments: 'HotfixRootFolderPath="s3://rollout-sandbox-hotfixes/paused-first"',
          },
        ],
        policy: { maxFailedNodes: 1, nodeOrder: ['NODE1', 'NODE2'] },
      },
    };
    const result = await runScenario(parseScenario(input, 'paused-first (test)'), {
      keepRunning: true,
    });
    expect(result.fleet.node('NODE1').commands.map((c) => c.document)).toEqual(['inventory']);
    expect(result.fleet.node('NODE2').commands).toEqual([]);
    await expectStoppedUntouched(result, 'NODE1');
  });

  it('the fleet log holds the evidence: NODE1 listed the cluster and saw NODE2 Paused', async () => {
    const result = await runScenario(await loadScenario(SCENARIO), { keepRunning: true });
    const views = result.fleet.log.filter((e) => e.kind === 'clusterView' && e.node === 'NODE2');
    expect(views.map((e) => [e.seenBy, e.clusterState, e.drainStatus])).toEqual([
      ['NODE1', 'Paused', 'Completed'],
    ]);
  });
});

describe.skipIf(!pwshAvailable())('the same on the pwsh fleet (the real inventory.ps1)', () => {
  let pool: PwshWorkerPool;
  beforeAll(async () => {
    pool = new PwshWorkerPool();
    await pool.render();
  });
  afterAll(() => pool?.close());

  it('inventory.ps1 lists the members, sees NODE2 Paused, and the run stops untouched', async () => {
    const result = await runScenario(await loadScenario(SCENARIO), {
      keepRunning: true,
      fleet: 'pwsh',
      pwshPool: pool,
    });
    expect(result.fleetKind).toBe('pwsh');
    expect(result.expectationsMet).toBe(true);
    expect(result.fleet.node('NODE1').commands.map((c) => c.document)).toEqual(['inventory']);
    await expectStoppedUntouched(result, 'NODE2');
  }, 120_000);
});
