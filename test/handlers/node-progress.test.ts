/**
 * The live node view (issue 12): a node's step read from its node-workflow execution's history.
 * The state-to-step table is checked against every state of the synthesized node workflow, and
 * the route is run in the sandbox while a node is mid-install.
 */
import { describe, expect, it } from 'vitest';
import {
  type NodeProgress,
  progressOf,
  stepOfState,
} from '../../lambdas/handlers/node-progress.js';
import { synthesize } from '../../sandbox/engine.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const ARN = 'arn:aws:states:us-east-1:000000000000:execution:Node:run-1-WEB01';
const at = new Date('2026-01-13T22:05:00.000Z');
const entered = (name: string, input: unknown) => ({
  type: 'TaskStateEntered',
  timestamp: at,
  stateEnteredEventDetails: { name, input: JSON.stringify(input) },
});

describe('stepOfState', () => {
  it('names the step of every state of the synthesized node workflow', () => {
    const states = Object.keys(synthesize().node.definition.States);
    expect(states.length).toBeGreaterThan(100);
    expect(states.filter((s) => stepOfState(s) === undefined)).toEqual([]);
  });

  it.each([
    ['Preflight', 'preflight'],
    ['PlanNode', 'planning'],
    ['Inventory', 'inventory'],
    ['HotpatchEligibility', 'hotpatchEligibility'],
    ['PreUpdateScript', 'preUpdateScript'],
    ['Drain', 'draining'],
    ['RemoveUpdates', 'removing'],
    ['InstallHotfixes', 'installing'],
    ['InstallWindowsUpdates', 'installing'],
    ['InterpretHotfixes', 'installing'],
    ['RestartFinal', 'restarting'],
    ['DrainBeforeRestartAfterPlugin', 'restarting'],
    ['Verify', 'verifying'],
    ['Resume', 'resuming'],
    ['PostUpdateScript', 'postUpdateScript'],
    ['RecordNodeSucceeded', 'recording'],
    ['Failure_DrainFailed', 'failing'],
    ['ResumeAfterFailure', 'failing'],
  ])('%s is %s', (state, step) => {
    expect(stepOfState(state)).toBe(step);
  });

  it('an unknown state has no step', () => {
    expect(stepOfState('SomethingNew')).toBeUndefined();
  });
});

describe('progressOf (newest events first)', () => {
  it('mid-install: the step, the plug-in i of n, the updates planned and the restarts', () => {
    const progress = progressOf('run-1', 'WEB01', ARN, [
      entered('InstallHotfixes', {
        plugins: [{ name: 'Microsoft.HotfixPlugin' }, { name: 'Microsoft.WindowsUpdatePlugin' }],
        plan: { hotfix: { updates: [{}, {}, {}] } },
        state: { restarts: 1 },
      }),
      entered('FirstHotfixAttempt', {}),
    ]);
    expect(progress).toEqual({
      rolloutId: 'run-1',
      node: 'WEB01',
      executionArn: ARN,
      status: 'Running',
      state: 'InstallHotfixes',
      enteredAt: '2026-01-13T22:05:00.000Z',
      step: 'installing',
      plugin: { index: 1, count: 2, name: 'Microsoft.HotfixPlugin' },
      updatesPlanned: 3,
      restarts: 1,
      summary:
        'installing (plug-in 1 of 2, Microsoft.HotfixPlugin; 3 hotfix updates planned; 1 restart so far)',
    } satisfies NodeProgress);
  });

  it('the second plug-in is 2 of 2, named by its state; a plug-in the list lacks is no plug-in', () => {
    const plugins = [{ name: 'Microsoft.HotfixPlugin' }, { name: 'Microsoft.WindowsUpdatePlugin' }];
    const second = progressOf('run-1', 'WEB01', ARN, [
      entered('InstallWindowsUpdates', { plugins }),
    ]);
    expect(second.plugin).toEqual({ index: 2, count: 2, name: 'Microsoft.WindowsUpdatePlugin' });
    const missing = progressOf('run-1', 'WEB01', ARN, [
      entered('InstallWindowsUpdates', { plugins: [{ name: 'Microsoft.HotfixPlugin' }] }),
    ]);
    expect(missing.plugin).toBeNull();
  });

  it('outside the plug-ins there is no plug-in; an ended execution says how it ended', () => {
    const draining = progressOf('run-1', 'WEB01', ARN, [
      entered('Drain', { plugins: [{ name: 'Microsoft.HotfixPlugin' }], plan: { hotfix: null } }),
    ]);
    expect(draining.plugin).toBeNull();
    expect(draining.updatesPlanned).toBeNull();
    expect(draining.summary).toBe('draining');
    const done = progressOf('run-1', 'WEB01', ARN, [
      { type: 'ExecutionFailed', timestamp: at },
      entered('Failure_DrainFailed', {}),
    ]);
    expect([done.status, done.step, done.summary]).toEqual(['Failed', 'failing', 'ended Failed']);
  });

  it('no state yet, or an input that is not JSON, gives what is known', () => {
    expect(progressOf('run-1', 'WEB01', ARN, []).summary).toBe('starting');
    const odd = progressOf('run-1', 'WEB01', ARN, [
      {
        type: 'PassStateEntered',
        timestamp: at,
        stateEnteredEventDetails: { name: 'Init', input: '{' },
      },
    ]);
    expect([odd.step, odd.restarts, odd.summary]).toEqual(['preflight', null, 'preflight']);
  });
});

