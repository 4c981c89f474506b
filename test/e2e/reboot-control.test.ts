/**
 * Reboot control (issue 13, item 3) through the synthesized workflows in the sandbox:
 * `rebootOption` IfRequired (the default), Never (install, no restart, no drain for one: the node
 * ends InstalledPendingReboot) and Always (restart even when nothing asks, drained first).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_TYPES } from '../../lambdas/core/contracts.js';
import type { ExecutionResult } from '../../sandbox/engine.js';
import { checkExecutionInvariants, runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario, ScenarioError } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const example = (name: string) =>
  fileURLToPath(new URL(`../../examples/scenarios/${name}.json`, import.meta.url));

/** The fleet log of a run: what the nodes did, in order, as `NODE kind`. */
const happenings = (log: readonly { node: string; kind: string; byInstaller?: boolean }[]) =>
  log
    // Commands, and what an inventory saw of its cluster (clusterView), change nothing.
    .filter((e) => e.kind !== 'command' && e.kind !== 'clusterView')
    .map((e) => `${e.node} ${e.kind}${e.byInstaller ? ' (installer)' : ''}`);

describe('rebootOption Never', () => {
  it('installs, restarts and drains nothing, and records InstalledPendingReboot (report, event)', async () => {
    // Arrange: the update needs a restart; NODE2 already waits for one.
    const scenario = await loadScenario(example('reboot-never'));
    // Act
    const result = await runScenario(scenario, { keepRunning: true });
    // Assert
    const run = result.runs[0];
    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(run?.invariants.find((i) => i.name === 'neverMeansNeverRestarted')?.detail).toMatch(
      /rebootOption Never: no restart by the run/,
    );
    expect(happenings(result.fleet.log)).toEqual([]);
    expect(run?.report?.nodes.map((n) => [n.name, n.status, n.restarts, n.drained])).toEqual([
      ['NODE1', 'InstalledPendingReboot', 0, false],
      ['NODE2', 'InstalledPendingReboot', 0, false],
    ]);
    expect(result.fleet.node('NODE1').pendingReboot).toBe(true);
    // The install ledger says the update waits for a restart.
    const ledger = await result.sandbox.store.getLedger('NODE1');
    expect(ledger.entries.map((e) => [e.updateId, e.installedPendingReboot])).toEqual([
      ['KB5034127', true],
    ]);
    await result.sandbox.stop();
    const nodeEvents = result.sandbox.events.received
      .filter((e) => e.detailType === LIFECYCLE_EVENT_TYPES.nodeUpdated)
      .map((e) => [(e.detail as { node: string }).node, (e.detail as { status: string }).status]);
    expect(nodeEvents).toEqual([
      ['NODE1', 'InstalledPendingReboot'],
      ['NODE2', 'InstalledPendingReboot'],
    ]);
    const finished = result.sandbox.events.received.find(
      (e) => e.detailType === LIFECYCLE_EVENT_TYPES.rolloutSucceeded,
    );
    expect(finished?.detail).toMatchObject({ nodes: { installedPendingReboot: 2 } });
  });

  it('a hotfix that may restart the node itself (1641) still gets a drained node, resumed and not restarted', async () => {
    // Arrange: a .msu that is not hotpatched exits 3010 on NODE1, 0 on NODE2.
    const scenario = await loadScenario(example('reboot-never-hotfix'));
    // Act
    const result = await runScenario(scenario);
    // Assert
    const run = result.runs[0];
    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(happenings(result.fleet.log)).toEqual([
      'NODE1 drain',
      'NODE1 resume',
      'NODE2 drain',
      'NODE2 resume',
    ]);
    expect(run?.report?.nodes.map((n) => [n.name, n.status, n.restarts])).toEqual([
      ['NODE1', 'InstalledPendingReboot', 0],
      ['NODE2', 'Succeeded', 0],
    ]);
  });
});

describe('rebootOption Never, started through the API', () => {
  it('the run record keeps it, so the invariants of an API run check it too', async () => {
    // Arrange
    const scenario = await loadScenario(example('reboot-never'));
    const result = await runScenario(scenario, { runRollouts: false });
    const api = result.sandbox.api();
    // Act
    const started = await api({
      httpMethod: 'POST',
      path: '/rollouts',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'reboot-never-1' },
      queryStringParameters: null,
      body: JSON.stringify(scenario.runs[0]?.rollout),
      requestContext: {
        requestId: 'test',
        identity: { userArn: 'arn:aws:iam::000000000000:user/change-manager' },
      },
    });
    await result.sandbox.settle();
    const id = (JSON.parse(started.body) as { rolloutId: string }).rolloutId;
    const execution = result.sandbox.executions.find((e) => e.name === id);
    const invariants = await checkExecutionInvariants(result, execution as ExecutionResult);
    const run = await result.sandbox.store.getRun(id);
    await result.sandbox.stop();
    // Assert
    expect(started.statusCode).toBe(202);
    expect(run?.rebootOption).toBe('Never');
    expect(invariants.filter((i) => !i.ok)).toEqual([]);
    expect(invariants.find((i) => i.name === 'neverMeansNeverRestarted')?.detail).toMatch(
      /^rebootOption Never: no restart by the run/,
    );
  });
});

describe('rebootOption Always', () => {
  it('drains, restarts once and resumes each cluster node though no update asks for a restart', async () => {
    // Arrange
    const scenario = await loadScenario(example('reboot-always'));
    // Act
    const result = await runScenario(scenario);
    // Assert
    const run = result.runs[0];
    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(happenings(result.fleet.log)).toEqual([
      'NODE1 drain',
      'NODE1 restart',
      'NODE1 back',
      'NODE1 resume',
      'NODE2 drain',
      'NODE2 restart',
      'NODE2 back',
      'NODE2 resume',
    ]);
  });

  it('without it (IfRequired, the default) the same run drains (a Windows Update may need a restart) but restarts nothing', async () => {
    // Arrange: the same scenario, rebootOption left out.
    const base = await loadScenario(example('reboot-always'));
    const first = base.runs[0] as Scenario['runs'][number];
    const { rebootOption: _dropped, ...rollout } = first.rollout as { rebootOption?: string };
    const scenario = {
      ...base,
      runs: [{ ...(base.runs[0] as object), rollout }],
    } as unknown as Scenario;
    // Act
    const result = await runScenario(scenario);
    // Assert
    expect(result.runs[0]?.mismatches).toEqual([]);
    expect(happenings(result.fleet.log)).toEqual([
      'NODE1 drain',
      'NODE1 resume',
      'NODE2 drain',
      'NODE2 resume',
    ]);
  });
});

describe('bad input (examples/scenarios/invalid)', () => {
  const dir = fileURLToPath(new URL('../../examples/scenarios/invalid/', import.meta.url));
  it.each([
    ['bad-reboot-option.json', 'rollout.rebootOption', 'NoReboot'],
    ['bad-roles.json', 'nodes[0].roles', -1],
  ])('%s is refused naming %s and its value', async (file, field, value) => {
    // Act
    const error = await loadScenario(join(dir, file)).catch((e: unknown) => e);
    // Assert
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).problems).toContainEqual(
      expect.objectContaining({ field, value }),
    );
    expect((error as Error).message).toContain(JSON.stringify(value));
  });

  it('every file there is refused', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      await expect(loadScenario(join(dir, file)), file).rejects.toBeInstanceOf(ScenarioError);
    }
  });
});
