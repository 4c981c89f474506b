/**
 * The full standard output of a command whose inline output GetCommandInvocation cut.
 *
 * GetCommandInvocation returns the first 24,000 characters a plug-in wrote to stdout. A hotfix
 * command over about 40 updates writes more, so the result lines past that are not inline.
 * send-command asks SSM to copy the output to CloudWatch Logs (`CloudWatchOutputConfig`, the
 * `COMMAND_LOG_GROUP` log group); this reads it back from the invocation's stdout stream,
 * `<CommandId>/<InstanceId>/<plug-in>/stdout`, every page of GetLogEvents.
 *
 * The plug-in part of the stream name: public uses of AWS-RunShellScript (step `runShellScript`,
 * action `aws:runShellScript`) read `.../aws-runShellScript/stdout`, the action with `:` as `-`;
 * the AWS documentation does not spell it out for a schema 2.2 step. Both the action form and the
 * step name are tried, in that order, with GetLogEvents alone (no DescribeLogStreams).
 *
 * Fail closed: output that is cut and cannot be read in full is never passed on as if it were
 * whole, since an update the node installed but did not report would be counted failed and left
 * out of the ledger. The caller gets a `problem` instead, which it reports as an unreadable result.
 * SSM Agent uploads asynchronously, so a stream read right after the command may be partial: the
 * caller's `incomplete` check (the scripts' end marker, complete-command.ts) has it read again.
 */
import {
  type CloudWatchLogsClient,
  GetLogEventsCommand,
  type GetLogEventsCommandOutput,
} from '@aws-sdk/client-cloudwatch-logs';
import { DOCUMENTS, type DocumentKey } from '../core/contracts.js';

/** GetCommandInvocation's StandardOutputContent: the first 24,000 characters of stdout (SSM). */
export const INLINE_OUTPUT_LIMIT = 24_000;
/** The action every one of our documents' steps runs. */
const STEP_ACTION = 'aws:runPowerShellScript';
/** GetLogEvents pages read at most (1 MB each): a guard against a token that never settles. */
const MAX_PAGES = 1000;
/**
 * Reads while the stream holds no more than the inline output or lacks its end marker (SSM Agent
 * still uploading): waits of 1, 2, 4 and 8 s, 15 s in all.
 */
export const UPLOAD_TRIES = 5;
const UPLOAD_FIRST_DELAY_MS = 1000;

/**
 * Whether GetCommandInvocation cut the output: it is at the documented limit (in characters, or
 * in UTF-8 bytes should SSM count those). Exactly 24,000 characters written reads as cut, which
 * costs one needless read of the full output and loses nothing.
 */
export function isInlineOutputCut(inline: string): boolean {
  return inline.length >= INLINE_OUTPUT_LIMIT || Buffer.byteLength(inline) >= INLINE_OUTPUT_LIMIT;
}

/** The stdout stream names SSM may have used for one invocation of one of our documents. */
export function outputStreamNames(
  commandId: string,
  instanceId: string,
  document: DocumentKey,
): string[] {
  return [STEP_ACTION.replace(':', '-'), DOCUMENTS[document]].map(
    (plugin) => `${commandId}/${instanceId}/${plugin}/stdout`,
  );
}

export interface FullOutputRequest {
  readonly logs: Pick<CloudWatchLogsClient, 'send'>;
  /** The log group send-command named (COMMAND_LOG_GROUP), or undefined when it names none. */
  readonly logGroup: string | undefined;
  readonly commandId: string;
  readonly instanceId: string;
  readonly document: DocumentKey;
  /** What GetCommandInvocation returned. */
  readonly inline: string;
  /** Whether the invocation says its output went to CloudWatch Logs. */
  readonly copiedToCloudWatch: boolean;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * Why the text read is not the whole output yet (no end marker, or a count that disagrees with
   * the result lines), or undefined when it is. The read is retried while it says so (the agent
   * may still be uploading), then the output fails closed naming it. @default - whole once it is
   * longer than the inline output
   */
  readonly incomplete?: (output: string) => string | undefined;
}

export type FullOutput =
  | { readonly output: string; readonly stream: string; readonly pages: number }
  | { readonly problem: string };

const isNamed = (error: unknown, ...names: string[]) =>
  names.includes(String((error as { name?: unknown } | null)?.name));

