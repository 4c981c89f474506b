/**
 * The change-management API's model: its routes, the requests it takes (zod, so every problem
 * names the field and the value), the status and report views built from run history, and the
 * report as CSV (RFC 4180). What the API handler runs, and only that: the response schemas are
 * in api-responses.ts and the OpenAPI document in api-openapi.ts, both built from these same
 * definitions (`api/openapi.json` is the document, written; a test keeps the file and the
 * generator equal). zod schemas are built at load, which esbuild cannot drop, so the handler's
 * bundle would carry them all if they lived here (issue 11, point 4: bundles under 300 KB;
 * test/handlers/api-bundle.test.ts keeps them out).
 *
 * Pure: no AWS SDK, no I/O.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type {
  RolloutStatusView,
  RolloutSummaryView,
  RunReportView,
  StagedNodeRecord,
  StagingStatusView,
} from './api-responses.js';
import {
  type ApprovalGate,
  describeApprovalGate,
  NODE_STATUSES,
  type NodeStatus,
  type RunStatus,
} from './contracts.js';
import { formatProblems, showValue, type ValidationProblem } from './errors.js';
import { type ExitOutcome, KNOWN_EXIT_CODES, toHex } from './exit-codes.js';
import { failedStepOf } from './failed-step.js';
import type { LedgerEntry, RemovalPlan } from './install-ledger.js';
import { nodeKey, nodeNameProblem } from './node-names.js';
import { describeNodeOrder, type NodeOrderRecord } from './node-order.js';
import type { StillApplicable } from './rescan.js';
import {
  GROUP_NAME_PATTERN,
  issueProblems,
  parseRolloutInput,
  type ResolvedRollout,
  RolloutInputError,
  RUN_ID_PATTERN,
  rolloutInputSchema,
} from './rollout-input.js';

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * The largest request body. Step Functions takes at most 256 KB of execution input; a
 * 1,000-node group is about 70 KB, so this leaves room and stops a body before it costs anything.
 */
export const MAX_BODY_BYTES = 128 * 1024;
/**
 * The largest POST /rollouts body (issue 11): a list of 100,000 nodes is about 5.5 MB of JSON,
 * and a Lambda function takes at most 6 MB (6,291,456 bytes) synchronously, as API Gateway calls
 * it. A group of more than 2,000 listed nodes is uploaded as a manifest (selected-request.ts).
 */
export const MAX_ROLLOUT_BODY_BYTES = 6_000_000;
/** JSON nested deeper than this is refused before any other reading (no legitimate body nests 10). */
export const MAX_BODY_DEPTH = 32;
/** How long an idempotency key holds its rollout. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** The longest approval wait: a week (Step Functions would wait a year; change windows do not). */
export const MAX_APPROVAL_TIMEOUT_MINUTES = 7 * 24 * 60;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
/** Updates one removal request may name. */
export const MAX_REMOVAL_UPDATES = 100;
/** Nodes named in `currentStep.nodes` of a status; the rest are counted. */
export const MAX_CURRENT_NODES = 50;

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const IDEMPOTENT_REPLAY_HEADER = 'Idempotent-Replay';
/** The marker in `api/openapi.json` that RolloutApi replaces with the handler's invoke URI. */
export const INTEGRATION_URI_PLACEHOLDER = '{{ApiHandlerInvokeUri}}';

// ---------------------------------------------------------------------------------------------
// Routes

/** Every route of the API, in the order the document lists them. */
export const API_ROUTES = [
  {
    operationId: 'startRollout',
    method: 'POST',
    path: '/rollouts',
    summary: 'Start a rollout',
  },
  {
    operationId: 'listRollouts',
    method: 'GET',
    path: '/rollouts',
    summary: "A cluster's or group's rollouts, newest first",
  },
  {
    operationId: 'getRollout',
    method: 'GET',
    path: '/rollouts/{id}',
    summary: "A rollout's status and per-node progress",
  },
  {
    operationId: 'getRolloutReport',
    method: 'GET',
    path: '/rollouts/{id}/report',
    summary: "A rollout's detailed report (JSON, or CSV with Accept: text/csv)",
  },
  {
    operationId: 'cancelRollout',
    method: 'POST',
    path: '/rollouts/{id}/cancel',
    summary: 'Cancel a rollout after the current node',
  },
  {
    operationId: 'approveRollout',
    method: 'POST',
    path: '/rollouts/{id}/approve',
    summary: 'Approve the rollout waiting at its approval gate',
  },
  {
    operationId: 'rejectRollout',
    method: 'POST',
    path: '/rollouts/{id}/reject',
    summary: 'Reject the rollout waiting at its approval gate',
  },
  {
    operationId: 'forceRecovery',
    method: 'POST',
    path: '/targets/{id}/force-recovery',
    summary: "Break the lock of a target whose rollout is no longer running (CAU's ForceRecovery)",
  },
  {
    operationId: 'getNodeProgress',
    method: 'GET',
    path: '/rollouts/{id}/nodes/{node}/progress',
    summary: "Where a node is inside its update, from its execution's history",
  },
  {
    operationId: 'scan',
    method: 'POST',
    path: '/scans',
    summary: 'Start a scan: what a rollout would install where; installs nothing',
  },
  {
    operationId: 'getScan',
    method: 'GET',
    path: '/scans/{id}',
    summary: "A scan's status and, once it ended, its result per node",
  },
  {
    operationId: 'startStaging',
    method: 'POST',
    path: '/stagings',
    summary: "Stage a rollout's updates on its nodes before the window; installs nothing",
  },
  {
    operationId: 'getStaging',
    method: 'GET',
    path: '/stagings/{id}',
    summary: "A staging run's status and per-node staging",
  },
  {
    operationId: 'getLedger',
    method: 'GET',
    path: '/nodes/{id}/ledger',
    summary: "A node's install ledger, in install order",
  },
  {
    operationId: 'requestRemoval',
    method: 'POST',
    path: '/nodes/{id}/removals',
    summary: 'Remove named updates from a node in the safe (reverse install) order',
  },
  // Issue 13, item 8.
  {
    operationId: 'getCompliance',
    method: 'GET',
    path: '/compliance',
    summary: "A cluster's or group's compliance per node, from its last assessment",
  },
] as const;

export type ApiRoute = (typeof API_ROUTES)[number];
export type OperationId = ApiRoute['operationId'];

