/**
 * Sends one of our SSM documents to one node and parks the workflow's task token until the
 * invocation ends (complete-command answers it). Invoked with `.waitForTaskToken`, so what it
 * returns is not the task's output.
 *
 * Every payload gets `deadline` (ISO 8601 UTC): the instant the workflow's wait for this command
 * ends, the task's start (`startedAt`, else now) plus `timeoutSeconds`. Every script stops
 * starting new work a margin before it (node-contract.json), in UTC.
 *
 * Errors: `InvalidEvent`; `PayloadTooLarge` (the encoded payload is over what a node can take:
 * Windows caps an environment variable at 32,767 characters).
 * SSM and DynamoDB throttling propagate for the state machine's Retry.
 */
import { CancelCommandCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import {
  type CommandTiming,
  DOCUMENTS,
  type DocumentKey,
  MAX_COMMAND_TIMEOUT_SECONDS,
  MAX_PAYLOAD_BASE64_CHARACTERS,
  PAYLOAD_PARAMETER,
  type SendCommandInput,
} from '../core/contracts.js';
import { nodeNameProblem } from '../core/node-names.js';
import { encodePayload } from '../core/payload-encoding.js';
import { INSTANCE_ID_PATTERN, parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { createRunStore, type RunStore } from '../shared/run-store.js';
import { logContext, logger, requiredEnv, tracer } from '../shared/runtime.js';

const RUN_ID_ACCEPTED = 'expected a run id: 1 to 64 letters, digits, - and _';
const TIMEOUT_ACCEPTED = `expected whole seconds from 30 to ${MAX_COMMAND_TIMEOUT_SECONDS} (SSM's 48-hour cap)`;

/**
 * The largest `Payload` value we send, in base64 characters: it reaches the script as the
 * environment variable SSM_Payload, and Windows caps one at 32,767 characters (with its NUL),
 * below SSM's own cap on a parameter value.
 */
export const MAX_PAYLOAD_BYTES = MAX_PAYLOAD_BASE64_CHARACTERS;
/**
 * SendCommand's TimeoutSeconds: how long SSM waits for the node to pick the command up. It is
 * not the execution limit, which travels in the payload as `deadline`.
 */
export const DELIVERY_TIMEOUT_SECONDS = 600;
/** The token outlives the command by a day, so a late status event still finds it. */
const TOKEN_GRACE_SECONDS = 86_400;
/** SSM's limit on a command's Comment. */
const MAX_COMMENT_LENGTH = 100;

const DOCUMENT_KEYS = Object.keys(DOCUMENTS) as [DocumentKey, ...DocumentKey[]];

/** Raised when the encoded payload is over {@link MAX_PAYLOAD_BYTES}. */
export class PayloadTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadTooLarge';
  }
}

const eventSchema = z.object({
  taskToken: z.string().min(1, { error: 'expected the task token of the waiting state' }),
  runId: z.string().regex(RUN_ID_PATTERN, { error: RUN_ID_ACCEPTED }),
  node: z.string().refine((name) => nodeNameProblem(name) === undefined, {
    error: (issue) => nodeNameProblem(issue.input) ?? 'expected a node name',
  }),
  instanceId: z.string().regex(INSTANCE_ID_PATTERN, {
    error: 'expected an EC2 instance id (i-0123456789abcdef0) or a managed node id (mi-...)',
  }),
  document: z.enum(DOCUMENT_KEYS, { error: `expected one of ${DOCUMENT_KEYS.join(', ')}` }),
  payload: z.record(z.string(), z.unknown(), { error: 'expected a JSON object' }),
  timeoutSeconds: z
    .number()
    .int({ error: TIMEOUT_ACCEPTED })
    .min(30, { error: TIMEOUT_ACCEPTED })
    .max(MAX_COMMAND_TIMEOUT_SECONDS, { error: TIMEOUT_ACCEPTED }),
  startedAt: z.iso.datetime({ error: 'expected an ISO 8601 instant (the task start)' }).optional(),
}) satisfies z.ZodType<SendCommandInput, unknown>;

/**
 * The command's Comment, `<runId> <node> <document>`, within SSM's 100 characters: a long run id
 * is cut, never the node or the document, so {@link parseCommandComment} can read it back.
 */
export function commandComment(runId: string, node: string, document: DocumentKey): string {
  const suffix = ` ${node} ${document}`;
  return `${runId.slice(0, MAX_COMMENT_LENGTH - suffix.length)}${suffix}`;
}

