/**
 * The change-management API's model: its routes, the requests it takes (zod, so every problem
 * names the field and the value), the responses it gives, the status and report views built
 * from run history, the report as CSV (RFC 4180), and the OpenAPI document. The document is
 * generated from these same definitions (`api/openapi.json` is its output, and a test keeps the
 * file and the generator equal), so the document, the handler and the deployed API agree.
 *
 * Pure: no AWS SDK, no I/O.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import {
  COMPLIANCE_DEFAULT_PAGE_SIZE,
  COMPLIANCE_MAX_PAGE_SIZE,
  compliancePageSchema,
} from './compliance-api.js';
import {
  type ApprovalGate,
  describeApprovalGate,
  NODE_STATUSES,
  type NodeStatus,
  RUN_STATUSES,
  type RunStatus,
} from './contracts.js';
import { formatProblems, showValue, type ValidationProblem } from './errors.js';
import { EXIT_OUTCOMES, type ExitOutcome, KNOWN_EXIT_CODES, toHex } from './exit-codes.js';
import { failedStepOf } from './failed-step.js';
import type { LedgerEntry, RemovalPlan } from './install-ledger.js';
import { NETBIOS_MAX_LENGTH, nodeKey, nodeNameProblem } from './node-names.js';
import { describeNodeOrder, type NodeOrderRecord } from './node-order.js';
import { STILL_APPLICABLE_REASONS, type StillApplicable } from './rescan.js';
import {
  GROUP_NAME_PATTERN,
  issueProblems,
  parseRolloutInput,
  publishedRolloutInputSchema,
  type ResolvedRollout,
  RolloutInputError,
  RUN_ID_PATTERN,
  rolloutInputSchema,
} from './rollout-input.js';
import { scanNodeResultSchema } from './scan-result.js';

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

function splitPath(path: string): string[] {
  const segments = path.split('/');
  if (segments[0] === '') segments.shift();
  if (segments.length > 0 && segments.at(-1) === '') segments.pop();
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
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name !== undefined) {
      if (segment === '') return undefined;
      params[name] = decodeSegment(segment);
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
    if (options.field !== undefined) this.field = options.field;
    if (Object.hasOwn(options, 'value')) this.value = options.value;
    if (options.problems !== undefined) this.problems = options.problems;
    if (options.details !== undefined) this.details = options.details;
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
    ...(cause === undefined ? {} : { cause }),
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
  if (Buffer.byteLength(text, 'utf8') > max * (request.isBase64Encoded ? 1.4 : 1)) {
    throw tooLarge(max);
  }
  if (request.isBase64Encoded) text = Buffer.from(text, 'base64').toString('utf8');
  if (Buffer.byteLength(text, 'utf8') > max) throw tooLarge(max);
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

const wholeNumber = (what: string, min: number, max: number) =>
  z
    .number({ error: `expected ${what}: a whole number from ${min} to ${max}` })
    .int({ error: `expected ${what}: a whole number from ${min} to ${max}` })
    .min(min, { error: `expected ${what}: a whole number from ${min} to ${max}` })
    .max(max, { error: `expected ${what}: a whole number from ${min} to ${max}` });

/** An approval gate in a rollout request ({@link ApprovalGate}). */
export const approvalGateSchema = z
  .strictObject(
    {
      afterNodes: wholeNumber('the number of pilot nodes', 1, 999).describe(
        'The pilot: how many nodes (in update order) are updated before the run waits; fewer than the target has',
      ),
      timeoutMinutes: wholeNumber(
        'minutes to wait for a decision',
        1,
        MAX_APPROVAL_TIMEOUT_MINUTES,
      ).describe('How long the run waits for approve or reject; no decision counts as rejected'),
    },
    { error: 'expected an approval gate: { afterNodes, timeoutMinutes }' },
  )
  .describe(
    'Pilot first, then wait for approval, then the rest (CAU and SCCM pilot-group practice)',
  ) satisfies z.ZodType<ApprovalGate>;

/** The body of POST /rollouts and POST /scans: the rollout workflow's input and a gate. */
/**
 * Whether the rollout input itself takes `approvalGate` (and parseRolloutInput checks and
 * resolves it). Until it does, the API checks the gate here and passes it on in the input.
 */
export const ROLLOUT_INPUT_HAS_APPROVAL_GATE = Object.hasOwn(
  rolloutInputSchema.shape,
  'approvalGate',
);

