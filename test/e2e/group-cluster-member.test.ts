/**
 * A group target whose node turns out to be a failover-cluster member (the safety gap found by a
 * trial: such a node was restarted undrained, breaking `restartOnlyWhenDrained`). The node's
 * inventory names its cluster; the node workflow refuses it before anything is changed on it
 * (`ClusterMemberInGroupTarget`), counted against the failure budget like a preflight failure.
 * A scenario file that says so is refused at validation. Runs through the synthesized workflows
 * on both fleets.
 */
import { describe, expect, it } from 'vitest';
import { FAILED_STEPS, failedStepOf } from '../../lambdas/core/failed-step.js';
import { INVARIANTS } from '../../sandbox/invariants.js';
import { pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import {
  parseScenario,
  type Scenario,
  ScenarioError,
  type ScenarioInput,
} from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const FLEETS = ['model', 'pwsh'] as const;
/** Documents that change a node (everything but the inventory). */
const CHANGING = ['drain', 'resume', 'installHotfixes', 'restart', 'runScript', 'removeUpdates'];

/** SRV1 standalone; NODE1 and NODE2 standalone in the file, cluster members on the fleet. */
function input(maxFailedNodes: number): ScenarioInput {
  return {
    name: 'group-cluster-member',
    hotfixRoot: { files: [{ path: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu' }] },
    nodes: [
      { name: 'SRV1', updates: { KB5034439: { exitCodes: [3010] } } },
      { name: 'NODE1', updates: { KB5034439: { exitCodes: [3010] } } },
      { name: 'NODE2', updates: { KB5034439: { exitCodes: [3010] } } },
    ],
    rollout: {
      target: { kind: 'group', name: 'GROUP1' },
      plugins: [
        {
          name: 'Microsoft.HotfixPlugin',
          arguments:
            'HotfixRootFolderPath="s3://rollout-sandbox-hotfixes/group-cluster-member";HotfixInstallerTimeoutMinutes=30',
        },
      ],
      policy: { maxFailedNodes, maxConcurrency: 1 },
    },
  } as unknown as ScenarioInput;
}

/**
 * The fleet as it really is: NODE1 and NODE2 joined CLUSTER1 after the group was defined. The
 * file cannot say so (validation refuses it), so the parsed scenario is changed, as the world
 * changes under a target.
 */
function joinedCluster(scenario: Scenario): Scenario {
  return {
    ...scenario,
    nodes: scenario.nodes.map((n) =>
      n.name === 'SRV1' ? n : { ...n, cluster: 'CLUSTER1' },
    ) as Scenario['nodes'],
  };
}

describe.each(FLEETS)('a cluster member in a group target (%s fleet)', (fleet) => {
  it.skipIf(fleet === 'pwsh' && !pwshAvailable())(
    'refuses the member before anything is changed on it, naming node and cluster, within the failure budget',
    async () => {
      const scenario = joinedCluster(parseScenario(input(1), 'group-cluster-member'));
      const result = await runScenario(scenario, { fleet });
      const run = result.runs[0];
      const node = (name: string) => run?.report?.nodes.find((n) => n.name === name);

      // Every invariant holds, restartOnlyWhenDrained among them (it broke before the refusal).
      expect(run?.invariants.map((i) => i.name)).toEqual(INVARIANTS.map((i) => i.name));
      expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
      expect(node('SRV1')?.status).toBe('Succeeded');
      for (const name of ['NODE1', 'NODE2']) {
        const member = node(name);
        expect(member?.status, name).toBe('Failed');
        expect(member?.detail).toBe(
          `ClusterMemberInGroupTarget: node ${name} is a member of cluster CLUSTER1 (Up): target the cluster so its nodes are drained one at a time; nothing was changed on this node`,
        );
        expect(failedStepOf(member?.detail)).toBe(FAILED_STEPS.ClusterMemberInGroupTarget);
        // Left clean: only its inventory ran, and it is Up, not paused, never restarted.
        const sim = result.fleet.node(name);
        expect(sim.commands.map((c) => c.document)).toEqual(['inventory']);
        expect(sim.commands.filter((c) => CHANGING.includes(c.document))).toEqual([]);
        expect(sim.nodeState).toBe('Up');
      }
      // Two refusals against a budget of 1: the run fails.
      expect(run?.report?.status).toBe('Failed');
    },
  );
});

describe('a scenario file that puts a cluster member in a group target', () => {
  it('is refused at validation, naming the field and the node’s cluster', () => {
    const raw = input(1) as unknown as {
      nodes: Record<string, unknown>[];
      rollout: { target: Record<string, unknown> };
    };
    (raw.nodes[1] as Record<string, unknown>).cluster = 'CLUSTER1';
    raw.rollout.target.nodes = [{ name: 'SRV1' }, { name: 'NODE1' }];
    let error: unknown;
    try {
      parseScenario(raw as unknown as ScenarioInput, 'group-cluster-member');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).problems).toContainEqual({
      field: 'rollout.target.nodes[1].name',
      value: 'NODE1',
      message:
        'node NODE1 is a member of cluster CLUSTER1 in the scenario: a group target restarts its nodes undrained; target the cluster so its nodes are drained one at a time',
    });
  });
});
