import 'aws-sdk-client-mock-vitest/extend';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  SendTaskSuccessCommand,
  SFNClient,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import {
  GetCommandInvocationCommand,
  InvocationDoesNotExist,
  SSMClient,
} from '@aws-sdk/client-ssm';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandOutcome } from '../../lambdas/core/contracts.js';
import {
  eventOfDeadLetter,
  makeCompleteCommandHandler,
  outputGap,
  parseEndMarker,
  parseResultLines,
} from '../../lambdas/handlers/complete-command.js';
import { RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);
const INSTANCE = 'i-0123456789abcdef0';

function makeHandler() {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const sleep = vi.fn(async (_ms: number) => {});
  const handler = makeCompleteCommandHandler({
    ssm: new SSMClient({ region: 'eu-west-1' }),
    sfn: new SFNClient({ region: 'eu-west-1' }),
    store: new RunStore({ client, tableName: 'runs' }),
    documentPrefix: 'rollout-prod',
    now: () => new Date('2025-03-01T10:00:00.000Z'),
    sleep,
  });
  return { handler, sleep };
}

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

const event = (status: string, documentName = 'rollout-prod-InstallHotfixes') => ({
  version: '0',
  source: 'aws.ssm',
  'detail-type': 'EC2 Command Invocation Status-change Notification',
  detail: {
    'command-id': 'cmd-1',
    'instance-id': INSTANCE,
    'document-name': documentName,
    status,
    'requested-date-time': '2025-03-01T09:59:00.000Z',
  },
});

const tokenItem = {
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
};

const sentOutcome = (): CommandOutcome =>
  JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output ?? 'null');

let addMetric: ReturnType<typeof vi.spyOn>;
let addDimension: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  addMetric = vi.spyOn(Metrics.prototype, 'addMetric').mockImplementation(function (this: Metrics) {
    return this;
  });
  addDimension = vi.spyOn(Metrics.prototype, 'addDimension');
});
afterEach(() => {
  ddb.reset();
  ssm.reset();
  sfn.reset();
  vi.restoreAllMocks();
});