/** The body of POST /rollouts and POST /scans: the rollout workflow's input and a gate. */
export const rolloutRequestSchema: z.ZodObject = (
  ROLLOUT_INPUT_HAS_APPROVAL_GATE
    ? publishedRolloutInputSchema
    : publishedRolloutInputSchema.extend({ approvalGate: approvalGateSchema.optional() })
).meta({
  title: 'RolloutRequest',
  description:
    'The rollout workflow input (its JSON Schema is published with the workflow), with the optional approval gate',
});

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
 * Checks a rollout request: the rollout input by {@link parseRolloutInput}, the approval gate
 * here (the pilot must leave nodes to approve).
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
  const hasGate =
    !ROLLOUT_INPUT_HAS_APPROVAL_GATE && isRecord(body) && Object.hasOwn(body, 'approvalGate');
  let rest: unknown = body;
  if (hasGate) {
    const { approvalGate: _, ...others } = body;
    rest = others;
  }
  const problems: ValidationProblem[] = [];
  let rollout: ResolvedRollout | undefined;
  try {
    rollout = parseRolloutInput(rest, now, options.random ? { random: options.random } : {});
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
  let approvalGate: ApprovalGate | null =
    (rollout as { readonly approvalGate?: ApprovalGate | null } | undefined)?.approvalGate ?? null;
  if (hasGate) {
    const result = approvalGateSchema.safeParse(body.approvalGate);
    if (!result.success) {
      const issues = result.error.issues.map((issue) => ({
        ...issue,
        path: ['approvalGate', ...issue.path],
      }));
      const fields = Object.keys(approvalGateSchema.shape);
      problems.push(...issueProblems(issues, body, (path) => (path.length === 1 ? fields : [])));
    } else if (rollout && result.data.afterNodes >= rollout.target.nodes.length) {
      problems.push({
        field: 'approvalGate.afterNodes',
        value: result.data.afterNodes,
        message: `expected fewer than the ${rollout.target.nodes.length} nodes of the target: the first afterNodes nodes are the pilot, the rest wait for approval`,
      });
    } else approvalGate = result.data;
  }
  if (problems.length > 0 || rollout === undefined) {
    throw validationError('rollout request is invalid', problems);
  }
  // Only the body and the run id: a retry builds the same input, which Step Functions needs to
  // treat a second StartExecution of the same name as the first.
  const input: Record<string, unknown> = { ...(rest as Record<string, unknown>) };
  input.runId = rollout.runId;
  if (hasGate && approvalGate) input.approvalGate = approvalGate;
  return { rollout, approvalGate, input };
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
      instanceId: z
        .string({ error: 'expected the SSM managed node id: i-… or mi-…' })
        .min(1, { error: 'expected the SSM managed node id: i-… or mi-…' })
        .max(32, { error: 'expected the SSM managed node id: i-… or mi-…' })
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
          query.cluster === undefined
            ? 'missing; expected ?cluster=NAME (a failover cluster) or ?group=NAME (a group of servers)'
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
    const [range = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, quality: Number.isFinite(quality) ? quality : 0, order };
  });
  // The most specific range that matches a type decides its quality (RFC 9110 §12.5.1).
  const match = (type: string) => {
    const major = type.split('/')[0];
    const best = ranges
      .filter((r) => r.range === type || r.range === `${major}/*` || r.range === '*/*')
      .sort((a, b) => specificity(b.range) - specificity(a.range) || a.order - b.order)[0];
    return best === undefined || best.quality <= 0 ? undefined : best;
  };
  const json = match('application/json');
  const csv = match('text/csv');
  if (!json || !csv) return json ? 'json' : csv ? 'csv' : undefined;
  if (csv.quality !== json.quality) return csv.quality > json.quality ? 'csv' : 'json';
  // Equal quality: the type named more exactly, then the one named first; JSON by default.
  const bySpecificity = specificity(csv.range) - specificity(json.range);
  if (bySpecificity !== 0) return bySpecificity > 0 ? 'csv' : 'json';
  return csv.order < json.order ? 'csv' : 'json';
}

const specificity = (range: string) => (range === '*/*' ? 0 : range.endsWith('/*') ? 1 : 2);

// ---------------------------------------------------------------------------------------------
// Response schemas (documented in the OpenAPI document; handler tests parse responses with them)

const timestamp = z.string().describe('ISO 8601 date and time');
const changeTicketOut = z
  .object({ system: z.string(), id: z.string(), url: z.string().optional() })
  .describe('The change ticket the rollout was requested under');
const targetOut = z.object({
  name: z.string(),
  kind: z.enum(['cluster', 'group']).nullable(),
});

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe(
          `One of ${Object.keys(ERROR_CODES).join(', ')}; or, for errors API Gateway answers itself (signature, throttling), its response type, e.g. ACCESS_DENIED, MISSING_AUTHENTICATION_TOKEN, THROTTLED`,
        ),
      message: z.string().describe('What is wrong and what would be accepted'),
      field: z
        .string()
        .optional()
        .describe('The field, parameter or header at fault, e.g. target.nodes[2].instanceId'),
      value: z.unknown().optional().describe('The value as sent (long values cut)'),
      problems: z
        .array(z.object({ field: z.string(), value: z.unknown().optional(), message: z.string() }))
        .optional()
        .describe('Every problem, when there are several'),
      details: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('Facts to act on, e.g. activeRolloutId of a 409 TargetBusy'),
      requestId: z.string().optional(),
    }),
  })
  .meta({ title: 'Error', description: 'Every 4xx and 5xx response' });

export const rolloutAcceptedSchema = z
  .object({
    rolloutId: z.string().describe('The rollout (run) id; also the execution name'),
    executionArn: z.string(),
    status: z.enum(RUN_STATUSES),
    idempotencyKey: z
      .string()
      .nullable()
      .describe('The key the request is remembered under for 24 hours, or null'),
  })
  .meta({ title: 'RolloutAccepted' });

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

export const stagingAcceptedSchema = z
  .object({
    stagingId: z.string().describe('The staging run id; also the execution name'),
    executionArn: z.string(),
    status: z.enum(STAGING_STATUSES),
    idempotencyKey: z
      .string()
      .nullable()
      .describe('The key the request is remembered under for 24 hours, or null'),
  })
  .meta({ title: 'StagingAccepted' });

const stagedNodeSchema = z.object({
  node: z.string(),
  status: z.enum(['Staged', 'Partial', 'Failed', 'NothingToStage']),
  files: z.number().int().describe('Hotfix files in the cache after this run'),
  bytes: z.number().int(),
  digestsVerified: z.number().int().describe('Files whose SHA-256 the node checked'),
  cacheHits: z.number().int().describe('Files already in the cache: nothing downloaded'),
  windowsUpdates: z.number().int().describe('Windows updates downloaded by WUA'),
  problems: z.array(z.string()).describe('Files or updates not in the cache, each with why'),
  stagedDigests: z
    .array(z.string())
    .describe('The SHA-256 of every cached file: what the install run may take from the cache'),
  stagedAt: z.string(),
});

export const stagingStatusSchema = z
  .object({
    stagingId: z.string(),
    executionArn: z.string().nullable().describe('Null once Step Functions forgot the execution'),
    status: z
      .enum([...STAGING_STATUSES, 'Unknown'])
      .describe('Unknown: the execution is past Step Functions history; the records stand'),
    startedAt: z.string().nullable(),
    stoppedAt: z.string().nullable(),
    counts: z
      .record(z.string(), z.number().int())
      .describe('Nodes recorded so far, by staging status'),
    nodes: z.array(stagedNodeSchema).describe('Each node staged so far, in node-key order'),
  })
  .meta({ title: 'StagingStatus' });

/** A node's staging record as the run store holds it. */
export type StagedNodeRecord = {
  readonly [K in keyof z.input<typeof stagedNodeSchema>]: Readonly<
    z.input<typeof stagedNodeSchema>[K]
  >;
};

