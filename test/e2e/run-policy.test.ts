/**
 * Run-level policy through the synthesized workflows in the sandbox (issue 8): one failure
 * budget for the whole run across the approval gate (point 3), and RunPluginsSerially honoured
 * (point 10).
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario } from '../../sandbox/scenario.js';
import { apiCaller } from '../helpers/api-event.js';
import { checkBeforeStop, invariantViolations } from './invariants-of-api-runs.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const DEFAULT = fileURLToPath(new URL('../../examples/scenarios/default.json', import.meta.url));
const HOUR = 3600_000;

/** The default scenario's group run (WEB01..WEB06, hotfix and Windows Update plug-ins) alone. */
async function groupScenario(change: (scenario: Scenario) => void = () => {}): Promise<Scenario> {
  const scenario = structuredClone(await loadScenario(DEFAULT)) as Scenario;
  const group = scenario.runs.find((r) => r.rollout.target?.kind === 'group');
  if (!group) throw new Error('the default scenario has no group run');
  (scenario as unknown as { runs: unknown[] }).runs = [group];
  change(scenario);
  return scenario;
}

const callApi = (api: ReturnType<Awaited<ReturnType<typeof runScenario>>['sandbox']['api']>) =>
  apiCaller(api, 'arn:aws:iam::0:user/ops');

/** The sandbox of the running test: each rollout it ran is checked against the invariants. */
let last: ScenarioResult | undefined;
afterEach(async () => {
  const result = last;
  last = undefined;
  if (result) expect(await invariantViolations(result)).toEqual([]);
});

describe('one failure budget for the whole run (issue 8, point 3)', () => {
  it('after a pilot that spent MaxFailedNodes, the rest stops at its first failure and later nodes are untouched', async () => {
    // Arrange: MaxFailedNodes 1; the pilot WEB06 fails; in the rest WEB02 fails first.
    const scenario = await groupScenario((s) => {
      const web02 = s.nodes.find((n) => n.name === 'WEB02') as { updates?: unknown };
      web02.updates = { KB5034439: { exitCodes: [1603], minutes: 4 } };
    });
    const result = await runScenario(scenario, { runRollouts: false });
    last = checkBeforeStop(result);
    const { sandbox, fleet } = result;
    const call = callApi(sandbox.api());
    const input = {
      ...(scenario.runs[0]?.rollout as Record<string, unknown>),
      policy: {
        maxConcurrency: 1,
        maxFailedNodes: 1,
        maxRetriesPerNode: 1,
        nodeOrder: ['WEB06', 'WEB02', 'WEB01', 'WEB03', 'WEB04', 'WEB05'],
      },
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    };

    // Act
    const started = await call('POST', '/rollouts', input);
    const id = String(started.body.rolloutId);
    await sandbox.advance(2 * HOUR);
    const approved = await call('POST', `/rollouts/${id}/approve`, { comment: 'go on' });
    await sandbox.settle();
    const items = await sandbox.store.getRunItems(id);
    const statusOf = (node: string) => items.nodes.find((n) => n.node === node)?.status;

    // Assert
    expect(started.status).toBe(202);
    expect(approved.status).toBe(202);
    expect(statusOf('WEB06')).toBe('Failed');
    expect(statusOf('WEB02')).toBe('Failed');
    expect(items.run?.status).toBe('Failed');
    expect(items.run?.summary).toMatchObject({ nodes: { failed: 2 } });
    // The budget was spent by the pilot: nothing after the rest's first failure was touched.
    for (const name of ['WEB01', 'WEB03', 'WEB04', 'WEB05']) {
      expect(fleet.node(name).commands, name).toEqual([]);
      expect(statusOf(name), name).toBeUndefined();
    }
    expect(await sandbox.store.getLock('web-servers')).toBeUndefined();
    await sandbox.stop();
  });

  it('a pilot within the budget leaves the rest only the remainder', async () => {
    // Arrange: MaxFailedNodes 2; the pilot WEB06 fails (1 left); the rest fails nothing.
    const scenario = await groupScenario();
    const result = await runScenario(scenario, { runRollouts: false });
    last = checkBeforeStop(result);
    const { sandbox, fleet } = result;
    const call = callApi(sandbox.api());
    const input = {
      ...(scenario.runs[0]?.rollout as Record<string, unknown>),
      policy: {
        maxConcurrency: 2,
        maxFailedNodes: 2,
        maxRetriesPerNode: 1,
        nodeOrder: ['WEB06', 'WEB01', 'WEB02', 'WEB03', 'WEB04', 'WEB05'],
      },
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    };

    // Act
    const id = String((await call('POST', '/rollouts', input)).body.rolloutId);
    await sandbox.advance(2 * HOUR);
    await call('POST', `/rollouts/${id}/approve`, {});
    await sandbox.settle();
    const budget = await sandbox.invoke('runHistory', { action: 'failureBudget', runId: id });
    const items = await sandbox.store.getRunItems(id);

    // Assert
    expect(budget).toEqual({ runId: id, maxFailedNodes: 2, failed: 1, remaining: 1 });
    expect(items.nodes.filter((n) => n.status === 'Succeeded')).toHaveLength(5);
    expect(fleet.node('WEB05').installedUpdates).toContain('KB5034439');
    // Within MaxFailedNodes, but not every node was updated: Failed (summariseRun rule 5).
    expect(items.run?.status).toBe('Failed');
    await sandbox.stop();
  });
});