describe('complete-command handler', () => {
  it.each(['Pending', 'InProgress', 'Delayed', 'Cancelling'])(
    'ignores the non-terminal status %s without a call',
    async (status) => {
      // Act
      const result = await makeHandler().handler(event(status));

      // Assert
      expect(result).toEqual({ handled: 'ignored', reason: `status ${status}` });
      expect(ddb).not.toHaveReceivedAnyCommand();
      expect(ssm).not.toHaveReceivedAnyCommand();
    },
  );

  it('throws InvalidEvent for a status it does not know', async () => {
    // Act
    const error = await rejection(() => makeHandler().handler(event('Exploded')));

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('detail.status ("Exploded")');
  });

  it('ignores commands of documents that are not ours', async () => {
    // Act
    const result = await makeHandler().handler(event('Success', 'AWS-RunPatchBaseline'));

    // Assert
    expect(result).toMatchObject({ handled: 'ignored' });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('retries InvocationDoesNotExist with growing waits, then answers the workflow', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ddb.on(DeleteCommand).resolves({});
    const missing = new InvocationDoesNotExist({ message: 'no invocation', $metadata: {} });
    ssm.on(GetCommandInvocationCommand).rejectsOnce(missing).rejectsOnce(missing).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'ROLLOUT-END {"results":0}\r\n',
    });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { handler, sleep } = makeHandler();

    // Act
    const result = await handler(event('Success'));

    // Assert
    expect(result).toMatchObject({ handled: 'completed' });
    expect(ssm).toHaveReceivedCommandTimes(GetCommandInvocationCommand, 3);
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([200, 500]);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  it('gives up with CommandNotFound after five tries', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ssm
      .on(GetCommandInvocationCommand)
      .rejects(new InvocationDoesNotExist({ message: 'no invocation', $metadata: {} }));
    const { handler, sleep } = makeHandler();

    // Act
    const error = await rejection(() => handler(event('Success')));

    // Assert
    expect(error.name).toBe('CommandNotFound');
    expect(ssm).toHaveReceivedCommandTimes(GetCommandInvocationCommand, 5);
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([200, 500, 1250, 3000]);
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('parses every ROLLOUT-RESULT line into the outcome, sends it and deletes the token', async () => {
    // Arrange
    const stdout = [
      'Downloading CAUHotfix_All/KB5000001.msu',
      'ROLLOUT-RESULT {"index":0,"file":"KB5000001.msu","exitCode":0}',
      '  ROLLOUT-RESULT {"index":1,"file":"KB5000002.msu","exitCode":3010}\r',
      'ROLLOUT-RESULT {"index":2, truncated',
      'done',
    ].join('\r\n');
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 1,
      StandardOutputContent: stdout,
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    await makeHandler().handler(event('Failed'));

    // Assert
    const outcome = sentOutcome();
    expect(outcome).toMatchObject({
      commandId: 'cmd-1',
      instanceId: INSTANCE,
      document: 'installHotfixes',
      status: 'Failed',
      responseCode: 1,
      outputTail: stdout,
    });
    expect(outcome.results).toEqual([
      { index: 0, file: 'KB5000001.msu', exitCode: 0 },
      { index: 1, file: 'KB5000002.msu', exitCode: 3010 },
      {
        error: expect.stringContaining('output line 4: ROLLOUT-RESULT line is not valid JSON'),
        line: 'ROLLOUT-RESULT {"index":2, truncated',
      },
    ]);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'token-abc' });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      Key: { pk: `TASK#cmd-1#${INSTANCE}`, sk: 'TOKEN' },
    });
    expect(addDimension).toHaveBeenCalledWith('status', 'Failed');
    expect(addMetric).toHaveBeenCalledWith('CommandCompleted', 'Count', 1);
  });

  it('reports the finer StatusDetails and keeps only the last 4000 characters', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'TimedOut',
      StatusDetails: 'ExecutionTimedOut',
      ResponseCode: -1,
      StandardOutputContent: `${'a'.repeat(5000)}END`,
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    await makeHandler().handler(event('TimedOut'));

    // Assert
    const outcome = sentOutcome();
    expect(outcome.status).toBe('ExecutionTimedOut');
    expect(outcome.outputTail).toHaveLength(4000);
    expect(outcome.outputTail.endsWith('aEND')).toBe(true);
  });

  it('throws TokenNotYetStored when our command has no token yet, so the event is redelivered', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({});
    ssm
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', Comment: 'run-1 NODE1 installHotfixes' });

    // Act
    const error = await rejection(() => makeHandler().handler(event('Success')));

    // Assert
    expect(error.name).toBe('TokenNotYetStored');
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('ignores a run of our document that no workflow sent (its comment is not ours)', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({});
    ssm
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', Comment: 'manual inventory by ops' });

    // Act
    const result = await makeHandler().handler(event('Success'));

    // Assert
    expect(result).toMatchObject({ handled: 'ignored' });
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it.each([
    new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }),
    new TaskDoesNotExist({ message: 'Task does not exist', $metadata: {} }),
  ])('tolerates $name from Step Functions: warns, deletes the token', async (error) => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0 });
    sfn.on(SendTaskSuccessCommand).rejects(error);

    // Act
    const result = await makeHandler().handler(event('Success'));

    // Assert
    expect(result).toEqual({ handled: 'workflowGone', reason: error.name });
    expect(ddb).toHaveReceivedCommandTimes(DeleteCommand, 1);
  });

  it('lets Step Functions throttling propagate and keeps the token for the retry', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0 });
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    // Act
    const error = await rejection(() => makeHandler().handler(event('Success')));

    // Assert
    expect(error.name).toBe('ThrottlingException');
    expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
  });
});

