import 'aws-sdk-client-mock-vitest/extend';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  type CommandInvocationStatus,
  GetCommandInvocationCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  CommandOutcome,
  PlannedInstall,
  TerminalStatus,
} from '../../lambdas/core/contracts.js';
import { interpretHotfixInstall } from '../../lambdas/core/interpret.js';
import { makeCompleteCommandHandler } from '../../lambdas/handlers/complete-command.js';
import {
  INLINE_OUTPUT_LIMIT,
  isInlineOutputCut,
  outputStreamNames,
  UPLOAD_TRIES,
} from '../../lambdas/handlers/full-output.js';
import { RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);
const logs = mockClient(CloudWatchLogsClient);
const INSTANCE = 'i-0123456789abcdef0';
const GROUP = '/rollout/command-output';
const STREAM = `cmd-1/${INSTANCE}/aws-runPowerShellScript/stdout`;

/**
 * The stdout of an install of `count` updates, each result line padded to about 400 chars, and
 * the end marker the script writes last (`end: false`, a script the agent killed: none).
 */
function installOutput(count: number, end = true): string[] {
  const lines = ['[rollout] installing'];
  for (let i = 0; i < count; i++) {
    lines.push(
      `ROLLOUT-RESULT ${JSON.stringify({ index: i, file: `KB${5000000 + i}.msu`, exitCode: 0, checksumOk: true, timedOut: false, durationSeconds: 60, logTail: 'x'.repeat(300) })}`,
    );
  }
  if (end) lines.push(`ROLLOUT-END {"results":${count}}`);
  return lines;
}

/** What GetCommandInvocation returns for those lines: the first 24,000 characters. */
const inlineOf = (lines: string[]) => `${lines.join('\r\n')}\r\n`.slice(0, INLINE_OUTPUT_LIMIT);

function makeHandler(options: { logGroup?: string; withLogs?: boolean } = {}) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const sleep = vi.fn(async (_ms: number) => {});
  const logGroup = 'logGroup' in options ? options.logGroup : GROUP;
  return {
    sleep,
    handler: makeCompleteCommandHandler({
      ssm: new SSMClient({ region: 'eu-west-1' }),
      sfn: new SFNClient({ region: 'eu-west-1' }),
      store: new RunStore({ client, tableName: 'runs' }),
      documentPrefix: 'rollout-prod',
      now: () => new Date('2025-03-01T10:00:00.000Z'),
      sleep,
      ...(options.withLogs === false
        ? {}
        : { logs: new CloudWatchLogsClient({ region: 'eu-west-1' }) }),
      ...(logGroup === undefined ? {} : { commandLogGroup: logGroup }),
    }),
  };
}

const event = {
  version: '0',
  source: 'aws.ssm',
  'detail-type': 'EC2 Command Invocation Status-change Notification',
  detail: {
    'command-id': 'cmd-1',
    'instance-id': INSTANCE,
    'document-name': 'rollout-prod-InstallHotfixes',
    status: 'Success',
  },
};

function arrange(lines: string[], copied = true, status: TerminalStatus = 'Success') {
  ddb.on(GetCommand).resolves({
    Item: {
      pk: `TASK#cmd-1#${INSTANCE}`,
      sk: 'TOKEN',
      kind: 'taskToken',
      commandId: 'cmd-1',
      instanceId: INSTANCE,
      taskToken: 'token-abc',
      runId: 'run-1',
      node: 'NODE1',
      document: 'installHotfixes',
      expiresAt: 1_900_000_000,
    },
  });
  ddb.on(DeleteCommand).resolves({});
  ssm.on(GetCommandInvocationCommand).resolves({
    Status: (status === 'ExecutionTimedOut' ? 'TimedOut' : status) as CommandInvocationStatus,
    StatusDetails: status,
    ResponseCode: status === 'Success' ? 0 : status === 'Failed' ? 1 : -1,
    StandardOutputContent: inlineOf(lines),
    CloudWatchOutputConfig: { CloudWatchOutputEnabled: copied, CloudWatchLogGroupName: GROUP },
  });
  sfn.on(SendTaskSuccessCommand).resolves({});
}