/** A staging run as GET /stagings/{id} shows it. */
export type StagingStatusView = z.output<typeof stagingStatusSchema>;

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

const NODE_PROGRESS = [...NODE_STATUSES, 'Pending'] as const;
const STEP_PHASES = [
  'Starting',
  'UpdatingNodes',
  'AwaitingApproval',
  'Finishing',
  'Finished',
] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

export const rolloutStatusSchema = z
  .object({
    rolloutId: z.string(),
    target: targetOut.nullable().describe('null while the run is not recorded yet'),
    status: z
      .enum([...RUN_STATUSES, 'Pending'])
      .describe('Pending: the execution started and has not recorded the run yet'),
    reason: z.string().nullable(),
    execution: z
      .object({
        arn: z.string(),
        status: z.string().describe('Step Functions: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ...'),
        startDate: timestamp.nullable(),
        stopDate: timestamp.nullable(),
      })
      .nullable(),
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    stopAt: timestamp.nullable(),
    changeTicket: changeTicketOut.nullable(),
    requestedBy: z.string().nullable(),
    cancelRequested: z.boolean(),
    approval: z
      .object({
        afterNodes: z.number().int(),
        timeoutMinutes: z.number().int(),
        requestedAt: timestamp,
        decideBy: timestamp,
        waitingFor: z
          .string()
          .describe('What the rollout waits at, in words: the pilot, a phase or a health gate'),
      })
      .nullable()
      .describe('The approval gate the rollout waits at, or null'),
    currentStep: z
      .object({
        phase: z.enum(STEP_PHASES),
        nodes: z.array(z.string()).describe('The nodes being (or about to be) updated'),
        nodesOmitted: z.number().int(),
        description: z.string(),
      })
      .describe(
        "From the run store: which nodes have finished. The step within a node (drain, install, restart) is in the node workflow's execution history, which this does not read",
      ),
    progress: z.object({
      total: z.number().int(),
      finished: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      nothingToInstall: z.number().int(),
      skipped: z.number().int(),
      installedPendingReboot: z.number().int(),
      pending: z.number().int(),
    }),
    nodes: z.array(
      z.object({
        name: z.string(),
        status: z.enum(NODE_PROGRESS),
        startedAt: timestamp.optional(),
        finishedAt: timestamp.optional(),
        attempts: z.number().int().optional(),
        restarts: z.number().int().optional(),
        drained: z.boolean().optional(),
        detail: z.string().optional(),
      }),
    ),
  })
  .meta({ title: 'RolloutStatus' });
export type RolloutStatusView = z.output<typeof rolloutStatusSchema>;

export const rolloutSummarySchema = z.object({
  rolloutId: z.string(),
  target: targetOut,
  status: z.enum(RUN_STATUSES),
  reason: z.string().nullable(),
  startedAt: timestamp,
  finishedAt: timestamp.nullable(),
  nodes: z.number().int().describe('How many nodes the rollout updates'),
  changeTicket: changeTicketOut.nullable(),
  requestedBy: z.string().nullable(),
  cancelRequested: z.boolean(),
});

export const rolloutPageSchema = z
  .object({
    target: z.string(),
    rollouts: z.array(rolloutSummarySchema).describe('Newest first'),
    cursor: z
      .string()
      .nullable()
      .describe('Pass as ?cursor= for the next page; null on the last page'),
  })
  .meta({ title: 'RolloutPage' });

const reportUpdateSchema = z.object({
  plugin: z.string(),
  update: z.string(),
  attempt: z.number().int(),
  index: z.number().int(),
  outcome: z.enum(EXIT_OUTCOMES as [ExitOutcome, ...ExitOutcome[]]),
  exitCode: z.number().int().nullable(),
  exitCodeHex: z.string().nullable(),
  exitCodeName: z
    .string()
    .optional()
    .describe('The documented name of the exit code (ERROR_SUCCESS_REBOOT_REQUIRED), when known'),
  rebootRequired: z.boolean(),
  rebootInitiated: z.boolean(),
  durationSeconds: z.number(),
  detail: z.string().optional(),
  startedAt: timestamp.optional().describe('When the update started (UTC)'),
  finishedAt: timestamp.optional().describe('When the update ended (UTC)'),
  excludedBy: z
    .string()
    .optional()
    .describe(
      "Not installed: the rollout's updateSelection rule that left it out (outcome NotApplicable)",
    ),
});

const reportNodeSchema = z.object({
  name: z.string(),
  status: z.string(),
  detail: z.string().optional(),
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
  drained: z.boolean(),
  resumed: z
    .boolean()
    .optional()
    .describe('The node was drained and brought back (false: not drained, or left Paused)'),
  failedStep: z
    .string()
    .optional()
    .describe('Where a failed node stopped: drain, pre-update script, install, restart, ...'),
  restarts: z.number().int(),
  attempts: z.number().int(),
  scripts: z
    .array(
      z.object({
        phase: z.enum(['pre', 'post']),
        status: z.string().describe('SSM: Success, Failed, TimedOut, ...'),
        exitCode: z.number().int().describe('-1 when the script never ran'),
        outputTail: z.string(),
        completedAt: timestamp,
      }),
    )
    .optional()
    .describe('The pre- and post-update scripts run on the node, in order'),
  updates: z.array(reportUpdateSchema),
  stillApplicable: z
    .array(
      z.object({
        kb: z.string().nullable(),
        title: z.string(),
        source: z.enum(['Hotfix', 'WindowsUpdate']),
        reason: z.enum(STILL_APPLICABLE_REASONS),
        detail: z.string(),
      }),
    )
    .optional()
    .describe(
      'What the rescan after the final restart found still applicable, and why; absent when the node was not rescanned. It does not fail the node.',
    ),
  rescanError: z.string().optional().describe("The rescan's Windows Update search failed"),
  ledger: z.array(
    z.object({
      sequence: z.number().int(),
      updateId: z.string(),
      installedAt: timestamp,
      hotpatched: z.boolean(),
    }),
  ),
});

