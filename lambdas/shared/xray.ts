/**
 * X-Ray subsegments for the AWS SDK v3 calls a handler makes (issue 11 §4, lean bundles).
 *
 * The handlers used one thing of Powertools' Tracer: `captureAWSv3Client`. The Tracer brings the
 * whole X-Ray SDK (its sampling-rule poller, HTTP and SDK v2 patchers, EC2/ECS/Beanstalk plugins,
 * cls-hooked, semver): about 110 KB of every bundle. This module does what that one call did in
 * Lambda: for each SDK call it makes a subsegment under the invocation's facade segment
 * (`_X_AMZN_TRACE_ID`, or the runtime's invoke store), sends the downstream service the trace
 * header with the subsegment as parent, and when the request is sampled streams the closed
 * subsegment to the X-Ray daemon over UDP, as the SDK streams a facade segment's subsegments.
 * The Lambda service itself records the function's segment (active tracing, set by the stack).
 *
 * Tracing is on in Lambda unless POWERTOOLS_TRACE_ENABLED=false, as with the Tracer.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { getXrayTraceDataFromEnv } from '@aws-lambda-powertools/commons/utils/env';

/** The middleware name: adding it again replaces it (the call is idempotent). */
export const XRAY_MIDDLEWARE_NAME = 'XRaySDKInstrumentation';

/** The first line of every datagram to the daemon. */
const PROTOCOL_HEADER = '{"format":"json","version":1}';

/** A subsegment document as the daemon takes it. */
export interface SubsegmentDocument {
  readonly type: 'subsegment';
  readonly id: string;
  readonly trace_id: string;
  readonly parent_id: string;
  readonly name: string;
  readonly namespace: 'aws';
  readonly start_time: number;
  readonly end_time: number;
  readonly aws: {
    readonly operation: string;
    readonly region?: string;
    readonly request_id?: string;
    readonly retries: number;
    readonly table_name?: string;
  };
  readonly http?: { readonly response: { readonly status: number } };
  readonly error?: true;
  readonly throttle?: true;
  readonly fault?: true;
  readonly cause?: {
    readonly exceptions: readonly {
      readonly id: string;
      readonly message: string;
      readonly type: string;
      readonly remote: true;
    }[];
  };
}

/** Where subsegments go; tests pass their own. */
export type SubsegmentSink = (document: SubsegmentDocument) => void;

/** The trace context of the current invocation, or undefined outside a traced invocation. */
interface TraceContext {
  readonly root: string;
  readonly parent: string;
  readonly sampled: boolean;
  /** Other fields of the header (Lineage, ...), passed on as they came. */
  readonly extra: string;
}

function traceContext(): TraceContext | undefined {
  const data = getXrayTraceDataFromEnv() as Record<string, string> | undefined;
  if (!data?.Root || !data.Parent) return undefined;
  const extra = Object.entries(data)
    .filter(([key]) => key !== 'Root' && key !== 'Parent' && key !== 'Sampled')
    .map(([key, value]) => `;${key}=${value}`)
    .join('');
  return { root: data.Root, parent: data.Parent, sampled: data.Sampled === '1', extra };
}

/** Tracing is on in Lambda (not SAM local, not the Amplify mock) unless turned off. */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'false') return false;
  if (env.AWS_SAM_LOCAL !== undefined && env.AWS_SAM_LOCAL !== '') return false;
  if (env.AWS_EXECUTION_ENV === undefined || env.AWS_EXECUTION_ENV === '') return false;
  return env.AWS_EXECUTION_ENV !== 'AWS_Lambda_amplify-mock';
}

/** The daemon's UDP address: AWS_XRAY_DAEMON_ADDRESS (`host:port`, or `tcp:… udp:host:port`). */
export function daemonAddress(value = process.env.AWS_XRAY_DAEMON_ADDRESS): {
  host: string;
  port: number;
} {
  const udp =
    value
      ?.split(' ')
      .find((part) => part.startsWith('udp:'))
      ?.slice(4) ?? value;
  const match = /^(.+):(\d+)$/.exec(udp ?? '');
  if (!match) return { host: '127.0.0.1', port: 2000 };
  return { host: match[1] as string, port: Number(match[2]) };
}

let socket: Socket | undefined;

/** Sends a subsegment to the daemon; a send that fails is dropped, as the X-Ray SDK does. */
export const sendToDaemon: SubsegmentSink = (document) => {
  socket ??= createSocket('udp4').unref();
  const { host, port } = daemonAddress();
  const message = Buffer.from(`${PROTOCOL_HEADER}\n${JSON.stringify(document)}`);
  socket.send(message, port, host, () => {});
};

