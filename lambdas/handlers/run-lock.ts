/**
 * The target lock: one active run per cluster or group, held for as long as the run's execution
 * lives and released on every way out.
 *
 * - `acquire` (the workflow, with `$$.Execution.Id`): takes the lock, or adopts a claim made for
 *   this run. When another run holds it, asks Step Functions about the holder's execution: a
 *   RUNNING execution keeps its lock however long it waits (an approval gate of days, one long
 *   node); one that has ended (or, past its lease, never started) loses it to this run.
 * - `renew` (each node's preflight): extends the lease and proves the run still holds the lock.
 * - `release` (the workflow's end, every path): frees the lock if this run holds it.
 * - A "Step Functions Execution Status Change" event (EventBridge rule on the rollout workflow's
 *   ABORTED, TIMED_OUT and FAILED): frees the lock the ended execution still names, and marks its
 *   run Failed if it was still Running, for a run that died without its own release.
 *
 * Errors: `InvalidEvent`; `LockHeld` (another live run holds the lock); `LockLost` (renewing a
 * lock this run no longer holds). Throttling propagates for Retry.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { parseEvent, parseRolloutInput, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { ENDED_WITHOUT_RELEASE, type ExecutionStatus, holderIsAlive } from '../core/target-lock.js';
import { createEventPublisher, type LifecyclePublisher } from '../shared/event-publisher.js';
import { metrics } from '../shared/metrics.js';
import { publishRunEndedOutsideWorkflow } from '../shared/run-ended-outside.js';
import { createRunStore, LockHeldError, type RunStore } from '../shared/run-store.js';
import { logContext, logger, tracer } from '../shared/runtime.js';

const RUN_ID_ACCEPTED = 'expected a run id: 1 to 64 letters, digits, - and _';

/** Seconds a lock is held before another run may take it over, unless renewed. */
export const DEFAULT_LEASE_SECONDS = 3600;
const MAX_LEASE_SECONDS = 86_400;
const EXECUTION_ARN = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_.-]+:[^\s]+$/;

