/**
 * The target lock end to end (issue 8, point 4): the synthesized rollout workflow, the real
 * handlers, dynalite and the sandbox's Step Functions. A run waiting at an approval gate for
 * days, far past the 6-hour lease, keeps its lock; a second run, through the API or started
 * directly (console, schedule), is refused; the lock is released when the first run ends.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_TYPES } from '../../lambdas/core/contracts.js';
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
  const call = apiCaller(api, 'arn:aws:iam::000000000000:user/change-manager');
  const input = JSON.parse(JSON.stringify(scenario.runs[0]?.rollout)) as Record<string, unknown>;
  return { sandbox, fleet, call, input };
}

/** The sandbox of the running test: each rollout it ran is checked against the invariants. */
let last: ScenarioResult | undefined;
afterEach(async () => {
  const result = last;
  last = undefined;
  if (result) expect(await invariantViolations(result)).toEqual([]);
});

describe('the target lock in the sandbox', () => {
  it('a run waiting at a gate for two days keeps its lock; a second run is refused; approve ends it and frees the lock', async () => {
    // Arrange: the pilot node, then a gate of up to three days.
    const env = await start();
    const first = await env.call('POST', '/rollouts', {
      ...env.input,
      approvalGate: { afterNodes: 1, timeoutMinutes: 3 * 24 * 60 },
    });
    const firstId = String(first.body.rolloutId);
    const firstArn = String(first.body.executionArn);

    // Act: two days at the gate, eight times the 6-hour lease.
    await env.sandbox.advance(48 * HOUR);
    const lockAtGate = await env.sandbox.store.getLock('CLUSTER1');
    const viaApi = await env.call('POST', '/rollouts', {
      ...env.input,
      changeTicket: { system: 'ServiceNow', id: 'CHG0000002' },
    });
    const direct = env.sandbox.startRollout({ ...env.input, runId: 'console-run' }, 'console-run');
    await env.sandbox.advance(60_000);
    const refused = await direct.done;
    const lockAfterRefusal = await env.sandbox.store.getLock('CLUSTER1');
    const approve = await env.call('POST', `/rollouts/${firstId}/approve`, { comment: 'ok' });
    await env.sandbox.settle();

    // Assert
    expect(first.status).toBe(202);
    expect(lockAtGate).toMatchObject({ holder: firstId, execution: firstArn });
    expect(Date.parse(String(lockAtGate?.leaseExpiresAt))).toBeLessThan(
      env.sandbox.clock.now().getTime() - 24 * HOUR,
    );
    expect(viaApi.status).toBe(409);
    expect(JSON.stringify(viaApi.body)).toContain(firstArn);
    expect(refused.status).toBe('FAILED');
    expect(refused.error).toBe('TargetLocked');
    expect(refused.cause).toContain(firstId);
    expect(lockAfterRefusal).toMatchObject({ holder: firstId, execution: firstArn });
    // The refused run touched no node: only the pilot had commands before the approval.
    expect(env.fleet.node('NODE2').drainedCount).toBe(1);
    expect(approve.status).toBe(202);
    expect((await env.sandbox.store.getRun(firstId))?.status).toBe('Succeeded');
    for (const name of ['NODE1', 'NODE2', 'NODE3']) {
      expect(env.fleet.node(name).nodeState).toBe('Up');
      expect(env.fleet.node(name).drainedCount).toBe(1);
    }
    expect(await env.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await env.sandbox.stop();
  });

  it('a lock left by an execution that has ended is taken over at once by the next run', async () => {
    // Arrange: a lock naming a finished execution (its run died without its release).
    const env = await start();
    const done = env.sandbox.startRollout(
      { ...env.input, target: { kind: 'cluster', name: 'NOPE' } },
      'ended-run',
    );
    await env.sandbox.advance(60_000);
    const ended = await done.done;
    await env.sandbox.store.acquireLock(
      'CLUSTER1',
      'ended-run',
      6 * 3600,
      env.sandbox.clock.now(),
      ended.executionArn,
    );

    // Act
    const next = await env.call('POST', '/rollouts', env.input);
    await env.sandbox.settle();

    // Assert
    expect(ended.status).toBe('FAILED');
    expect(next.status).toBe(202);
    expect((await env.sandbox.store.getRun(String(next.body.rolloutId)))?.status).toBe('Succeeded');
    expect(await env.sandbox.store.getLock('CLUSTER1')).toBeUndefined();
    await env.sandbox.stop();
  });

  it('ForceRecovery never breaks the lock of a live rollout: 409 naming its execution', async () => {
    // Arrange: a rollout waiting at its gate.
    const env = await start();
    const first = await env.call('POST', '/rollouts', {
      ...env.input,
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    });
    await env.sandbox.advance(3 * HOUR);

    // Act
    const refused = await env.call('POST', '/targets/CLUSTER1/force-recovery', {
      reason: 'looks stuck',
    });
    const lock = await env.sandbox.store.getLock('CLUSTER1');
    await env.call('POST', `/rollouts/${String(first.body.rolloutId)}/reject`, {});
    await env.sandbox.settle();

    // Assert
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      error: {
        code: 'RolloutStillRunning',
        field: 'id',
        details: {
          activeRolloutId: first.body.rolloutId,
          activeExecutionArn: first.body.executionArn,
          executionStatus: 'RUNNING',
        },
      },
    });
    expect(lock?.holder).toBe(first.body.rolloutId);
    expect(env.sandbox.events.received.map((e) => e.detailType)).not.toContain(
      LIFECYCLE_EVENT_TYPES.lockForceRecovered,
    );
    await env.sandbox.stop();
  });

  it('ForceRecovery breaks the lock of a run whose execution ended, records who and why, publishes the event; a new rollout then runs', async () => {
    // Arrange: an execution that has ended, its run still recorded Running, its lock left behind.
    const env = await start();
    const dead = env.sandbox.startRollout({ target: { kind: 'cluster', name: 'X' } }, 'dead-run');
    await env.sandbox.advance(60_000);
    const ended = await dead.done;
    await env.sandbox.store.putRun({
      runId: 'dead-run',
      target: 'CLUSTER1',
      targetKind: 'cluster',
      nodes: ['NODE1', 'NODE2', 'NODE3'],
      maxFailedNodes: 0,
      status: 'Running',
      startedAt: env.sandbox.clock.now().toISOString(),
      execution: ended.executionArn,
    });
    await env.sandbox.store.acquireLock(
      'CLUSTER1',
      'dead-run',
      6 * 3600,
      env.sandbox.clock.now(),
      ended.executionArn,
    );

    // Act
    const missingReason = await env.call('POST', '/targets/CLUSTER1/force-recovery', {});
    const recovered = await env.call('POST', '/targets/CLUSTER1/force-recovery', {
      reason: 'execution stopped by hand during the incident',
    });
    const again = await env.call('POST', '/targets/CLUSTER1/force-recovery', {
      reason: 'twice',
    });
    const run = await env.sandbox.store.getRun('dead-run');
    const next = await env.call('POST', '/rollouts', env.input);
    await env.sandbox.settle();

    // Assert
    expect(missingReason.status).toBe(400);
    expect(JSON.stringify(missingReason.body)).toContain('reason');
    expect(recovered.status).toBe(200);
    expect(recovered.body).toMatchObject({
      target: 'CLUSTER1',
      recovered: true,
      rolloutId: 'dead-run',
      executionArn: ended.executionArn,
      executionStatus: 'FAILED',
      recoveredBy: 'arn:aws:iam::000000000000:user/change-manager',
      reason: 'execution stopped by hand during the incident',
      runMarkedFailed: true,
    });
    expect(again.status).toBe(404);
    expect(run).toMatchObject({
      status: 'Failed',
      failureReason: expect.stringContaining('ForceRecovery'),
      forceRecovery: {
        recoveredBy: 'arn:aws:iam::000000000000:user/change-manager',
        reason: 'execution stopped by hand during the incident',
        executionStatus: 'FAILED',
        execution: ended.executionArn,
      },
    });
    const event = env.sandbox.events.received.find(
      (e) => e.detailType === LIFECYCLE_EVENT_TYPES.lockForceRecovered,
    );
    expect(event?.detail).toMatchObject({
      rolloutId: 'dead-run',
      reason: 'execution stopped by hand during the incident',
      executionStatus: 'FAILED',
      target: { kind: 'cluster', name: 'CLUSTER1' },
    });
    // The run it marked Failed has ended: its Rollout Failed comes after the recovery's event.
    const ofDeadRun = env.sandbox.events.received
      .filter((e) => (e.detail as { rolloutId?: string }).rolloutId === 'dead-run')
      .map((e) => e.detailType);
    expect(ofDeadRun).toEqual([
      LIFECYCLE_EVENT_TYPES.lockForceRecovered,
      LIFECYCLE_EVENT_TYPES.rolloutFailed,
    ]);
    expect(next.status).toBe(202);
    expect((await env.sandbox.store.getRun(String(next.body.rolloutId)))?.status).toBe('Succeeded');
    await env.sandbox.stop();
  });

  it('a rollout stopped at its gate (StopExecution) has its lock released by the status-change rule, and is recorded Failed', async () => {
    // Arrange
    const env = await start();
    const first = await env.call('POST', '/rollouts', {
      ...env.input,
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    });
    const firstId = String(first.body.rolloutId);
    await env.sandbox.advance(3 * HOUR);
    const before = await env.sandbox.store.getLock('CLUSTER1');

    // Act: stopped where no state of its own can release the lock.
    const stopped = env.sandbox.stopRollout(String(first.body.executionArn));
    await env.sandbox.advance(60_000);
    const after = await env.sandbox.store.getLock('CLUSTER1');
    const run = await env.sandbox.store.getRun(firstId);
    const next = await env.call('POST', '/rollouts', {
      ...env.input,
      changeTicket: { system: 'ServiceNow', id: 'CHG0000003' },
    });
    await env.sandbox.settle();

    // Assert
    expect(before?.holder).toBe(firstId);
    expect(stopped).toBe(true);
    expect(env.sandbox.executionStatus(String(first.body.executionArn))).toBe('ABORTED');
    expect(env.sandbox.statusEventsDelivered).toBe(1);
    expect(after).toBeUndefined();
    expect(run).toMatchObject({
      status: 'Failed',
      failureReason: expect.stringContaining('ABORTED'),
    });
    expect(next.status).toBe(202);
    expect((await env.sandbox.store.getRun(String(next.body.rolloutId)))?.status).toBe('Succeeded');
    await env.sandbox.stop();
  });
});