/** Reads a Comment written by {@link commandComment}; undefined when it is not one of ours. */
export function parseCommandComment(
  comment: string | undefined,
): { runId: string; node: string; document: DocumentKey } | undefined {
  const match = /^(\S+) (\S+) (\S+)$/.exec(comment ?? '');
  const [, runId, node, document] = match ?? [];
  if (runId === undefined || node === undefined || document === undefined) return undefined;
  if (!(DOCUMENT_KEYS as string[]).includes(document)) return undefined;
  return { runId, node, document: document as DocumentKey };
}

/** The deployed name of one of our documents. */
export function documentName(prefix: string, document: DocumentKey): string {
  return `${prefix}-${DOCUMENTS[document]}`;
}

export interface SendCommandDeps {
  readonly ssm: SSMClient;
  readonly store: RunStore;
  /** `DOCUMENT_PREFIX`: deployed document names are `<prefix>-<name>`. */
  readonly documentPrefix: string;
  /** `COMMAND_LOG_GROUP`: where SSM copies command output. @default - not copied */
  readonly commandLogGroup?: string;
  readonly now: () => Date;
}

export interface SendCommandResult {
  readonly commandId: string;
}

export function makeSendCommandHandler(deps: SendCommandDeps) {
  return async (event: unknown): Promise<SendCommandResult> => {
    const input = parseEvent('send-command', eventSchema, event);
    const { runId, node, instanceId, document, timeoutSeconds } = input;
    logContext({ runId, node });
    const name = documentName(deps.documentPrefix, document);

    const start = input.startedAt === undefined ? deps.now() : new Date(input.startedAt);
    const timing: CommandTiming = {
      deadline: new Date(start.getTime() + timeoutSeconds * 1000).toISOString(),
    };
    // gzipped when plain base64 would not fit (payload-encoding.ts): 100 updates do.
    const payload = encodePayload(
      JSON.stringify({ ...input.payload, ...timing }),
      MAX_PAYLOAD_BYTES,
    );
    if (payload.length > MAX_PAYLOAD_BYTES) {
      throw new PayloadTooLargeError(
        `payload for document ${name} (${document}) is ${payload.length} characters in base64 (gzipped), over the ${MAX_PAYLOAD_BYTES} a Windows environment variable (SSM_Payload) can hold; send fewer updates per command`,
      );
    }

    const sent = await deps.ssm.send(
      new SendCommandCommand({
        DocumentName: name,
        InstanceIds: [instanceId],
        Parameters: { [PAYLOAD_PARAMETER]: [payload] },
        TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
        Comment: commandComment(runId, node, document),
        ...(deps.commandLogGroup
          ? {
              CloudWatchOutputConfig: {
                CloudWatchOutputEnabled: true,
                CloudWatchLogGroupName: deps.commandLogGroup,
              },
            }
          : {}),
      }),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new Error(`SSM SendCommand for ${name} returned no CommandId`);

    const expiresAt =
      Math.floor(deps.now().getTime() / 1000) + timeoutSeconds + TOKEN_GRACE_SECONDS;
    try {
      await deps.store.putTaskToken(commandId, instanceId, {
        taskToken: input.taskToken,
        runId,
        node,
        document,
        ...(document === 'runScript' &&
        (input.payload.phase === 'pre' || input.payload.phase === 'post')
          ? { phase: input.payload.phase }
          : {}),
        expiresAt,
      });
    } catch (error) {
      // Without its token nobody can answer the workflow, and the state's Retry will send the
      // command again: cancel this one so the node does not run it twice (best effort, it may
      // have started already).
      await deps.ssm
        .send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }))
        .catch((cancelError: unknown) =>
          logger.error('could not cancel a command whose token was not stored', {
            commandId,
            error: cancelError as Error,
          }),
        );
      throw error;
    }
    logger.info('command sent', { commandId, document: name, instanceId });
    return { commandId };
  };
}

function productionDeps(): SendCommandDeps {
  const logGroup = process.env.COMMAND_LOG_GROUP;
  return {
    ssm: tracer.captureAWSv3Client(new SSMClient({})),
    store: createRunStore(),
    documentPrefix: requiredEnv('DOCUMENT_PREFIX'),
    ...(logGroup ? { commandLogGroup: logGroup } : {}),
    now: () => new Date(),
  };
}

let cached: ReturnType<typeof makeSendCommandHandler> | undefined;

export const handler = async (event: unknown, context: Context): Promise<SendCommandResult> => {
  logger.addContext(context);
  cached ??= makeSendCommandHandler(productionDeps());
  return cached(event);
};