const eventSchema = z.object({
  action: z.enum(['acquire', 'renew', 'release'], {
    error: 'expected "acquire", "renew" or "release"',
  }),
  target: z.string({ error: 'expected the cluster or group name' }).min(1, {
    error: 'expected the cluster or group name',
  }),
  runId: z.string().regex(RUN_ID_PATTERN, { error: RUN_ID_ACCEPTED }),
  /** The run's execution ARN (`$$.Execution.Id`): a lock that names it lives as long as it runs. */
  execution: z
    .string()
    .regex(EXECUTION_ARN, { error: 'expected a Step Functions execution ARN' })
    .optional(),
  leaseSeconds: z
    .number({ error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .int({ error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .min(60, { error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .max(MAX_LEASE_SECONDS, { error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .default(DEFAULT_LEASE_SECONDS),
});

const statusChangeSchema = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string().regex(EXECUTION_ARN, { error: 'expected an execution ARN' }),
    name: z.string().min(1),
    status: z.enum(ENDED_WITHOUT_RELEASE),
    input: z.string().nullish(),
  }),
});

export type RunLockEvent = z.input<typeof eventSchema>;
export type ExecutionEndedEvent = z.input<typeof statusChangeSchema>;

export interface RunLockResult {
  readonly target: string;
  readonly runId: string;
  /** Whether `runId` holds the lock after the action. */
  readonly held: boolean;
  /** The lease's end, when held. */
  readonly leaseExpiresAt?: string;
  /** The run whose ended execution lost the lock to this one, when it was taken over. */
  readonly takenOverFrom?: string;
}

/** What the status-change rule's invocation did. */
export interface ExecutionEndedResult {
  readonly executionArn: string;
  readonly target?: string;
  readonly released: boolean;
  readonly runMarkedFailed: boolean;
}

export interface RunLockDeps {
  readonly store: RunStore;
  readonly now: () => Date;
  /** DescribeExecution's status of an execution (the lock holder's). */
  readonly executionStatus: (executionArn: string) => Promise<ExecutionStatus>;
  /**
   * Where Rollout Failed goes for a run this marks Failed (its execution ended first).
   * @default - none: no event is published
   */
  readonly publisher?: LifecyclePublisher;
}

export function makeRunLockHandler(deps: RunLockDeps) {
  const acquire = async (
    target: string,
    runId: string,
    leaseSeconds: number,
    execution: string | undefined,
  ): Promise<RunLockResult> => {
    const now = deps.now();
    try {
      const lock = await deps.store.acquireLock(target, runId, leaseSeconds, now, execution);
      logger.info('lock acquired', { leaseExpiresAt: lock.leaseExpiresAt, execution });
      return { target, runId, held: true, leaseExpiresAt: lock.leaseExpiresAt };
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      const current = await deps.store.getLock(target);
      // Released between the write and the read: try once more, as a fresh acquire.
      if (current === undefined) {
        const lock = await deps.store.acquireLock(target, runId, leaseSeconds, now, execution);
        return { target, runId, held: true, leaseExpiresAt: lock.leaseExpiresAt };
      }
      const { alive, status } = await holderIsAlive(current, now, deps.executionStatus);
      if (!alive) {
        const lock = await deps.store.takeOverLock(current, runId, leaseSeconds, now, execution);
        metrics.singleMetric().addMetric('LockTakenOver', MetricUnit.Count, 1);
        logger.warn('lock taken over from a run whose execution is not running', {
          previousHolder: current.holder,
          previousExecution: current.execution,
          previousStatus: status,
        });
        return {
          target,
          runId,
          held: true,
          leaseExpiresAt: lock.leaseExpiresAt,
          takenOverFrom: current.holder,
        };
      }
      metrics.singleMetric().addMetric('LockContention', MetricUnit.Count, 1);
      logger.warn('lock held by another run', {
        holder: current.holder,
        holderExecution: current.execution,
        holderStatus: status,
        leaseExpiresAt: current.leaseExpiresAt,
      });
      throw new LockHeldError(target, current.holder, current.leaseExpiresAt, {
        cause: error,
        execution: current.execution,
      });
    }
  };

  const executionEnded = async (
    event: z.output<typeof statusChangeSchema>,
  ): Promise<ExecutionEndedResult> => {
    const { executionArn, name, status, input } = event.detail;
    let target: string;
    let runId: string;
    try {
      const rollout = parseRolloutInput(JSON.parse(input ?? 'null'), deps.now(), {
        defaultRunId: name,
      });
      target = rollout.target.name;
      runId = rollout.runId;
    } catch {
      // An input the workflow refused never took a lock.
      logger.info('ended execution had no valid rollout input: no lock to release', {
        executionArn,
      });
      return { executionArn, released: false, runMarkedFailed: false };
    }
    logContext({ runId, target });
    const released = await deps.store.releaseLockOfExecution(target, executionArn);
    const run = await deps.store.getRun(runId);
    let runMarkedFailed = false;
    if (run?.status === 'Running' && run.execution === executionArn) {
      await deps.store.updateRunStatus(runId, 'Failed', {
        finishedAt: deps.now().toISOString(),
        failureReason: `the execution ended ${status} before the run recorded its end`,
      });
      runMarkedFailed = true;
      await publishRunEndedOutsideWorkflow(deps.store, deps.publisher, runId, deps.now());
    }
    if (released) {
      metrics.singleMetric().addMetric('LockReleasedAfterExecutionEnded', MetricUnit.Count, 1);
      logger.warn('lock released for an execution that ended without releasing it', { status });
    }
    return { executionArn, target, released, runMarkedFailed };
  };

  return async (event: unknown): Promise<RunLockResult | ExecutionEndedResult> => {
    if (typeof event === 'object' && event !== null && 'detail-type' in event) {
      return executionEnded(parseEvent('run-lock', statusChangeSchema, event));
    }
    const { action, target, runId, leaseSeconds, execution } = parseEvent(
      'run-lock',
      eventSchema,
      event,
    );
    logContext({ runId, target });
    switch (action) {
      case 'acquire':
        return acquire(target, runId, leaseSeconds, execution);
      case 'renew': {
        const lock = await deps.store.renewLock(target, runId, leaseSeconds, deps.now());
        return { target, runId, held: true, leaseExpiresAt: lock.leaseExpiresAt };
      }
      case 'release': {
        const released = await deps.store.releaseLock(target, runId);
        if (released) logger.info('lock released');
        else
          logger.warn(
            'lock not released: this run does not hold it (taken over, or already released)',
          );
        return { target, runId, held: false };
      }
    }
  };
}

/** DescribeExecution's status through `client`; NOT_FOUND for ExecutionDoesNotExist. */
export function describeExecutionStatus(
  client: Pick<SFNClient, 'send'>,
): RunLockDeps['executionStatus'] {
  return async (executionArn) => {
    try {
      const out = await client.send(new DescribeExecutionCommand({ executionArn }));
      return (out.status ?? 'NOT_FOUND') as ExecutionStatus;
    } catch (error) {
      if ((error as { name?: string }).name === 'ExecutionDoesNotExist') return 'NOT_FOUND';
      throw error;
    }
  };
}

function productionDeps(): RunLockDeps {
  return {
    store: createRunStore(),
    now: () => new Date(),
    executionStatus: describeExecutionStatus(tracer.captureAWSv3Client(new SFNClient({}))),
    publisher: createEventPublisher(),
  };
}

let cached: ReturnType<typeof makeRunLockHandler> | undefined;

export const handler = async (
  event: unknown,
  context: Context,
): Promise<RunLockResult | ExecutionEndedResult> => {
  logger.addContext(context);
  cached ??= makeRunLockHandler(productionDeps());
  return cached(event);
};
