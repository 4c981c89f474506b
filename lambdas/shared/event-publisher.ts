/**
 * Publishes lifecycle events (core/lifecycle-events.ts) to the control plane's EventBridge bus.
 * PutEvents can accept a request and still refuse some entries (FailedEntryCount): those entries,
 * and only those, are sent again a bounded number of times; what is still refused is an error
 * naming each entry's ErrorCode. The client is passed in, so tests hand in a mocked one.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { LIFECYCLE_EVENT_SOURCE } from '../core/contracts.js';
import {
  type ComplianceEvent,
  EVENT_BUS_ENV,
  type LifecycleDetailType,
  type LifecycleEvent,
} from '../core/lifecycle-events.js';

/** Any detail the control plane publishes: a rollout's, or an assessment's. */
type AnyDetail = LifecycleEvent['detail'] | ComplianceEvent['detail'];

import { logger, tracer } from './runtime.js';

/** Where lifecycle events go. */
export interface LifecyclePublisher {
  /**
   * False when events go nowhere (no bus configured): callers then skip the work only events
   * need, such as taking a sequence number.
   */
  readonly enabled: boolean;
  /** Publishes one event. @throws EventPublishError when it was not accepted. */
  publish(detailType: LifecycleDetailType, detail: LifecycleEvent['detail']): Promise<void>;
}

/**
 * An event the bus did not accept. Its `name` is what Step Functions' Retry matches, so it is
 * stable: `LifecycleEventNotPublished`.
 */
export class EventPublishError extends Error {
  constructor(
    message: string,
    /** The entries still refused, with EventBridge's ErrorCode (absent when the call failed). */
    readonly failures: readonly {
      readonly detailType: string;
      readonly errorCode?: string;
      readonly errorMessage?: string;
    }[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LifecycleEventNotPublished';
  }
}

/** Options of {@link EventPublisher}. */
export interface EventPublisherOptions {
  readonly client: EventBridgeClient;
  /** The bus name or ARN. */
  readonly busName: string;
  /**
   * PutEvents calls per batch before refused entries become an error (the SDK retries failed
   * requests on its own; these attempts are for entries refused in an accepted request).
   * @default 3
   */
  readonly maxAttempts?: number;
  /** Waits between attempts. @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** PutEvents takes at most 10 entries. */
const MAX_ENTRIES = 10;
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Where an assessment's Node Compliance Changed events go (an EventPublisher, or a fake). */
export interface ComplianceEventSink {
  publish(
    detailType: ComplianceEvent['detailType'],
    detail: ComplianceEvent['detail'],
  ): Promise<void>;
}

/** Publishes to one EventBridge bus with `source` {@link LIFECYCLE_EVENT_SOURCE}. */
export class EventPublisher implements LifecyclePublisher {
  readonly enabled = true;
  private readonly client: EventBridgeClient;
  private readonly busName: string;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: EventPublisherOptions) {
    if (!options.busName) throw new Error('EventPublisher: busName must name an event bus');
    const maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new Error(
        `EventPublisher: maxAttempts (${maxAttempts}): expected a whole number, 1 or more`,
      );
    }
    this.client = options.client;
    this.busName = options.busName;
    this.maxAttempts = maxAttempts;
    this.sleep = options.sleep ?? sleepFor;
  }

  async publish(detailType: LifecycleDetailType, detail: AnyDetail): Promise<void> {
    await this.publishAll([{ detailType, detail }]);
  }

  /**
   * Publishes events in order, 10 per PutEvents call. Order on the bus is not guaranteed either
   * way; subscribers order by `detail.sequence`.
   * @throws EventPublishError naming each refused entry's ErrorCode after the last attempt, or
   *   wrapping the SDK's error when a call fails outright.
   */
  async publishAll(
    events: readonly {
      readonly detailType: LifecycleDetailType;
      readonly detail: AnyDetail;
    }[],
  ): Promise<void> {
    const entries = events.map(
      (event): PutEventsRequestEntry => ({
        EventBusName: this.busName,
        Source: LIFECYCLE_EVENT_SOURCE,
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
        Time: new Date(event.detail.occurredAt),
        ...('execution' in event.detail && event.detail.execution
          ? { Resources: [event.detail.execution] }
          : {}),
      }),
    );
    for (let start = 0; start < entries.length; start += MAX_ENTRIES) {
      await this.putBatch(entries.slice(start, start + MAX_ENTRIES));
    }
  }

