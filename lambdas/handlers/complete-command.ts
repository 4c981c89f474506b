/**
 * Answers the workflow waiting on an SSM command: on EventBridge's "EC2 Command Invocation
 * Status-change Notification" for a terminal status, reads the invocation's output, parses its
 * `ROLLOUT-RESULT` lines and sends the CommandOutcome with SendTaskSuccess. Always success: the
 * workflow decides on `status`.
 *
 * Output past GetCommandInvocation's 24,000 characters is read back from the command's
 * CloudWatch Logs stream (`COMMAND_LOG_GROUP`, full-output.ts); when it cannot be, the results
 * start with an error entry naming why, so the node fails instead of losing result lines. The
 * scripts' end marker (`ROLLOUT-END {"results":N}`) proves the output whole: a cut output is
 * re-read until its stream carries it, and a Success without it is answered Failed.
 *
 * Errors: `InvalidEvent`; `TokenNotYetStored` (the event beat send-command's write: redeliver);
 * `CommandNotFound` (SSM never showed the invocation). Throttling propagates; Lambda's async
 * retries redeliver the event.
 *
 * Redrive: an event that still fails after Lambda's async retries (or that EventBridge could not
 * deliver) lands in the completion dead-letter queue. The same handler, fed that queue by its
 * (normally disabled) event source mapping, answers each message as it would have answered the
 * event, and returns the messages that failed again (`batchItemFailures`), which stay queued.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import {
  type CommandOutcome,
  END_LINE_PREFIX,
  RESULT_LINE_PREFIX,
  TERMINAL_STATUSES,
  type TerminalStatus,
} from '../core/contracts.js';
import { InvalidEventError, parseEvent } from '../core/rollout-input.js';
import { metrics } from '../shared/metrics.js';
import { createRunStore, type RunStore } from '../shared/run-store.js';
import { logContext, logger, requiredEnv, tracer } from '../shared/runtime.js';
import { type FullOutputRequest, isInlineOutputCut, readFullOutput } from './full-output.js';
import { parseCommandComment } from './send-command.js';

/** Statuses of an invocation still under way. */
const RUNNING_STATUSES = ['Pending', 'InProgress', 'Delayed', 'Cancelling'];
/** Characters of output kept in the outcome. */
export const OUTPUT_TAIL_LENGTH = 4000;
/** GetCommandInvocation tries while SSM says InvocationDoesNotExist, and the waits between. */
const INVOCATION_TRIES = 5;
const INVOCATION_FIRST_DELAY_MS = 200;
const INVOCATION_MAX_DELAY_MS = 3000;

/** The token is not stored yet: send-command may still be writing it. Redeliver. */
export class TokenNotYetStoredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenNotYetStored';
  }
}

/** SSM keeps saying the invocation does not exist. */
export class CommandNotFoundError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandNotFound';
  }
}

const eventSchema = z.object({
  source: z.literal('aws.ssm', { error: 'expected "aws.ssm"' }),
  'detail-type': z.literal('EC2 Command Invocation Status-change Notification', {
    error: 'expected "EC2 Command Invocation Status-change Notification"',
  }),
  detail: z.object({
    'command-id': z.string().min(1, { error: 'expected the command id' }),
    'instance-id': z.string().min(1, { error: 'expected the instance id' }),
    status: z.string().min(1, { error: 'expected the invocation status' }),
    'document-name': z.string().optional(),
  }),
});

export type CompleteCommandEvent = z.input<typeof eventSchema>;

/** An SQS batch from the completion dead-letter queue (the redrive event source mapping). */
const deadLetterBatchSchema = z.object({
  Records: z
    .array(
      z.object({
        messageId: z.string().min(1, { error: 'expected the SQS message id' }),
        body: z.string({ error: 'expected the message body' }),
        eventSource: z.literal('aws:sqs', { error: 'expected "aws:sqs"' }),
      }),
    )
    .min(1, { error: 'expected at least one record' }),
});

