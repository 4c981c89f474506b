/**
 * The node contract through the synthesized workflows, in the sandbox (issue 9): every command
 * carries one absolute UTC deadline, the task start plus the wait; and a hotfix plan whose
 * command would need more than SSM's 48 hours is refused before the node is drained.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NODE_CONTRACT } from '../../lambdas/core/contracts.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, parseScenario } from '../../sandbox/scenario.js';

const SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/change-management.json', import.meta.url),
);

describe('the node contract in the sandbox', () => {
  it("every command payload carries deadline: the task state's entry plus its wait, in UTC", async () => {
    const result = await runScenario(await loadScenario(SCENARIO), { keepRunning: true });
    try {
      expect(result.runs[0]?.execution.status).toBe('SUCCEEDED');
      const commands = result.fleet.commands;
      expect(new Set(commands.map((c) => c.document))).toEqual(
        new Set(['inventory', 'drain', 'installHotfixes', 'restart', 'resume']),
      );
      // The synthesized Inventory state's wait, a fixed number of seconds.
      const inventory = result.sandbox.synth.node.definition.States.Inventory as {
        TimeoutSeconds: number;
      };
      expect(inventory.TimeoutSeconds).toBeGreaterThan(0);
      // Every send-command task counts its deadline from its own state's entry.
      const sends = Object.values(result.sandbox.synth.node.definition.States).filter(
        (state) =>
          JSON.stringify(state).includes('waitForTaskToken') &&
          JSON.stringify(state).includes('"document"'),
      ) as { Parameters: { Payload: Record<string, unknown> } }[];
      expect(sends.length).toBeGreaterThan(5);
      for (const state of sends) {
        expect(state.Parameters.Payload['startedAt.$']).toBe('$$.State.EnteredTime');
      }
      for (const command of commands) {
        const payload = command.payload as Record<string, unknown>;
        expect(payload.deadline, `${command.document}`).toMatch(
          /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
        );
        // The payload carries the deadline only: no other clock for the node to obey.
        expect(payload).not.toHaveProperty('executionTimeoutSeconds');
        // The state is entered and the command sent at one virtual instant.
        const wait = Date.parse(payload.deadline as string) - Date.parse(command.requestedAt);
        expect(wait % 1000, `${command.document}: whole seconds`).toBe(0);
        expect(wait).toBeGreaterThanOrEqual(30_000);
        expect(wait).toBeLessThanOrEqual(NODE_CONTRACT.maxCommandTimeoutSeconds * 1000);
        if (command.document === 'inventory') expect(wait).toBe(inventory.TimeoutSeconds * 1000);
      }
    } finally {
      await result.sandbox.stop();
    }
  });

  it('refuses a plan whose install command would pass 48 hours, naming the fields, before any drain', async () => {
    // Arrange: 2 updates x 1440 minutes + 900 s = 173,700 s, over SSM's 172,800.
    const json = {
      name: 'command-timeout-over-48-hours',
      description: 'Two updates, each allowed a day: the install command would need 48 h 15 min.',
      hotfixRoot: {
        files: [
          { path: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu' },
          { path: 'CAUHotfix_All/windows10.0-kb5034440-x64.msu' },
        ],
      },
      defaultUpdate: { exitCodes: [0], minutes: 5 },
      nodes: [
        { name: 'NODE1', cluster: 'CLUSTER1' },
        { name: 'NODE2', cluster: 'CLUSTER1' },
      ],
      rollout: {
        target: { kind: 'cluster', name: 'CLUSTER1' },
        plugins: [
          {
            name: 'Microsoft.HotfixPlugin',
            arguments:
              'HotfixRootFolderPath="s3://rollout-sandbox-hotfixes/too-long";HotfixInstallerTimeoutMinutes=1440',
          },
        ],
        policy: { maxFailedNodes: 0 },
      },
      expect: { runStatus: 'Failed' },
    };

    // Act
    const result = await runScenario(parseScenario(json, 'command-timeout'), { keepRunning: true });

    // Assert
    try {
      const report = result.runs[0]?.report;
      expect(report?.status).toBe('Failed');
      const failed = report?.nodes.find((n) => n.name === 'NODE1');
      expect(failed?.status).toBe('Failed');
      expect(failed?.detail).toContain('CommandTimeoutTooLong');
      expect(failed?.detail).toContain(
        '2 updates x HotfixInstallerTimeoutMinutes=1440 minutes + 900 s is a command timeout of 173700 s',
      );
      for (const name of ['NODE1', 'NODE2']) {
        expect(result.fleet.node(name).drainedCount, `${name} drained`).toBe(0);
      }
      expect(result.fleet.commands.map((c) => c.document)).not.toContain('installHotfixes');
    } finally {
      await result.sandbox.stop();
    }
  });
});
