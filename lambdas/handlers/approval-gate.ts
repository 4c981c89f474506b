/**
 * approval-gate: the rollout workflow reached an approval gate (the pilot nodes are done) and
 * waits. Invoked with `.waitForTaskToken`: the handler stores the task token on the run, where
 * POST /rollouts/{id}/approve, /reject and /cancel find it, announces the gate, and returns; the
 * task ends when one of those completes the token, or when the state's timeout passes (no
 * decision counts as rejected).
 *
 * Event `{ taskToken, runId, target, afterNodes, timeoutMinutes, changeTicket }`. Errors:
 * `InvalidEvent`; the run store's and the publisher's errors unchanged (e.g. throttling, for the
 * state's Retry, which stores a new token over the old one).
 */
import { SendTaskFailureCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { MAX_APPROVAL_TIMEOUT_MINUTES } from '../core/api-model.js';
import type { ApprovalGate } from '../core/contracts.js';
import { approvalRequired } from '../core/lifecycle-events.js';
import { parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { createEventPublisher } from '../shared/event-publisher.js';
import { type ApprovalRecord, createRunStore, type RunStore } from '../shared/run-store.js';
import { logContext, logger, tracer } from '../shared/runtime.js';

/** The token outlives the gate by this much in the store, then TTL deletes it. */
const TOKEN_GRACE_SECONDS = 60 * 60;

const approvalGateEventSchema = z.object({
  taskToken: z.string().min(1).max(2048),
  runId: z.string().regex(RUN_ID_PATTERN, { error: 'expected a run id' }),
  target: z.string().min(1, { error: 'expected the cluster or group name' }),
  // 0 at a health gate before the first node or wave (issue 13, item 1).
  afterNodes: z.number().int().min(0),
  timeoutMinutes: z.number().int().min(1).max(MAX_APPROVAL_TIMEOUT_MINUTES),
  /** A health gate's state name when it holds the run (issue 13, item 1). */
  heldBy: z.string().min(1).max(80).optional(),
  /** The phase whose approval (or bake) this is (issue 13, items 1 and 4); extra keys dropped. */
  phase: z.object({ index: z.number().int().min(0), name: z.string().min(1).max(64) }).optional(),
  changeTicket: z
    .object({ system: z.string(), id: z.string(), url: z.string().optional() })
    .nullish(),
});

export type ApprovalGateEvent = z.input<typeof approvalGateEventSchema>;

/** What {@link ApprovalGateDeps.publish} announces: a run waits at its gate. */
export interface ApprovalRequired {
  readonly runId: string;
  readonly target: string;
  readonly gate: ApprovalGate;
  readonly changeTicket: ApprovalRecord['changeTicket'];
  /** When the run reached the gate (ISO 8601 UTC). */
  readonly requestedAt: string;
  /** No decision by then counts as rejected. */
  readonly decideBy: string;
}

export interface ApprovalGateDeps {
  readonly store: RunStore;
  readonly now: () => Date;
  /**
   * Fails the gate's task at once when the run was cancelled before its token was stored (the
   * cancel found no token to fail). @default - none: such a run waits until its gate times out
   */
  readonly sfn?: SFNClient;
  /**
   * Announces the gate (the "Rollout Approval Required" lifecycle event).
   * @default - none: nothing is announced
   */
  readonly publish?: (event: ApprovalRequired) => Promise<void>;
}

export type ApprovalGateResult =
  | { readonly runId: string; readonly status: 'AwaitingApproval'; readonly decideBy: string }
  | { readonly runId: string; readonly status: 'Cancelled' };

export function makeApprovalGateHandler(deps: ApprovalGateDeps) {
  return async function approvalGate(event: unknown): Promise<ApprovalGateResult> {
    const parsed = parseEvent('approval-gate', approvalGateEventSchema, event);
    logContext({ runId: parsed.runId, target: parsed.target });
    const now = deps.now();
    const requestedAt = now.toISOString();
    const decideBy = new Date(now.getTime() + parsed.timeoutMinutes * 60_000).toISOString();
    const changeTicket = parsed.changeTicket
      ? {
          system: parsed.changeTicket.system,
          id: parsed.changeTicket.id,
          ...(parsed.changeTicket.url === undefined ? {} : { url: parsed.changeTicket.url }),
        }
      : null;
    await deps.store.putApproval({
      runId: parsed.runId,
      taskToken: parsed.taskToken,
      target: parsed.target,
      afterNodes: parsed.afterNodes,
      timeoutMinutes: parsed.timeoutMinutes,
      changeTicket,
      requestedAt,
      expiresAt: Math.floor(Date.parse(decideBy) / 1000) + TOKEN_GRACE_SECONDS,
      ...(parsed.heldBy ? { heldBy: parsed.heldBy } : {}),
      ...(parsed.phase ? { phase: { index: parsed.phase.index, name: parsed.phase.name } } : {}),
    });

    // A cancel that came before the token was stored found nothing to fail: fail it here.
    if (deps.sfn !== undefined) {
      const run = await deps.store.getRun(parsed.runId);
      if (run?.cancelRequested === true && (await failCancelled(deps.sfn, parsed.taskToken, run))) {
        await deps.store.deleteApproval(parsed.runId, parsed.taskToken);
        logger.info('run cancelled before its approval gate; not waiting');
        return { runId: parsed.runId, status: 'Cancelled' };
      }
    }

    if (deps.publish) {
      await deps.publish({
        runId: parsed.runId,
        target: parsed.target,
        gate: {
          afterNodes: parsed.afterNodes,
          timeoutMinutes: parsed.timeoutMinutes,
          ...(parsed.heldBy ? { heldBy: parsed.heldBy } : {}),
          ...(parsed.phase
            ? { phase: { index: parsed.phase.index, name: parsed.phase.name } }
            : {}),
        },
        changeTicket,
        requestedAt,
        decideBy,
      });
    }
    logger.info('waiting for approval', { afterNodes: parsed.afterNodes, decideBy });
    return { runId: parsed.runId, status: 'AwaitingApproval', decideBy };
  };
}

/**
 * Fails the gate's task as RolloutCancelled. True when the task is failed (by this call, or by
 * the cancel handler before it); false when this function may not (no states:SendTaskFailure):
 * the run then waits until its gate times out, and ends Cancelled all the same.
 */
async function failCancelled(
  sfn: SFNClient,
  taskToken: string,
  run: { readonly cancelRequestedBy?: string; readonly cancelReason?: string },
): Promise<boolean> {
  try {
    await sfn.send(
      new SendTaskFailureCommand({
        taskToken,
        error: 'RolloutCancelled',
        cause: JSON.stringify({
          cancelledBy: run.cancelRequestedBy ?? null,
          reason: run.cancelReason ?? null,
        }),
      }),
    );
    return true;
  } catch (error) {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === 'TaskDoesNotExist' || name === 'TaskTimedOut' || name === 'InvalidToken') {
      return true;
    }
    if (name === 'AccessDeniedException') {
      logger.warn('may not fail the task of a cancelled run; it waits for its gate to time out');
      return false;
    }
    throw error;
  }
}

let cached: ReturnType<typeof makeApprovalGateHandler> | undefined;

function productionDeps(): ApprovalGateDeps {
  const store = createRunStore();
  const publisher = createEventPublisher();
  return {
    store,
    now: () => new Date(),
    sfn: tracer.captureAWSv3Client(new SFNClient({})),
    ...(publisher.enabled
      ? {
          // Rollout Approval Required, numbered among the run's lifecycle events.
          publish: async (gate: ApprovalRequired) => {
            const { sequence, run } = await store.nextEventSequence(gate.runId);
            const event = approvalRequired(run, gate.gate, {
              sequence,
              occurredAt: gate.requestedAt,
            });
            await publisher.publish(event.detailType, event.detail);
          },
        }
      : {}),
  };
}

export const handler = async (event: unknown, context?: Context): Promise<ApprovalGateResult> => {
  if (context) logger.addContext(context);
  cached ??= makeApprovalGateHandler(productionDeps());
  return cached(event);
};
