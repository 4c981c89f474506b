/**
 * preflight: the lock check, and WarnAfter left to run-history's once-per-run notice.
 */
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makePreflightHandler } from '../../lambdas/handlers/preflight.js';
import { metrics } from '../../lambdas/shared/metrics.js';
import { LockLostError, type RunStore } from '../../lambdas/shared/run-store.js';

const ssm = mockClient(SSMClient);
const NOW = new Date('2026-01-13T22:00:00.000Z');

const event = (deadlines: Record<string, string> = {}) => ({
  runId: 'run-1',
  target: { kind: 'cluster', name: 'CLUSTER1' },
  node: { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
  policy: { rebootTimeoutMinutes: 15 },
  deadlines,
  leaseSeconds: 3600,
});

function store(renewLock: RunStore['renewLock']): Pick<RunStore, 'renewLock' | 'getRun'> {
  return { renewLock, getRun: async () => undefined };
}

/** The node is Online in SSM and run-1 holds CLUSTER1: what a policy's limits are judged on. */
function onlineHolderHandler() {
  ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
  return makePreflightHandler({
    ssm: new SSMClient({ region: 'us-east-1' }),
    store: store((async () => ({
      target: 'CLUSTER1',
      holder: 'run-1',
      leaseExpiresAt: '2026-01-13T23:00:00.000Z',
    })) as never),
    now: () => NOW,
  });
}

/** The lock renewal answers nothing: for the tests of a policy the handler refuses. */
const unheldHandler = () =>
  makePreflightHandler({
    ssm: new SSMClient({ region: 'us-east-1' }),
    store: store((async () => undefined) as never),
    now: () => NOW,
  });

afterEach(() => {
  ssm.reset();
  vi.restoreAllMocks();
});

describe('preflight', () => {
  it('past WarnAfter: says so to the workflow and counts no per-node metric (the notice is once per run)', async () => {
    // Arrange
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const renewLock = vi.fn(async () => ({
      target: 'CLUSTER1',
      holder: 'run-1',
      leaseExpiresAt: '2026-01-13T23:00:00.000Z',
    }));
    const handler = makePreflightHandler({
      ssm: new SSMClient({ region: 'us-east-1' }),
      store: store(renewLock as never),
      now: () => NOW,
    });
    // Act
    const result = await handler(event({ warnAt: '2026-01-13T21:00:00.000Z' }));
    // Assert
    expect(result).toMatchObject({ online: true, pastWarnAfter: true, pastStopAfter: false });
    expect(addMetric).not.toHaveBeenCalled();
    expect(renewLock).toHaveBeenCalledWith('CLUSTER1', 'run-1', 3600, NOW);
  });

  it('a run halted by a storage repair timeout starts no new node (issue 13 item 6)', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
    const lease = { target: 'CLUSTER1', holder: 'run-1', leaseExpiresAt: '2026-01-13T23:00:00Z' };
    const handler = (run: object | undefined) =>
      makePreflightHandler({
        ssm: new SSMClient({ region: 'us-east-1' }),
        store: { renewLock: async () => lease, getRun: async () => run } as never,
        now: () => NOW,
      })(event());
    const halted = await handler({
      runId: 'run-1',
      haltedBy: {
        error: 'StorageRepairTimedOut',
        node: 'NODE2',
        reason: 'storage repair did not finish in time on NODE2',
        at: '2026-01-13T21:40:00.000Z',
      },
    });
    expect(halted).toMatchObject({
      pastStopAfter: true,
      cancelled: false,
      notStartedReason:
        'StorageRepairTimedOut on NODE2 at 2026-01-13T21:40:00.000Z: no new node of the run starts after it',
    });
    // Without the halt the node starts.
    expect(await handler({ runId: 'run-1' })).toMatchObject({ pastStopAfter: false });
    expect((await handler({ runId: 'run-1' })).notStartedReason).toBeUndefined();
  });

  it('throws LockLost, touching nothing, when another run holds the target', async () => {
    // Arrange
    const handler = makePreflightHandler({
      ssm: new SSMClient({ region: 'us-east-1' }),
      store: store(async () => {
        throw new LockLostError('CLUSTER1', 'run-1', 'run-2');
      }),
      now: () => NOW,
    });
    // Act
    const failure = handler(event());
    // Assert
    await expect(failure).rejects.toBeInstanceOf(LockLostError);
    expect(ssm.commandCalls(DescribeInstanceInformationCommand)).toHaveLength(0);
  });
});