describe('GET /rollouts/{id}/nodes/{node}/progress in the sandbox', () => {
  it('shows a node mid-install while the run store has not recorded it yet', async () => {
    const scenario = await loadScenario(
      new URL('../../examples/scenarios/update-selection.json', import.meta.url).pathname,
    );
    const result = await runScenario(scenario, { runRollouts: false });
    const api = result.sandbox.api();
    const get = async (path: string) => {
      const res = await api({
        httpMethod: 'GET',
        path,
        headers: {},
        queryStringParameters: null,
        body: null,
        requestContext: {
          requestId: 't',
          identity: { userArn: 'arn:aws:iam::000000000000:user/op' },
        },
      });
      return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> };
    };
    try {
      const input = JSON.parse(JSON.stringify(scenario.runs[0]?.rollout)) as Record<
        string,
        unknown
      >;
      const started = await api({
        httpMethod: 'POST',
        path: '/rollouts',
        headers: { 'Content-Type': 'application/json' },
        queryStringParameters: null,
        body: JSON.stringify(input),
        requestContext: {
          requestId: 't',
          identity: { userArn: 'arn:aws:iam::000000000000:user/op' },
        },
      });
      const { rolloutId } = JSON.parse(started.body) as { rolloutId: string };
      // Before the node's execution exists: 404 naming the node.
      const early = await get(`/rollouts/${rolloutId}/nodes/WEB01/progress`);
      expect(early.status).toBe(404);
      expect(early.body).toMatchObject({ error: { code: 'NotFound', field: 'node' } });

      // Act: run virtual time until WEB01 is installing.
      const seen: string[] = [];
      let installing: Record<string, unknown> | undefined;
      for (let i = 0; i < 400 && installing === undefined; i++) {
        await result.sandbox.advance(15_000);
        const progress = await get(`/rollouts/${rolloutId}/nodes/WEB01/progress`);
        if (progress.status !== 200) continue;
        seen.push(String(progress.body.step));
        if (progress.body.step === 'installing' && progress.body.plugin !== null) {
          installing = progress.body;
        }
      }

      // Assert: mid-install, with the plug-in i of n; the run store has no end for WEB01 yet.
      expect(installing).toMatchObject({
        status: 'Running',
        step: 'installing',
        plugin: { count: 2 },
      });
      expect(String(installing?.summary)).toMatch(/^installing \(plug-in [12] of 2/);
      const status = await get(`/rollouts/${rolloutId}`);
      const web01 = (status.body.nodes as { name: string; status: string }[]).find(
        (n) => n.name === 'WEB01',
      );
      expect(web01?.status).toBe('Pending');
      // Steps seen in order, inventory before installing.
      expect(seen).toContain('inventory');
      expect(seen.indexOf('inventory')).toBeLessThan(seen.indexOf('installing'));

      // After the run: the execution ended.
      await result.sandbox.settle();
      const after = await get(`/rollouts/${rolloutId}/nodes/WEB01/progress`);
      expect(after.body).toMatchObject({ status: 'Succeeded', summary: 'ended Succeeded' });
    } finally {
      await result.sandbox.stop();
    }
  });
});
