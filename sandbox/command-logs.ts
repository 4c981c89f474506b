/**
 * The sandbox's CloudWatch Logs, as far as complete-command reads it: GetLogEvents on the
 * stdout stream SSM writes for a command that asked for it (`CloudWatchOutputConfig`), served
 * from the simulated fleet's invocations in full, while GetCommandInvocation cuts the same
 * output at 24,000 characters. Pages are small, so a long output takes several pages and the
 * reader's paging is exercised.
 *
 * Stream names: `<CommandId>/<InstanceId>/aws-runPowerShellScript/stdout`
 * (lambdas/handlers/full-output.ts says why that form).
 */
import {
  GetLogEventsCommand,
  type GetLogEventsCommandOutput,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';

/** The log group the sandbox's send-command and complete-command are configured with. */
export const SANDBOX_COMMAND_LOG_GROUP = '/sandbox/rollout/command-output';

/** Events per GetLogEvents page (the service returns up to 10,000 or 1 MB). */
export const SANDBOX_LOG_PAGE_EVENTS = 50;

/** What the fleet holds: the stdout lines SSM has copied to a stream, or undefined. */
export interface CommandLogSource {
  commandLogLines(logGroup: string, stream: string): readonly string[] | undefined;
}

/**
 * SSM Agent uploads a command's output to CloudWatch Logs after the fact, so a read right after
 * the command ends may find only part of the stream: the first `reads` reads from the head of
 * each stream (Infinity: every read) see all its lines but the last `withheldLines`.
 */
export interface PartialUpload {
  readonly reads: number;
  readonly withheldLines: number;
}

export class FakeCommandLogs {
  /** GetLogEvents calls answered, and the streams read, for tests. */
  reads = 0;
  readonly streamsRead = new Set<string>();
  /** Simulate an upload still under way (tests set it, e.g. in runScenario's beforeRuns). */
  partialUpload: PartialUpload | undefined;
  /** Reads from the head that found the stream partial, for tests. */
  partialReads = 0;
  private readonly headReads = new Map<string, number>();

  constructor(
    private readonly source: CommandLogSource,
    private readonly now: () => number,
  ) {}

  async send(command: unknown): Promise<GetLogEventsCommandOutput> {
    if (!(command instanceof GetLogEventsCommand)) {
      throw new Error(
        `FakeCommandLogs: ${String((command as { constructor?: { name?: string } })?.constructor?.name)} is not simulated; it answers GetLogEventsCommand`,
      );
    }
    this.reads++;
    const input = command.input;
    const whole = this.source.commandLogLines(input.logGroupName ?? '', input.logStreamName ?? '');
    if (whole === undefined) {
      throw new ResourceNotFoundException({
        message: `The specified log stream does not exist: ${String(input.logGroupName)} ${String(input.logStreamName)}`,
        $metadata: {},
      });
    }
    this.streamsRead.add(input.logStreamName ?? '');
    if (input.startFromHead !== true && input.nextToken === undefined) {
      throw new Error(
        'FakeCommandLogs: read from the head (startFromHead: true), as SSM output is',
      );
    }
    const lines = this.uploaded(input.logStreamName ?? '', whole, input.nextToken === undefined);
    const from =
      input.nextToken === undefined ? 0 : Number(/^f\/(\d+)$/.exec(input.nextToken)?.[1]);
    if (!Number.isInteger(from)) {
      throw new Error(
        `FakeCommandLogs: nextToken ${JSON.stringify(input.nextToken)} is not one it gave`,
      );
    }
    const to = Math.min(lines.length, from + SANDBOX_LOG_PAGE_EVENTS);
    const at = this.now();
    return {
      $metadata: { httpStatusCode: 200 },
      events: lines
        .slice(from, to)
        .map((message) => ({ message, timestamp: at, ingestionTime: at })),
      // At the end, the token handed in comes back.
      nextForwardToken: `f/${to}`,
      nextBackwardToken: `b/${from}`,
    };
  }

  /**
   * The lines of `stream` uploaded so far: while `partialUpload` lasts for the stream, all but
   * the last `withheldLines`. A read from the head starts a new look; the pages after it (their
   * tokens) see what that look saw.
   */
  private uploaded(stream: string, lines: readonly string[], fromHead: boolean): readonly string[] {
    const partial = this.partialUpload;
    if (partial === undefined) return lines;
    const looks = (this.headReads.get(stream) ?? 0) + (fromHead ? 1 : 0);
    this.headReads.set(stream, looks);
    if (looks > partial.reads) return lines;
    if (fromHead) this.partialReads++;
    return lines.slice(0, Math.max(0, lines.length - partial.withheldLines));
  }
}