describe('preflight: the drain limit (SuspendClusterNodeTimeoutMinutes, issue 13 item 6)', () => {
  it.each([
    {
      source: 'the policy sets 10 minutes',
      policy: { suspendClusterNodeTimeoutMinutes: 10 },
      minutes: 10,
    },
    { source: 'absent: DRAIN_MINUTES, 30', policy: {}, minutes: 30 },
  ])('$source', async ({ policy, minutes }) => {
    // Arrange
    const handler = onlineHolderHandler();
    // Act
    const result = await handler({ ...event(), policy: { rebootTimeoutMinutes: 15, ...policy } });
    // Assert: the drain command's payload limit and the workflow's wait for it (plus delivery).
    expect(result.timeouts.drainMinutes).toBe(minutes);
    expect(result.timeouts.drainSeconds).toBe(minutes * 60 + 600);
  });
});

describe('preflight: the storage repair wait (WaitForStorageRepairTimeoutMinutes, issue 13 item 6)', () => {
  it.each([
    {
      source: 'the policy sets 45 minutes',
      policy: { waitForStorageRepairTimeoutMinutes: 45 },
      minutes: 45,
    },
    { source: 'absent: no wait', policy: {}, minutes: 0 },
  ])('$source', async ({ policy, minutes }) => {
    // Arrange
    const handler = onlineHolderHandler();
    // Act
    const result = await handler({ ...event(), policy: { rebootTimeoutMinutes: 15, ...policy } });
    // Assert: the resume's payload wait, and the workflow's wait for the resume command with it.
    expect(result.timeouts.storageRepairMinutes).toBe(minutes);
    // Plus the failback check's default 10 minutes (failbackMode Immediate by default).
    expect(result.timeouts.resumeSeconds).toBe(1800 + (minutes + 10) * 60);
  });

  it('refuses a wait outside 1 to 1440 naming the field', async () => {
    const handler = unheldHandler();
    await expect(
      handler({
        ...event(),
        policy: { rebootTimeoutMinutes: 15, waitForStorageRepairTimeoutMinutes: 0 },
      }),
    ).rejects.toThrow(/waitForStorageRepairTimeoutMinutes/);
  });
});

describe('preflight: the failback check after the resume (issue 13 item 6)', () => {
  it.each([
    { source: 'Immediate by default: 10 minutes', policy: {}, minutes: 10 },
    {
      source: 'Immediate with failbackTimeoutMinutes 25',
      policy: { failbackMode: 'Immediate', failbackTimeoutMinutes: 25 },
      minutes: 25,
    },
    {
      source: 'Policy: reported, not waited for',
      policy: { failbackMode: 'Policy', failbackTimeoutMinutes: 25 },
      minutes: 0,
    },
    {
      source: 'NoFailback: nothing to wait for',
      policy: { failbackMode: 'NoFailback' },
      minutes: 0,
    },
  ])('$source', async ({ policy, minutes }) => {
    // Arrange
    const handler = onlineHolderHandler();
    // Act
    const result = await handler({ ...event(), policy: { rebootTimeoutMinutes: 15, ...policy } });
    // Assert: the resume payload's wait, and the workflow's wait for the resume command with it.
    expect(result.timeouts.failbackMinutes).toBe(minutes);
    expect(result.timeouts.resumeSeconds).toBe(1800 + minutes * 60);
  });

  it('refuses a failback wait outside 1 to 1440 naming the field', async () => {
    const handler = unheldHandler();
    await expect(
      handler({ ...event(), policy: { rebootTimeoutMinutes: 15, failbackTimeoutMinutes: 0 } }),
    ).rejects.toThrow(/failbackTimeoutMinutes/);
  });
});