describe('complete-command redrive from the dead-letter queue', () => {
  /** The record Lambda's on-failure destination writes after the async retries ran out. */
  const onFailureRecord = (payload: unknown) => ({
    version: '1.0',
    timestamp: '2025-03-01T10:03:00.000Z',
    requestContext: {
      requestId: 'req-1',
      functionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:complete:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: payload,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'TokenNotYetStored', errorMessage: 'no task token stored yet' },
  });
  const batch = (...bodies: string[]) => ({
    Records: bodies.map((body, i) => ({
      messageId: `msg-${i + 1}`,
      receiptHandle: `rh-${i + 1}`,
      body,
      attributes: {},
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:completion-dlq',
      awsRegion: 'eu-west-1',
    })),
  });

  it.each([
    ['an on-failure record (requestPayload)', () => onFailureRecord(event('Success'))],
    ["the rule target's dead letter (the event itself)", () => event('Success')],
  ])('completes the waiting task from %s and keeps nothing queued', async (_, body) => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'ROLLOUT-RESULT {"index":0,"exitCode":0}\r\nROLLOUT-END {"results":1}',
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    const result = await makeHandler().handler.handle(batch(JSON.stringify(body())));

    // Assert
    expect(result).toEqual({ batchItemFailures: [] });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'token-abc' });
    expect(sentOutcome()).toMatchObject({ commandId: 'cmd-1', status: 'Success', responseCode: 0 });
    expect(ddb).toHaveReceivedCommand(DeleteCommand);
  });

  it('keeps queued only the messages that fail again, and answers the others', async () => {
    // Arrange: msg-1's token is stored, msg-2's is still missing, msg-3 is not JSON.
    const other = {
      ...event('Success'),
      detail: { ...event('Success').detail, 'command-id': 'cmd-2' },
    };
    ddb
      .on(GetCommand, { Key: { pk: `TASK#cmd-1#${INSTANCE}`, sk: 'TOKEN' } })
      .resolves({ Item: tokenItem });
    ddb.on(GetCommand, { Key: { pk: `TASK#cmd-2#${INSTANCE}`, sk: 'TOKEN' } }).resolves({});
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      Comment: 'run-1 NODE1 installHotfixes',
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    const result = await makeHandler().handler.handle(
      batch(
        JSON.stringify(onFailureRecord(event('Success'))),
        JSON.stringify(onFailureRecord(other)),
        'not json',
      ),
    );

    // Assert
    expect(result).toEqual({
      batchItemFailures: [{ itemIdentifier: 'msg-2' }, { itemIdentifier: 'msg-3' }],
    });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  it('answers a redriven event whose workflow already gave up as handled (nothing to keep)', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0 });
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(new TaskTimedOut({ message: 'timed out', $metadata: {} }));

    // Act
    const result = await makeHandler().handler.handle(
      batch(JSON.stringify(onFailureRecord(event('Success')))),
    );

    // Assert
    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb).toHaveReceivedCommand(DeleteCommand);
  });

  it('throws InvalidEvent naming the field for a batch that is not from SQS', async () => {
    // Act
    const error = await rejection(() =>
      makeHandler().handler.handle({
        Records: [{ messageId: 'm', body: '{}', eventSource: 'aws:s3' }],
      }),
    );

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('Records[0].eventSource ("aws:s3")');
  });

  it('names the record whose body is not JSON', () => {
    // Act
    let error: Error | undefined;
    try {
      eventOfDeadLetter('{oops', 4);
    } catch (e) {
      error = e as Error;
    }

    // Assert
    expect(error?.name).toBe('InvalidEvent');
    expect(error?.message).toContain('Records[4].body ("{oops")');
  });

  it('still answers a plain status-change event through the deployed entry', async () => {
    // Act
    const result = await makeHandler().handler.handle(event('InProgress'));

    // Assert
    expect(result).toEqual({ handled: 'ignored', reason: 'status InProgress' });
  });
});

describe('parseResultLines', () => {
  it('takes only lines that start with the prefix and a space, in order', () => {
    // Act
    const results = parseResultLines(
      'ROLLOUT-RESULTS {"x":1}\nnot ROLLOUT-RESULT {"x":2}\nROLLOUT-RESULT {"x":3}\nROLLOUT-RESULT',
    );

    // Assert
    expect(results).toEqual([{ x: 3 }, expect.objectContaining({ line: 'ROLLOUT-RESULT' })]);
  });
});