/** Serves `lines` from STREAM in pages of `pageSize`, as GetLogEvents does. */
function serveStream(lines: string[], pageSize = 30, stream = STREAM) {
  logs.on(GetLogEventsCommand).callsFake((input: { logStreamName: string; nextToken?: string }) => {
    if (input.logStreamName !== stream) {
      throw new ResourceNotFoundException({ message: 'no such stream', $metadata: {} });
    }
    const from = input.nextToken === undefined ? 0 : Number(input.nextToken.slice(2));
    const to = Math.min(lines.length, from + pageSize);
    return {
      events: lines.slice(from, to).map((message) => ({ message, timestamp: 1 })),
      nextForwardToken: `f/${to}`,
    };
  });
}

const sentOutcome = (): CommandOutcome =>
  JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output ?? 'null');

const planned = (count: number): PlannedInstall[] =>
  Array.from({ length: count }, (_, index) => ({
    index,
    file: `KB${5000000 + index}.msu`,
    key: `hotfix-root/KB${5000000 + index}.msu`,
    sha256: 'a'.repeat(64),
    localPath: `C:\\ProgramData\\WindowsRollout\\Hotfixes\\KB${5000000 + index}.msu`,
    path: '%systemroot%\\System32\\wusa.exe',
    parameters: '/quiet /norestart',
    rule: { kind: 'extension', name: 'MSU' },
    exitConditions: {
      Success: [0],
      Success_RebootRequired: [3010],
      Fail_RebootRequired: [],
      AlreadyInstalled: [],
      NotApplicable: [],
    },
    alwaysReboot: false,
  }));

beforeEach(() => {
  vi.spyOn(Metrics.prototype, 'addMetric').mockImplementation(function (this: Metrics) {
    return this;
  });
});
afterEach(() => {
  ddb.reset();
  ssm.reset();
  sfn.reset();
  logs.reset();
  vi.restoreAllMocks();
});

describe('isInlineOutputCut', () => {
  it('says cut at the 24,000-character limit and not below it', () => {
    expect(isInlineOutputCut('a'.repeat(INLINE_OUTPUT_LIMIT))).toBe(true);
    expect(isInlineOutputCut('a'.repeat(INLINE_OUTPUT_LIMIT - 1))).toBe(false);
  });

  it('also says cut when the limit is reached in UTF-8 bytes', () => {
    expect(isInlineOutputCut('é'.repeat(INLINE_OUTPUT_LIMIT / 2))).toBe(true);
  });
});

describe('outputStreamNames', () => {
  it('tries the action form first, then the step name', () => {
    expect(outputStreamNames('cmd-1', INSTANCE, 'installHotfixes')).toEqual([
      STREAM,
      `cmd-1/${INSTANCE}/InstallHotfixes/stdout`,
    ]);
  });
});