  private async putBatch(entries: readonly PutEventsRequestEntry[]): Promise<void> {
    let pending = entries;
    for (let attempt = 1; ; attempt++) {
      let out: PutEventsCommandOutput;
      try {
        out = await this.client.send(new PutEventsCommand({ Entries: [...pending] }));
      } catch (error) {
        const { name, message } = error as Error;
        throw new EventPublishError(
          `PutEvents to bus ${JSON.stringify(this.busName)} failed (${name}: ${message}) for ${describe(pending)}`,
          pending.map((entry) => ({ detailType: entry.DetailType ?? '' })),
          { cause: error },
        );
      }
      if ((out.FailedEntryCount ?? 0) === 0) return;
      // Entries answer the request's entries by position; a refused one has an ErrorCode.
      let refused = pending
        .map((entry, i) => ({ entry, result: out.Entries?.[i] }))
        .filter(({ result }) => result?.ErrorCode !== undefined);
      // A count with no entry to match it: resend them all rather than lose one.
      if (refused.length === 0) refused = pending.map((entry) => ({ entry, result: undefined }));
      if (attempt >= this.maxAttempts) {
        const failures = refused.map(({ entry, result }) => ({
          detailType: entry.DetailType ?? '',
          ...(result?.ErrorCode ? { errorCode: result.ErrorCode } : {}),
          ...(result?.ErrorMessage ? { errorMessage: result.ErrorMessage } : {}),
        }));
        const listed = refused.map(
          ({ entry, result }) =>
            `${describe([entry])}: ${result?.ErrorCode ?? 'no ErrorCode given'}${result?.ErrorMessage ? ` (${result.ErrorMessage})` : ''}`,
        );
        throw new EventPublishError(
          `${refused.length} lifecycle event(s) not accepted by bus ${JSON.stringify(this.busName)} after ${attempt} PutEvents attempts: ${listed.join('; ')}`,
          failures,
        );
      }
      logger.warn('lifecycle events refused, retrying them', {
        errorCodes: refused.map(({ result }) => result?.ErrorCode),
        attempt,
      });
      const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
      await this.sleep(Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
      pending = refused.map(({ entry }) => entry);
    }
  }
}

/** Publishes nothing: for a deployment without a lifecycle bus. */
export class NoopPublisher implements LifecyclePublisher {
  readonly enabled = false;
  async publish(): Promise<void> {}
}

/**
 * The publisher of a deployed function: the bus named by `EVENT_BUS_NAME`, client traced by
 * X-Ray; a {@link NoopPublisher} when the variable is unset or empty.
 */
export function createEventPublisher(): LifecyclePublisher {
  const busName = process.env[EVENT_BUS_ENV];
  if (!busName) {
    logger.info(`${EVENT_BUS_ENV} is not set: lifecycle events are not published`);
    return new NoopPublisher();
  }
  return new EventPublisher({
    client: tracer.captureAWSv3Client(new EventBridgeClient({})),
    busName,
  });
}

/** `"Rollout Started" of rollout run-1 (run-1:started)`, for messages. */
function describe(entries: readonly PutEventsRequestEntry[]): string {
  return entries
    .map((entry) => {
      let id = '';
      try {
        const detail = JSON.parse(entry.Detail ?? '{}') as { eventId?: unknown };
        if (typeof detail.eventId === 'string') id = ` (${detail.eventId})`;
      } catch {
        // The detail is ours and JSON; a message never fails over it.
      }
      return `${JSON.stringify(entry.DetailType)}${id}`;
    })
    .join(', ');
}
