import 'aws-sdk-client-mock-vitest/extend';
import {
  CancelCommandCommand,
  InvalidCommandId,
  ListCommandInvocationsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { makeCancelCommandHandler } from '../../lambdas/handlers/cancel-command.js';
import { commandComment } from '../../lambdas/handlers/send-command.js';

const ssm = mockClient(SSMClient);
const NOW = new Date('2025-03-01T10:00:00.000Z');
const INSTANCE = 'i-0123456789abcdef0';
const CMD = (n: number) => `${String(n).padStart(8, '0')}-1111-2222-3333-444444444444`;

const makeHandler = () =>
  makeCancelCommandHandler({ ssm: new SSMClient({ region: 'eu-west-1' }), now: () => NOW });

const event = { runId: 'run-1', node: 'NODE1', instanceId: INSTANCE, timedOut: 'InstallTimedOut' };

const invocation = (n: number, comment: string, status: string) => ({
  CommandId: CMD(n),
  InstanceId: INSTANCE,
  Comment: comment,
  Status: status as never,
});

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

afterEach(() => {
  ssm.reset();
});

describe('cancel-command handler', () => {
  it("cancels only this run's unfinished commands for this node, and says which", async () => {
    // Arrange
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation(1, commandComment('run-1', 'NODE1', 'installHotfixes'), 'InProgress'),
        invocation(2, commandComment('run-1', 'NODE1', 'inventory'), 'Success'),
        invocation(3, commandComment('run-2', 'NODE1', 'installHotfixes'), 'InProgress'),
        invocation(4, commandComment('run-1', 'NODE2', 'drain'), 'Pending'),
        invocation(5, 'someone else', 'InProgress'),
      ],
    });
    ssm.on(CancelCommandCommand).resolves({});

    // Act
    const result = await makeHandler()(event);

    // Assert
    expect(ssm).toHaveReceivedCommandTimes(CancelCommandCommand, 1);
    expect(ssm).toHaveReceivedCommandWith(CancelCommandCommand, {
      CommandId: CMD(1),
      InstanceIds: [INSTANCE],
    });
    expect(ssm).toHaveReceivedCommandWith(ListCommandInvocationsCommand, {
      InstanceId: INSTANCE,
      Filters: [{ key: 'InvokedAfter', value: '2025-02-27T09:00:00.000Z' }],
    });
    expect(result).toEqual({
      cancelled: [{ commandId: CMD(1), document: 'installHotfixes', status: 'InProgress' }],
      failed: [],
      summary: `cancelled installHotfixes command ${CMD(1)}`,
    });
  });

  it('reads every page of the listing', async () => {
    // Arrange
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({
        CommandInvocations: [
          invocation(1, commandComment('run-1', 'NODE1', 'inventory'), 'Success'),
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        CommandInvocations: [invocation(2, commandComment('run-1', 'NODE1', 'drain'), 'Delayed')],
      });
    ssm.on(CancelCommandCommand).resolves({});

    // Act
    const result = await makeHandler()(event);

    // Assert
    expect(ssm).toHaveReceivedCommandWith(ListCommandInvocationsCommand, { NextToken: 'page-2' });
    expect(result.cancelled.map((c) => c.commandId)).toEqual([CMD(2)]);
  });

  it('reports a command SSM would not cancel instead of failing the workflow', async () => {
    // Arrange
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation(1, commandComment('run-1', 'NODE1', 'restart'), 'InProgress'),
      ],
    });
    ssm.on(CancelCommandCommand).rejects(new InvalidCommandId({ message: 'gone', $metadata: {} }));

    // Act
    const result = await makeHandler()(event);

    // Assert
    expect(result.cancelled).toEqual([]);
    expect(result.summary).toBe(`could not cancel restart command ${CMD(1)} (gone)`);
  });

  it('says so when nothing of the run was still running', async () => {
    // Arrange
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });

    // Act
    const result = await makeHandler()(event);

    // Assert
    expect(ssm).toHaveReceivedCommandTimes(CancelCommandCommand, 0);
    expect(result.summary).toBe('no command of the run was still running on the node');
  });

  it('rejects a bad event, naming the field', async () => {
    // Act
    const error = await rejection(() => makeHandler()({ ...event, instanceId: 'web01' }));

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('instanceId');
    expect(ssm).toHaveReceivedCommandTimes(ListCommandInvocationsCommand, 0);
  });
});