describe('complete-command with output past 24,000 characters', () => {
  it('reads every page of the stream and passes on every result line', async () => {
    // Arrange: 120 updates, about 48,000 characters, so the inline output stops near update 58
    const lines = installOutput(120);
    arrange(lines);
    serveStream(lines);

    // Act
    await makeHandler().handler(event);

    // Assert
    const outcome = sentOutcome();
    expect(outcome.results).toHaveLength(120);
    expect(outcome.results.at(-1)).toMatchObject({ index: 119, exitCode: 0 });
    // 122 events, 30 a page: 5 pages, and a sixth read that hands back the same token.
    expect(logs).toHaveReceivedCommandTimes(GetLogEventsCommand, 6);
    expect(logs).toHaveReceivedNthCommandWith(GetLogEventsCommand, 1, {
      logGroupName: GROUP,
      logStreamName: STREAM,
      startFromHead: true,
    });
    expect(logs).toHaveReceivedNthCommandWith(GetLogEventsCommand, 2, { nextToken: 'f/30' });
    const verdict = interpretHotfixInstall(planned(120), outcome);
    expect(verdict.failed).toBe(false);
    expect(verdict.results.filter((r) => r.outcome === 'Success')).toHaveLength(120);
  });

  it('reads the stream named after the step when there is none named after the action', async () => {
    // Arrange
    const lines = installOutput(100);
    arrange(lines);
    serveStream(lines, 1000, `cmd-1/${INSTANCE}/InstallHotfixes/stdout`);

    // Act
    await makeHandler().handler(event);

    // Assert
    expect(sentOutcome().results).toHaveLength(100);
  });

  it('does not read CloudWatch Logs for output under the limit', async () => {
    // Arrange
    const lines = installOutput(10);
    arrange(lines);

    // Act
    await makeHandler().handler(event);

    // Assert
    expect(sentOutcome().results).toHaveLength(10);
    expect(logs).not.toHaveReceivedAnyCommand();
  });

  it('waits for SSM Agent to finish uploading, then reads the whole stream', async () => {
    // Arrange: the first read finds only the first 20 lines
    const lines = installOutput(100);
    arrange(lines);
    let readsFromHead = 0;
    logs.on(GetLogEventsCommand).callsFake((input: { nextToken?: string }) => {
      if (input.nextToken === undefined) readsFromHead++;
      const available = readsFromHead === 1 ? lines.slice(0, 20) : lines;
      const from = input.nextToken === undefined ? 0 : Number(input.nextToken.slice(2));
      return {
        events: available.slice(from).map((message) => ({ message })),
        nextForwardToken: `f/${available.length}`,
      };
    });
    const { handler, sleep } = makeHandler();

    // Act
    await handler(event);

    // Assert
    expect(sentOutcome().results).toHaveLength(100);
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['no log group is configured', { logGroup: undefined }, true, /no command log group/],
    ['the command did not copy its output', {}, false, /did not copy its output/],
    [
      'the handler has no CloudWatch Logs client',
      { withLogs: false },
      true,
      /no CloudWatch Logs client/,
    ],
  ])('fails closed when %s', async (_case, options, copied, reason) => {
    // Arrange
    const lines = installOutput(100);
    arrange(lines, copied);

    // Act
    await makeHandler(options).handler(event);

    // Assert: an error entry first, which the interpreter refuses, naming the reason
    const outcome = sentOutcome();
    expect(outcome.results[0]).toMatchObject({ error: expect.stringMatching(reason) });
    expect(() => interpretHotfixInstall(planned(100), outcome)).toThrow(/cut the output/);
  });

  it('fails closed when the stream does not exist, after giving the upload time', async () => {
    // Arrange
    arrange(installOutput(100));
    logs
      .on(GetLogEventsCommand)
      .rejects(new ResourceNotFoundException({ message: 'no such stream', $metadata: {} }));
    const { handler, sleep } = makeHandler();

    // Act
    await handler(event);

    // Assert
    expect(sentOutcome().results[0]).toMatchObject({
      error: expect.stringContaining(`has no stream ${STREAM} or`),
    });
    expect(sleep).toHaveBeenCalledTimes(UPLOAD_TRIES - 1);
  });

  it('fails closed when reading the log group is refused', async () => {
    // Arrange
    arrange(installOutput(100));
    const denied = Object.assign(new Error('not authorized to perform logs:GetLogEvents'), {
      name: 'AccessDeniedException',
    });
    logs.on(GetLogEventsCommand).rejects(denied);

    // Act
    await makeHandler().handler(event);

    // Assert
    expect(sentOutcome().results[0]).toMatchObject({
      error: expect.stringContaining('was refused (AccessDeniedException'),
    });
  });

  it('fails closed when the stream disagrees with the inline output', async () => {
    // Arrange
    const lines = installOutput(100);
    arrange(lines);
    serveStream(['something else entirely', ...lines]);

    // Act
    await makeHandler().handler(event);

    // Assert
    expect(sentOutcome().results[0]).toMatchObject({
      error: expect.stringContaining('does not begin with the inline output'),
    });
  });

  it('lets throttling propagate, so Lambda retries the event and the token stays', async () => {
    // Arrange
    arrange(installOutput(100));
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    logs.on(GetLogEventsCommand).rejects(throttled);

    // Act
    const outcome = await makeHandler()
      .handler(event)
      .then(
        () => 'resolved',
        (error: Error) => error.name,
      );

    // Assert
    expect(outcome).toBe('ThrottlingException');
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
  });
});

