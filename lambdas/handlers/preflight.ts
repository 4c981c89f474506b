/**
 * Preflight of one node, before anything touches it: is the run still the lock holder, is the
 * node online in SSM, has the run passed WarnAfter or StopAfter, and the timeouts the node
 * workflow waits with.
 *
 * The lock is held by the run's execution (core/target-lock.ts): nobody takes it while that
 * execution runs, whatever the lease says, so the run does not depend on this renewal. The
 * conditional write is the check that the run still holds it (LockLost otherwise), and keeps
 * the lease of a lock that names no execution current.
 *
 * WarnAfter: `pastWarnAfter` only informs the workflow. The notice (run record, report line,
 * Rollout WarnAfter Passed event, RolloutWarnAfterPassed metric) is run-history's, once per run.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { DEFAULT_SUSPEND_CLUSTER_NODE_TIMEOUT_MINUTES } from '../core/run-policy.js';
import { invalidEvent } from '../shared/events.js';
import { metrics } from '../shared/metrics.js';
import { RunStore } from '../shared/run-store.js';
import { logContext, requiredEnv, tracer } from '../shared/runtime.js';

/** Seconds SSM may take to deliver a command to a node (SendCommand TimeoutSeconds). */
export const COMMAND_DELIVERY_SECONDS = 600;
/** Seconds the resume command may take without a storage repair wait (the join wait and more). */
export const RESUME_SECONDS = 1800;
/** Minutes the resume waits for a node's drained roles to fail back (Immediate), unless the policy says. */
export const DEFAULT_FAILBACK_TIMEOUT_MINUTES = 10;
/** Minutes a drain may take to move the roles off a node, unless the policy says otherwise. */
export const DRAIN_MINUTES = DEFAULT_SUSPEND_CLUSTER_NODE_TIMEOUT_MINUTES;

const eventSchema = z.object({
  runId: z.string().min(1),
  target: z.object({ kind: z.enum(['cluster', 'group']), name: z.string().min(1) }),
  node: z.object({ name: z.string().min(1), instanceId: z.string().min(1) }),
  policy: z
    .object({
      rebootTimeoutMinutes: z.number().int().positive(),
      /** The drain's limit (CAU's SuspendClusterNodeTimeoutMinutes); absent: DRAIN_MINUTES. */
      suspendClusterNodeTimeoutMinutes: z.number().int().min(1).max(1440).optional(),
      /** Storage repair wait after the resume (CAU's WaitForStorageRepairTimeoutMinutes). */
      waitForStorageRepairTimeoutMinutes: z.number().int().min(1).max(1440).optional(),
      /** How roles come back after the resume (CAU's FailbackMode). */
      failbackMode: z.enum(['NoFailback', 'Immediate', 'Policy']).optional(),
      /** The failback check's wait after the resume (issue 13 item 6); absent: the default. */
      failbackTimeoutMinutes: z.number().int().min(1).max(1440).optional(),
    })
    .passthrough(),
  deadlines: z
    .object({ warnAt: z.string().datetime().optional(), stopAt: z.string().datetime().optional() })
    .default({}),
  leaseSeconds: z.number().int().positive(),
});
export type PreflightEvent = z.input<typeof eventSchema>;

export interface PreflightResult {
  readonly online: boolean;
  readonly pingStatus: string;
  readonly pastWarnAfter: boolean;
  readonly pastStopAfter: boolean;
  /** A cancel was requested: the node is not started. */
  readonly cancelled: boolean;
  readonly notStartedReason?: string;
  readonly leaseExpiresAt: string;
  readonly timeouts: {
    readonly commandSeconds: number;
    readonly drainMinutes: number;
    /** Minutes the resume then waits for storage repair jobs; 0: no wait. */
    readonly storageRepairMinutes: number;
    /**
     * Minutes the resume waits for the drained roles to be back on the node (failbackMode
     * Immediate; 0 with Policy or NoFailback: no wait).
     */
    readonly failbackMinutes: number;
    /** The resume command's limit: RESUME_SECONDS plus the failback and storage repair waits. */
    readonly resumeSeconds: number;
    /** How long the workflow waits for the drain command: the drain's own limit plus delivery. */
    readonly drainSeconds: number;
    readonly rebootSeconds: number;
  };
}

