/**
 * In-memory stand-ins for the S3 and Step Functions APIs our handlers call, with the same
 * command classes and error names as the SDK, so the real handler code runs unchanged.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { NoSuchKey } from '@aws-sdk/client-s3';

type Command = { constructor: { name: string }; input: Record<string, unknown> };

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

interface StoredObject {
  readonly body: Buffer;
  readonly sha256: string;
}

/** The stored object, or S3's own NoSuchKey error (the handlers tell "absent" by it). */
function existing(objects: Map<string, StoredObject> | undefined, key: unknown): StoredObject {
  const object = objects?.get(String(key));
  if (!object) {
    throw new NoSuchKey({
      message: `The specified key does not exist: ${String(key)}`,
      $metadata: { httpStatusCode: 404 },
    });
  }
  return object;
}

/** An in-memory S3 with the calls the handlers make. */
export class FakeS3 {
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  /** Requests made through {@link send}, by operation (`GetObject`, ...), for the cost bench. */
  readonly requests = new Map<string, number>();

  /** Stores an object; `sha256` (hex) overrides the checksum, e.g. to simulate a mismatch. */
  put(bucket: string, key: string, body: string | Buffer, sha256Hex?: string): void {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const objects = this.buckets.get(bucket) ?? new Map<string, StoredObject>();
    objects.set(key, {
      body: data,
      sha256: sha256Hex ?? createHash('sha256').update(data).digest('hex'),
    });
    this.buckets.set(bucket, objects);
  }

  /** The object's text, for tests and the sandbox's own reading. */
  text(bucket: string, key: string): string | undefined {
    return this.buckets.get(bucket)?.get(key)?.body.toString('utf8');
  }

  /** The hex SHA-256 the object carries. */
  sha256(bucket: string, key: string): string | undefined {
    return this.buckets.get(bucket)?.get(key)?.sha256;
  }

  async send(command: Command): Promise<unknown> {
    const input = command.input;
    const bucket = String(input.Bucket);
    const objects = this.buckets.get(bucket);
    const operation = command.constructor.name.replace(/Command$/, '');
    this.requests.set(operation, (this.requests.get(operation) ?? 0) + 1);
    switch (command.constructor.name) {
      case 'ListObjectsV2Command': {
        if (!objects)
          throw namedError('NoSuchBucket', `The specified bucket does not exist: ${bucket}`);
        const prefix = String(input.Prefix ?? '');
        const max = Number(input.MaxKeys ?? 1000);
        const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
        const start = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
        const page = keys.slice(start, start + max);
        const more = start + max < keys.length;
        return {
          Contents: page.map((Key) => ({ Key, Size: objects.get(Key)?.body.length ?? 0 })),
          KeyCount: page.length,
          IsTruncated: more,
          ...(more ? { NextContinuationToken: String(start + max) } : {}),
        };
      }
      case 'GetObjectCommand': {
        const object = existing(objects, input.Key);
        return {
          ContentLength: object.body.length,
          Body: {
            transformToString: async () => object.body.toString('utf8'),
            transformToByteArray: async () => new Uint8Array(object.body),
          },
        };
      }
      case 'GetObjectAttributesCommand': {
        const object = existing(objects, input.Key);
        return {
          ObjectSize: object.body.length,
          Checksum: {
            ChecksumSHA256: Buffer.from(object.sha256, 'hex').toString('base64'),
            ChecksumType: 'FULL_OBJECT',
          },
        };
      }
      case 'PutObjectCommand': {
        this.put(bucket, String(input.Key), Buffer.from(String(input.Body ?? '')));
        return { ETag: '"sandbox"' };
      }
      default:
        throw new Error(`the sandbox's S3 does not implement ${command.constructor.name}`);
    }
  }
}

/** How a waiting task ended. */
export type TaskOutcome =
  | { readonly kind: 'success'; readonly output: unknown }
  | { readonly kind: 'failure'; readonly error: string; readonly cause: string };

/**
 * Task tokens: the `.waitForTaskToken` handshake. The sandbox registers a token when a task
 * starts waiting; the complete-command handler's SendTaskSuccess resolves it.
 */
export class TaskTokens {
  private readonly waiting = new Map<string, (outcome: TaskOutcome) => void>();
  private readonly finished = new Set<string>();
  private counter = 0;

  /** A new token and the promise that settles when a handler completes it. */
  issue(): { token: string; done: Promise<TaskOutcome> } {
    const token = `sandbox-task-token-${++this.counter}`;
    const done = new Promise<TaskOutcome>((resolve) => this.waiting.set(token, resolve));
    return { token, done };
  }

  /** The wait ended some other way (timeout): later completions get TaskTimedOut. */
  expire(token: string): void {
    this.waiting.delete(token);
    this.finished.add(token);
  }