/** Serves `partial` from the head of STREAM for the first `reads` reads, then `lines`. */
function serveUploading(lines: string[], partial: string[], reads: number) {
  let readsFromHead = 0;
  logs.on(GetLogEventsCommand).callsFake((input: { nextToken?: string }) => {
    if (input.nextToken === undefined) readsFromHead++;
    const available = readsFromHead <= reads ? partial : lines;
    const from = input.nextToken === undefined ? 0 : Number(input.nextToken.slice(2));
    return {
      events: available.slice(from).map((message) => ({ message })),
      nextForwardToken: `f/${available.length}`,
    };
  });
}

describe('complete-command proves the output whole by its end marker', () => {
  it('re-reads a stream that is past the inline output but has no end marker yet, then gets it all', async () => {
    // Arrange: the first read finds 80 of the 100 result lines (past the inline ~57), no marker
    const lines = installOutput(100);
    arrange(lines);
    const partial = lines.slice(0, 81);
    expect(isInlineOutputCut(inlineOf(partial))).toBe(true);
    serveUploading(lines, partial, 1);
    const { handler, sleep } = makeHandler();

    // Act
    await handler(event);

    // Assert: every result line, none an error, and the ledger-relevant verdict whole
    const outcome = sentOutcome();
    expect(outcome.results).toHaveLength(100);
    expect(outcome.results.some((r) => 'error' in (r as object))).toBe(false);
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(interpretHotfixInstall(planned(100), outcome).failed).toBe(false);
  });

  it('fails closed when the stream never gets its end marker, naming why, after backing off', async () => {
    // Arrange: a permanently partial stream
    const lines = installOutput(100);
    arrange(lines);
    serveUploading(lines, lines.slice(0, 81), Number.POSITIVE_INFINITY);
    const { handler, sleep } = makeHandler();

    // Act
    await handler(event);

    // Assert
    const outcome = sentOutcome();
    expect(outcome.results[0]).toMatchObject({
      error: expect.stringContaining(
        `is still incomplete after ${UPLOAD_TRIES} reads: the output has no ROLLOUT-END line`,
      ),
    });
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([1000, 2000, 4000, 8000]);
    expect(outcome.status).toBe('Failed');
    expect(() => interpretHotfixInstall(planned(100), outcome)).toThrow(/still incomplete/);
  });

  it('fails closed when the end marker counts more result lines than the stream holds', async () => {
    // Arrange: a result line lost in the middle of the stream
    const lines = installOutput(100);
    arrange(lines);
    serveStream([...lines.slice(0, 70), ...lines.slice(71)]);

    // Act
    await makeHandler().handler(event);

    // Assert
    expect(sentOutcome().results[0]).toMatchObject({
      error: expect.stringContaining(
        'the ROLLOUT-END line counts 100 result lines but the output holds 99',
      ),
    });
  });

  it('fails closed on a cut Failed command whose stream has no end marker', async () => {
    // Arrange: Exit-RolloutFailure and the trap write the marker; its absence means a gap
    const lines = installOutput(100, false);
    arrange(lines, true, 'Failed');
    serveStream(lines);

    // Act
    await makeHandler().handler(event);

    // Assert
    expect(sentOutcome().results[0]).toMatchObject({
      error: expect.stringContaining('has no ROLLOUT-END line'),
    });
  });

  it('passes on the results of a cut command the agent timed out (no marker) as before', async () => {
    // Arrange: killed after 100 updates; the script never reached its end
    const lines = installOutput(100, false);
    arrange(lines, true, 'ExecutionTimedOut');
    serveStream(lines);
    const { handler, sleep } = makeHandler();

    // Act
    await handler(event);

    // Assert: the partial results, no error entry, no waiting for a marker that cannot come
    const outcome = sentOutcome();
    expect(outcome.status).toBe('ExecutionTimedOut');
    expect(outcome.results).toHaveLength(100);
    expect(outcome.results.some((r) => 'error' in (r as object))).toBe(false);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('fails closed on whole inline output of a Success command without its end marker', async () => {
    // Arrange: 10 updates, under the limit, the marker missing (the script died before its end)
    arrange(installOutput(10, false));

    // Act
    await makeHandler().handler(event);

    // Assert: Failed, an error entry first, and the reason at the end of the output tail
    const outcome = sentOutcome();
    expect(outcome.status).toBe('Failed');
    expect(outcome.results[0]).toMatchObject({
      error: expect.stringContaining('the command ended Success but the output has no ROLLOUT-END'),
    });
    expect(outcome.outputTail).toMatch(/\[complete-command\] the command ended Success but .*\)$/);
    expect(outcome.results).toHaveLength(11);
    expect(() => interpretHotfixInstall(planned(10), outcome)).toThrow(/ROLLOUT-END/);
    expect(logs).not.toHaveReceivedAnyCommand();
  });

  it.each(['Failed', 'TimedOut', 'ExecutionTimedOut', 'Cancelled'] as const)(
    'leaves whole inline output of a %s command without a marker as before',
    async (status) => {
      // Arrange
      arrange(installOutput(10, false), true, status);

      // Act
      await makeHandler().handler(event);

      // Assert
      const outcome = sentOutcome();
      expect(outcome.status).toBe(status);
      expect(outcome.results).toHaveLength(10);
      expect(outcome.results.some((r) => 'error' in (r as object))).toBe(false);
    },
  );
});

describe('complete-command: a document no interpreter reads', () => {
  const drainToken = {
    pk: `TASK#cmd-1#${INSTANCE}`,
    sk: 'TOKEN',
    kind: 'taskToken',
    commandId: 'cmd-1',
    instanceId: INSTANCE,
    taskToken: 'token-abc',
    runId: 'run-1',
    node: 'NODE1',
    document: 'drain',
    expiresAt: 1_900_000_000,
  };
  const drainEvent = {
    ...event,
    detail: { ...event.detail, 'document-name': 'rollout-prod-DrainNode' },
  };

  it.each([
    [
      'fails a drain whose Success output has no end marker, so the workflow takes its failed branch',
      '',
      'Failed',
      [
        { error: expect.stringContaining('has no ROLLOUT-END line'), line: '' },
        { drained: true, node: 'NODE1' },
      ],
    ],
    [
      'passes a drain whose output ends with its marker as it was',
      'ROLLOUT-END {"results":1}\r\n',
      'Success',
      [{ drained: true, node: 'NODE1' }],
    ],
  ])('%s', async (_case, end, status, results) => {
    // Arrange
    arrange([]);
    ddb.on(GetCommand).resolves({ Item: drainToken });
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: `ROLLOUT-RESULT {"drained":true,"node":"NODE1"}\r\n${end}`,
    });

    // Act
    await makeHandler().handler(drainEvent);

    // Assert
    const outcome = sentOutcome();
    expect(outcome).toMatchObject({ document: 'drain', status, responseCode: 0 });
    expect(outcome.results).toEqual(results);
  });
});