export interface PreflightDeps {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly store: Pick<RunStore, 'renewLock' | 'getRun'>;
  readonly now: () => Date;
}

export function makePreflightHandler(deps: PreflightDeps) {
  return async (raw: unknown): Promise<PreflightResult> => {
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) throw invalidEvent(parsed.error, raw);
    const event = parsed.data;
    logContext({ runId: event.runId, target: event.target.name, node: event.node.name });
    const now = deps.now();

    // Throws LockLost when another run holds the target: this node must not be touched.
    const lease = await deps.store.renewLock(
      event.target.name,
      event.runId,
      event.leaseSeconds,
      now,
    );
    // A cancel stops the run before its next node; the node in progress finishes its update.
    const run = await deps.store.getRun(event.runId);
    const cancelled = run?.cancelRequested === true;
    // A node of the run whose storage repair outlasted its wait (issue 13, item 6): as after the
    // failure budget, no new node starts; this one is recorded NotStarted with the reason.
    const halted = run?.haltedBy;

    const info = await deps.ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'InstanceIds', Values: [event.node.instanceId] }],
      }),
    );
    const pingStatus = info.InstanceInformationList?.[0]?.PingStatus ?? 'NotRegistered';

    const past = (iso?: string) => iso !== undefined && now.getTime() >= Date.parse(iso);
    const pastWarnAfter = past(event.deadlines.warnAt);
    const pastStopAfter = past(event.deadlines.stopAt);
    const drainMinutes = event.policy.suspendClusterNodeTimeoutMinutes ?? DRAIN_MINUTES;
    const storageRepairMinutes = event.policy.waitForStorageRepairTimeoutMinutes ?? 0;
    const failbackMinutes =
      (event.policy.failbackMode ?? 'Immediate') === 'Immediate'
        ? (event.policy.failbackTimeoutMinutes ?? DEFAULT_FAILBACK_TIMEOUT_MINUTES)
        : 0;
    return {
      online: pingStatus === 'Online',
      pingStatus,
      pastWarnAfter,
      // Either way the node is not started; the workflow reads one flag.
      pastStopAfter: pastStopAfter || cancelled || halted !== undefined,
      cancelled,
      ...(cancelled
        ? { notStartedReason: 'the run was cancelled before this node started' }
        : halted !== undefined
          ? {
              notStartedReason: `${halted.error} on ${halted.node} at ${halted.at}: no new node of the run starts after it`,
            }
          : pastStopAfter
            ? {
                notStartedReason: `StopAfter reached at ${event.deadlines.stopAt} before this node started`,
              }
            : {}),
      leaseExpiresAt: lease.leaseExpiresAt,
      timeouts: {
        commandSeconds: COMMAND_DELIVERY_SECONDS,
        drainMinutes,
        drainSeconds: drainMinutes * 60 + COMMAND_DELIVERY_SECONDS,
        rebootSeconds: event.policy.rebootTimeoutMinutes * 60,
        storageRepairMinutes,
        failbackMinutes,
        resumeSeconds: RESUME_SECONDS + (storageRepairMinutes + failbackMinutes) * 60,
      },
    };
  };
}

function productionDeps(): PreflightDeps {
  const ssm = tracer.captureAWSv3Client(new SSMClient({}));
  const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
  return {
    ssm,
    store: new RunStore({
      client: DynamoDBDocumentClient.from(dynamo, {
        marshallOptions: { removeUndefinedValues: true },
      }),
      tableName: requiredEnv('TABLE_NAME'),
    }),
    now: () => new Date(),
  };
}

let cached: ReturnType<typeof makePreflightHandler> | undefined;
export const handler = async (event: unknown): Promise<PreflightResult> => {
  cached ??= makePreflightHandler(productionDeps());
  try {
    return await cached(event);
  } finally {
    metrics.publishStoredMetrics();
  }
};