/** Routes whose body may be larger than MAX_BODY_BYTES (issue 11). */
const BODY_LIMITS: Partial<Record<OperationId, number>> = {
  startRollout: MAX_ROLLOUT_BODY_BYTES,
};

/**
 * The largest body an operation takes, in bytes: what the handler enforces (parseJsonBody's
 * `maxBytes`) and what the OpenAPI document's 413 response of the operation states.
 */
export function maxBodyBytes(operation: OperationId): number {
  return BODY_LIMITS[operation] ?? MAX_BODY_BYTES;
}

/** The path templates of the API, each once. */
export const API_PATHS: readonly string[] = [...new Set(API_ROUTES.map((r) => r.path))];

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: ApiRoute; readonly params: Record<string, string> }
  | { readonly kind: 'wrongMethod'; readonly allowed: readonly string[] }
  | { readonly kind: 'none' };

export function splitPath(path: string): string[] {
  const segments = path.split('/');
  if (segments[0] === '') segments.shift();
  if (segments.at(-1) === '') segments.pop();
  return segments;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matchTemplate(template: string, segments: readonly string[]) {
  const parts = splitPath(template);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const segment = segments[i] as string;
    // A part of a template of API_ROUTES is a whole `{name}` or text without braces.
    if (part.startsWith('{')) {
      if (segment === '') return undefined;
      params[part.slice(1, -1)] = decodeSegment(segment);
    } else if (part !== segment) return undefined;
  }
  return params;
}

/** The route a request is for: a route, a known path with another method (405), or none (404). */
export function matchRoute(method: string, path: string): RouteMatch {
  const segments = splitPath(path);
  const onPath = API_ROUTES.flatMap((route) => {
    const params = matchTemplate(route.path, segments);
    return params === undefined ? [] : [{ route, params }];
  });
  const hit = onPath.find((m) => m.route.method === method.toUpperCase());
  if (hit) return { kind: 'route', ...hit };
  if (onPath.length > 0) {
    return { kind: 'wrongMethod', allowed: [...new Set(onPath.map((m) => m.route.method))] };
  }
  return { kind: 'none' };
}

/** A path from a template and its parameters, each encoded: `/rollouts/{id}` → `/rollouts/a%2Fb`. */
export function fillPath(template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(params[name] ?? ''),
  );
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The codes an error response may carry, with the status each goes with. */
export const ERROR_CODES = {
  InvalidJson: 400,
  ValidationFailed: 400,
  RouteNotFound: 404,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  TargetBusy: 409,
  RolloutIdInUse: 409,
  RolloutNotRunning: 409,
  RolloutStarting: 409,
  NoApprovalPending: 409,
  RolloutStillRunning: 409,
  LockChanged: 409,
  RemovalOutOfOrder: 409,
  NodesOffline: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  IdempotencyKeyReused: 422,
  HotfixRootInvalid: 422,
  RemovalNotPossible: 422,
  InternalError: 500,
  NotImplemented: 501,
  ServiceUnavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface ApiErrorOptions {
  readonly field?: string;
  readonly value?: unknown;
  /** Every problem, when there are several (the first is also `field` / `value`). */
  readonly problems?: readonly ValidationProblem[];
  /** Facts the caller can act on, e.g. the run holding the target. */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/** What every 4xx and 5xx response body is. */
export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly field?: string;
    readonly value?: unknown;
    readonly problems?: readonly ValidationProblem[];
    readonly details?: Readonly<Record<string, unknown>>;
    readonly requestId?: string;
  };
}

/** An error the API answers with: its status comes from the code ({@link ERROR_CODES}). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly field?: string;
  declare readonly value?: unknown; // `declare`: no own property unless given (see toBody)
  readonly problems?: readonly ValidationProblem[];
  readonly details?: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = ERROR_CODES[code];
    // toBody leaves out an undefined field, problems or details; `value` may be undefined itself.
    this.field = options.field;
    if (Object.hasOwn(options, 'value')) this.value = options.value;
    this.problems = options.problems;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  /** The response body: values echoed back are cut to a readable size. */
  toBody(requestId?: string): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        ...(Object.hasOwn(this, 'value') ? { value: echo(this.value) } : {}),
        ...(this.problems === undefined
          ? {}
          : {
              problems: this.problems.slice(0, 50).map((p) => ({
                field: p.field,
                ...(Object.hasOwn(p, 'value') ? { value: echo(p.value) } : {}),
                message: p.message,
              })),
            }),
        ...(this.details === undefined ? {} : { details: this.details }),
        ...(requestId === undefined ? {} : { requestId }),
      },
    };
  }
}

/**
 * A value as the error body shows it: short strings, numbers, booleans and null as they are;
 * anything else as its (cut) JSON text, so a huge or odd value cannot bloat or break the body.
 */
function echo(value: unknown): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return value.length > 200 ? `${value.slice(0, 197)}...` : value;
  try {
    return showValue(value);
  } catch {
    return '(a value that cannot be shown)';
  }
}

/** 400 ValidationFailed listing every problem; `field` and `value` are the first one's. */
export function validationError(
  heading: string,
  problems: readonly ValidationProblem[],
  cause?: unknown,
): ApiError {
  const first = problems[0] ?? { field: '(body)', message: 'invalid' };
  let message: string;
  try {
    message = formatProblems(heading, problems.slice(0, 50));
  } catch {
    message = `${heading}: ${first.field}: ${first.message}`;
  }
  if (problems.length > 50) message += `\n  ... and ${problems.length - 50} more`;
  return new ApiError('ValidationFailed', message, {
    field: first.field,
    ...(Object.hasOwn(first, 'value') ? { value: first.value } : {}),
    problems,
    cause,
  });
}

// ---------------------------------------------------------------------------------------------
// Reading a request

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** True when a value nests arrays and objects deeper than `max` (checked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth >= max) return true;
    for (const child of Object.values(next.value)) {
      stack.push({ value: child, depth: next.depth + 1 });
    }
  }
  return false;
}

/**
 * The JSON body of a request: `undefined` when it is empty and not required.
 * @throws ApiError 413 (too large), 415 (not JSON by Content-Type), 400 (missing, not JSON,
 *   nested too deep).
 */