  private complete(token: string, outcome: TaskOutcome): void {
    const resolve = this.waiting.get(token);
    if (!resolve) {
      if (this.finished.has(token)) throw namedError('TaskTimedOut', `Task Timed Out: '${token}'`);
      throw namedError('TaskDoesNotExist', `Task does not exist: '${token}'`);
    }
    this.waiting.delete(token);
    this.finished.add(token);
    resolve(outcome);
  }

  /** The Step Functions client shape the handlers use. */
  readonly client = {
    send: async (command: Command): Promise<unknown> => {
      const input = command.input;
      switch (command.constructor.name) {
        case 'SendTaskSuccessCommand':
          this.complete(String(input.taskToken), {
            kind: 'success',
            output: JSON.parse(String(input.output)),
          });
          return {};
        case 'SendTaskFailureCommand':
          this.complete(String(input.taskToken), {
            kind: 'failure',
            error: String(input.error ?? 'TaskFailed'),
            cause: String(input.cause ?? ''),
          });
          return {};
        case 'SendTaskHeartbeatCommand':
          if (!this.waiting.has(String(input.taskToken))) {
            throw namedError('TaskTimedOut', `Task Timed Out: '${String(input.taskToken)}'`);
          }
          return {};
        default:
          throw new Error(
            `the sandbox's Step Functions does not implement ${command.constructor.name}`,
          );
      }
    },
  };
}

/** One lifecycle event as the sandbox's bus received it. */
export interface RecordedEvent {
  readonly detailType: string;
  readonly detail: unknown;
}

/** The lifecycle event bus of the sandbox: it keeps every event, in the order they came. */
export class RecordingBus {
  readonly enabled = true;
  readonly received: RecordedEvent[] = [];

  record(detailType: string, detail: unknown): void {
    this.received.push({ detailType, detail: JSON.parse(JSON.stringify(detail)) });
  }

  async publish(detailType: string, detail: unknown): Promise<void> {
    this.record(detailType, detail);
  }
}

/** The parts of a smithy HttpRequest the in-process transport reads. */
interface SdkHttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string | string[] | null>;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
}

/** Dynalite's request listener: the function its HTTP server calls per request. */
type RequestListener = (req: unknown, res: unknown) => void;

/**
 * An SDK request handler that hands each DynamoDB request to dynalite's own request listener
 * in-process, with no socket: the same validation, storage and answers as over loopback HTTP,
 * without the HTTP client and server costs (a third of the sandbox's CPU per node).
 */
export class InProcessHandler {
  private closed = false;

  /**
   * @param operations counts requests by DynamoDB operation (`PutItem`, `Query`, ...), for the
   *   cost bench (issue 11 §6).
   */
  constructor(
    private readonly listener: RequestListener,
    private readonly operations?: Map<string, number>,
  ) {}

  /**
   * The store behind the listener is closed (Sandbox.stop): every later request fails at once.
   * Handed to a closed dynalite, a request would never be answered (its "Database is closed"
   * is thrown in a callback, away from the response), so the caller would wait for ever.
   */
  close(): void {
    this.closed = true;
  }

  async handle(request: SdkHttpRequest): Promise<{ response: unknown }> {
    if (this.closed) {
      const operation = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'] ?? '';
      throw new Error(
        `the sandbox has stopped: its DynamoDB is closed, so ${operation || 'the request'} cannot run; read the run store before Sandbox.stop()`,
      );
    }
    if (this.operations) {
      const target = Object.entries(request.headers).find(
        ([k]) => k.toLowerCase() === 'x-amz-target',
      )?.[1];
      const operation = String(target ?? 'unknown').replace(/^DynamoDB_\d+\./, '');
      this.operations.set(operation, (this.operations.get(operation) ?? 0) + 1);
    }
    const body =
      request.body === undefined
        ? Buffer.alloc(0)
        : typeof request.body === 'string'
          ? Buffer.from(request.body)
          : // The SDK's JSON body is a Uint8Array subclass: copy its bytes, not its string form.
            Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      for (const v of Array.isArray(value) ? value : [value]) query.append(key, v ?? '');
    }
    const req = Object.assign(new EventEmitter(), {
      method: request.method,
      url: `${request.path}${query.size > 0 ? `?${query}` : ''}`,
      headers: Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]),
      ),
    });
    const response = await new Promise<{
      statusCode: number;
      headers: Record<string, string>;
      body: Uint8Array;
    }>((resolve, reject) => {
      const headers: Record<string, string> = {};
      const res = {
        statusCode: 200,
        contentType: undefined as string | undefined,
        setHeader(name: string, value: unknown) {
          headers[name.toLowerCase()] = String(value);
        },
        end(chunk?: string | Buffer) {
          resolve({
            statusCode: res.statusCode,
            headers,
            body: new Uint8Array(chunk === undefined ? Buffer.alloc(0) : Buffer.from(chunk)),
          });
        },
      };
      try {
        this.listener(req, res);
        req.emit('data', body);
        req.emit('end');
      } catch (error) {
        reject(error);
      }
    });
    return { response: { ...response, reason: undefined } };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {}
}
