/**
 * End to end for the ways in (issue 5): rollouts started through the change-management API
 * handler run in the sandbox; status and report reflect them; duplicates return the same id; a
 * busy cluster gets 409; cancel leaves no node drained; approval gates hold and release; a
 * scheduled trigger runs with StopAfter from its window; lifecycle events carry the ticket.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_TYPES } from '../../lambdas/core/contracts.js';
import type { Sandbox } from '../../sandbox/engine.js';
import type { SimulatedFleet } from '../../sandbox/fleet.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { loadScenario, type Scenario } from '../../sandbox/scenario.js';
import { checkBeforeStop, invariantViolations } from './invariants-of-api-runs.js';

const SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/change-management.json', import.meta.url),
);

interface Env {
  readonly sandbox: Sandbox;
  readonly fleet: SimulatedFleet;
  readonly scenario: Scenario;
  readonly call: (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => Promise<{ status: number; body: unknown; headers: Record<string, unknown> }>;
  readonly input: Record<string, unknown>;
}

async function start(): Promise<Env> {
  const scenario = await loadScenario(SCENARIO);
  const result = await runScenario(scenario, { runRollouts: false });
  last = checkBeforeStop(result);
  const api = result.sandbox.api();
  const call: Env['call'] = async (method, path, body, headers = {}) => {
    const [pathOnly, query] = path.split('?');
    const res = await api({
      httpMethod: method,
      path: pathOnly,
      headers: { 'Content-Type': 'application/json', ...headers },
      queryStringParameters: query ? Object.fromEntries(new URLSearchParams(query)) : null,
      body: body === undefined ? null : JSON.stringify(body),
      requestContext: {
        requestId: 'test',
        identity: { userArn: 'arn:aws:iam::000000000000:user/change-manager' },
      },
    });
    let parsed: unknown = res.body;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      // CSV and other text bodies stay text.
    }
    return { status: res.statusCode, body: parsed, headers: res.headers ?? {} };
  };
  const input = JSON.parse(JSON.stringify(scenario.runs[0]?.rollout)) as Record<string, unknown>;
  return { sandbox: result.sandbox, fleet: result.fleet, scenario, call, input };
}

const statusOf = (body: unknown) =>
  body as { rolloutId: string; status: string; nodes?: { node: string; status: string }[] };

/** The sandbox of the running test: each rollout it ran is checked against the invariants. */
let last: ScenarioResult | undefined;
afterEach(async () => {
  const result = last;
  last = undefined;
  if (result) expect(await invariantViolations(result)).toEqual([]);
});

