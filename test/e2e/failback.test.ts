/**
 * After a cluster node's restart (issue 13, item 6), through the synthesized workflows in the
 * sandbox on both fleets: the resume checks the node is Up in the cluster and, with failbackMode
 * Immediate, waits (in virtual time, up to failbackTimeoutMinutes) for the roles its drain moved
 * off to be owned by it again. A role that does not come back in time fails the node
 * (RolesNotFailedBack); a node that stays Down in the cluster fails (NodeNotUpInCluster) and
 * stops the run, left Paused.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAILED_STEPS, failedStepOf } from '../../lambdas/core/failed-step.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario, ScenarioError } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const SCENARIOS = fileURLToPath(new URL('../../examples/scenarios/', import.meta.url));
const FLEETS = ['model', 'pwsh'] as const;

type Result = Awaited<ReturnType<typeof runScenario>>;

/** The node's resume commands: [start, end] in virtual minutes from the first one's start. */
function resumes(result: Result, node: string) {
  return result.fleet
    .node(node)
    .commands.filter((c) => c.document === 'resume')
    .map((c) => ({
      minutes: (Date.parse(c.endedAt ?? '') - Date.parse(c.startedAt ?? '')) / 60_000,
      status: c.status,
    }));
}

describe.each(FLEETS)('the checks after a restart (%s fleet)', (fleet) => {
  it('waits out a failback within the limit; a role not back in time fails its node, resumed', async () => {
    const result = await runScenario(await loadScenario(`${SCENARIOS}failback-late.json`), {
      fleet,
    });
    const run = result.runs[0];
    const node = (name: string) => run?.report?.nodes.find((n) => n.name === name);

    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    // NODE1's two roles came back 2 minutes after its resume: waited out, Succeeded.
    expect(node('NODE1')?.status).toBe('Succeeded');
    expect(resumes(result, 'NODE1')[0]?.minutes).toBeGreaterThanOrEqual(2);
    expect(resumes(result, 'NODE1')[0]?.minutes).toBeLessThan(3);
    // NODE2's role takes 30 minutes: past the 5-minute wait the node fails, naming the role.
    expect(node('NODE2')?.status).toBe('Failed');
    expect(node('NODE2')?.detail).toBe(
      'RolesNotFailedBack: roles not back on the node after 5 minutes (failback Immediate): Role 1 on NODE2',
    );
    expect(failedStepOf(node('NODE2')?.detail)).toBe(FAILED_STEPS.RolesNotFailedBack);
    expect(resumes(result, 'NODE2')).toEqual([
      { minutes: expect.closeTo(5, 0) as number, status: 'Success' },
    ]);
    // Resumed (Up, undrained): not left paused, so MaxFailedNodes 1 lets NODE3 go on.
    expect(result.fleet.node('NODE2').nodeState).toBe('Up');
    expect(node('NODE3')?.status).toBe('Succeeded');
  });

  it('a node Down in the cluster after its restart fails, is left Paused, and the run stops', async () => {
    const result = await runScenario(await loadScenario(`${SCENARIOS}not-up-after-restart.json`), {
      fleet,
    });
    const run = result.runs[0];
    const node = (name: string) => run?.report?.nodes.find((n) => n.name === name);

    expect(run?.mismatches).toEqual([]);
    expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(node('NODE2')?.status).toBe('Failed');
    expect(node('NODE2')?.detail).toMatch(
      /^NodeNotUpInCluster: NODE2 is Down in cluster CLUSTER1 after waiting for it to join \(the node is Down after waiting 10 minutes to join\)/,
    );
    expect(failedStepOf(node('NODE2')?.detail)).toBe(FAILED_STEPS.NodeNotUpInCluster);
    // The join wait, then the failure path's resume (a drained node is always resumed) waits too.
    expect(resumes(result, 'NODE2').map((r) => r.status)).toEqual(['Failed', 'Failed']);
    expect(resumes(result, 'NODE2')[0]?.minutes).toBeGreaterThanOrEqual(10);
    expect(run?.report?.status).toBe('Failed');
    expect(run?.report?.reason).toMatch(/^NodeLeftPaused: NODE2/);
    expect(result.fleet.node('NODE3').commands).toEqual([]);
  });
});

describe('the failback check: options and refusals', () => {
  it('without a wait long enough the late role fails; with failbackMode Policy nothing waits or fails', async () => {
    const base = await loadScenario(`${SCENARIOS}failback-late.json`);
    const withPolicy = (policy: Record<string, unknown>): Scenario => {
      const scenario = structuredClone(base) as Scenario;
      (scenario.runs[0]?.rollout as { policy: Record<string, unknown> }).policy = policy;
      (scenario.runs[0] as { expect?: unknown }).expect = undefined;
      return scenario;
    };

    const long = await runScenario(withPolicy({ maxFailedNodes: 1, failbackTimeoutMinutes: 45 }));
    const policy = await runScenario(withPolicy({ maxFailedNodes: 1, failbackMode: 'Policy' }));

    expect(long.runs[0]?.report?.status).toBe('Succeeded');
    expect(resumes(long, 'NODE2')[0]?.minutes).toBeGreaterThanOrEqual(30);
    expect(long.runs[0]?.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(policy.runs[0]?.report?.status).toBe('Succeeded');
    expect(resumes(policy, 'NODE2')[0]?.minutes).toBeLessThan(1);
  });

  it.each([
    ['failback-timeout-zero.json', 'policy.failbackTimeoutMinutes', '0'],
    ['failback-minutes-negative.json', 'nodes[0].failbackMinutes', '-5'],
  ])('the shipped bad scenario %s is refused naming %s and %s', async (file, field, value) => {
    const error = await loadScenario(`${SCENARIOS}invalid/${file}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as Error).message).toContain(field);
    expect((error as Error).message).toContain(value);
  });
});