interface SdkContext {
  readonly clientName?: string;
  readonly commandName?: string;
}
interface SdkArgs {
  readonly input?: Record<string, unknown>;
  readonly request?: { headers?: Record<string, string> };
}
interface SdkMetadata {
  readonly httpStatusCode?: number;
  readonly requestId?: string;
  readonly attempts?: number;
}
type Next = (args: SdkArgs) => Promise<{ output?: { $metadata?: SdkMetadata } }>;

/** What a client must have to be instrumented. */
export interface InstrumentableClient {
  readonly middlewareStack: {
    add(middleware: unknown, options: { name: string; step: 'build' }): void;
    remove(name: string): boolean;
  };
  readonly config: { region?: string | (() => Promise<string>) };
}

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);

/** `GetItemCommand` → `GetItem`; `DynamoDBClient` → `DynamoDB`. */
const strip = (name: string | undefined, suffix: string) =>
  name?.endsWith(suffix) ? name.slice(0, -suffix.length) : (name ?? 'Unknown');

async function regionOf(client: InstrumentableClient): Promise<string | undefined> {
  const region = client.config.region;
  return typeof region === 'function' ? await region() : region;
}

/**
 * Adds the X-Ray middleware to an SDK v3 client (and returns the client). Outside Lambda, or
 * with tracing turned off, the client is returned as it is.
 */
export function captureAWSv3Client<T extends InstrumentableClient>(
  client: T,
  sink: SubsegmentSink = sendToDaemon,
  enabled: boolean = tracingEnabled(),
): T {
  if (!enabled) return client;
  client.middlewareStack.remove(XRAY_MIDDLEWARE_NAME);
  const middleware =
    (next: Next, context: SdkContext) =>
    async (args: SdkArgs): Promise<unknown> => {
      const trace = traceContext();
      if (!trace) return next(args);
      const id = randomBytes(8).toString('hex');
      if (args.request?.headers) {
        args.request.headers['X-Amzn-Trace-Id'] =
          `Root=${trace.root};Parent=${id};Sampled=${trace.sampled ? '1' : '0'}${trace.extra}`;
      }
      if (!trace.sampled) return next(args);
      const start = Date.now() / 1000;
      const base = {
        type: 'subsegment' as const,
        id,
        trace_id: trace.root,
        parent_id: trace.parent,
        name: strip(context.clientName, 'Client'),
        namespace: 'aws' as const,
        start_time: start,
      };
      const operation = strip(context.commandName, 'Command');
      const tableName = args.input?.TableName;
      const aws = async (metadata: SdkMetadata | undefined) => {
        const region = await regionOf(client).catch(() => undefined);
        return {
          operation,
          ...(region === undefined ? {} : { region }),
          ...(metadata?.requestId === undefined ? {} : { request_id: metadata.requestId }),
          retries: Math.max(0, (metadata?.attempts ?? 1) - 1),
          ...(typeof tableName === 'string' ? { table_name: tableName } : {}),
        };
      };
      try {
        const result = await next(args);
        const metadata = result.output?.$metadata;
        const status = metadata?.httpStatusCode;
        sink({
          ...base,
          end_time: Date.now() / 1000,
          aws: await aws(metadata),
          ...(status === undefined ? {} : { http: { response: { status } } }),
        });
        return result;
      } catch (error) {
        const e = error as { name?: string; message?: string; $metadata?: SdkMetadata };
        const status = e.$metadata?.httpStatusCode;
        const throttled = (e.name !== undefined && THROTTLING.has(e.name)) || status === 429;
        const flags = throttled
          ? { error: true as const, throttle: true as const }
          : status !== undefined && status >= 400 && status < 500
            ? { error: true as const }
            : // A 5xx, or no answer at all (the call never reached the service).
              { fault: true as const };
        sink({
          ...base,
          end_time: Date.now() / 1000,
          aws: await aws(e.$metadata),
          ...(status === undefined ? {} : { http: { response: { status } } }),
          ...flags,
          cause: {
            exceptions: [
              {
                id: randomBytes(8).toString('hex'),
                message: e.message ?? String(error),
                type: e.name ?? 'Error',
                remote: true,
              },
            ],
          },
        });
        throw error;
      }
    };
  client.middlewareStack.add(middleware, { name: XRAY_MIDDLEWARE_NAME, step: 'build' });
  return client;
}