export const runReportSchema = z
  .object({
    runId: z.string(),
    target: z.string(),
    targetKind: z.string().optional(),
    status: z.string(),
    reason: z.string().optional(),
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    makespanSeconds: z.number().optional(),
    lockReleased: z.boolean(),
    changeTicket: changeTicketOut.nullable(),
    requestedBy: z.string().nullable(),
    notices: z
      .array(z.string())
      .optional()
      .describe(
        'What happened to the run as a whole, one line each: WarnAfter passed, the lock broken by ForceRecovery',
      ),
    order: z
      .string()
      .optional()
      .describe(
        'How a cluster run without policy.nodeOrder ordered its nodes: computed, fewest clustered roles first, with the counts; or as given and why',
      ),
    phases: z
      .array(
        z.object({
          index: z.number().int().min(0),
          name: z.string(),
          nodes: z.array(z.string()),
          failed: z.array(z.string()),
          failuresAllowed: z.number().int().min(0),
          passed: z.boolean(),
          advance: z.enum(['bake', 'approval', 'none']),
          reason: z.string(),
          judgedAt: timestamp,
        }),
      )
      .optional()
      .describe(
        'Phases that advance themselves (issue 13, item 4): each phase judged so far, in order, with its criteria and verdict',
      ),
    nodes: z.array(reportNodeSchema),
  })
  .meta({
    title: 'RunReport',
    description:
      "Like CAU's Get-CauReport -Detailed: per node, per update, the outcome, exit code, restart and duration",
  });
export type RunReportView = z.output<typeof runReportSchema>;

export const cancelAcceptedSchema = z
  .object({
    rolloutId: z.string(),
    status: z.enum(RUN_STATUSES),
    cancelRequested: z.literal(true),
    cancelRequestedAt: timestamp,
    approvalCancelled: z
      .boolean()
      .describe('The rollout was waiting at its approval gate and now stops there'),
    message: z.string(),
  })
  .meta({ title: 'CancelAccepted' });

export const forceRecoveryAcceptedSchema = z
  .object({
    target: z.string().describe('The cluster or group whose lock was broken'),
    recovered: z.literal(true),
    rolloutId: z.string().describe('The rollout that held the lock'),
    executionArn: z.string().nullable().describe("The holder's execution, when the lock named one"),
    executionStatus: z
      .string()
      .describe(
        'What Step Functions said of it (FAILED, ABORTED, ..., NOT_FOUND), or LEASE_EXPIRED',
      ),
    recoveredAt: timestamp,
    recoveredBy: z.string(),
    reason: z.string(),
    runMarkedFailed: z
      .boolean()
      .describe('The run was still recorded Running; it is now Failed with the reason'),
  })
  .meta({ title: 'ForceRecoveryAccepted' });

export const decisionAcceptedSchema = z
  .object({
    rolloutId: z.string(),
    decision: z.enum(['approved', 'rejected']),
    decidedAt: timestamp,
    decidedBy: z.string().describe('The IAM caller'),
    approvedBy: z.string().nullable(),
    comment: z.string().nullable(),
    cancelRequested: z
      .boolean()
      .describe('A cancel was requested too: the rollout ends Cancelled whatever the decision'),
    message: z.string().describe('What will happen now'),
  })
  .meta({ title: 'DecisionAccepted' });

export const scanResultSchema = z
  .looseObject({
    runId: z.string(),
    scannedAt: timestamp,
    nodes: z.array(
      z.looseObject({
        name: z.string(),
        instanceId: z.string(),
        online: z.boolean(),
        pingStatus: z.string().nullable(),
        hotfixUpdates: z.number().int(),
        files: z.array(z.string()),
        filesOmitted: z.number().int(),
        hotpatchCandidates: z
          .number()
          .int()
          .describe(
            'planned hotfixes whose package can install as a hotpatch (hotpatch-manifest.json)',
          ),
        restartExpected: z
          .boolean()
          .describe(
            'a restart is expected: an update cannot hotpatch by its package facts, or Windows Update runs; the node inventory decides at run time',
          ),
      }),
    ),
    warnings: z.array(z.string()),
    nodeOrder: z.array(z.string()),
    windowsUpdate: z
      .looseObject({
        queryString: z.string(),
        includeRecommendedUpdates: z.boolean(),
        selection: z
          .record(z.string(), z.unknown())
          .nullable()
          .optional()
          .describe("the rollout's updateSelection, which each node applies to its search"),
        note: z.string().optional(),
      })
      .nullable()
      .optional()
      .describe('what Windows Update will be asked for; null without the Windows Update plug-in'),
    excluded: z
      .array(z.object({ file: z.string(), rule: z.string(), reason: z.string() }))
      .optional()
      .describe("hotfix files the rollout's updateSelection leaves out, with the rule"),
    excludedOmitted: z.number().int().optional(),
  })
  .meta({
    title: 'ScanResult',
    description:
      "CAU's Invoke-CauScan: per node, the updates the hotfix plug-in would install, how many can hotpatch, whether a restart is expected, and whether the node is online; the Windows Update query. Installs nothing",
  });

/** The steps of a node's update (lambdas/handlers/node-progress.ts), in order. */
const NODE_PROGRESS_STEPS = [
  'preflight',
  'planning',
  'inventory',
  'hotpatchEligibility',
  'preUpdateScript',
  'draining',
  'removing',
  'installing',
  'restarting',
  'verifying',
  'resuming',
  'postUpdateScript',
  'recording',
  'failing',
] as const;

export const nodeProgressSchema = z
  .object({
    rolloutId: z.string(),
    node: z.string(),
    executionArn: z.string(),
    status: z.enum(['Running', 'Succeeded', 'Failed', 'Aborted', 'TimedOut']),
    state: z.string().nullable().describe('The node-workflow state entered last'),
    enteredAt: timestamp.nullable(),
    step: z.enum(NODE_PROGRESS_STEPS).nullable(),
    plugin: z
      .object({ index: z.number().int(), count: z.number().int(), name: z.string().nullable() })
      .nullable()
      .describe('The plug-in being installed, i of n (from 1)'),
    updatesPlanned: z.number().int().nullable(),
    restarts: z.number().int().nullable(),
    summary: z.string().describe('One line for a person'),
  })
  .meta({
    title: 'NodeProgress',
    description:
      "Where a node is inside its update, read from its node-workflow execution's history (newest events first): the step, the plug-in i of n, the updates planned, the restarts so far",
  });