export function parseJsonBody(request: {
  readonly body: string | null | undefined;
  readonly isBase64Encoded?: boolean;
  readonly contentType?: string;
  readonly required: boolean;
  /** The largest body this route takes. @default MAX_BODY_BYTES */
  readonly maxBytes?: number;
}): unknown {
  const max = request.maxBytes ?? MAX_BODY_BYTES;
  let text = request.body ?? '';
  // Measured as sent too, so a body is refused before it is decoded (and padding cannot hide).
  if (Buffer.byteLength(text) > max * (request.isBase64Encoded ? 1.4 : 1)) {
    throw tooLarge(max);
  }
  if (request.isBase64Encoded) text = Buffer.from(text, 'base64').toString('utf8');
  if (Buffer.byteLength(text) > max) throw tooLarge(max);
  if (text.trim() === '') {
    if (!request.required) return undefined;
    throw new ApiError('ValidationFailed', 'the request needs a JSON body; it has none', {
      field: '(body)',
    });
  }
  const contentType = request.contentType?.trim();
  if (contentType !== undefined && contentType !== '' && !JSON_MEDIA_TYPE.test(contentType)) {
    throw new ApiError(
      'UnsupportedMediaType',
      `Content-Type ${JSON.stringify(contentType.slice(0, 100))}: expected application/json`,
      { field: 'Content-Type', value: contentType },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(
      'InvalidJson',
      `the body is not JSON: ${(error as Error).message}; expected a JSON object`,
      { field: '(body)', cause: error },
    );
  }
  if (nestsDeeperThan(value, MAX_BODY_DEPTH)) {
    throw new ApiError(
      'ValidationFailed',
      `the body nests objects and arrays more than ${MAX_BODY_DEPTH} levels deep; no request of this API does`,
      { field: '(body)' },
    );
  }
  return value;
}

function tooLarge(max: number): ApiError {
  return new ApiError(
    'PayloadTooLarge',
    `the body is larger than ${max} bytes; a rollout input of 1,000 nodes is about 70 KB`,
    { field: '(body)' },
  );
}

/** Checks a small request body (or query) against its schema: 400 naming every bad field. */
export function parseRequest<S extends z.ZodObject>(
  what: string,
  schema: S,
  input: unknown,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields = Object.keys(schema.shape);
  throw validationError(
    `${what} is invalid`,
    issueProblems(result.error.issues, input, (path) => (path.length === 0 ? fields : [])),
    result.error,
  );
}

const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7E]{1,255}$/;

/** The Idempotency-Key header, checked; undefined when absent. */
export function parseIdempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(value)) {
    throw new ApiError(
      'ValidationFailed',
      `header ${IDEMPOTENCY_KEY_HEADER}: expected 1 to 255 visible ASCII characters (no spaces), e.g. a UUID`,
      { field: IDEMPOTENCY_KEY_HEADER, value },
    );
  }
  return value;
}

/**
 * The key a rollout request is remembered under: the header's, else the change ticket's, so a
 * change-management system that retries with the same ticket gets the same rollout. Header and
 * ticket keys live apart. Undefined when the request has neither.
 */
export function rolloutIdempotencyKey(
  header: string | undefined,
  changeTicket: { readonly system: string; readonly id: string } | null,
): string | undefined {
  if (header !== undefined) return `rollouts:key:${header}`;
  if (changeTicket !== null) return `rollouts:ticket:${changeTicket.system}:${changeTicket.id}`;
  return undefined;
}