/** What the redrive answers SQS: the messages to keep in the queue. */
export interface RedriveResult {
  readonly batchItemFailures: readonly { readonly itemIdentifier: string }[];
}

const isDeadLetterBatch = (event: unknown): boolean =>
  typeof event === 'object' &&
  event !== null &&
  Array.isArray((event as { Records?: unknown }).Records);

/**
 * The status-change event a dead-letter message carries. Two writers share the queue: the
 * rule's target sends the event itself; Lambda's on-failure destination sends a record with the
 * event as `requestPayload` (and `requestContext.condition`, e.g. `RetriesExhausted`).
 *
 * @throws InvalidEventError when the body is not JSON, naming the record.
 */
export function eventOfDeadLetter(body: string, index = 0): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new InvalidEventError(
      'complete-command',
      [
        {
          field: `Records[${index}].body`,
          value: body.slice(0, 200),
          message: 'expected a JSON status-change event or a Lambda on-failure record',
        },
      ],
      { cause: error },
    );
  }
  if (typeof parsed === 'object' && parsed !== null && 'requestPayload' in parsed) {
    return (parsed as { requestPayload: unknown }).requestPayload;
  }
  return parsed;
}

export type CompleteCommandResult =
  | { readonly handled: 'completed'; readonly outcome: CommandOutcome }
  | { readonly handled: 'ignored'; readonly reason: string }
  | { readonly handled: 'workflowGone'; readonly reason: string };

/** How much of a script's output the report keeps. */
export const SCRIPT_TAIL_LENGTH = 2_000;

export interface CompleteCommandDeps {
  readonly ssm: SSMClient;
  readonly sfn: SFNClient;
  readonly store: RunStore;
  /** `DOCUMENT_PREFIX`: only commands of our documents are answered. */
  readonly documentPrefix: string;
  readonly now: () => Date;
  /** Waits between GetCommandInvocation tries. @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Reads the full output of a command whose inline output was cut (full-output.ts). */
  readonly logs?: FullOutputRequest['logs'];
  /** `COMMAND_LOG_GROUP`: where send-command has SSM copy command output. @default - none */
  readonly commandLogGroup?: string;
}

/**
 * Every `ROLLOUT-RESULT <json>` line of the output, parsed. A line that is not JSON becomes
 * `{ error, line }`, which the interpreter refuses loudly, so no result is lost silently.
 */
export function parseResultLines(output: string): unknown[] {
  const results: unknown[] = [];
  const marker = new RegExp(`^${RESULT_LINE_PREFIX}(?:\\s|$)`);
  output.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!marker.test(line)) return;
    try {
      results.push(JSON.parse(line.slice(RESULT_LINE_PREFIX.length)));
    } catch (error) {
      results.push({
        error: `output line ${i + 1}: ${RESULT_LINE_PREFIX} line is not valid JSON (${(error as Error).message})`,
        line: line.slice(0, 500),
      });
    }
  });
  return results;
}

/**
 * The script's end marker, `ROLLOUT-END {"results":N}` (the last one when there are several):
 * the result lines it says it wrote, `undefined` when the output has no marker, or `{ error }`
 * when the marker line is malformed.
 */
export function parseEndMarker(
  output: string,
): { readonly results: number } | { readonly error: string } | undefined {
  const marker = new RegExp(`^${END_LINE_PREFIX}(?:\\s|$)`);
  const line = output
    .split(/\r?\n/)
    .map((raw) => raw.trim())
    .findLast((text) => marker.test(text));
  if (line === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.slice(END_LINE_PREFIX.length));
  } catch {
    parsed = undefined;
  }
  const results = (parsed as { results?: unknown } | undefined)?.results;
  if (typeof results !== 'number' || !Number.isSafeInteger(results) || results < 0) {
    return {
      error: `the ${END_LINE_PREFIX} line ${JSON.stringify(line.slice(0, 200))} is not ${END_LINE_PREFIX} {"results":<whole number>}`,
    };
  }
  return { results };
}