describe('RunPluginsSerially is honoured (issue 8, point 10)', () => {
  it('each node runs one plug-in at a time, in the order given: no two plug-in commands overlap', async () => {
    // Arrange
    const scenario = await groupScenario((s) => {
      const rollout = s.runs[0]?.rollout as { policy?: Record<string, unknown> };
      rollout.policy = { ...rollout.policy, runPluginsSerially: true };
    });

    // Act
    const result = await runScenario(scenario, { keepRunning: true });

    // Assert
    const installs = ['installHotfixes', 'windowsUpdate'];
    let checked = 0;
    for (const name of ['WEB01', 'WEB02', 'WEB03', 'WEB04', 'WEB05', 'WEB06']) {
      const commands = result.fleet
        .node(name)
        .commands.filter((c) => installs.includes(c.document))
        .map((c) => ({
          document: c.document,
          start: Date.parse(String(c.startedAt)),
          end: Date.parse(String(c.endedAt)),
        }));
      expect(commands[0]?.document, name).toBe('installHotfixes');
      expect(
        commands.map((c) => c.document),
        name,
      ).toContain('windowsUpdate');
      for (let i = 1; i < commands.length; i++) {
        expect(commands[i]?.start, `${name} command ${i}`).toBeGreaterThanOrEqual(
          commands[i - 1]?.end ?? Number.NaN,
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    await result.sandbox.stop();
  });
});

describe('WarnAfter passing is visible (issue 8, point 11)', () => {
  const CHANGE = fileURLToPath(
    new URL('../../examples/scenarios/change-management.json', import.meta.url),
  );

  it('a cluster run past WarnAfter goes on, and says so once: event, run record and report line', async () => {
    // Arrange: three nodes of about 25 minutes each; WarnAfter 30 minutes.
    const scenario = await loadScenario(CHANGE);
    const result = await runScenario(scenario, { runRollouts: false });
    last = checkBeforeStop(result);
    const { sandbox } = result;
    const call = callApi(sandbox.api());
    const input = {
      ...(scenario.runs[0]?.rollout as Record<string, unknown>),
      policy: { maxFailedNodes: 0, warnAfter: 30 },
    };

    // Act
    const id = String((await call('POST', '/rollouts', input)).body.rolloutId);
    await sandbox.settle();
    const run = await sandbox.store.getRun(id);
    const report = await call('GET', `/rollouts/${id}/report`);
    const warnings = sandbox.events.received.filter(
      (e) => e.detailType === 'Rollout WarnAfter Passed',
    );

    // Assert
    expect(run?.status).toBe('Succeeded');
    expect(run?.warnAt).toBeDefined();
    expect(Date.parse(String(run?.warnAfterPassedAt))).toBeGreaterThanOrEqual(
      Date.parse(String(run?.warnAt)),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.detail).toMatchObject({
      rolloutId: id,
      warnAt: run?.warnAt,
      node: expect.stringMatching(/^NODE[123]$/),
    });
    expect(report.body.notices).toEqual([expect.stringContaining('WarnAfter passed')]);
    await sandbox.stop();
  });

  it('a run that ends before WarnAfter says nothing', async () => {
    // Arrange
    const scenario = await loadScenario(CHANGE);
    const result = await runScenario(scenario, { runRollouts: false });
    last = checkBeforeStop(result);
    const { sandbox } = result;
    const call = callApi(sandbox.api());
    const input = {
      ...(scenario.runs[0]?.rollout as Record<string, unknown>),
      policy: { maxFailedNodes: 0, warnAfter: 600 },
    };

    // Act
    const id = String((await call('POST', '/rollouts', input)).body.rolloutId);
    await sandbox.settle();
    const report = await call('GET', `/rollouts/${id}/report`);

    // Assert
    expect((await sandbox.store.getRun(id))?.warnAfterPassedAt).toBeUndefined();
    expect(sandbox.events.received.map((e) => e.detailType)).not.toContain(
      'Rollout WarnAfter Passed',
    );
    expect(report.body.notices).toBeUndefined();
    await sandbox.stop();
  });

  it('a group run past WarnAfter says so once, from the node results', async () => {
    // Arrange: the group run (about an hour in waves of 3), WarnAfter 20 minutes.
    const scenario = await groupScenario((s) => {
      const rollout = s.runs[0]?.rollout as { policy?: Record<string, unknown> };
      rollout.policy = { ...rollout.policy, warnAfter: 20 };
    });

    // Act
    const result = await runScenario(scenario, { keepRunning: true });
    const warnings = result.sandbox.events.received.filter(
      (e) => e.detailType === 'Rollout WarnAfter Passed',
    );

    // Assert
    expect(warnings).toHaveLength(1);
    expect(result.runs[0]?.report?.status).toBe('Failed'); // WEB06 fails, as the scenario expects
    await result.sandbox.stop();
  });
});

describe('a cluster node left Paused stops the run (issue 8, point 8)', () => {
  const CHANGE = fileURLToPath(
    new URL('../../examples/scenarios/change-management.json', import.meta.url),
  );

  it('NODE2 whose resume fails stays Paused; the run stops there and never drains NODE3', async () => {
    // Arrange: MaxFailedNodes 1, so the failure alone would not stop the run.
    const scenario = structuredClone(await loadScenario(CHANGE)) as Scenario;
    const node2 = scenario.nodes.find((n) => n.name === 'NODE2') as { resumeFails?: boolean };
    node2.resumeFails = true;
    const result = await runScenario(scenario, { runRollouts: false });
    last = checkBeforeStop(result);
    const { sandbox, fleet } = result;
    const call = callApi(sandbox.api());
    const input = {
      ...(scenario.runs[0]?.rollout as Record<string, unknown>),
      policy: { maxFailedNodes: 1 },
    };

    // Act
    const id = String((await call('POST', '/rollouts', input)).body.rolloutId);
    await sandbox.settle();
    const items = await sandbox.store.getRunItems(id);
    const execution = sandbox.executions.find((e) => e.name === id);

    // Assert
    expect(items.nodes.find((n) => n.node === 'NODE1')?.status).toBe('Succeeded');
    expect(items.nodes.find((n) => n.node === 'NODE2')).toMatchObject({
      status: 'Failed',
      leftPaused: true,
    });
    expect(fleet.node('NODE2').nodeState).toBe('Paused');
    expect(fleet.node('NODE3').commands).toEqual([]);
    expect(fleet.node('NODE3').drainedCount).toBe(0);
    expect(items.run?.status).toBe('Failed');
    expect(items.run?.failureReason).toContain('NodeLeftPaused');
    expect(items.run?.failureReason).toContain('NODE2 is left Paused');
    expect(execution?.status).toBe('FAILED');
    expect(await sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await sandbox.stop();
  });

  it('a failed node that was resumed is not left Paused, and the run goes on to the next node', async () => {
    // Arrange: NODE2's update fails for good; its resume works.
    const scenario = structuredClone(await loadScenario(CHANGE)) as Scenario;
    const node2 = scenario.nodes.find((n) => n.name === 'NODE2') as { updates?: unknown };
    node2.updates = { KB5034439: { exitCodes: [1603], minutes: 4 } };
    const result = await runScenario(scenario, { runRollouts: false });
    last = checkBeforeStop(result);
    const { sandbox, fleet } = result;
    const call = callApi(sandbox.api());
    const input = {
      ...(scenario.runs[0]?.rollout as Record<string, unknown>),
      policy: { maxFailedNodes: 1, maxRetriesPerNode: 1 },
    };

    // Act
    const id = String((await call('POST', '/rollouts', input)).body.rolloutId);
    await sandbox.settle();
    const items = await sandbox.store.getRunItems(id);

    // Assert: NODE2 failed and was resumed; NODE3 was updated.
    expect(items.nodes.find((n) => n.node === 'NODE2')).toMatchObject({
      status: 'Failed',
      leftPaused: false,
    });
    expect(fleet.node('NODE2').nodeState).toBe('Up');
    expect(fleet.node('NODE3').installedUpdates).toContain('KB5034439');
    expect(items.run?.failureReason ?? '').not.toContain('NodeLeftPaused');
    await sandbox.stop();
  });
});