/** Output as text to compare: SSM and CloudWatch may differ in line ends. */
const comparable = (text: string) => text.replace(/\r\n/g, '\n').trimEnd();

/** Every event of one stream, oldest first, one message a line. Undefined when no such stream. */
async function readStream(
  logs: FullOutputRequest['logs'],
  logGroup: string,
  stream: string,
): Promise<{ text: string; pages: number } | undefined> {
  const lines: string[] = [];
  let token: string | undefined;
  for (let page = 1; page <= MAX_PAGES; page++) {
    let answer: GetLogEventsCommandOutput;
    try {
      answer = await logs.send(
        new GetLogEventsCommand({
          logGroupName: logGroup,
          logStreamName: stream,
          startFromHead: true,
          ...(token === undefined ? {} : { nextToken: token }),
        }),
      );
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
    for (const event of answer.events ?? []) {
      lines.push((event.message ?? '').replace(/\r?\n$/, ''));
    }
    // The end of the stream: GetLogEvents hands back the token it was given.
    if (answer.nextForwardToken === undefined || answer.nextForwardToken === token) {
      return { text: lines.join('\n'), pages: page };
    }
    token = answer.nextForwardToken;
  }
  throw new Error(
    `GetLogEvents on ${logGroup} ${stream}: the forward token still moved after ${MAX_PAGES} pages`,
  );
}

/**
 * The full stdout from CloudWatch Logs, or the reason it cannot be had. Throttling and other
 * service errors propagate (Lambda's async retries redeliver the event); what a retry cannot fix
 * (no log group, no stream, access denied, text that disagrees with the inline output) is a
 * `problem`.
 */
export async function readFullOutput(request: FullOutputRequest): Promise<FullOutput> {
  const { logs, logGroup, commandId, instanceId, document } = request;
  const cut = `GetCommandInvocation cut the output at ${INLINE_OUTPUT_LIMIT} characters`;
  if (logGroup === undefined || logGroup === '') {
    return {
      problem: `${cut} and no command log group is configured (COMMAND_LOG_GROUP), so the result lines past it cannot be read`,
    };
  }
  if (!request.copiedToCloudWatch) {
    return {
      problem: `${cut} and the invocation did not copy its output to CloudWatch Logs (CloudWatchOutputConfig), so the result lines past it cannot be read`,
    };
  }
  const inline = comparable(request.inline);
  const streams = outputStreamNames(commandId, instanceId, document);
  let delay = UPLOAD_FIRST_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    let found: { text: string; pages: number; stream: string } | undefined;
    let gap: string | undefined;
    try {
      for (const stream of streams) {
        const read = await readStream(logs, logGroup, stream);
        if (read !== undefined) {
          found = { ...read, stream };
          break;
        }
      }
    } catch (error) {
      if (isNamed(error, 'AccessDeniedException', 'UnrecognizedClientException')) {
        return {
          problem: `${cut} and reading log group ${logGroup} was refused (${(error as Error).name}: ${(error as Error).message})`,
        };
      }
      throw error;
    }
    if (found !== undefined) {
      const full = comparable(found.text);
      if (!full.startsWith(inline.slice(0, Math.min(inline.length, full.length)))) {
        return {
          problem: `${cut} and the CloudWatch Logs stream ${found.stream} in ${logGroup} does not begin with the inline output`,
        };
      }
      // Longer than the inline output, or as long when exactly the limit was written.
      if (full.length >= inline.length) {
        gap = request.incomplete?.(found.text);
        if (gap === undefined) {
          return { output: found.text, stream: found.stream, pages: found.pages };
        }
      }
    }
    if (attempt >= UPLOAD_TRIES) {
      return {
        problem:
          found === undefined
            ? `${cut} and log group ${logGroup} has no stream ${streams.join(' or ')} after ${attempt} reads`
            : gap === undefined
              ? `${cut} and the CloudWatch Logs stream ${found.stream} in ${logGroup} held no more than the inline output after ${attempt} reads`
              : `${cut} and the CloudWatch Logs stream ${found.stream} in ${logGroup} is still incomplete after ${attempt} reads: ${gap}`,
      };
    }
    // SSM Agent uploads the output while and after the script runs: give it a moment.
    await request.sleep(delay);
    delay *= 2;
  }
}