describe('parseEndMarker', () => {
  it('reads the count of the ROLLOUT-END line, with CRLF line ends and surrounding space', () => {
    expect(
      parseEndMarker('[rollout] x\r\nROLLOUT-RESULT {"a":1}\r\n  ROLLOUT-END {"results":1} \r\n'),
    ).toEqual({
      results: 1,
    });
  });

  it('is undefined without the line, and ignores look-alikes', () => {
    expect(
      parseEndMarker('ROLLOUT-RESULT {"a":1}\n[rollout] ROLLOUT-END {"results":1}'),
    ).toBeUndefined();
    expect(parseEndMarker('ROLLOUT-ENDING {"results":1}')).toBeUndefined();
  });

  it('takes the last marker when there are several', () => {
    expect(parseEndMarker('ROLLOUT-END {"results":0}\nROLLOUT-END {"results":2}')).toEqual({
      results: 2,
    });
  });

  it.each([
    'ROLLOUT-END',
    'ROLLOUT-END {"results":-1}',
    'ROLLOUT-END {"results":1.5}',
    'ROLLOUT-END {"results":"2"}',
    'ROLLOUT-END {"results":2',
  ])('refuses the malformed marker %s, quoting it', (line) => {
    expect(parseEndMarker(`ROLLOUT-RESULT {"a":1}\n${line}`)).toEqual({
      error: expect.stringContaining(JSON.stringify(line)),
    });
  });
});

describe('outputGap', () => {
  const two = 'ROLLOUT-RESULT {"a":1}\nROLLOUT-RESULT {"a":2}\n';

  it('is undefined when the marker counts the result lines', () => {
    expect(outputGap(`${two}ROLLOUT-END {"results":2}\n`, true)).toBeUndefined();
  });

  it('names a missing marker when one is required, and only then', () => {
    expect(outputGap(two, true)).toBe(
      "the output has no ROLLOUT-END line, so the script's last result lines may be missing (2 result lines found)",
    );
    expect(outputGap(two, false)).toBeUndefined();
  });

  it('names a count that disagrees, required or not', () => {
    const gap = 'the ROLLOUT-END line counts 3 result lines but the output holds 2';
    expect(outputGap(`${two}ROLLOUT-END {"results":3}`, true)).toBe(gap);
    expect(outputGap(`${two}ROLLOUT-END {"results":3}`, false)).toBe(gap);
  });

  it('counts an unparsable result line as a line, so it cannot hide a gap', () => {
    expect(outputGap('ROLLOUT-RESULT {"a":\nROLLOUT-END {"results":1}', true)).toBeUndefined();
  });
});

describe('complete-command: pre/post-update script results (issue 12)', () => {
  const scriptToken = { ...tokenItem, document: 'runScript', phase: 'pre' };
  const scriptEvent = () => event('Failed', 'rollout-prod-RunUpdateScript');

  it('records the script exit code and output tail on the run, then answers the workflow', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: scriptToken });
    ddb.on(PutCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 3,
      StandardOutputContent: 'checking services\nSQL Server agent still running\n',
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    const result = await makeHandler().handler(scriptEvent());

    // Assert
    expect(result).toMatchObject({ handled: 'completed' });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({
        pk: 'RUN#run-1',
        sk: 'SCRIPT#NODE1#cmd-1',
        kind: 'scriptResult',
        phase: 'pre',
        status: 'Failed',
        exitCode: 3,
        outputTail: expect.stringContaining('SQL Server agent still running'),
        completedAt: '2025-03-01T10:00:00.000Z',
      }),
    });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  it('still answers the workflow when the record cannot be written', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: scriptToken });
    ddb.on(PutCommand).rejects(new Error('throttled'));
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'ROLLOUT-END {"results":0}\r\n',
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    const result = await makeHandler().handler(scriptEvent());

    // Assert
    expect(result).toMatchObject({ handled: 'completed' });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  it('records nothing for a command that is not a script', async () => {
    // Arrange
    ddb.on(GetCommand).resolves({ Item: tokenItem });
    ddb.on(DeleteCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'ROLLOUT-END {"results":0}\r\n',
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    // Act
    await makeHandler().handler(event('Success'));

    // Assert
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 0);
  });
});
