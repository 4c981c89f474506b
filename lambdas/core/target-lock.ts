/**
 * The target lock's rules (README, "The target lock"), shared by the run-lock function, the
 * API's ForceRecovery and the infrastructure. No AWS SDK here: the caller hands in how to ask
 * Step Functions for an execution's status.
 *
 * A lock names its holder's execution. A holder is alive while that execution is RUNNING (or
 * PENDING_REDRIVE, which may run again), whatever it waits on; while the execution cannot be
 * seen yet (a claim made before StartExecution landed), only until the lease ends. A lock that
 * names no execution lives by its lease alone. Nobody takes or breaks the lock of a live holder.
 */

/** The statuses of a "Step Functions Execution Status Change" that end a run without its release. */
export const ENDED_WITHOUT_RELEASE = ['ABORTED', 'TIMED_OUT', 'FAILED'] as const;

/** A Step Functions execution's status, or NOT_FOUND when Step Functions does not know it. */
export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE'
  | 'NOT_FOUND';

/** The part of a lock its liveness depends on. */
export interface LockHolder {
  readonly holder: string;
  readonly leaseExpiresAt: string;
  readonly execution?: string;
}

/** Whether the holder of `lock` is alive at `now`, and the status its execution had. */
export async function holderIsAlive(
  lock: LockHolder,
  now: Date,
  executionStatus: (executionArn: string) => Promise<ExecutionStatus>,
): Promise<{ alive: boolean; status?: ExecutionStatus }> {
  const leaseRuns = Date.parse(lock.leaseExpiresAt) > now.getTime();
  if (lock.execution === undefined) return { alive: leaseRuns };
  const status = await executionStatus(lock.execution);
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') return { alive: true, status };
  if (status === 'NOT_FOUND') return { alive: leaseRuns, status };
  return { alive: false, status };
}
