/**
 * Cancels what a node workflow left running when its wait for a command timed out: every
 * invocation on the node that this run sent for this node and that has not ended (SSM would let
 * it run on: an installer, a drain, a restart). Called from the Catch of a timed-out wait,
 * before the workflow resumes or fails the node; its answer goes into the node's reason, so
 * the run history records what was cancelled.
 *
 * The commands are found by SSM's own record (ListCommandInvocations on the instance, matched by
 * the Comment send-command writes: `<runId> <node> <document>`), so a command whose token was
 * never stored is found too.
 *
 * Event `{ runId, node, instanceId, timedOut }`. Never fails for an SSM error on one command (it
 * is reported in the answer); a failed listing propagates for the state's Retry.
 */
import {
  CancelCommandCommand,
  type CommandInvocation,
  ListCommandInvocationsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { nodeNameProblem } from '../core/node-names.js';
import { INSTANCE_ID_PATTERN, parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { logContext, logger, tracer } from '../shared/runtime.js';
import { commandComment, parseCommandComment } from './send-command.js';

/** Statuses of an invocation that has not ended. */
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);
/** Commands older than the longest document step (48 h) and its delivery cannot be running. */
const LOOK_BACK_MS = 49 * 3_600_000;
/** Pages of 50 invocations read at most: a node has few commands of one run. */
const MAX_PAGES = 10;

const eventSchema = z.object({
  runId: z.string().regex(RUN_ID_PATTERN, {
    error: 'expected a run id: 1 to 64 letters, digits, - and _',
  }),
  node: z.string().refine((name) => nodeNameProblem(name) === undefined, {
    error: (issue) => nodeNameProblem(issue.input) ?? 'expected a node name',
  }),
  instanceId: z.string().regex(INSTANCE_ID_PATTERN, {
    error: 'expected an EC2 instance id (i-0123456789abcdef0) or a managed node id (mi-...)',
  }),
  /** The wait that timed out (its reason), for the record. */
  timedOut: z.string().min(1, { error: 'expected the reason of the timed-out wait' }),
});

export type CancelCommandEvent = z.input<typeof eventSchema>;

export interface CancelledCommand {
  readonly commandId: string;
  readonly document: string;
  /** The status it had when cancelled. */
  readonly status: string;
}

export interface CancelCommandResult {
  readonly cancelled: readonly CancelledCommand[];
  /** Commands that could not be cancelled, with SSM's answer. */
  readonly failed: readonly (CancelledCommand & { readonly error: string })[];
  /** One line for the node's reason, e.g. `cancelled InstallHotfixes command 1234...`. */
  readonly summary: string;
}

export interface CancelCommandDeps {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly now: () => Date;
}

export function makeCancelCommandHandler(deps: CancelCommandDeps) {
  return async (event: unknown): Promise<CancelCommandResult> => {
    const { runId, node, instanceId, timedOut } = parseEvent('cancel-command', eventSchema, event);
    logContext({ runId, node });
    const running = await runningCommands(deps, runId, node, instanceId);
    const cancelled: CancelledCommand[] = [];
    const failed: (CancelledCommand & { error: string })[] = [];
    for (const command of running) {
      try {
        await deps.ssm.send(
          new CancelCommandCommand({ CommandId: command.commandId, InstanceIds: [instanceId] }),
        );
        cancelled.push(command);
      } catch (error) {
        failed.push({ ...command, error: (error as Error).message });
      }
    }
    const summary = summarise(cancelled, failed);
    logger.info('commands cancelled after a timed-out wait', {
      timedOut,
      cancelled,
      failed,
    });
    return { cancelled, failed, summary };
  };
}

/** This run's commands for this node that have not ended, oldest first. */
async function runningCommands(
  deps: CancelCommandDeps,
  runId: string,
  node: string,
  instanceId: string,
): Promise<CancelledCommand[]> {
  const found: CancelledCommand[] = [];
  const after = new Date(deps.now().getTime() - LOOK_BACK_MS);
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await deps.ssm.send(
      new ListCommandInvocationsCommand({
        InstanceId: instanceId,
        Filters: [{ key: 'InvokedAfter', value: after.toISOString() }],
        MaxResults: 50,
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    for (const invocation of answer.CommandInvocations ?? []) {
      const mine = ours(invocation, runId, node);
      if (mine && RUNNING.has(String(invocation.Status))) found.push(mine);
    }
    nextToken = answer.NextToken;
    if (!nextToken) break;
  }
  return found.reverse();
}

function ours(
  invocation: CommandInvocation,
  runId: string,
  node: string,
): CancelledCommand | undefined {
  const parsed = parseCommandComment(invocation.Comment);
  if (!parsed || invocation.CommandId === undefined) return undefined;
  if (invocation.Comment !== commandComment(runId, node, parsed.document)) return undefined;
  return {
    commandId: invocation.CommandId,
    document: parsed.document,
    status: String(invocation.Status),
  };
}

function summarise(
  cancelled: readonly CancelledCommand[],
  failed: readonly (CancelledCommand & { error: string })[],
): string {
  const parts: string[] = [];
  if (cancelled.length > 0) {
    parts.push(
      `cancelled ${cancelled.map((c) => `${c.document} command ${c.commandId}`).join(', ')}`,
    );
  }
  if (failed.length > 0) {
    parts.push(
      `could not cancel ${failed.map((c) => `${c.document} command ${c.commandId} (${c.error})`).join(', ')}`,
    );
  }
  return parts.length > 0
    ? parts.join('; ')
    : 'no command of the run was still running on the node';
}

let cached: ReturnType<typeof makeCancelCommandHandler> | undefined;

export const handler = async (event: unknown, context: Context): Promise<CancelCommandResult> => {
  logger.addContext(context);
  cached ??= makeCancelCommandHandler({
    ssm: tracer.captureAWSv3Client(new SSMClient({})),
    now: () => new Date(),
  });
  return cached(event);
};
