/**
 * SuspendClusterNodeTimeoutMinutes (issue 13, item 6, its first part) through the synthesized
 * workflows in the sandbox: `policy.suspendClusterNodeTimeoutMinutes` bounds each drain; a drain
 * that takes longer fails the node, which is resumed; the default (30) lets the same drain finish.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const PATH = fileURLToPath(new URL('../../examples/scenarios/drain-timeout.json', import.meta.url));

describe('policy.suspendClusterNodeTimeoutMinutes', () => {
  it('a drain longer than the limit times out: the node fails, is resumed, and the run goes on', async () => {
    const result = await runScenario(await loadScenario(PATH));
    const run = result.runs[0];
    const node2 = run?.report?.nodes.find((n) => n.name === 'NODE2');

    expect(run?.mismatches).toEqual([]);
    expect(node2?.status).toBe('Failed');
    expect(node2?.detail).toBe('DrainFailed');
    // The drain command gave up at the 10-minute limit, not at the 20 minutes the roles need.
    const drain = result.fleet.node('NODE2').commands.find((c) => c.document === 'drain');
    const took = Date.parse(drain?.endedAt ?? '') - Date.parse(drain?.startedAt ?? '');
    expect(drain?.status).toBe('Failed');
    expect(took).toBeGreaterThanOrEqual(10 * 60_000);
    expect(took).toBeLessThan(11 * 60_000);
    expect(result.fleet.node('NODE2').nodeState).toBe('Up');
    expect(result.fleet.node('NODE2').restarts).toBe(0);
    expect(result.fleet.node('NODE3').installedUpdates).toContain('KB5034439');
  });

  it('without it, the default 30 minutes lets the same 20-minute drain finish', async () => {
    const scenario = structuredClone(await loadScenario(PATH)) as Scenario;
    const rollout = scenario.runs[0]?.rollout as { policy: Record<string, unknown> };
    rollout.policy = { maxFailedNodes: 1 };
    (scenario.runs[0] as { expect?: unknown }).expect = undefined;

    const result = await runScenario(scenario);

    expect(result.runs[0]?.report?.status).toBe('Succeeded');
    expect(result.fleet.node('NODE2').drainedCount).toBe(1);
    expect(result.fleet.node('NODE2').installedUpdates).toContain('KB5034439');
  });

  it('a limit outside 1 to 1440 is refused naming the field and the value', async () => {
    const scenario = JSON.parse((await import('node:fs')).readFileSync(PATH, 'utf8')) as {
      rollout: { policy: Record<string, unknown> };
    };
    scenario.rollout.policy.suspendClusterNodeTimeoutMinutes = 0;
    const { parseScenario } = await import('../../sandbox/scenario.js');
    expect(() => parseScenario(scenario as never, 'drain-timeout-0')).toThrow(
      /policy\.suspendClusterNodeTimeoutMinutes.*0.*expected a whole number of minutes from 1 to 1440/s,
    );
  });
});
