/**
 * The target lock: one active run per cluster or group. The workflow acquires it before touching
 * a node, renews it while the run lasts longer than a lease, and releases it at the end.
 *
 * Errors: `InvalidEvent`; `LockHeld` (another run holds the lock; the workflow ends or waits);
 * `LockLost` (renewing a lock this run no longer holds). Throttling propagates for Retry.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { createRunStore, LockHeldError, type RunStore } from '../shared/run-store.js';
import { logContext, logger, metrics } from '../shared/runtime.js';

const RUN_ID_ACCEPTED = 'expected a run id: 1 to 64 letters, digits, - and _';

/** Seconds a lock is held before another run may take it over, unless renewed. */
export const DEFAULT_LEASE_SECONDS = 3600;
const MAX_LEASE_SECONDS = 86_400;

const eventSchema = z.object({
  action: z.enum(['acquire', 'renew', 'release'], {
    error: 'expected "acquire", "renew" or "release"',
  }),
  target: z.string({ error: 'expected the cluster or group name' }).min(1, {
    error: 'expected the cluster or group name',
  }),
  runId: z.string().regex(RUN_ID_PATTERN, { error: RUN_ID_ACCEPTED }),
  leaseSeconds: z
    .number({ error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .int({ error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .min(60, { error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .max(MAX_LEASE_SECONDS, { error: `expected whole seconds from 60 to ${MAX_LEASE_SECONDS}` })
    .default(DEFAULT_LEASE_SECONDS),
});

export type RunLockEvent = z.input<typeof eventSchema>;

export interface RunLockResult {
  readonly target: string;
  readonly runId: string;
  /** Whether `runId` holds the lock after the action. */
  readonly held: boolean;
  /** The lease's end, when held. */
  readonly leaseExpiresAt?: string;
}

export interface RunLockDeps {
  readonly store: RunStore;
  readonly now: () => Date;
}

export function makeRunLockHandler(deps: RunLockDeps) {
  return async (event: unknown): Promise<RunLockResult> => {
    const { action, target, runId, leaseSeconds } = parseEvent('run-lock', eventSchema, event);
    logContext({ runId, target });
    switch (action) {
      case 'acquire': {
        try {
          const lock = await deps.store.acquireLock(target, runId, leaseSeconds, deps.now());
          logger.info('lock acquired', { leaseExpiresAt: lock.leaseExpiresAt });
          return { target, runId, held: true, leaseExpiresAt: lock.leaseExpiresAt };
        } catch (error) {
          if (error instanceof LockHeldError) {
            metrics.singleMetric().addMetric('LockContention', MetricUnit.Count, 1);
            logger.warn('lock held by another run', {
              holder: error.holder,
              leaseExpiresAt: error.leaseExpiresAt,
            });
          }
          throw error;
        }
      }
      case 'renew': {
        const lock = await deps.store.renewLock(target, runId, leaseSeconds, deps.now());
        return { target, runId, held: true, leaseExpiresAt: lock.leaseExpiresAt };
      }
      case 'release': {
        const released = await deps.store.releaseLock(target, runId);
        if (released) logger.info('lock released');
        else
          logger.warn(
            'lock not released: this run does not hold it (lease expired and taken, or already released)',
          );
        return { target, runId, held: false };
      }
    }
  };
}

function productionDeps(): RunLockDeps {
  return { store: createRunStore(), now: () => new Date() };
}

let cached: ReturnType<typeof makeRunLockHandler> | undefined;

export const handler = async (event: unknown, context: Context): Promise<RunLockResult> => {
  logger.addContext(context);
  cached ??= makeRunLockHandler(productionDeps());
  return cached(event);
};