// -- The scan workflow (issue 12, point 4): POST /scans starts it, GET /scans/{id} reads it. ----

export const scanAcceptedSchema = z
  .object({
    scanId: z.string().describe('The scan id; also the execution name'),
    executionArn: z.string(),
    status: z.literal('Running'),
  })
  .meta({ title: 'ScanAccepted' });

/** How a scan stands: its execution's status, in the words of the rest of the API. */
export const SCAN_STATUSES = ['Running', 'Succeeded', 'Failed', 'Cancelled', 'TimedOut'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export const scanViewSchema = z
  .object({
    scanId: z.string(),
    status: z.enum(SCAN_STATUSES),
    startedAt: timestamp,
    stoppedAt: timestamp.nullable(),
    error: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .describe('Why the scan failed (the input, the target, NodesOffline, the hotfix root)'),
    plan: scanResultSchema
      .nullable()
      .describe("The hotfix plan and the nodes' SSM status; null until the scan ended"),
    nodes: z
      .array(scanNodeResultSchema)
      .describe(
        'Per node, in update order: each update that would install (KB, title, classification, severity, restart expected and why, hotpatch candidate and why) and each found update left out, with the rule (lambdas/core/scan-result.ts). Empty until the scan ended',
      ),
    nodesMissing: z
      .array(z.string())
      .describe('Nodes of a finished scan whose result could not be read'),
  })
  .meta({
    title: 'ScanView',
    description:
      "CAU's Invoke-CauScan: a scan started by POST /scans, its status and, once it ended, what each node would install. Installs nothing, drains nothing, restarts nothing",
  });

const ledgerEntrySchema = z.object({
  node: z.string(),
  sequence: z.number().int(),
  updateId: z.string(),
  installedAt: timestamp,
  runId: z.string().optional(),
  hotpatched: z.boolean(),
  replacedFiles: z.array(
    z.object({
      path: z.string(),
      versionBefore: z.string().optional(),
      versionAfter: z.string().optional(),
    }),
  ),
  removedAt: timestamp.optional(),
  removedByRunId: z.string().optional(),
  installedPendingReboot: z
    .boolean()
    .optional()
    .describe('Installed by a run with rebootOption Never that left the node needing a restart'),
});

export const ledgerResponseSchema = z
  .object({
    node: z.string(),
    entries: z
      .array(ledgerEntrySchema)
      .describe('Every install, removed ones too, in install order'),
    installed: z.array(z.string()).describe('The updates installed now, in install order'),
    removalOrder: z
      .array(z.string())
      .describe('The order to remove them all in: reverse install order'),
  })
  .meta({ title: 'Ledger' });

const removalWarningSchema = z
  .object({
    updateId: z.string(),
    laterUpdatesSharingFiles: z.array(
      z.object({ updateId: z.string(), files: z.array(z.string()) }),
    ),
    installedSince: z.array(z.string()),
  })
  .describe('KB823836: removing updateId out of order; the later updates listed may break');

export const removalAcceptedSchema = z
  .object({
    node: z.string(),
    removalId: z.string(),
    executionArn: z.string().nullable(),
    order: z.array(z.string()).describe('Removal order: reverse install order'),
    addedDependents: z.array(z.string()),
    restartRequired: z.boolean().describe('Always true: removing an update needs a restart'),
    forced: z.boolean(),
    warnings: z.array(removalWarningSchema),
  })
  .meta({ title: 'RemovalAccepted' });

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
export function rolloutSummary(run: RunView): z.output<typeof rolloutSummarySchema> {
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
    const updates = (updatesOf.get(key) ?? [])
      .map((u, order) => ({ u, order }))
      .sort((a, b) => a.u.attempt - b.u.attempt || a.order - b.order)
      .map(({ u }) => ({
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

// ---------------------------------------------------------------------------------------------
// The OpenAPI document

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Json {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
  }) as Json;
  delete json.$schema;
  return json;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: ref('Error') } },
});

/** Built when the document is (the API handler never builds it: its bundle leaves it out). */
const responses = (): Json => ({
  BadRequest: errorResponse(
    'The request is malformed: the body names the field (or parameter, or header) and the problem',
  ),
  NotFound: errorResponse('No such rollout, node or route'),
  Conflict: errorResponse('The request conflicts with the state of the rollout or target'),
  UnsupportedMediaType: errorResponse('The Content-Type is not application/json'),
  ServiceUnavailable: errorResponse('AWS is throttling the control plane; retry after a while', {
    'Retry-After': {
      description: 'Seconds to wait before retrying',
      schema: { type: 'integer' },
    },
  }),
  InternalError: errorResponse('An unexpected error; it is logged with the request id'),
});

const errorRefs = (...names: string[]) =>
  Object.fromEntries(
    names.map((name) => {
      const status = {
        BadRequest: '400',
        NotFound: '404',
        Conflict: '409',
        TooLarge: '413',
        UnsupportedMediaType: '415',
        ServiceUnavailable: '503',
        InternalError: '500',
      }[name] as string;
      // 413 differs by route (maxBodyBytes): openApiDocument writes each operation's own.
      return [status, name === 'TooLarge' ? null : { $ref: `#/components/responses/${name}` }];
    }),
  );

const jsonContent = (schemaName: string) => ({
  'application/json': { schema: ref(schemaName) },
});

const idParameter = (what: 'rollout' | 'node' | 'target' | 'scan'): Json => ({
  name: 'id',
  in: 'path',
  required: true,
  description: {
    rollout: 'The rollout (run) id',
    scan: 'The scan id',
    node: 'The node (NetBIOS computer name)',
    target: 'The cluster or group name',
  }[what],
  schema:
    what === 'rollout' || what === 'scan'
      ? { type: 'string', pattern: RUN_ID_PATTERN.source }
      : what === 'node'
        ? { type: 'string', minLength: 1, maxLength: NETBIOS_MAX_LENGTH }
        : { type: 'string', pattern: GROUP_NAME_PATTERN.source },
});