/**
 * Why `output` is not provably whole, or undefined when its end marker counts exactly the
 * result lines it holds. `required`: whether a missing marker is a gap (a script that ran to
 * its end writes one; one the agent killed or timed out does not).
 */
export function outputGap(output: string, required: boolean): string | undefined {
  const end = parseEndMarker(output);
  const found = parseResultLines(output).length;
  if (end === undefined) {
    return required
      ? `the output has no ${END_LINE_PREFIX} line, so the script's last result lines may be missing (${found} result lines found)`
      : undefined;
  }
  if ('error' in end) return end.error;
  if (end.results !== found) {
    return `the ${END_LINE_PREFIX} line counts ${end.results} result lines but the output holds ${found}`;
  }
  return undefined;
}

const isTerminal = (status: string | undefined): status is TerminalStatus =>
  (TERMINAL_STATUSES as readonly string[]).includes(status ?? '');

const isNamed = (error: unknown, ...names: string[]) =>
  names.includes(String((error as { name?: unknown } | null)?.name));

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function makeCompleteCommandHandler(deps: CompleteCommandDeps) {
  const sleep = deps.sleep ?? sleepFor;

  /**
   * GetCommandInvocation, retried while SSM answers InvocationDoesNotExist. This is not polling
   * for completion (EventBridge already said the invocation ended): the invocation can be
   * unreadable for a moment after its status-change event, and a few short tries bridge that.
   */
  async function getInvocation(commandId: string, instanceId: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.ssm.send(
          new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
        );
      } catch (error) {
        if (!isNamed(error, 'InvocationDoesNotExist')) throw error;
        if (attempt >= INVOCATION_TRIES) {
          throw new CommandNotFoundError(
            `SSM has no invocation of command ${commandId} on ${instanceId} after ${attempt} tries`,
            { cause: error },
          );
        }
        await sleep(
          Math.min(INVOCATION_MAX_DELAY_MS, INVOCATION_FIRST_DELAY_MS * 2.5 ** (attempt - 1)),
        );
      }
    }
  }

  /**
   * The output and its result lines. GetCommandInvocation returns the first 24,000 characters
   * of stdout; when it cut them, the full output comes from CloudWatch Logs, re-read until it
   * ends with its end marker. When the output cannot be proved whole, the results start with an
   * error entry naming why, which every interpreter refuses: the node fails rather than have
   * updates it did not report counted as not installed.
   *
   * The marker is required of a script that ended by itself: Success (and Failed when the
   * output was cut, as the stream may be partial). A command the agent killed or timed out
   * writes none; its partial results go on as before, and the interpreters judge them.
   */
  async function fullResults(
    commandId: string,
    instanceId: string,
    document: CommandOutcome['document'],
    status: TerminalStatus,
    inline: string,
    copiedToCloudWatch: boolean,
  ): Promise<{ output: string; results: unknown[]; problem?: string }> {
    const unreadable = (output: string, problem: string) => {
      logger.error('the full command output cannot be read', { commandId, instanceId, problem });
      return {
        output,
        results: [{ error: problem, line: '' }, ...parseResultLines(output)],
        problem,
      };
    };
    if (!isInlineOutputCut(inline)) {
      const gap = outputGap(inline, status === 'Success');
      return gap === undefined
        ? { output: inline, results: parseResultLines(inline) }
        : unreadable(inline, `the command ended ${status} but ${gap}`);
    }
    const markerRequired = status === 'Success' || status === 'Failed';
    const full = deps.logs
      ? await readFullOutput({
          logs: deps.logs,
          logGroup: deps.commandLogGroup,
          commandId,
          instanceId,
          document,
          inline,
          copiedToCloudWatch,
          sleep,
          incomplete: (output) => outputGap(output, markerRequired),
        })
      : {
          problem:
            'GetCommandInvocation cut the output at 24000 characters and this handler has no CloudWatch Logs client to read the rest',
        };
    if ('problem' in full) return unreadable(inline, full.problem);
    logger.info('the full command output was read from CloudWatch Logs', {
      commandId,
      instanceId,
      stream: full.stream,
      pages: full.pages,
      characters: full.output.length,
    });
    return { output: full.output, results: parseResultLines(full.output) };
  }

  const completeOne = async (event: unknown): Promise<CompleteCommandResult> => {
    const { detail } = parseEvent('complete-command', eventSchema, event);
    const commandId = detail['command-id'];
    const instanceId = detail['instance-id'];
    const ignore = (reason: string): CompleteCommandResult => {
      logger.info('event ignored', { commandId, instanceId, reason });
      return { handled: 'ignored', reason };
    };

    if (RUNNING_STATUSES.includes(detail.status)) return ignore(`status ${detail.status}`);
    if (!isTerminal(detail.status)) {
      throw new InvalidEventError('complete-command', [
        {
          field: 'detail.status',
          value: detail.status,
          message: `expected one of ${[...RUNNING_STATUSES, ...TERMINAL_STATUSES].join(', ')}`,
        },
      ]);
    }
    const documentName = detail['document-name'];
    if (documentName !== undefined && !documentName.startsWith(`${deps.documentPrefix}-`)) {
      return ignore(`document ${documentName} is not ours`);
    }

    const token = await deps.store.getTaskToken(commandId, instanceId);
    if (token === undefined) {
      const invocation = await getInvocation(commandId, instanceId);
      if (parseCommandComment(invocation.Comment) === undefined) {
        return ignore(`comment ${JSON.stringify(invocation.Comment ?? '')} is not one of ours`);
      }
      // send-command stores the token right after SendCommand returns; a fast command's event
      // can arrive first. Throwing makes Lambda's async retry redeliver the event a minute
      // later, when the token is there. (Ignoring it would leave the workflow waiting forever.)
      throw new TokenNotYetStoredError(
        `no task token stored yet for command ${commandId} on ${instanceId}; the event will be redelivered`,
      );
    }
    logContext({ runId: token.runId, node: token.node });

    const invocation = await getInvocation(commandId, instanceId);
    // StatusDetails is finer (DeliveryTimedOut, ExecutionTimedOut) where it names a terminal status.
    const status = isTerminal(invocation.StatusDetails) ? invocation.StatusDetails : detail.status;
    const { output, results, problem } = await fullResults(
      commandId,
      instanceId,
      token.document,
      status,
      invocation.StandardOutputContent ?? '',
      invocation.CloudWatchOutputConfig?.CloudWatchOutputEnabled === true,
    );
    // Output not proved whole is no success: Failed, so every document's branch of the workflow
    // fails the node (a drain or an inventory too, whose results no interpreter reads), and the
    // reason ends the output tail.
    const outcomeStatus: TerminalStatus =
      problem !== undefined && status === 'Success' ? 'Failed' : status;
    const errors = invocation.StandardErrorContent ?? '';
    const combined = [
      output,
      ...(errors ? [`[stderr]\n${errors}`] : []),
      ...(problem !== undefined ? [`[complete-command] ${problem}`] : []),
    ].join('\n');
    const outcome: CommandOutcome = {
      commandId,
      instanceId,
      document: token.document,
      status: outcomeStatus,
      responseCode: invocation.ResponseCode ?? -1,
      results,
      outputTail: combined.slice(-OUTPUT_TAIL_LENGTH),
    };

    if (token.document === 'runScript' && token.phase !== undefined) {
      // The report's pre/post script exit code and output tail (issue 12). Best effort: the
      // workflow must get its answer even if this write fails.
      await deps.store
        .putScriptResult({
          runId: token.runId,
          node: token.node,
          phase: token.phase,
          commandId,
          status: outcomeStatus,
          exitCode: outcome.responseCode,
          outputTail: outcome.outputTail.slice(-SCRIPT_TAIL_LENGTH),
          completedAt: deps.now().toISOString(),
        })
        .catch((error: unknown) =>
          logger.warn('script result not recorded', { commandId, error: (error as Error).name }),
        );
    }
    try {
      await deps.sfn.send(
        new SendTaskSuccessCommand({ taskToken: token.taskToken, output: JSON.stringify(outcome) }),
      );
    } catch (error) {
      if (!isNamed(error, 'TaskTimedOut', 'TaskDoesNotExist')) throw error;
      // The workflow gave up on this command already (its timeout fired); nothing waits.
      logger.warn('the workflow no longer waits for this command', {
        commandId,
        instanceId,
        status: outcomeStatus,
        error: (error as Error).name,
      });
      await deps.store.deleteTaskToken(commandId, instanceId);
      return { handled: 'workflowGone', reason: (error as Error).name };
    }
    await deps.store.deleteTaskToken(commandId, instanceId);

    const metric = metrics.singleMetric();
    metric.addDimension('status', outcomeStatus);
    metric.addMetric('CommandCompleted', MetricUnit.Count, 1);
    logger.info('command completed', {
      commandId,
      instanceId,
      status: outcomeStatus,
      responseCode: outcome.responseCode,
      results: outcome.results.length,
    });
    return { handled: 'completed', outcome };
  };

  /** Redrives a batch from the dead-letter queue, one message at a time. */
  const redrive = async (batch: unknown): Promise<RedriveResult> => {
    const { Records } = parseEvent('complete-command', deadLetterBatchSchema, batch);
    const batchItemFailures: { itemIdentifier: string }[] = [];
    let completed = 0;
    for (const [index, record] of Records.entries()) {
      try {
        const result = await completeOne(eventOfDeadLetter(record.body, index));
        if (result.handled === 'completed') completed++;
        logger.info('dead letter redriven', {
          messageId: record.messageId,
          handled: result.handled,
        });
      } catch (error) {
        logger.warn('dead letter failed again; it stays queued', {
          messageId: record.messageId,
          error: (error as Error).name,
          message: (error as Error).message,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    const metric = metrics.singleMetric();
    metric.addMetric('CompletionsRedriven', MetricUnit.Count, completed);
    metric.addMetric('CompletionsRedriveFailed', MetricUnit.Count, batchItemFailures.length);
    return { batchItemFailures };
  };

  /** The deployed entry: a status-change event, or a batch from the dead-letter queue. */
  const handle = (event: unknown): Promise<CompleteCommandResult | RedriveResult> =>
    isDeadLetterBatch(event) ? redrive(event) : completeOne(event);
  // Called directly, it answers one status-change event (as EventBridge delivers it).
  return Object.assign((event: unknown): Promise<CompleteCommandResult> => completeOne(event), {
    redrive,
    handle,
  });
}

function productionDeps(): CompleteCommandDeps {
  return {
    ssm: tracer.captureAWSv3Client(new SSMClient({})),
    sfn: tracer.captureAWSv3Client(new SFNClient({})),
    store: createRunStore(),
    documentPrefix: requiredEnv('DOCUMENT_PREFIX'),
    now: () => new Date(),
    logs: tracer.captureAWSv3Client(new CloudWatchLogsClient({})),
    ...(process.env.COMMAND_LOG_GROUP ? { commandLogGroup: process.env.COMMAND_LOG_GROUP } : {}),
  };
}

let cached: ReturnType<typeof makeCompleteCommandHandler> | undefined;

/** EventBridge's status-change event, or a batch from the completion dead-letter queue. */
export const handler = async (
  event: unknown,
  context: Context,
): Promise<CompleteCommandResult | RedriveResult> => {
  logger.addContext(context);
  cached ??= makeCompleteCommandHandler(productionDeps());
  return cached.handle(event);
};
