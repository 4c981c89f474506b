/**
 * The change-management API under concurrency (issue 15): the real API handler, dynalite and
 * the sandbox's Step Functions. One run per target is claimed atomically when the API accepts
 * it; replays tell the truth; replies say what will happen.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { requestHash, rolloutIdempotencyKey } from '../../lambdas/core/api-model.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';
import { apiCaller } from '../helpers/api-event.js';
import { checkBeforeStop, invariantViolations } from './invariants-of-api-runs.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/change-management.json', import.meta.url),
);
const HOUR = 3600_000;

async function start() {
  const scenario = await loadScenario(SCENARIO);
  const result = await runScenario(scenario, { runRollouts: false });
  last = checkBeforeStop(result);
  const { sandbox, fleet } = result;
  const api = sandbox.api();
  const call = apiCaller(api, 'arn:aws:iam::0:user/cm');
  const input = JSON.parse(JSON.stringify(scenario.runs[0]?.rollout)) as Record<string, unknown>;
  const { changeTicket: _ticket, ...withoutTicket } = input;
  return { sandbox, fleet, call, input: withoutTicket };
}

const counts = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((all, s) => {
    all[s] = (all[s] ?? 0) + 1;
    return all;
  }, {});

/** The sandbox of the running test: each rollout it ran is checked against the invariants. */
let last: ScenarioResult | undefined;
afterEach(async () => {
  const result = last;
  last = undefined;
  if (result) expect(await invariantViolations(result)).toEqual([]);
});

