import 'aws-sdk-client-mock-vitest/extend';
import {
  EventBridgeClient,
  InternalException,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LIFECYCLE_EVENT_SOURCE } from '../../lambdas/core/contracts.js';
import { EVENT_BUS_ENV, rolloutStarted } from '../../lambdas/core/lifecycle-events.js';
import {
  createEventPublisher,
  EventPublishError,
  EventPublisher,
  NoopPublisher,
} from '../../lambdas/shared/event-publisher.js';

const eventBridge = mockClient(EventBridgeClient);
const BUS = 'WindowsRollout-lifecycle';
const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:Rollout:run-1';

function makePublisher(sleep = vi.fn(async (_ms: number) => {})) {
  const client = new EventBridgeClient({ region: 'us-east-1' });
  return { publisher: new EventPublisher({ client, busName: BUS, sleep }), sleep };
}

/** A Rollout Started event of run `runId` with the given sequence. */
const started = (runId: string, sequence = 1) =>
  rolloutStarted(
    {
      runId,
      target: 'CLUSTER1',
      targetKind: 'cluster',
      nodes: ['NODE1'],
      maxFailedNodes: 0,
      startedAt: '2025-03-01T10:00:00.000Z',
      execution: EXECUTION,
      changeTicket: { system: 'ServiceNow', id: 'CHG0031337' },
    },
    { sequence, occurredAt: '2025-03-01T10:00:00.000Z' },
  );

/** The entries of the n-th PutEvents call. */
const entriesOf = (call: number): PutEventsRequestEntry[] =>
  (eventBridge.commandCalls(PutEventsCommand)[call]?.args[0].input.Entries ??
    []) as PutEventsRequestEntry[];

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

afterEach(() => {
  eventBridge.reset();
  vi.unstubAllEnvs();
});

describe('EventPublisher', () => {
  it('puts the event on the bus with our source, its detail-type, time and execution', async () => {
    // Arrange
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    const { publisher } = makePublisher();
    const event = started('run-1');

    // Act
    await publisher.publish(event.detailType, event.detail);

    // Assert
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        {
          EventBusName: BUS,
          Source: LIFECYCLE_EVENT_SOURCE,
          DetailType: 'Rollout Started',
          Detail: JSON.stringify(event.detail),
          Time: new Date('2025-03-01T10:00:00.000Z'),
          Resources: [EXECUTION],
        },
      ],
    });
    expect(JSON.parse(entriesOf(0)[0]?.Detail ?? '{}')).toMatchObject({
      changeTicket: { system: 'ServiceNow', id: 'CHG0031337', url: null },
    });
  });

  it('sends again only the refused entries, then succeeds', async () => {
    // Arrange
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [
          { EventId: 'e1' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
          { EventId: 'e3' },
        ],
      })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'e2' }] });
    const { publisher, sleep } = makePublisher();

    // Act
    await publisher.publishAll([started('run-1'), started('run-2'), started('run-3')]);

    // Assert
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 2);
    expect(entriesOf(0)).toHaveLength(3);
    expect(entriesOf(1).map((e) => JSON.parse(e.Detail ?? '{}').rolloutId)).toEqual(['run-2']);
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it('throws LifecycleEventNotPublished naming the ErrorCode after the last attempt', async () => {
    // Arrange
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });
    const { publisher, sleep } = makePublisher();
    const event = started('run-1');

    // Act
    const error = await rejection(() => publisher.publish(event.detailType, event.detail));

    // Assert
    expect(error).toBeInstanceOf(EventPublishError);
    expect(error.name).toBe('LifecycleEventNotPublished');
    expect(error.message).toContain('InternalFailure (try again)');
    expect(error.message).toContain('"Rollout Started" (run-1:started)');
    expect(error.message).toContain('after 3 PutEvents attempts');
    expect((error as EventPublishError).failures).toEqual([
      { detailType: 'Rollout Started', errorCode: 'InternalFailure', errorMessage: 'try again' },
    ]);
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 3);
    expect(sleep).toHaveBeenCalledTimes(2);
  });

  it('resends every entry when FailedEntryCount names no entry', async () => {
    // Arrange
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [] })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    const { publisher } = makePublisher();
    const event = started('run-1');

    // Act
    await publisher.publish(event.detailType, event.detail);

    // Assert
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 2);
    expect(entriesOf(1)).toEqual(entriesOf(0));
  });

  it('wraps a failed call (after the SDK retries) in LifecycleEventNotPublished, cause kept', async () => {
    // Arrange
    const cause = new InternalException({ message: 'boom', $metadata: {} });
    eventBridge.on(PutEventsCommand).rejects(cause);
    const { publisher } = makePublisher();
    const event = started('run-1');

    // Act
    const error = await rejection(() => publisher.publish(event.detailType, event.detail));

    // Assert
    expect(error.name).toBe('LifecycleEventNotPublished');
    expect(error.message).toContain('InternalException: boom');
    expect(error.cause).toBe(cause);
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });

  it('sends at most 10 entries per call, in order', async () => {
    // Arrange
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    const { publisher } = makePublisher();

    // Act
    await publisher.publishAll(Array.from({ length: 12 }, (_, i) => started('run-1', i + 1)));

    // Assert
    expect(entriesOf(0)).toHaveLength(10);
    expect(entriesOf(1).map((e) => JSON.parse(e.Detail ?? '{}').sequence)).toEqual([11, 12]);
  });

  it.each([
    { options: { busName: '' }, message: 'busName' },
    { options: { busName: BUS, maxAttempts: 0 }, message: 'maxAttempts (0)' },
  ])('refuses bad options: $message', ({ options, message }) => {
    const client = new EventBridgeClient({ region: 'us-east-1' });
    expect(() => new EventPublisher({ client, ...options })).toThrow(message);
  });
});

describe('createEventPublisher', () => {
  it('publishes nothing when EVENT_BUS_NAME is unset', async () => {
    // Arrange
    vi.stubEnv(EVENT_BUS_ENV, '');

    // Act
    const publisher = createEventPublisher();
    const event = started('run-1');
    await publisher.publish(event.detailType, event.detail);

    // Assert
    expect(publisher).toBeInstanceOf(NoopPublisher);
    expect(publisher.enabled).toBe(false);
    expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
  });

  it('publishes to the bus EVENT_BUS_NAME names', async () => {
    // Arrange
    vi.stubEnv(EVENT_BUS_ENV, BUS);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });

    // Act
    const publisher = createEventPublisher();
    const event = started('run-1');
    await publisher.publish(event.detailType, event.detail);

    // Assert
    expect(publisher.enabled).toBe(true);
    expect(entriesOf(0)[0]?.EventBusName).toBe(BUS);
  });
});
