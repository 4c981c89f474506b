/**
 * End to end for removals (issue 5, POST /nodes/{id}/removals): a rollout with `removal` runs
 * RemoveUpdates on the node (wusa.exe /uninstall, simulated), marks the ledger, drains, restarts
 * and resumes the node, and runs no plug-in.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';
import { apiCaller } from '../helpers/api-event.js';

const SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/change-management.json', import.meta.url),
);
const KB = 'KB5034439';

async function installed() {
  const scenario = await loadScenario(SCENARIO);
  const result = await runScenario(scenario, { runRollouts: false });
  const { sandbox, fleet } = result;
  const input = JSON.parse(JSON.stringify(scenario.runs[0]?.rollout)) as Record<string, unknown>;
  sandbox.startRollout(input as never, 'install-1');
  await sandbox.settle();
  return { sandbox, fleet, input };
}

describe('removing updates through a rollout, in the sandbox', () => {
  it('removes the update, marks the ledger, drains, restarts and resumes the node', async () => {
    const { sandbox, fleet, input } = await installed();
    expect(fleet.node('NODE1').installedUpdates).toContain(KB);
    const before = fleet.node('NODE1');
    const target = input.target as { kind: string; name: string; nodes: { name: string }[] };
    // Act
    sandbox.startRollout(
      {
        target: { ...target, nodes: target.nodes.filter((n) => n.name === 'NODE1') },
        removal: { updates: [KB] },
        changeTicket: { system: 'ServiceNow', id: 'CHG0040000' },
      } as never,
      'removal-1',
    );
    await sandbox.settle();
    // Assert
    const execution = sandbox.executions.find((e) => e.name === 'removal-1');
    expect(execution?.status, execution?.cause).toBe('SUCCEEDED');
    const node = fleet.node('NODE1');
    expect(node.installedUpdates).not.toContain(KB);
    expect(node.restarts).toBe(before.restarts + 1);
    expect(node.drainedCount).toBe(before.drainedCount + 1);
    expect(node.resumedCount).toBe(before.resumedCount + 1);
    expect(node.nodeState).toBe('Up');
    expect(node.pendingReboot).toBe(false);
    const documents = node.commands.slice(before.commands.length).map((c) => c.document);
    expect(documents).toContain('removeUpdates');
    expect(documents).not.toContain('installHotfixes');
    expect(documents.indexOf('drain')).toBeLessThan(documents.indexOf('removeUpdates'));
    expect(documents.indexOf('removeUpdates')).toBeLessThan(documents.indexOf('restart'));
    expect(documents.at(-1)).toBe('resume');
    const ledger = await sandbox.store.getLedger('NODE1');
    const entry = ledger.entries.find((e) => e.updateId === KB);
    expect(entry?.removedAt).toBeDefined();
    expect(entry?.removedByRunId).toBe('removal-1');
    // The other nodes keep the update.
    expect(fleet.node('NODE2').installedUpdates).toContain(KB);
    expect((await sandbox.store.getLedger('NODE2')).entries[0]?.removedAt).toBeUndefined();
    await sandbox.stop();
  });
});

describe('POST /nodes/{id}/removals, in the sandbox', () => {
  async function withApi() {
    const env = await installed();
    const api = env.sandbox.api();
    const call = apiCaller(api, 'arn:aws:iam::000000000000:user/change-manager');
    const target = env.input.target as { nodes: { name: string; instanceId: string }[] };
    const instanceId = target.nodes.find((n) => n.name === 'NODE1')?.instanceId as string;
    return { ...env, call, instanceId };
  }

  it('202 with the rollout id; the rollout removes the update, drains, restarts and resumes', async () => {
    const { sandbox, fleet, call, instanceId } = await withApi();
    const before = fleet.node('NODE1');
    // Act
    const accepted = await call('POST', '/nodes/NODE1/removals', {
      updates: [KB],
      target: { kind: 'cluster', name: 'CLUSTER1' },
      instanceId,
      changeTicket: { system: 'ServiceNow', id: 'CHG0040001' },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    expect(accepted.body.order).toEqual([KB]);
    const removalId = accepted.body.removalId as string;
    await sandbox.settle();
    // Assert
    const status = await call('GET', `/rollouts/${removalId}`);
    expect(status.status).toBe(200);
    expect(status.body.status).toBe('Succeeded');
    const report = await call('GET', `/rollouts/${removalId}/report`);
    expect(report.status).toBe(200);
    expect(JSON.stringify(report.body)).toContain('Rollout.Removal');
    const ledger = await call('GET', '/nodes/NODE1/ledger');
    const entries = ledger.body.entries as { updateId: string; removedAt?: string }[];
    expect(entries.find((e) => e.updateId === KB)?.removedAt).toBeDefined();
    expect(ledger.body.installed).toEqual([]);
    const node = fleet.node('NODE1');
    expect(node.installedUpdates).not.toContain(KB);
    expect(node.restarts).toBe(before.restarts + 1);
    expect(node.drainedCount).toBe(before.drainedCount + 1);
    expect(node.resumedCount).toBe(before.resumedCount + 1);
    expect((await sandbox.store.getLock('CLUSTER1'))?.holder).toBeUndefined();
    await sandbox.stop();
  });

  it('refuses an out-of-order removal with the KB823836 warning (409), and a request without target (400)', async () => {
    const { sandbox, call, instanceId } = await withApi();
    // Two later updates that replaced the same file (the install handler records no files).
    await sandbox.store.appendLedgerEntries('NODE1', [
      {
        node: 'NODE1',
        sequence: 2,
        updateId: 'KB5035001',
        installedAt: new Date(sandbox.clock.now().getTime() + 1000).toISOString(),
        hotpatched: false,
        replacedFiles: [{ path: '%windir%\\system32\\authz.dll' }],
      },
      {
        node: 'NODE1',
        sequence: 3,
        updateId: 'KB5035002',
        installedAt: new Date(sandbox.clock.now().getTime() + 2000).toISOString(),
        hotpatched: false,
        replacedFiles: [{ path: '%windir%\\system32\\authz.dll' }],
      },
    ] as never);
    // Act
    const refused = await call('POST', '/nodes/NODE1/removals', {
      updates: ['KB5035001'],
      target: { kind: 'cluster', name: 'CLUSTER1' },
      instanceId,
    });
    const noTarget = await call('POST', '/nodes/NODE1/removals', { updates: ['KB5035002'] });
    // Assert
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(JSON.stringify(refused.body)).toContain('KB5035002');
    expect(noTarget.status).toBe(400);
    expect(JSON.stringify(noTarget.body)).toContain('"field":"target"');
    await sandbox.settle();
    expect(sandbox.executions.every((e) => e.name.startsWith('install-1'))).toBe(true);
    await sandbox.stop();
  });
});
