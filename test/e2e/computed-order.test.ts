/**
 * Computed node order (issue 13, item 7) through the synthesized rollout workflow in the
 * sandbox: without policy.nodeOrder, a cluster run reads the clustered roles of every node from
 * one node's inventory (Get-ClusterGroup) and updates the node hosting the fewest first, ties by
 * name; the report states it.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const FILE = fileURLToPath(
  new URL('../../examples/scenarios/computed-order.json', import.meta.url),
);

/** The order the nodes were drained in: the order the run updated them. */
const drainOrder = (log: readonly { node: string; kind: string }[]) =>
  log.filter((e) => e.kind === 'drain').map((e) => e.node);

/** computed-order.json with its rollout changed. */
async function variant(change: (rollout: Record<string, unknown>, s: Scenario) => void) {
  const scenario = structuredClone(await loadScenario(FILE)) as Scenario;
  const run = scenario.runs[0] as { rollout: Record<string, unknown> };
  change(run.rollout, scenario);
  return scenario;
}

describe('computed node order', () => {
  it('updates the node with the fewest clustered roles first, ties by name, and says so', async () => {
    // Arrange: roles NODE1 1, NODE2 3, NODE3 0, NODE4 1.
    const scenario = await loadScenario(FILE);
    // Act
    const result = await runScenario(scenario);
    // Assert
    const run = result.runs[0];
    expect(run?.mismatches).toEqual([]);
    expect(drainOrder(result.fleet.log)).toEqual(['NODE3', 'NODE1', 'NODE4', 'NODE2']);
    expect(run?.report?.order).toBe(
      'order: computed, fewest roles first (NODE3 0, NODE1 1, NODE4 1, NODE2 3; ties by name; counts from NODE1)',
    );
    // The role counts came from one inventory command, before any node was drained.
    const inventories = result.fleet.log.filter(
      (e) => e.kind === 'command' && e.document === 'inventory' && e.status === 'Success',
    );
    const firstDrain = result.fleet.log.find((e) => e.kind === 'drain');
    expect(inventories[0]?.node).toBe('NODE1');
    expect(inventories[0]?.seq).toBeLessThan(firstDrain?.seq ?? -1);
  });

  it('a given policy.nodeOrder wins: no role count, no order line', async () => {
    // Arrange
    const scenario = await variant((rollout) => {
      rollout.policy = { nodeOrder: ['NODE2', 'NODE1', 'NODE4', 'NODE3'] };
    });
    // Act
    const result = await runScenario(scenario);
    // Assert
    expect(result.runs[0]?.mismatches).toEqual([]);
    expect(drainOrder(result.fleet.log)).toEqual(['NODE2', 'NODE1', 'NODE4', 'NODE3']);
    expect(result.runs[0]?.report?.order).toBeUndefined();
  });

  it('when the role counts cannot be read, the run keeps the given order and says why', async () => {
    // Arrange: NODE1, whose inventory would give the counts, is offline.
    const scenario = await variant((_rollout, s) => {
      const node1 = s.nodes.find((n) => n.name === 'NODE1') as {
        online: boolean;
        pingStatus: string;
      };
      node1.online = false;
      node1.pingStatus = 'ConnectionLost';
      (s.runs[0] as { expect?: unknown }).expect = undefined;
    });
    // Act
    const result = await runScenario(scenario);
    // Assert
    const run = result.runs[0];
    expect(run?.report?.order).toMatch(/^order: as given \(not computed: the inventory on NODE1 /);
    expect(drainOrder(result.fleet.log)).toEqual(['NODE2', 'NODE3', 'NODE4']);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
  });
});
