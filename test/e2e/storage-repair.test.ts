/**
 * WaitForStorageRepairTimeoutMinutes (issue 13, item 6) through the synthesized workflows in the
 * sandbox: after a cluster node is resumed, the resume waits (in virtual time) for its Storage
 * Spaces Direct repair jobs; a repair that outlasts the limit fails the node naming the jobs, and
 * the run stops before the next node whatever MaxFailedNodes allows.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario, ScenarioError } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const PATH = fileURLToPath(
  new URL('../../examples/scenarios/storage-repair-timeout.json', import.meta.url),
);
const INVALID = fileURLToPath(new URL('../../examples/scenarios/invalid/', import.meta.url));

/** Virtual minutes between the end of a node's resume command and its start. */
function resumeMinutes(result: Awaited<ReturnType<typeof runScenario>>, node: string): number {
  const resume = result.fleet
    .node(node)
    .commands.filter((c) => c.document === 'resume')
    .at(-1);
  return (Date.parse(resume?.endedAt ?? '') - Date.parse(resume?.startedAt ?? '')) / 60_000;
}

describe('policy.waitForStorageRepairTimeoutMinutes', () => {
  it('waits out a repair within the limit; past it the node fails naming the job and the run stops', async () => {
    const result = await runScenario(await loadScenario(PATH));
    const run = result.runs[0];
    const node = (name: string) => run?.report?.nodes.find((n) => n.name === name);

    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    // NODE1: its 8-minute repair was waited out inside the resume command.
    expect(node('NODE1')?.status).toBe('Succeeded');
    expect(resumeMinutes(result, 'NODE1')).toBeGreaterThanOrEqual(7.5);
    expect(resumeMinutes(result, 'NODE1')).toBeLessThan(10);
    // NODE2: resumed (Up, not left paused) but its 90-minute repair outlasted the 20 minutes.
    expect(node('NODE2')?.status).toBe('Failed');
    expect(node('NODE2')?.detail).toMatch(
      /^StorageRepairTimedOut: storage repair jobs still running after 20 minutes.*CLUSTER1-Pool Repair \(Running, \d+%\)$/,
    );
    expect(node('NODE2')?.detail).not.toContain('Regeneration');
    expect(resumeMinutes(result, 'NODE2')).toBeGreaterThanOrEqual(20);
    expect(resumeMinutes(result, 'NODE2')).toBeLessThan(21);
    expect(result.fleet.node('NODE2').nodeState).toBe('Up');
    // The run stopped before NODE3 although MaxFailedNodes (1) allowed this failure.
    expect(run?.report?.status).toBe('Failed');
    expect(run?.report?.reason).toMatch(
      /storage repair did not finish in time on NODE2: .*CLUSTER1-Pool Repair/,
    );
    expect(result.fleet.node('NODE3').commands).toEqual([]);
  });

  it('without the policy nothing waits for storage and every node is updated', async () => {
    const scenario = structuredClone(await loadScenario(PATH)) as Scenario;
    const rollout = scenario.runs[0]?.rollout as { policy: Record<string, unknown> };
    rollout.policy = { maxFailedNodes: 1 };
    (scenario.runs[0] as { expect?: unknown }).expect = undefined;

    const result = await runScenario(scenario);

    expect(result.runs[0]?.report?.status).toBe('Succeeded');
    expect(resumeMinutes(result, 'NODE2')).toBeLessThan(1);
    expect(result.fleet.node('NODE3').installedUpdates).toContain('KB5034439');
  });

  it('a limit long enough lets the 90-minute repair finish', async () => {
    const scenario = structuredClone(await loadScenario(PATH)) as Scenario;
    const rollout = scenario.runs[0]?.rollout as { policy: Record<string, unknown> };
    rollout.policy = { maxFailedNodes: 1, waitForStorageRepairTimeoutMinutes: 120 };
    (scenario.runs[0] as { expect?: unknown }).expect = undefined;

    const result = await runScenario(scenario);

    expect(result.runs[0]?.report?.status).toBe('Succeeded');
    expect(resumeMinutes(result, 'NODE2')).toBeGreaterThanOrEqual(85);
    expect(resumeMinutes(result, 'NODE2')).toBeLessThan(91);
  });

  it.each([
    ['storage-repair-timeout-zero.json', 'policy.waitForStorageRepairTimeoutMinutes', '0'],
    ['storage-job-not-repair.json', 'nodes[0].storageJobs[0].name', '"Defrag"'],
  ])('the shipped bad scenario %s is refused naming %s and %s', async (file, field, value) => {
    const error = await loadScenario(`${INVALID}${file}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as Error).message).toContain(field);
    expect((error as Error).message).toContain(value);
  });
});
