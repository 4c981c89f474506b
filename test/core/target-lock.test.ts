import { describe, expect, it } from 'vitest';
import {
  ENDED_WITHOUT_RELEASE,
  type ExecutionStatus,
  holderIsAlive,
  type LockHolder,
} from '../../lambdas/core/target-lock.js';

const now = new Date('2026-12-04T12:00:00.000Z');
const leaseRunning = '2026-12-04T12:00:00.001Z';
const leaseEnded = '2026-12-04T11:59:59.999Z';
const execution = 'arn:aws:states:eu-west-1:000000000000:execution:rollout:run-1';

function statusIs(status: ExecutionStatus) {
  const asked: string[] = [];
  const lookup = async (arn: string) => {
    asked.push(arn);
    return status;
  };
  return { lookup, asked };
}

// README, "The target lock": a holder is alive while its execution runs (or may run again);
// while the execution cannot be seen, only until the lease ends; a lock without an execution
// lives by its lease alone.
describe('holderIsAlive', () => {
  it.each([
    { status: 'RUNNING', lease: leaseEnded, alive: true, source: 'runs: alive past its lease' },
    { status: 'PENDING_REDRIVE', lease: leaseEnded, alive: true, source: 'may run again' },
    { status: 'NOT_FOUND', lease: leaseRunning, alive: true, source: 'not seen yet, lease runs' },
    { status: 'NOT_FOUND', lease: leaseEnded, alive: false, source: 'never started, lease over' },
    { status: 'SUCCEEDED', lease: leaseRunning, alive: false, source: 'ended, lease ignored' },
    { status: 'FAILED', lease: leaseRunning, alive: false, source: 'ended without release' },
    { status: 'TIMED_OUT', lease: leaseRunning, alive: false, source: 'ended without release' },
    { status: 'ABORTED', lease: leaseRunning, alive: false, source: 'ended without release' },
  ] as const)(
    '$status with lease to $lease → alive $alive ($source)',
    async ({ status, lease, alive }) => {
      const { lookup, asked } = statusIs(status);
      const lock: LockHolder = { holder: 'run-1', leaseExpiresAt: lease, execution };
      expect(await holderIsAlive(lock, now, lookup)).toEqual({ alive, status });
      expect(asked).toEqual([execution]);
    },
  );

  it.each([
    { lease: leaseRunning, alive: true, source: 'the lease runs' },
    { lease: leaseEnded, alive: false, source: 'the lease is over' },
    { lease: now.toISOString(), alive: false, source: 'a lease ends at its instant' },
  ])(
    'without an execution: $source → alive $alive, Step Functions not asked',
    async ({ lease, alive }) => {
      const { lookup, asked } = statusIs('RUNNING');
      expect(await holderIsAlive({ holder: 'api', leaseExpiresAt: lease }, now, lookup)).toEqual({
        alive,
      });
      expect(asked).toEqual([]);
    },
  );

  it('treats an unreadable lease as over', async () => {
    const { lookup } = statusIs('NOT_FOUND');
    const lock = { holder: 'run-1', leaseExpiresAt: 'not a time', execution };
    expect(await holderIsAlive(lock, now, lookup)).toEqual({ alive: false, status: 'NOT_FOUND' });
  });
});

describe('ENDED_WITHOUT_RELEASE', () => {
  it('lists the statuses that end a run without its release (the EventBridge rule matches these)', () => {
    expect([...ENDED_WITHOUT_RELEASE].sort()).toEqual(['ABORTED', 'FAILED', 'TIMED_OUT']);
  });
});