describe('change management through the API, in the sandbox', () => {
  it('a rollout started through the API runs; status and report reflect it; events carry the ticket in order', async () => {
    const env = await start();
    // Act
    const started = await env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': 'chg-1' });
    expect(started.status).toBe(202);
    const { rolloutId } = statusOf(started.body);
    await env.sandbox.settle();
    const status = await env.call('GET', `/rollouts/${rolloutId}`);
    const report = await env.call('GET', `/rollouts/${rolloutId}/report`);
    const csv = await env.call('GET', `/rollouts/${rolloutId}/report`, undefined, {
      Accept: 'text/csv',
    });
    // Assert
    expect(status.status).toBe(200);
    expect(JSON.stringify(status.body)).toContain('Succeeded');
    expect(report.status).toBe(200);
    expect(JSON.stringify(report.body)).toMatch(/Success_RebootRequired/);
    expect(String(csv.body)).toMatch(/NODE1.*Success_RebootRequired/);
    const events = env.sandbox.events.received;
    const types = events.map((e) => e.detailType);
    expect(types[0]).toBe(LIFECYCLE_EVENT_TYPES.rolloutStarted);
    expect(types.filter((t) => t === LIFECYCLE_EVENT_TYPES.nodeUpdated)).toHaveLength(3);
    expect(types.at(-1)).toBe(LIFECYCLE_EVENT_TYPES.rolloutSucceeded);
    const details = events.map(
      (e) =>
        e.detail as { changeTicket: { id: string } | null; sequence: number; rolloutId: string },
    );
    expect(
      details.every((d) => d.changeTicket?.id === 'CHG0031337' && d.rolloutId === rolloutId),
    ).toBe(true);
    const sequences = details.map((d) => d.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(sequences.length);
    await env.sandbox.stop();
  });

  it('a duplicate request returns the same rollout, and a second rollout on the cluster gets 409', async () => {
    const env = await start();
    const first = await env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': 'chg-2' });
    const again = await env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': 'chg-2' });
    await env.sandbox.advance(60_000);
    const other = await env.call(
      'POST',
      '/rollouts',
      { ...env.input, changeTicket: { system: 'ServiceNow', id: 'CHG0099999' } },
      { 'Idempotency-Key': 'chg-3' },
    );
    // Assert
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(statusOf(again.body).rolloutId).toBe(statusOf(first.body).rolloutId);
    expect(other.status).toBe(409);
    expect(JSON.stringify(other.body)).toContain(statusOf(first.body).rolloutId);
    await env.sandbox.settle();
    expect(
      env.sandbox.executions.filter((e) => e.name === statusOf(first.body).rolloutId),
    ).toHaveLength(1);
    await env.sandbox.stop();
  });

  it('cancel stops after the current node and leaves no node drained', async () => {
    const env = await start();
    const started = await env.call('POST', '/rollouts', env.input);
    const { rolloutId } = statusOf(started.body);
    // NODE1 is drained and mid-update 25 minutes in.
    await env.sandbox.advance(25 * 60_000);
    expect(env.fleet.node('NODE1').drainedCount).toBe(1);
    expect(env.fleet.node('NODE1').nodeState).not.toBe('Up');
    const cancel = await env.call('POST', `/rollouts/${rolloutId}/cancel`, {
      reason: 'change window withdrawn',
    });
    await env.sandbox.settle();
    // Assert
    expect(cancel.status).toBe(202);
    const run = await env.sandbox.store.getRun(rolloutId);
    expect(run?.status).toBe('Cancelled');
    for (const name of ['NODE1', 'NODE2', 'NODE3'])
      expect(env.fleet.node(name).nodeState).toBe('Up');
    expect(env.fleet.node('NODE1').installedUpdates).toContain('KB5034439');
    expect(env.fleet.node('NODE2').commands).toEqual([]);
    expect(env.sandbox.events.received.at(-1)?.detailType).toBe(
      LIFECYCLE_EVENT_TYPES.rolloutCancelled,
    );
    expect(await env.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await env.sandbox.stop();
  });

  it('an approval gate holds after the pilot node and releases on approve', async () => {
    const env = await start();
    const started = await env.call('POST', '/rollouts', {
      ...env.input,
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    });
    const { rolloutId } = statusOf(started.body);
    await env.sandbox.advance(3 * 3600_000);
    // Held: the pilot is done, the rest have not been touched.
    expect(env.fleet.node('NODE1').installedUpdates).toContain('KB5034439');
    expect(env.fleet.node('NODE2').commands).toEqual([]);
    expect(env.sandbox.events.received.map((e) => e.detailType)).toContain(
      LIFECYCLE_EVENT_TYPES.approvalRequired,
    );
    const approve = await env.call('POST', `/rollouts/${rolloutId}/approve`, {
      comment: 'pilot looks good',
    });
    await env.sandbox.settle();
    // Assert
    expect(approve.status).toBe(202);
    expect((await env.sandbox.store.getRun(rolloutId))?.status).toBe('Succeeded');
    expect(env.fleet.node('NODE3').installedUpdates).toContain('KB5034439');
    await env.sandbox.stop();
  });

  it('a rejected approval ends the run Cancelled with the rest untouched', async () => {
    const env = await start();
    const started = await env.call('POST', '/rollouts', {
      ...env.input,
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    });
    const { rolloutId } = statusOf(started.body);
    await env.sandbox.advance(3 * 3600_000);
    const reject = await env.call('POST', `/rollouts/${rolloutId}/reject`, {
      comment: 'pilot broke the app',
    });
    await env.sandbox.settle();
    expect(reject.status).toBe(202);
    expect((await env.sandbox.store.getRun(rolloutId))?.status).toBe('Cancelled');
    expect(env.fleet.node('NODE2').commands).toEqual([]);
    expect(env.fleet.node('NODE3').commands).toEqual([]);
    expect(await env.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await env.sandbox.stop();
  });

  it('a scheduled trigger runs with StopAfter from its window; an off-week trigger touches nothing', async () => {
    const env = await start();
    const definition = {
      startDate: '2026-01-01',
      daysOfWeek: ['Tuesday'],
      intervalWeeks: 2,
      time: '22:00',
      timeZone: 'UTC',
      windowMinutes: 45,
    };
    const trigger = (scheduledTime: string) => ({
      ...env.input,
      changeTicket: undefined,
      schedule: {
        name: 'biweekly',
        expression: 'cron(0 22 ? * TUE *)',
        scheduledTime,
        definition,
        guard: { kind: 'intervalWeeks', every: 2, anchorWeekStart: '2025-12-28' },
      },
    });
    // 2026-01-13 is a Tuesday in the cycle (weeks from 2025-12-28: 2); the sandbox starts then.
    const onWeek = await env.sandbox.runRollout(trigger('2026-01-13T22:00:00Z'), 'scheduled-on');
    const offWeek = await env.sandbox.runRollout(trigger('2026-01-20T22:00:00Z'), 'scheduled-off');
    // Assert
    expect(onWeek.status).toBe('SUCCEEDED');
    const run = await env.sandbox.store.getRun('scheduled-on');
    expect(run?.stopAt).toBe('2026-01-13T22:45:00.000Z');
    // 45 minutes for three nodes of about 27 minutes: the window closes before the last node.
    expect(run?.status).toBe('Stopped');
    expect(offWeek.status).toBe('SUCCEEDED');
    expect(offWeek.output).toMatchObject({ reason: 'notAnOccurrence' });
    expect(await env.sandbox.store.getRun('scheduled-off')).toBeUndefined();
    await env.sandbox.stop();
  });
});