describe('the API under concurrency (issue 15)', () => {
  it('20 concurrent rollouts of one cluster, different keys: exactly one 202, 19 × 409, one execution', async () => {
    // Arrange
    const env = await start();

    // Act
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': `change-${i}` }),
      ),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const executionsAtOnce = env.sandbox.executionStatus(String(accepted[0]?.body.executionArn));
    await env.sandbox.settle();
    const ran = env.sandbox.executions.filter((e) => e.executionArn.includes(':execution:'));

    // Assert
    expect(counts(answers.map((a) => a.status))).toEqual({ 202: 1, 409: 19 });
    for (const refused of answers.filter((a) => a.status === 409)) {
      expect(refused.body).toMatchObject({
        error: {
          code: 'TargetBusy',
          field: 'target.name',
          details: { activeRolloutId: accepted[0]?.body.rolloutId },
        },
      });
    }
    expect(executionsAtOnce).toBe('RUNNING');
    const rollouts = ran.filter((e) => !e.name.includes('-NODE'));
    expect(rollouts.map((e) => e.name)).toEqual([accepted[0]?.body.rolloutId]);
    expect(rollouts[0]?.status).toBe('SUCCEEDED');
    expect(await env.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await env.sandbox.stop();
  });

  it('a refused key is given back: its retry after the first rollout ended is accepted and runs', async () => {
    // Arrange
    const env = await start();
    const first = await env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': 'a' });
    const refused = await env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': 'b' });
    await env.sandbox.settle();

    // Act
    const retried = await env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': 'b' });
    await env.sandbox.settle();

    // Assert
    expect(first.status).toBe(202);
    expect(refused.status).toBe(409);
    expect(retried.status).toBe(202);
    expect(retried.body.rolloutId).not.toBe(first.body.rolloutId);
    expect((await env.sandbox.store.getRun(String(retried.body.rolloutId)))?.status).toBe(
      'Succeeded',
    );
    await env.sandbox.stop();
  });

  it('50 concurrent identical requests (one key): 50 × 202, one rollout id, one execution', async () => {
    // Arrange
    const env = await start();

    // Act
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        env.call('POST', '/rollouts', env.input, { 'Idempotency-Key': 'same-change' }),
      ),
    );
    await env.sandbox.settle();

    // Assert
    expect(counts(answers.map((a) => a.status))).toEqual({ 202: 50 });
    const ids = new Set(answers.map((a) => a.body.rolloutId));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(env.sandbox.executions.filter((e) => e.name === id)).toHaveLength(1);
    expect((await env.sandbox.store.getRun(String(id)))?.status).toBe('Succeeded');
    await env.sandbox.stop();
  });

  it('a replay of a rollout that failed before it was recorded answers Failed with the reason, and its report exists', async () => {
    // Arrange: the state the old API left (issue 15): a key whose execution was started while a
    // console run held the target, and failed TargetLocked before recording its run.
    const env = await start();
    env.sandbox.startRollout({ ...env.input, runId: 'console-run' }, 'console-run');
    await env.sandbox.advance(1000);
    const now = env.sandbox.clock.now();
    const key = rolloutIdempotencyKey('chg-replayed', null) as string;
    await env.sandbox.store.claimIdempotencyKey(
      {
        key,
        requestHash: requestHash('startRollout', env.input),
        runId: 'lost-run',
        createdAt: now.toISOString(),
        expiresAt: Math.floor(now.getTime() / 1000) + 3600,
      },
      now,
    );
    const lost = env.sandbox.startRollout({ ...env.input, runId: 'lost-run' }, 'lost-run');
    await env.sandbox.advance(1000);
    const ended = await lost.done;
    await env.sandbox.store.recordIdempotentStart(key, ended.executionArn);

    // Act
    const replay = await env.call('POST', '/rollouts', env.input, {
      'Idempotency-Key': 'chg-replayed',
    });
    const report = await env.call('GET', '/rollouts/lost-run/report');
    const again = await env.call('POST', '/rollouts', env.input, {
      'Idempotency-Key': 'chg-replayed',
    });
    await env.sandbox.settle();

    // Assert
    expect(ended).toMatchObject({ status: 'FAILED', error: 'TargetLocked' });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ rolloutId: 'lost-run', status: 'Failed' });
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ runId: 'lost-run', status: 'Failed' });
    expect(String(report.body.reason)).toContain('TargetLocked');
    expect(again.body.status).toBe('Failed');
    await env.sandbox.stop();
  });

  it('a replay whose first request started the execution but did not note it finds that execution, finished, by its input', async () => {
    // Arrange: the key is claimed and its execution ran to its end, but the start was never
    // noted on the key (the API failed right after StartExecution).
    const env = await start();
    const now = env.sandbox.clock.now();
    const key = rolloutIdempotencyKey('chg-unnoted', null) as string;
    await env.sandbox.store.claimIdempotencyKey(
      {
        key,
        requestHash: requestHash('startRollout', env.input),
        runId: 'unnoted-run',
        createdAt: now.toISOString(),
        expiresAt: Math.floor(now.getTime() / 1000) + 24 * 3600,
      },
      now,
    );
    env.sandbox.startRollout({ ...env.input, runId: 'unnoted-run' }, 'unnoted-run');
    await env.sandbox.settle();

    // Act
    const replay = await env.call('POST', '/rollouts', env.input, {
      'Idempotency-Key': 'chg-unnoted',
    });
    await env.sandbox.settle();

    // Assert: the same rollout, its real status, and no second execution.
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ rolloutId: 'unnoted-run', status: 'Succeeded' });
    expect(env.sandbox.executions.filter((e) => e.name === 'unnoted-run')).toHaveLength(1);
    expect(await env.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await env.sandbox.stop();
  });

  it('approve and cancel fired together: the approver is told the run is being cancelled, and it ends Cancelled', async () => {
    // Arrange: the pilot node done, the rollout waits at its gate.
    const env = await start();
    const started = await env.call('POST', '/rollouts', {
      ...env.input,
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    });
    const id = String(started.body.rolloutId);
    await env.sandbox.advance(3 * HOUR);

    // Act
    const [cancel, approve] = await Promise.all([
      env.call('POST', `/rollouts/${id}/cancel`, { reason: 'window withdrawn' }),
      env.call('POST', `/rollouts/${id}/approve`, { comment: 'go' }),
    ]);
    await env.sandbox.settle();
    const run = await env.sandbox.store.getRun(id);

    // Assert
    expect(cancel.status).toBe(202);
    expect(run?.status).toBe('Cancelled');
    if (approve.status === 202) {
      expect(approve.body).toMatchObject({ decision: 'approved', cancelRequested: true });
      expect(String(approve.body.message)).toContain('ends Cancelled');
    } else {
      expect(approve.status).toBe(409);
    }
    for (const name of ['NODE1', 'NODE2', 'NODE3'])
      expect(env.fleet.node(name).nodeState).toBe('Up');
    expect(env.fleet.node('NODE2').commands).toEqual([]);
    expect(await env.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await env.sandbox.stop();
  });
});
