/**
 * approval-gate: the workflow's `.waitForTaskToken` task at an approval gate. It stores the token
 * on the run (where approve, reject and cancel find it), announces the gate, and fails the task
 * at once for a run cancelled before its token was stored.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SFNClient, TaskDoesNotExist } from '@aws-sdk/client-sfn';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ApprovalGateDeps,
  makeApprovalGateHandler,
} from '../../lambdas/handlers/approval-gate.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const NOW = new Date('2025-05-13T22:00:00.000Z');

const event = {
  taskToken: 'AQB8AAAAKgAAAAMAAAAAAAAAA...token',
  runId: 'run-1',
  target: 'CLUSTER1',
  afterNodes: 2,
  timeoutMinutes: 90,
  changeTicket: { system: 'ServiceNow', id: 'CHG1', url: 'https://sn.example.com/CHG1' },
};

function makeHandler(overrides: Partial<ApprovalGateDeps> = {}) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return makeApprovalGateHandler({
    store: new RunStore({ client, tableName: 'runs' }),
    now: () => NOW,
    sfn: new SFNClient({ region: 'us-east-1' }),
    ...overrides,
  });
}

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

beforeAll(() => {
  logger.setLogLevel('SILENT');
});

afterEach(() => {
  ddb.reset();
  sfn.reset();
  vi.restoreAllMocks();
});

describe('approval-gate', () => {
  it('stores the token on the run, announces the gate, and returns', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({ Item: { pk: 'RUN#run-1', sk: 'RUN', status: 'Running' } });
    const publish = vi.fn(async () => {});
    // Act
    const result = await makeHandler({ publish })(event);
    // Assert
    expect(result).toEqual({
      runId: 'run-1',
      status: 'AwaitingApproval',
      decideBy: '2025-05-13T23:30:00.000Z',
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: 'runs',
      Item: expect.objectContaining({
        pk: 'RUN#run-1',
        sk: 'APPROVAL',
        kind: 'approval',
        taskToken: event.taskToken,
        afterNodes: 2,
        timeoutMinutes: 90,
        requestedAt: NOW.toISOString(),
        // The token outlives the gate by an hour, then TTL deletes it.
        expiresAt: Date.parse('2025-05-14T00:30:00.000Z') / 1000,
        changeTicket: event.changeTicket,
      }),
    });
    expect(publish).toHaveBeenCalledWith({
      runId: 'run-1',
      target: 'CLUSTER1',
      gate: { afterNodes: 2, timeoutMinutes: 90 },
      changeTicket: event.changeTicket,
      requestedAt: NOW.toISOString(),
      decideBy: '2025-05-13T23:30:00.000Z',
    });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 0);
  });

  it('fails the task at once when the run was cancelled before the gate', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({
      Item: {
        pk: 'RUN#run-1',
        sk: 'RUN',
        status: 'Running',
        cancelRequested: true,
        cancelRequestedBy: 'bob',
      },
    });
    ddb.on(DeleteCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    const publish = vi.fn(async () => {});
    // Act
    const result = await makeHandler({ publish })(event);
    // Assert
    expect(result).toEqual({ runId: 'run-1', status: 'Cancelled' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: event.taskToken,
      error: 'RolloutCancelled',
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      Key: { pk: 'RUN#run-1', sk: 'APPROVAL' },
      ConditionExpression: '#taskToken = :token',
    });
    expect(publish).not.toHaveBeenCalled();
  });

  it('is content when the cancel handler failed the token first', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({ Item: { status: 'Running', cancelRequested: true } });
    ddb.on(DeleteCommand).resolves({});
    sfn
      .on(SendTaskFailureCommand)
      .rejects(new TaskDoesNotExist({ message: 'gone', $metadata: {} }));
    // Act
    const result = await makeHandler()(event);
    // Assert
    expect(result.status).toBe('Cancelled');
  });

  it('waits for the gate to time out when it may not fail the task of a cancelled run', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({ Item: { status: 'Running', cancelRequested: true } });
    sfn
      .on(SendTaskFailureCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    // Act
    const result = await makeHandler()(event);
    // Assert
    expect(result.status).toBe('AwaitingApproval');
    expect(ddb).toHaveReceivedCommandTimes(DeleteCommand, 0);
  });

  it('without an SFN client, stores the token and waits', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    // Act
    const result = await makeHandler({ sfn: undefined })({ ...event, changeTicket: null });
    // Assert
    expect(result.status).toBe('AwaitingApproval');
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 0);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ changeTicket: null }),
    });
  });

  it.each([
    { case: 'no task token', change: { taskToken: '' }, field: 'taskToken' },
    { case: 'a bad run id', change: { runId: 'a b' }, field: 'runId' },
    // 0 is a health gate before the first node or wave (issue 13, item 1).
    { case: 'a negative node count', change: { afterNodes: -1 }, field: 'afterNodes' },
    {
      case: 'a wait of more than a week',
      change: { timeoutMinutes: 10_081 },
      field: 'timeoutMinutes',
    },
  ])('refuses $case: InvalidEvent naming $field', async ({ change, field }) => {
    // Act
    const error = await rejection(() => makeHandler()({ ...event, ...change }));
    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain(field);
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 0);
  });

  it('lets throttling through for the state Retry', async () => {
    // Arrange
    ddb
      .on(PutCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    // Act
    const error = await rejection(() => makeHandler()(event));
    // Assert
    expect(error.name).toBe('ProvisionedThroughputExceededException');
  });

  it('lets a failed announcement through, after storing the token', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({ Item: { status: 'Running' } });
    const publish = vi.fn(async () => {
      throw Object.assign(new Error('bus refused'), { name: 'LifecycleEventNotPublished' });
    });
    // Act
    const error = await rejection(() => makeHandler({ publish })(event));
    // Assert
    expect(error.name).toBe('LifecycleEventNotPublished');
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
  });
});