/** Which id a path's `{id}` is. */
const idKind = (path: string): 'rollout' | 'node' | 'target' =>
  path.startsWith('/nodes') ? 'node' : path.startsWith('/targets') ? 'target' : 'rollout';

/** Each operation's description (built with the document, like {@link responses}). */
const operations = (): Record<OperationId, Json> => ({
  startRollout: {
    description:
      'Starts the rollout workflow with the body as its input; the rollout id is the execution name. The request is remembered for 24 hours under its Idempotency-Key header, else under its change ticket (system:id): the same request again returns the same rollout (with Idempotent-Replay: true), another request under the same key gets 422. 409 when the target already has an active rollout (its lock is held).',
    parameters: [
      {
        name: IDEMPOTENCY_KEY_HEADER,
        in: 'header',
        required: false,
        description:
          'Any 1 to 255 visible ASCII characters, e.g. a UUID; a retry sends the same key and body',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      },
    ],
    requestBody: { required: true, content: jsonContent('RolloutRequest') },
    responses: {
      '202': {
        description: 'Started (or, on an idempotent retry, started before)',
        headers: {
          [IDEMPOTENT_REPLAY_HEADER]: {
            description: 'true when this is the response to an earlier identical request',
            schema: { type: 'string', enum: ['true'] },
          },
        },
        content: jsonContent('RolloutAccepted'),
      },
      ...errorRefs('BadRequest', 'Conflict', 'TooLarge', 'UnsupportedMediaType'),
      '422': errorResponse('The idempotency key was used for another request'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  listRollouts: {
    description:
      "The rollouts of one cluster or group, newest first, a page at a time. Exactly one of cluster and group; the two share one namespace of target names (as they share the target's lock).",
    parameters: [
      {
        name: 'cluster',
        in: 'query',
        required: false,
        schema: { type: 'string', maxLength: NETBIOS_MAX_LENGTH },
      },
      {
        name: 'group',
        in: 'query',
        required: false,
        schema: { type: 'string', pattern: GROUP_NAME_PATTERN.source },
      },
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_PAGE_SIZE,
          default: DEFAULT_PAGE_SIZE,
        },
      },
      {
        name: 'cursor',
        in: 'query',
        required: false,
        description: 'The cursor of the previous page',
        schema: { type: 'string' },
      },
    ],
    responses: {
      '200': { description: 'A page of rollouts', content: jsonContent('RolloutPage') },
      ...errorRefs('BadRequest', 'ServiceUnavailable', 'InternalError'),
    },
  },
  getRollout: {
    description:
      "Status, per-node progress and current step, from the run store and one DescribeExecution. The current step is what the run store records (which nodes have finished, whether the approval gate waits), not the step within a node: that is in the node workflow's execution history, which is not read here because GetExecutionHistory is paged and costly.",
    parameters: [idParameter('rollout')],
    responses: {
      '200': { description: 'The rollout', content: jsonContent('RolloutStatus') },
      ...errorRefs('BadRequest', 'NotFound', 'ServiceUnavailable', 'InternalError'),
    },
  },
  getRolloutReport: {
    description:
      "The detailed report (CAU's Get-CauReport -Detailed): per node, per update, the outcome, exit code, restart and duration. Accept: text/csv gives RFC 4180 CSV, one row per update.",
    parameters: [
      idParameter('rollout'),
      {
        name: 'Accept',
        in: 'header',
        required: false,
        schema: { type: 'string', enum: ['application/json', 'text/csv'] },
      },
    ],
    responses: {
      '200': {
        description: 'The report',
        content: {
          ...jsonContent('RunReport'),
          'text/csv': {
            schema: {
              type: 'string',
              description: `Columns: ${REPORT_CSV_COLUMNS.join(', ')}`,
            },
          },
        },
      },
      ...errorRefs('BadRequest', 'NotFound'),
      '406': errorResponse('The Accept header allows neither application/json nor text/csv'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  cancelRollout: {
    description:
      'Sets the rollout to stop after the current node has left its safe state (never leaving a node drained); a rollout waiting at its approval gate stops there. 409 when the rollout is not running.',
    parameters: [idParameter('rollout')],
    requestBody: { required: false, content: jsonContent('CancelRequest') },
    responses: {
      '202': { description: 'Cancel requested', content: jsonContent('CancelAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  approveRollout: {
    description:
      'Releases a rollout waiting at its approval gate: the remaining nodes are updated. 409 when no approval is pending.',
    parameters: [idParameter('rollout')],
    requestBody: { required: false, content: jsonContent('DecisionRequest') },
    responses: {
      '202': { description: 'Approved', content: jsonContent('DecisionAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  rejectRollout: {
    description:
      'Rejects a rollout waiting at its approval gate: the remaining nodes are not updated and the rollout ends Cancelled (ApprovalRejected). 409 when no approval is pending.',
    parameters: [idParameter('rollout')],
    requestBody: { required: false, content: jsonContent('DecisionRequest') },
    responses: {
      '202': { description: 'Rejected', content: jsonContent('DecisionAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  forceRecovery: {
    description:
      "CAU's -ForceRecovery: breaks the target's lock when the rollout holding it is no longer running (its execution ended, or was never started and its claim lapsed), so a new rollout may start. Never breaks the lock of a running rollout: 409 naming its execution. The reason, who and when are recorded on the held run (which, if still recorded Running, becomes Failed) and published as Rollout Lock Force Recovered. 404 when the target is not locked.",
    parameters: [idParameter('target')],
    requestBody: { required: true, content: jsonContent('ForceRecoveryRequest') },
    responses: {
      '200': { description: 'The lock was broken', content: jsonContent('ForceRecoveryAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  scan: {
    description:
      "CAU's Invoke-CauScan for a rollout input: starts the scan workflow, which resolves the target as a rollout does, plans the hotfix root, and searches Windows Update on every node with the run's QueryString, IncludeRecommendedUpdates and updateSelection (document ScanUpdates). Installs nothing, drains nothing, restarts nothing. Follow it with GET /scans/{id}.",
    requestBody: { required: true, content: jsonContent('RolloutRequest') },
    responses: {
      '202': { description: 'The scan started', content: jsonContent('ScanAccepted') },
      ...errorRefs('BadRequest', 'TooLarge', 'UnsupportedMediaType'),
      '501': errorResponse('Scanning is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getNodeProgress: {
    description:
      "Where a node is inside its update: the node workflow's state entered last (GetExecutionHistory of the node's execution, newest first), mapped to a step (inventory, draining, installing, restarting, ...), with the plug-in i of n, the hotfix updates planned and the restarts so far. 404 when the node's execution has not started.",
    parameters: [
      idParameter('rollout'),
      {
        name: 'node',
        in: 'path',
        required: true,
        description: 'The node (NetBIOS computer name), as the rollout names it',
        schema: { type: 'string', minLength: 1, maxLength: NETBIOS_MAX_LENGTH },
      },
    ],
    responses: {
      '200': { description: 'The progress', content: jsonContent('NodeProgress') },
      ...errorRefs('BadRequest', 'NotFound'),
      '501': errorResponse('Progress is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getScan: {
    description:
      "A scan's status and, once it ended, per node: each update that would install (KB, title, classification, severity, restart expected and why, hotpatch candidate and why) and each update found that would not, with the rule that leaves it out.",
    parameters: [idParameter('scan')],
    responses: {
      '200': { description: 'The scan', content: jsonContent('ScanView') },
      ...errorRefs('BadRequest', 'NotFound'),
      '501': errorResponse('Scanning is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  startStaging: {
    description:
      "Starts the staging workflow (issue 13 item 5, ConfigMgr's pre-download) with the body, a rollout input, as its input: each node downloads and verifies its planned updates into its staging cache, at most staging.maxConcurrency at once. It takes no target lock and installs, drains or restarts nothing. The staging id is the execution name. The request is remembered for 24 hours under its Idempotency-Key header, else under its change ticket (system:id), apart from rollouts: the same request again returns the same staging (with Idempotent-Replay: true), another request under the same key gets 422.",
    parameters: [
      {
        name: IDEMPOTENCY_KEY_HEADER,
        in: 'header',
        required: false,
        description:
          'Any 1 to 255 visible ASCII characters, e.g. a UUID; a retry sends the same key and body',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      },
    ],
    requestBody: { required: true, content: jsonContent('RolloutRequest') },
    responses: {
      '202': { description: 'Staging started', content: jsonContent('StagingAccepted') },
      ...errorRefs('BadRequest', 'Conflict', 'TooLarge', 'UnsupportedMediaType'),
      '422': errorResponse('The Idempotency-Key or change ticket was used for another request'),
      '501': errorResponse('Staging is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getStaging: {
    description:
      "A staging run's status (from DescribeExecution) and, per node staged so far, its staging summary from the run store (RUN#<id> / STAGING#<node>): status, files, bytes, digests verified, cache hits, Windows updates, problems.",
    parameters: [idParameter('rollout')],
    responses: {
      '200': { description: 'The staging run', content: jsonContent('StagingStatus') },
      ...errorRefs('BadRequest', 'NotFound'),
      '501': errorResponse('Staging is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getLedger: {
    description:
      'Every update installed on the node, in install order, with the files each replaced; removed ones marked. A node nothing was recorded for has an empty ledger.',
    parameters: [idParameter('node')],
    responses: {
      '200': { description: 'The ledger', content: jsonContent('Ledger') },
      ...errorRefs('BadRequest', 'ServiceUnavailable', 'InternalError'),
    },
  },
  requestRemoval: {
    description:
      'Plans removing the named updates in reverse install order (KB897341) and starts it; the node restarts after. Removing an update while a later one that replaced the same files stays installed is out of order (KB823836): refused with 409 and the warnings, unless includeDependents (remove those too) or force (accept the risk).',
    parameters: [idParameter('node')],
    requestBody: { required: true, content: jsonContent('RemovalRequest') },
    responses: {
      '202': { description: 'Removal started', content: jsonContent('RemovalAccepted') },
      ...errorRefs('BadRequest'),
      '409': errorResponse(
        'Out of order (KB823836); error.details.warnings lists what would break',
      ),
      ...errorRefs('TooLarge', 'UnsupportedMediaType'),
      '422': errorResponse('An update is not installed on the node (never, or removed already)'),
      '501': errorResponse('Removals are not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getCompliance: {
    description:
      "Each node's last compliance assessment (issue 13, item 8; Patch Manager's patch state): installed (KB, when, by which run), missing, failed on the last attempt, pending restart, the state and the state before. Read-only; a page at a time. A target never assessed has no nodes.",
    parameters: [
      {
        name: 'target',
        in: 'query',
        required: true,
        description: 'The cluster or group name',
        schema: { type: 'string', pattern: GROUP_NAME_PATTERN.source },
      },
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: {
          type: 'integer',
          minimum: 1,
          maximum: COMPLIANCE_MAX_PAGE_SIZE,
          default: COMPLIANCE_DEFAULT_PAGE_SIZE,
        },
      },
      {
        name: 'cursor',
        in: 'query',
        required: false,
        description: 'The cursor of the previous page',
        schema: { type: 'string' },
      },
    ],
    responses: {
      '200': { description: 'A page of nodes', content: jsonContent('CompliancePage') },
      ...errorRefs('BadRequest'),
      '501': errorResponse('Compliance is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
});

const integration = () => ({
  type: 'aws_proxy',
  httpMethod: 'POST',
  uri: INTEGRATION_URI_PLACEHOLDER,
  passthroughBehavior: 'when_no_match',
  timeoutInMillis: 29_000,
});

const IAM = { 'x-amazon-apigateway-auth': { type: 'AWS_IAM' }, security: [{ sigv4: [] }] };

/**
 * Routes every other method of a path, and every unknown path, to the handler, which answers
 * 405 (with Allow) or 404 in the API's error shape instead of API Gateway's 403.
 */
const anyMethod = (parameters: Json[]) => ({
  'x-amazon-apigateway-any-method': {
    summary: 'Any other method: 405 with Allow (or 404 for an unknown path)',
    ...(parameters.length > 0 ? { parameters } : {}),
    ...IAM,
    responses: {
      '404': { $ref: '#/components/responses/NotFound' },
      '405': errorResponse('Method not allowed: the Allow header lists the methods', {
        Allow: { schema: { type: 'string' } },
      }),
    },
    'x-amazon-apigateway-integration': integration(),
  },
});

/** Every method the document routes: the API's routes, and the catch-alls (`ANY`). */
export function documentedMethods(document: Json): { path: string; method: string }[] {
  const paths = document.paths as Record<string, Record<string, unknown>>;
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => key !== 'parameters')
      .map((key) => ({
        path,
        method: key === 'x-amazon-apigateway-any-method' ? 'ANY' : key.toUpperCase(),
      })),
  );
}

/** An operation's description with its 413 response stating its own body limit. */
function withBodyLimit(operation: Json, id: OperationId): Json {
  const responses = operation.responses as Json | undefined;
  if (responses === undefined || !Object.hasOwn(responses, '413')) return operation;
  const max = maxBodyBytes(id);
  return {
    ...operation,
    responses: {
      ...responses,
      '413': errorResponse(
        `The body is larger than ${max} bytes (${max >= 1024 * 1024 ? `${(max / 1024 / 1024).toFixed(1)} MiB` : `${max / 1024} KiB`}); nothing was done`,
      ),
    },
  };
}

const GATEWAY_ERROR_TEMPLATE =
  '{"error":{"code":"$context.error.responseType","message":$context.error.messageString,"requestId":"$context.requestId"}}';

/**
 * The OpenAPI 3.0.3 document of the API, API Gateway extensions included: IAM (SigV4) on every
 * method, the Lambda proxy integration (its URI a placeholder RolloutApi fills in), parameter
 * validation, and gateway errors in the API's error shape. `api/openapi.json` is this, written.
 *
 * Bodies are checked by the handler against the schemas below, not by API Gateway: its
 * validator (JSON Schema draft 4) names neither the field nor the value in its messages, and
 * cannot check the rules across fields (duplicate nodes, the run policy against the nodes).
 */
export function openApiDocument(): Json {
  const described = operations();
  const paths: Record<string, Json> = {};
  for (const path of API_PATHS) {
    const item: Json = {};
    const pathParameters = path.includes('{id}') ? [idParameter(idKind(path))] : [];
    for (const route of API_ROUTES.filter((r) => r.path === path)) {
      item[route.method.toLowerCase()] = {
        operationId: route.operationId,
        summary: route.summary,
        ...withBodyLimit(described[route.operationId], route.operationId),
        ...IAM,
        'x-amazon-apigateway-integration': integration(),
      };
    }
    Object.assign(item, anyMethod(pathParameters));
    paths[path] = item;
  }
  // Every resource API Gateway creates on the way to a route answers too (404 from the handler).
  for (const path of API_PATHS) {
    const segments = splitPath(path);
    for (let n = 1; n < segments.length; n++) {
      const prefix = `/${segments.slice(0, n).join('/')}`;
      paths[prefix] ??= anyMethod(prefix.includes('{id}') ? [idParameter(idKind(prefix))] : []);
    }
  }
  paths['/'] = anyMethod([]);
  paths['/{proxy+}'] = anyMethod([
    { name: 'proxy', in: 'path', required: true, schema: { type: 'string' } },
  ]);

  const schemas: Record<string, Json> = {
    RolloutRequest: schemaOf(rolloutRequestSchema, 'input'),
    RolloutAccepted: schemaOf(rolloutAcceptedSchema, 'output'),
    RolloutStatus: schemaOf(rolloutStatusSchema, 'output'),
    RolloutPage: schemaOf(rolloutPageSchema, 'output'),
    RunReport: schemaOf(runReportSchema, 'output'),
    CancelRequest: schemaOf(cancelRequestSchema, 'input'),
    CancelAccepted: schemaOf(cancelAcceptedSchema, 'output'),
    ForceRecoveryRequest: schemaOf(forceRecoveryRequestSchema, 'input'),
    ForceRecoveryAccepted: schemaOf(forceRecoveryAcceptedSchema, 'output'),
    DecisionRequest: schemaOf(decisionRequestSchema, 'input'),
    DecisionAccepted: schemaOf(decisionAcceptedSchema, 'output'),
    ScanResult: schemaOf(scanResultSchema, 'output'),
    ScanAccepted: schemaOf(scanAcceptedSchema, 'output'),
    ScanView: schemaOf(scanViewSchema, 'output'),
    NodeProgress: schemaOf(nodeProgressSchema, 'output'),
    StagingAccepted: schemaOf(stagingAcceptedSchema, 'output'),
    StagingStatus: schemaOf(stagingStatusSchema, 'output'),
    Ledger: schemaOf(ledgerResponseSchema, 'output'),
    RemovalRequest: schemaOf(removalRequestSchema, 'input'),
    RemovalAccepted: schemaOf(removalAcceptedSchema, 'output'),
    CompliancePage: schemaOf(compliancePageSchema, 'output'),
    Error: schemaOf(errorBodySchema, 'output'),
  };

  const gatewayResponse = (extraHeaders: Json = {}) => ({
    responseParameters: {
      'gatewayresponse.header.Cache-Control': "'no-store'",
      ...extraHeaders,
    },
    responseTemplates: { 'application/json': GATEWAY_ERROR_TEMPLATE },
  });

  return {
    openapi: '3.0.3',
    info: {
      title: 'Windows rollout control plane: change-management API',
      version: '1.0.0',
      description:
        'Start, follow, approve, cancel and report rollouts of Windows updates to failover clusters and server groups; scan; read install ledgers and remove updates in the safe order. Every request is signed with AWS SigV4 (IAM). Every 4xx names the field and the problem.',
    },
    security: [{ sigv4: [] }],
    paths,
    components: {
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
      schemas,
      responses: responses(),
    },
    'x-amazon-apigateway-request-validators': {
      params: { validateRequestParameters: true, validateRequestBody: false },
    },
    'x-amazon-apigateway-request-validator': 'params',
    'x-amazon-apigateway-gateway-responses': {
      DEFAULT_4XX: gatewayResponse(),
      DEFAULT_5XX: gatewayResponse(),
      THROTTLED: gatewayResponse({ 'gatewayresponse.header.Retry-After': "'1'" }),
    },
  };
}
