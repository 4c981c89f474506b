/**
 * An API Gateway REST proxy event as the catch-all resource (`/{proxy+}`) delivers it to the API
 * function, with an IAM caller in its request context (API Gateway signs nothing through: the
 * caller's ARN is what IAM authorization verified). Shared by the API handler tests and the
 * sandbox's API tests, which each built the same event before.
 */

export interface ApiRequest {
  readonly method: string;
  /** The path without the stage, e.g. `/stagings/s-1`. */
  readonly path: string;
  /** A JSON body, sent as its text. */
  readonly body?: unknown;
  /** The body's text as sent (not JSON, or JSON written a particular way). Wins over `body`. */
  readonly rawBody?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** Query parameters; an array is a repeated parameter (the last one is the single value). */
  readonly query?: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** @default 'arn:aws:iam::000000000000:user/operator' */
  readonly callerArn?: string;
  /** The IAM caller's unique id (`identity.caller`). @default - none */
  readonly callerId?: string;
  /** @default 'req-1' */
  readonly requestId?: string;
  /**
   * The resource as API Gateway matched it, for a route's own resource (e.g. `/compliance`)
   * rather than the catch-all. @default '/{proxy+}', with the path as `proxy`
   */
  readonly resource?: { readonly path: string; readonly parameters: Record<string, string> | null };
}

export const DEFAULT_CALLER = 'arn:aws:iam::000000000000:user/operator';

const defined = <T>(record: Readonly<Record<string, T | undefined>>) =>
  Object.entries(record).filter((entry): entry is [string, T] => entry[1] !== undefined);

/** The proxy event for `request`. */
export function apiEvent(request: ApiRequest) {
  const query = request.query === undefined ? [] : defined(request.query);
  const many = (v: string | readonly string[]) => (typeof v === 'string' ? [v] : [...v]);
  return {
    httpMethod: request.method,
    path: request.path,
    resource: request.resource?.path ?? '/{proxy+}',
    pathParameters: request.resource
      ? request.resource.parameters
      : { proxy: request.path.slice(1) },
    headers: {
      'Content-Type': 'application/json',
      ...Object.fromEntries(defined(request.headers ?? {})),
    },
    multiValueHeaders: {},
    queryStringParameters:
      query.length === 0 ? null : Object.fromEntries(query.map(([k, v]) => [k, many(v).at(-1)])),
    multiValueQueryStringParameters:
      query.length === 0 ? null : Object.fromEntries(query.map(([k, v]) => [k, many(v)])),
    body: request.rawBody ?? (request.body === undefined ? null : JSON.stringify(request.body)),
    isBase64Encoded: false,
    requestContext: {
      requestId: request.requestId ?? 'req-1',
      identity: {
        userArn: request.callerArn ?? DEFAULT_CALLER,
        ...(request.callerId === undefined ? {} : { caller: request.callerId }),
      },
    },
  };
}

/** An API handler as Lambda (or the sandbox's `api()`) calls it. */
type ApiHandler = (event: never) => Promise<{
  readonly statusCode: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, unknown>>;
}>;

/**
 * `(method, path, body?, headers?)` → the answer's status and JSON body, through `handler` with
 * {@link apiEvent}'s event: what the API tests of the sandbox each wrote before.
 */
export function apiCaller(handler: ApiHandler, callerArn: string = DEFAULT_CALLER) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    headers: Readonly<Record<string, string>> = {},
  ) => {
    const res = await handler(apiEvent({ method, path, body, headers, callerArn }) as never);
    return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> };
  };
}