/** JSON with object keys sorted, so the same request hashes the same whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map(
        (key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`,
      );
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 (hex) of the request: what an idempotent retry must repeat exactly. */
export function requestHash(operation: OperationId, body: unknown): string {
  return createHash('sha256')
    .update(`${operation}\n${canonicalJson(body)}`)
    .digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Request schemas

const text = (what: string, max: number) =>
  z
    .string({ error: `expected ${what}: text of 1 to ${max} characters` })
    .min(1, { error: `expected ${what}: text of 1 to ${max} characters` })
    .max(max, { error: `expected ${what}: text of 1 to ${max} characters` });

/** A rollout request, checked and resolved. */
export interface RolloutRequest {
  readonly rollout: ResolvedRollout;
  readonly approvalGate: ApprovalGate | null;
  /** The execution input: the body as sent, with the run id. */
  readonly input: Readonly<Record<string, unknown>>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a rollout request: the rollout input, approval gate included, by
 * {@link parseRolloutInput}; a target.resolution only the workflow may set, here.
 * @throws ApiError 400 ValidationFailed listing every problem with its field and value.
 */
export function parseRolloutRequest(
  body: unknown,
  now: Date,
  options: { readonly random?: () => number } = {},
): RolloutRequest {
  if (body === undefined) {
    throw new ApiError(
      'ValidationFailed',
      'the request needs a JSON body: the rollout input { target, plugins?, policy?, changeTicket?, approvalGate? }',
      { field: '(body)' },
    );
  }
  const problems: ValidationProblem[] = [];
  let rollout: ResolvedRollout | undefined;
  try {
    rollout = parseRolloutInput(body, now, options.random ? { random: options.random } : {});
  } catch (error) {
    if (!(error instanceof RolloutInputError)) throw error;
    problems.push(...error.problems);
  }
  // Issue 11: only the workflow's ResolveTarget state says how a target was resolved.
  const target = isRecord(body) ? body.target : undefined;
  if (isRecord(target) && Object.hasOwn(target, 'resolution')) {
    problems.push({
      field: 'target.resolution',
      value: target.resolution,
      message: 'set by the workflow when it resolves target.select; leave it out',
    });
  }
  if (problems.length > 0 || rollout === undefined) {
    throw validationError('rollout request is invalid', problems);
  }
  // Only the body and the run id: a retry builds the same input, which Step Functions needs to
  // treat a second StartExecution of the same name as the first.
  const input: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  input.runId = rollout.runId;
  return { rollout, approvalGate: rollout.approvalGate, input };
}

/** The body of approve and reject. */
export const decisionRequestSchema = z
  .strictObject(
    {
      comment: text('a comment', 2000).optional().describe('Why; shown to the workflow'),
      approvedBy: text('who decided', 256)
        .optional()
        .describe(
          'Who decided, as your change-management system names them; the IAM caller is recorded as well',
        ),
    },
    { error: 'expected { comment?, approvedBy? }' },
  )
  .meta({ title: 'DecisionRequest' });

/** The body of cancel (optional). */
export const cancelRequestSchema = z
  .strictObject(
    {
      reason: text('the reason', 2000).optional(),
      requestedBy: text('who asks', 256).optional().describe('Who asks; default: the IAM caller'),
    },
    { error: 'expected { reason?, requestedBy? }' },
  )
  .meta({ title: 'CancelRequest' });

/** The body of POST /targets/{id}/force-recovery: why is required, it goes in the run history. */
export const forceRecoveryRequestSchema = z
  .strictObject(
    {
      reason: text('the reason', 2000).describe(
        'Why the lock is broken; recorded on the run and in the lifecycle event',
      ),
      requestedBy: text('who asks', 256).optional().describe('Who asks; default: the IAM caller'),
    },
    { error: 'expected { reason, requestedBy? }' },
  )
  .meta({ title: 'ForceRecoveryRequest' });

const UPDATE_ID = /^KB[1-9][0-9]{3,7}$/i;
const UPDATE_ID_ACCEPTED = 'expected "KB" followed by 4 to 8 digits, e.g. "KB890923"';

/** The body of POST /nodes/{id}/removals. */
export const removalRequestSchema = z
  .strictObject(
    {
      updates: z
        .array(z.string({ error: UPDATE_ID_ACCEPTED }).regex(UPDATE_ID, UPDATE_ID_ACCEPTED), {
          error: 'expected a list of update ids, e.g. ["KB890923"]',
        })
        .min(1, { error: 'expected at least one update id' })
        .max(MAX_REMOVAL_UPDATES, {
          error: `expected at most ${MAX_REMOVAL_UPDATES} update ids`,
        })
        .describe('The updates to remove (KB numbers)'),
      includeDependents: z
        .boolean({ error: 'expected true or false' })
        .optional()
        .describe(
          'Also remove the later updates that replaced the same files (transitively), so the order is safe. Default false',
        ),
      force: z
        .boolean({ error: 'expected true or false' })
        .optional()
        .describe(
          'Remove out of order despite the KB823836 warnings (later updates that share files may break). Default false',
        ),
      changeTicket: rolloutInputSchema.shape.changeTicket,
      requestedBy: text('who asks', 256).optional(),
      target: z
        .strictObject(
          {
            kind: z.enum(['cluster', 'group'], { error: 'expected cluster or group' }),
            name: text('the cluster or group name', 64),
          },
          { error: 'expected the target: { kind, name }' },
        )
        .optional()
        .describe(
          "The node's failover cluster (or group): the removal runs as a rollout of it, under its lock. Needed where removals are wired",
        ),
      // zod 4 gives min and max the string's own error.
      instanceId: z
        .string({ error: 'expected the SSM managed node id: i-… or mi-…' })
        .min(1)
        .max(32)
        .optional()
        .describe('The SSM managed node that is the node. Needed where removals are wired'),
    },
    {
      error:
        'expected { updates, includeDependents?, force?, changeTicket?, requestedBy?, target?, instanceId? }',
    },
  )
  .meta({ title: 'RemovalRequest' });
export type RemovalRequest = z.output<typeof removalRequestSchema>;

const LIMIT_ACCEPTED = `expected a whole number from 1 to ${MAX_PAGE_SIZE}`;
const GROUP_NAME_ACCEPTED =
  'expected 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit';

/** The query of GET /rollouts: exactly one of cluster and group. */
export const listQuerySchema = z
  .strictObject(
    {
      cluster: z.string().superRefine((name, ctx) => {
        const problem = nodeNameProblem(name);
        if (problem) ctx.addIssue({ code: 'custom', message: `cluster name: ${problem}` });
      }),
      group: z.string().regex(GROUP_NAME_PATTERN, { error: GROUP_NAME_ACCEPTED }),
      limit: z
        .string()
        .regex(/^[0-9]{1,4}$/, { error: LIMIT_ACCEPTED })
        .transform(Number)
        .pipe(z.number().int().min(1, LIMIT_ACCEPTED).max(MAX_PAGE_SIZE, LIMIT_ACCEPTED)),
      cursor: z
        .string()
        .min(1, { error: 'expected the cursor of the previous page' })
        .max(4096, { error: 'expected the cursor of the previous page' }),
    },
    { error: 'expected query parameters cluster (or group), limit, cursor' },
  )
  .partial()
  .superRefine((query, ctx) => {
    if ((query.cluster === undefined) === (query.group === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster'],
        message:
          // issueProblems puts "missing; " before the message of a field the query lacks.
          query.cluster === undefined
            ? 'expected ?cluster=NAME (a failover cluster) or ?group=NAME (a group of servers)'
            : 'expected cluster or group, not both',
      });
    }
  });

/** A run id in a path, checked. */
export function parseRunId(id: string | undefined): string {
  if (id === undefined || !RUN_ID_PATTERN.test(id)) {
    throw new ApiError(
      'ValidationFailed',
      `rollout id ${showValue(id)}: expected 1 to 64 letters, digits, "-" or "_"`,
      { field: 'id', value: id },
    );
  }
  return id;
}

/** A cluster or group name in a path, checked (the names a lock can have). */
export function parseTargetName(id: string | undefined): string {
  if (id === undefined || !GROUP_NAME_PATTERN.test(id)) {
    throw new ApiError(
      'ValidationFailed',
      `target ${showValue(id)}: expected a cluster or group name, 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit`,
      { field: 'id', value: id },
    );
  }
  return id;
}

/** A node name in a path, checked. */
export function parseNodeName(id: string | undefined): string {
  const problem = nodeNameProblem(id);
  if (problem !== undefined || id === undefined) {
    throw new ApiError('ValidationFailed', `node ${showValue(id)}: ${problem}`, {
      field: 'id',
      value: id,
    });
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// Content negotiation

/**
 * The report format the Accept header asks for: JSON unless text/csv ranks higher; undefined
 * when the client accepts neither (406). Media ranges and q-values as RFC 9110 §12.5.1.
 */
export function reportFormat(accept: string | undefined): 'json' | 'csv' | undefined {
  if (accept === undefined || accept.trim() === '') return 'json';
  const ranges = accept.split(',').map((part, order) => {
    // split always returns at least one element.
    const [range, ...params] = part.split(';').map((p) => p.trim().toLowerCase()) as [
      string,
      ...string[],
    ];
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, quality: Number.isFinite(quality) ? quality : 0, order };
  });
  // The most specific range that matches a type decides its quality (RFC 9110 §12.5.1).
  const match = (type: string) => {
    const major = type.split('/')[0];
    const best = ranges
      .filter((r) => r.range === type || r.range === `${major}/*` || r.range === '*/*')
      // sort is stable: among equally specific ranges, the first named stays first.
      .sort((a, b) => specificity(b.range) - specificity(a.range))[0];
    return best === undefined || best.quality <= 0 ? undefined : best;
  };
  const json = match('application/json');
  const csv = match('text/csv');
  if (!json || !csv) return json ? 'json' : csv ? 'csv' : undefined;
  // The higher quality; at equal quality, the type named more exactly, then the one named
  // first; JSON by default (one range, such as */*, can name both).
  const csvFirst =
    csv.quality - json.quality ||
    specificity(csv.range) - specificity(json.range) ||
    json.order - csv.order;
  return csvFirst > 0 ? 'csv' : 'json';
}

const specificity = (range: string) => (range === '*/*' ? 0 : range.endsWith('/*') ? 1 : 2);

// ---------------------------------------------------------------------------------------------
// Responses: their schemas are in api-responses.ts (built at load, so kept out of the handler's
// bundle); their types are used here, erased.

export type {
  RolloutStatusView,
  RolloutSummaryView,
  RunReportView,
  StagedNodeRecord,
  StagingStatusView,
} from './api-responses.js';

// ---------------------------------------------------------------------------------------------
// Staging (issue 13 item 5): POST /stagings and GET /stagings/{id}

/** Where a staging request is remembered, apart from rollouts (the same ticket may do both). */
export function stagingIdempotencyKey(
  header: string | undefined,
  changeTicket: { readonly system: string; readonly id: string } | null,
): string | undefined {
  const key = rolloutIdempotencyKey(header, changeTicket);
  return key === undefined ? undefined : `stagings:${key.slice('rollouts:'.length)}`;
}

/** A staging run's status: Step Functions' execution status in the API's words. */
export const STAGING_STATUSES = ['Running', 'Succeeded', 'Failed', 'TimedOut', 'Aborted'] as const;
export type StagingStatus = (typeof STAGING_STATUSES)[number];

/** The staging status of a DescribeExecution status (PENDING_REDRIVE is a failed run). */
export function stagingStatusOf(executionStatus: string): StagingStatus {
  switch (executionStatus) {
    case 'RUNNING':
      return 'Running';
    case 'SUCCEEDED':
      return 'Succeeded';
    case 'TIMED_OUT':
      return 'TimedOut';
    case 'ABORTED':
      return 'Aborted';
    default:
      return 'Failed';
  }
}

/**
 * The view of a staging run from its execution (undefined when Step Functions does not know
 * it) and its nodes' records.
 * @throws ApiError 404 when neither exists.
 */
export function stagingStatusView(
  stagingId: string,
  execution: ExecutionView | undefined,
  nodes: readonly StagedNodeRecord[],
): StagingStatusView {
  if (execution === undefined && nodes.length === 0) {
    throw new ApiError('NotFound', `no staging run ${JSON.stringify(stagingId)}`, {
      field: 'id',
      value: stagingId,
    });
  }
  const counts: Record<string, number> = {};
  for (const node of nodes) counts[node.status] = (counts[node.status] ?? 0) + 1;
  return {
    stagingId,
    executionArn: execution?.arn ?? null,
    status: execution === undefined ? 'Unknown' : stagingStatusOf(execution.status),
    startedAt: execution?.startDate?.toISOString() ?? null,
    stoppedAt: execution?.stopDate?.toISOString() ?? null,
    counts,
    nodes: nodes.map((n) => ({
      node: n.node,
      status: n.status,
      files: n.files,
      bytes: n.bytes,
      digestsVerified: n.digestsVerified,
      cacheHits: n.cacheHits,
      windowsUpdates: n.windowsUpdates,
      problems: [...n.problems],
      stagedDigests: [...n.stagedDigests],
      stagedAt: n.stagedAt,
    })),
  };
}

/** A node's status in GET /rollouts/{id}: Pending until it has a result. */
export const NODE_PROGRESS = [...NODE_STATUSES, 'Pending'] as const;
/** Where a rollout is, as GET /rollouts/{id} shows it in currentStep.phase. */
export const STEP_PHASES = [
  'Starting',
  'UpdatingNodes',
  'AwaitingApproval',
  'Finishing',
  'Finished',
] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

/** How a scan stands: its execution's status, in the words of the rest of the API. */
export const SCAN_STATUSES = ['Running', 'Succeeded', 'Failed', 'Cancelled', 'TimedOut'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

// ---------------------------------------------------------------------------------------------
// Views built from run history (shapes the run store's records fit)

/** What the views read of a run (RunStore's RunRecord fits). */
export interface RunView {
  readonly runId: string;
  readonly target: string;
  readonly targetKind?: 'cluster' | 'group';
  readonly nodes: readonly string[];
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly stopAt?: string;
  readonly finishedAt?: string;
  readonly cancelRequested?: boolean;
  readonly failureReason?: string;
  readonly summary?: unknown;
  readonly execution?: string;
  readonly changeTicket?: { readonly system: string; readonly id: string; readonly url?: string };
  readonly requestedBy?: string;
  readonly warnAt?: string;
  readonly warnAfterPassedAt?: string;
  readonly nodeOrder?: NodeOrderRecord;
  readonly forceRecovery?: {
    readonly recoveredAt: string;
    readonly recoveredBy: string;
    readonly reason: string;
    readonly executionStatus: string;
  };
  /** Issue 11: how a selected target was resolved. */
  readonly targetResolution?: {
    readonly selector: string;
    readonly count: number;
    readonly skipped: number;
    readonly resolvedAt: string;
  };
  /** Issue 11: maxConcurrency as resolved, and the percentages as written. */
  readonly resolvedPolicy?: {
    readonly maxConcurrency: number;
    readonly maxConcurrencyPercent?: number;
    readonly maxFailedNodesPercent?: number;
  };
  readonly maxFailedNodes?: number;
}

/**
 * Issue 11: a group policy's percentages as resolved against the run's nodes, e.g.
 * `Policy resolved against 10000 node(s): maxConcurrency 10% = 1000 at a time; maxFailedNodes 1% = 100`.
 * Undefined when the run wrote no percentage.
 */
export function percentagesNotice(run: RunView): string | undefined {
  const policy = run.resolvedPolicy;
  if (policy?.maxConcurrencyPercent === undefined && policy?.maxFailedNodesPercent === undefined) {
    return undefined;
  }
  const count = run.targetResolution?.count ?? run.nodes.length;
  const parts = [
    policy.maxConcurrencyPercent === undefined
      ? `maxConcurrency ${policy.maxConcurrency} at a time`
      : `maxConcurrency ${policy.maxConcurrencyPercent}% = ${policy.maxConcurrency} at a time`,
    ...(policy.maxFailedNodesPercent === undefined
      ? []
      : [`maxFailedNodes ${policy.maxFailedNodesPercent}% = ${run.maxFailedNodes}`]),
  ];
  return `Policy resolved against ${count} node(s): ${parts.join('; ')}`;
}

/** The report's notices: what happened to the run as a whole, one line each. */
export function runNotices(run: RunView): string[] {
  const notices: string[] = [];
  const resolution = run.targetResolution;
  if (resolution !== undefined) {
    notices.push(
      `Target resolved at ${resolution.resolvedAt}: ${resolution.selector} gave ${resolution.count} node(s)${resolution.skipped > 0 ? `, ${resolution.skipped} member(s) skipped (not Windows managed nodes)` : ''}`,
    );
  }
  const percentages = percentagesNotice(run);
  if (percentages !== undefined) notices.push(percentages);
  if (run.warnAfterPassedAt !== undefined) {
    notices.push(
      `WarnAfter passed: the run was still going at ${run.warnAfterPassedAt}${run.warnAt ? `, past ${run.warnAt}` : ''}`,
    );
  }
  const recovery = run.forceRecovery;
  if (recovery !== undefined) {
    notices.push(
      `ForceRecovery: the lock was broken at ${recovery.recoveredAt} by ${recovery.recoveredBy} (execution ${recovery.executionStatus}): ${recovery.reason}`,
    );
  }
  return notices;
}

/** What the views read of a node's result (RunStore's NodeResultRecord fits). */
export interface NodeResultView {
  readonly node: string;
  readonly status: NodeStatus;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly attempts?: number;
  readonly restarts?: number;
  readonly drained?: boolean;
  /** The node ended still drained: its resume failed (RunStore's NodeResultRecord). */
  readonly leftPaused?: boolean;
  readonly detail?: string;
  /** The rescan after the final restart (issue 13 item 6). */
  readonly stillApplicable?: readonly StillApplicable[];
  readonly rescanError?: string;
}

/** What the report reads of an update's result (RunStore's StoredUpdateResult fits). */
export interface UpdateResultView {
  readonly node: string;
  readonly attempt: number;
  readonly index: number;
  readonly plugin: string;
  readonly update: string;
  readonly outcome: ExitOutcome;
  readonly exitCode: number | null;
  readonly rebootRequired: boolean;
  readonly rebootInitiated: boolean;
  readonly durationSeconds: number;
  readonly detail?: string;
  readonly excludedBy?: string;
  /** When it started and ended (lambdas/core/update-times.ts); absent on older records. */
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

/** What the report reads of a pre- or post-update script's outcome. */
export interface ScriptResultView {
  readonly node: string;
  readonly phase: 'pre' | 'post';
  readonly status: string;
  readonly exitCode: number;
  readonly outputTail: string;
  readonly completedAt: string;
}

/** The execution as DescribeExecution reports it. */
export interface ExecutionView {
  readonly arn: string;
  readonly status: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
}

/** The pending gate as the run store holds it. */
export interface ApprovalView {
  readonly afterNodes: number;
  readonly timeoutMinutes: number;
  readonly requestedAt: string;
  /** The health gate holding the run, when it is not the pilot (issue 13, item 1). */
  readonly heldBy?: string;
  /** The phase the gate belongs to (issue 13, items 1 and 4). */
  readonly phase?: { readonly index: number; readonly name: string };
}

const summaryReason = (run: RunView): string | null => {
  const summary = run.summary as { reason?: unknown } | undefined;
  if (typeof summary?.reason === 'string') return summary.reason;
  return run.failureReason ?? null;
};

/** The run's status, corrected when the execution ended without recording it (e.g. aborted). */
function effectiveStatus(
  run: RunView,
  execution: ExecutionView | null,
): { status: RunStatus; reason: string | null } {
  if (run.status === 'Running' && execution && execution.status !== 'RUNNING') {
    if (execution.status !== 'SUCCEEDED' && execution.status !== 'PENDING_REDRIVE') {
      return {
        status: 'Failed',
        reason: `the execution ended ${execution.status} before it recorded the rollout's result`,
      };
    }
  }
  return { status: run.status, reason: summaryReason(run) };
}

/**
 * A rollout's status for GET /rollouts/{id}: the run and its node results from the run store,
 * and the execution's status from one DescribeExecution. The current step is what the run store
 * knows (which nodes have finished, whether the gate waits); reading the execution history for
 * the step within a node would cost a GetExecutionHistory per call, so it is not done.
 */
export function rolloutStatusView(source: {
  readonly rolloutId: string;
  readonly run?: RunView;
  readonly nodes: readonly NodeResultView[];
  readonly execution: ExecutionView | null;
  readonly approval?: ApprovalView;
}): RolloutStatusView {
  const { run, execution } = source;
  const executionOut = execution
    ? {
        arn: execution.arn,
        status: execution.status,
        startDate: execution.startDate?.toISOString() ?? null,
        stopDate: execution.stopDate?.toISOString() ?? null,
      }
    : null;
  const emptyProgress = {
    total: 0,
    finished: 0,
    succeeded: 0,
    failed: 0,
    nothingToInstall: 0,
    skipped: 0,
    installedPendingReboot: 0,
    pending: 0,
  };
  if (run === undefined) {
    const running = execution?.status === 'RUNNING';
    return {
      rolloutId: source.rolloutId,
      target: null,
      status: running ? 'Pending' : 'Failed',
      reason: running
        ? null
        : `the execution ended ${execution?.status ?? 'unknown'} before it recorded the rollout (e.g. the input was invalid or the target was locked)`,
      execution: executionOut,
      startedAt: executionOut?.startDate ?? null,
      finishedAt: executionOut?.stopDate ?? null,
      stopAt: null,
      changeTicket: null,
      requestedBy: null,
      cancelRequested: false,
      approval: null,
      currentStep: {
        phase: running ? 'Starting' : 'Finished',
        nodes: [],
        nodesOmitted: 0,
        description: running
          ? 'checking the input and taking the target lock'
          : 'the execution ended before the rollout was recorded',
      },
      progress: emptyProgress,
      nodes: [],
    };
  }

  const results = new Map(source.nodes.map((n) => [nodeKey(n.node), n]));
  const nodes = run.nodes.map((name) => {
    const result = results.get(nodeKey(name));
    if (result === undefined) return { name, status: 'Pending' as const };
    return {
      name,
      status: result.status,
      startedAt: result.startedAt,
      ...(result.finishedAt === undefined ? {} : { finishedAt: result.finishedAt }),
      ...(result.attempts === undefined ? {} : { attempts: result.attempts }),
      ...(result.restarts === undefined ? {} : { restarts: result.restarts }),
      ...(result.drained === undefined ? {} : { drained: result.drained }),
      ...(result.detail === undefined ? {} : { detail: result.detail }),
    };
  });
  const count = (status: (typeof NODE_PROGRESS)[number]) =>
    nodes.filter((n) => n.status === status).length;
  const pending = nodes.filter((n) => n.status === 'Pending').map((n) => n.name);
  const progress = {
    total: nodes.length,
    finished: nodes.length - pending.length,
    succeeded: count('Succeeded'),
    failed: count('Failed'),
    nothingToInstall: count('NothingToInstall'),
    skipped: count('Skipped'),
    installedPendingReboot: count('InstalledPendingReboot'),
    pending: pending.length,
  };
  const { status, reason } = effectiveStatus(run, execution);
  const approval =
    status === 'Running' && source.approval
      ? {
          afterNodes: source.approval.afterNodes,
          timeoutMinutes: source.approval.timeoutMinutes,
          requestedAt: source.approval.requestedAt,
          waitingFor: describeApprovalGate(source.approval),
          decideBy: new Date(
            Date.parse(source.approval.requestedAt) + source.approval.timeoutMinutes * 60_000,
          ).toISOString(),
        }
      : null;

  let currentStep: RolloutStatusView['currentStep'];
  const cluster = run.targetKind !== 'group';
  if (status !== 'Running') {
    currentStep = {
      phase: 'Finished',
      nodes: [],
      nodesOmitted: 0,
      description: `the rollout ended ${status}`,
    };
  } else if (approval) {
    currentStep = {
      phase: 'AwaitingApproval',
      nodes: [],
      nodesOmitted: 0,
      description: `${approval.waitingFor}; waiting for approve or reject until ${approval.decideBy}`,
    };
  } else if (pending.length === 0) {
    currentStep = {
      phase: 'Finishing',
      nodes: [],
      nodesOmitted: 0,
      description: 'every node has finished; recording the result and releasing the lock',
    };
  } else {
    const current = cluster ? pending.slice(0, 1) : pending.slice(0, MAX_CURRENT_NODES);
    currentStep = {
      phase: 'UpdatingNodes',
      nodes: current,
      nodesOmitted: cluster ? 0 : pending.length - current.length,
      description: cluster
        ? `updating ${current[0]} (one node at a time; ${progress.finished} of ${progress.total} finished)${run.cancelRequested ? '; cancel requested, the rollout stops after this node' : ''}`
        : `updating the group policy.maxConcurrency nodes at a time; these have not finished (in flight or queued)${run.cancelRequested ? '; cancel requested, no further node starts' : ''}`,
    };
  }

  return {
    rolloutId: run.runId,
    target: { name: run.target, kind: run.targetKind ?? null },
    status,
    reason,
    execution: executionOut,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt ?? executionOut?.stopDate ?? null,
    stopAt: run.stopAt ?? null,
    changeTicket: run.changeTicket ?? null,
    requestedBy: run.requestedBy ?? null,
    cancelRequested: run.cancelRequested === true,
    approval,
    currentStep,
    progress,
    nodes,
  };
}

/** One line of the history (GET /rollouts). */
export function rolloutSummary(run: RunView): RolloutSummaryView {
  return {
    rolloutId: run.runId,
    target: { name: run.target, kind: run.targetKind ?? null },
    status: run.status,
    reason: summaryReason(run),
    startedAt: run.startedAt,
    finishedAt: run.finishedAt ?? null,
    nodes: run.nodes.length,
    changeTicket: run.changeTicket ?? null,
    requestedBy: run.requestedBy ?? null,
    cancelRequested: run.cancelRequested === true,
  };
}

/**
 * The detailed report of a run, in the shape of the sandbox's RunReport (CAU's
 * `Get-CauReport -Detailed`), with the exit code in hex, the change ticket and the requester.
 * Per node: its result, its updates (every attempt) and the ledger entries this run installed.
 */
export function buildRunReport(source: {
  readonly run: RunView;
  readonly nodes: readonly NodeResultView[];
  readonly updates: readonly UpdateResultView[];
  /** The pre/post-update scripts' outcomes (RunStore's ScriptResultRecord fits). */
  readonly scripts?: readonly ScriptResultView[];
  /** Each node's ledger entries (keyed by any spelling of the node). */
  readonly ledgers: ReadonlyMap<string, readonly LedgerEntry[]>;
  /** The run holding the target's lock now, if any. */
  readonly lockHolder?: string;
  /** Phase verdicts (issue 13, item 4), in phase order. */
  readonly phases?: readonly (Omit<
    NonNullable<RunReportView['phases']>[number],
    'nodes' | 'failed'
  > & {
    readonly nodes: readonly string[];
    readonly failed: readonly string[];
  })[];
}): RunReportView {
  const { run } = source;
  const ledgers = new Map([...source.ledgers].map(([node, entries]) => [nodeKey(node), entries]));
  const scriptsOf = (key: string) =>
    (source.scripts ?? [])
      .filter((s) => nodeKey(s.node) === key)
      .map(({ phase, status, exitCode, outputTail, completedAt }) => ({
        phase,
        status,
        exitCode,
        outputTail,
        completedAt,
      }));
  // By node, once: a selected run lists up to 100,000 nodes (issue 11).
  const results = new Map<string, NodeResultView>();
  for (const n of source.nodes) if (!results.has(nodeKey(n.node))) results.set(nodeKey(n.node), n);
  const updatesOf = new Map<string, UpdateResultView[]>();
  for (const u of source.updates) {
    const list = updatesOf.get(nodeKey(u.node)) ?? [];
    list.push(u);
    updatesOf.set(nodeKey(u.node), list);
  }
  const nodes = run.nodes.map((name) => {
    const key = nodeKey(name);
    const result = results.get(key);
    // sort is stable (ES2019): within an attempt, the updates keep the store's order.
    const updates = (updatesOf.get(key) ?? [])
      .sort((a, b) => a.attempt - b.attempt)
      .map((u) => ({
        plugin: u.plugin,
        update: u.update,
        attempt: u.attempt,
        index: u.index,
        outcome: u.outcome,
        exitCode: u.exitCode,
        exitCodeHex: u.exitCode === null ? null : toHex(u.exitCode),
        ...(u.exitCode !== null && KNOWN_EXIT_CODES.has(u.exitCode)
          ? { exitCodeName: KNOWN_EXIT_CODES.get(u.exitCode)?.name }
          : {}),
        rebootRequired: u.rebootRequired,
        rebootInitiated: u.rebootInitiated,
        durationSeconds: u.durationSeconds,
        ...(u.detail ? { detail: u.detail } : {}),
        ...(u.startedAt ? { startedAt: u.startedAt } : {}),
        ...(u.finishedAt ? { finishedAt: u.finishedAt } : {}),
        ...(u.excludedBy ? { excludedBy: u.excludedBy } : {}),
      }));
    const ledger = (ledgers.get(key) ?? [])
      .filter((e) => e.runId === run.runId && e.removedAt === undefined)
      .map((e) => ({
        sequence: e.sequence,
        updateId: e.updateId,
        installedAt: e.installedAt,
        hotpatched: e.hotpatched,
      }));
    return {
      name,
      status: result?.status ?? 'NotStarted',
      ...(result?.detail ? { detail: result.detail } : {}),
      ...(result?.startedAt ? { startedAt: result.startedAt } : {}),
      ...(result?.finishedAt ? { finishedAt: result.finishedAt } : {}),
      drained: result?.drained ?? false,
      resumed: result?.drained === true && result.leftPaused !== true,
      ...(result?.status === 'Failed' && failedStepOf(result.detail) !== undefined
        ? { failedStep: failedStepOf(result.detail) }
        : {}),
      restarts: result?.restarts ?? 0,
      ...(scriptsOf(key).length > 0 ? { scripts: scriptsOf(key) } : {}),
      attempts: Math.max(result?.attempts ?? 0, ...updates.map((u) => u.attempt)),
      updates,
      ...(result?.stillApplicable ? { stillApplicable: [...result.stillApplicable] } : {}),
      ...(result?.rescanError ? { rescanError: result.rescanError } : {}),
      ledger,
    };
  });
  const reason = summaryReason(run);
  return {
    runId: run.runId,
    target: run.target,
    ...(run.targetKind ? { targetKind: run.targetKind } : {}),
    status: run.status,
    ...(reason ? { reason } : {}),
    startedAt: run.startedAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    ...(run.finishedAt
      ? { makespanSeconds: (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000 }
      : {}),
    lockReleased: source.lockHolder !== run.runId,
    changeTicket: run.changeTicket ?? null,
    requestedBy: run.requestedBy ?? null,
    ...(runNotices(run).length > 0 ? { notices: runNotices(run) } : {}),
    ...(run.nodeOrder !== undefined ? { order: describeNodeOrder(run.nodeOrder) } : {}),
    ...(source.phases && source.phases.length > 0
      ? { phases: source.phases.map((p) => ({ ...p, nodes: [...p.nodes], failed: [...p.failed] })) }
      : {}),
    nodes,
  };
}

// ---------------------------------------------------------------------------------------------
// CSV

/** The columns of the CSV report, one row per update (a node without updates has one row). */
export const REPORT_CSV_COLUMNS = [
  'runId',
  'target',
  'runStatus',
  'node',
  'nodeStatus',
  'drained',
  'restarts',
  'attempt',
  'plugin',
  'update',
  'outcome',
  'exitCode',
  'exitCodeHex',
  'rebootRequired',
  'durationSeconds',
  'detail',
  'exitCodeName',
  'resumed',
  'failedStep',
  'updateStartedAt',
  'updateFinishedAt',
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF, quotes doubled.
 * Text that a spreadsheet would run as a formula (leading = + - @, tab or CR) is prefixed with
 * `'` (OWASP CSV injection); numbers are written as numbers, so a negative exit code stays one.
 */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The report as CSV (RFC 4180: CRLF line ends, a header line). */
export function reportToCsv(report: RunReportView): string {
  const rows: (string | number | boolean | null | undefined)[][] = [[...REPORT_CSV_COLUMNS]];
  for (const node of report.nodes) {
    const head = [
      report.runId,
      report.target,
      report.status,
      node.name,
      node.status,
      node.drained,
      node.restarts,
    ];
    if (node.updates.length === 0) {
      rows.push([
        ...head,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        node.detail,
        null,
        node.resumed,
        node.failedStep,
        null,
        null,
      ]);
      continue;
    }
    for (const u of node.updates) {
      rows.push([
        ...head,
        u.attempt,
        u.plugin,
        u.update,
        u.outcome,
        u.exitCode,
        u.exitCodeHex,
        u.rebootRequired,
        u.durationSeconds,
        u.detail,
        u.exitCodeName,
        node.resumed,
        node.failedStep,
        u.startedAt,
        u.finishedAt,
      ]);
    }
  }
  return `${rows.map((row) => row.map(csvField).join(',')).join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// Removals

/** The 409 of an unsafe removal: what would break, and the two ways on. */
export function removalRefused(node: string, plan: RemovalPlan): ApiError {
  const listed = plan.warnings
    .map(
      (w) =>
        `${w.updateId} (later updates sharing its files: ${w.laterUpdatesSharingFiles.map((l) => `${l.updateId} [${l.files.join(', ')}]`).join('; ')}; installed since: ${w.installedSince.join(', ')})`,
    )
    .join('; ');
  return new ApiError(
    'RemovalOutOfOrder',
    `removing from ${node} out of order (KB823836): ${listed}. Remove the later updates first (includeDependents: true), or accept the risk (force: true)`,
    {
      field: 'updates',
      details: {
        warnings: plan.warnings,
        safeOrderWithDependents: plan.order,
        restartRequired: plan.restartRequired,
      },
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Step Functions names

/** The ARN of the execution named `name` of a state machine. */
export function executionArnFor(stateMachineArn: string, name: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 7 || parts[5] !== 'stateMachine') {
    throw new Error(
      `${JSON.stringify(stateMachineArn)} is not a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>)`,
    );
  }
  return [...parts.slice(0, 5), 'execution', parts[6], name].join(':');
}
