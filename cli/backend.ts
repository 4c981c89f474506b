/**
 * What the `rollout` commands talk to: the change-management API, deployed (cli/http-backend.ts,
 * SigV4-signed HTTPS) or in the local sandbox (cli/local-backend.ts, the same handler called
 * in-process). Both send the same requests through {@link apiBackend}, so the routes, headers and
 * bodies are written once, here, and the two backends differ only in how a request travels.
 *
 * Every method returns the API's JSON as it is (typed by the schemas in
 * lambdas/core/api-responses.ts, not re-validated: a newer server may add fields) or throws a
 * {@link BackendError}.
 */

import type { z } from 'zod';
import type {
  ErrorBody,
  RemovalRequest,
  RolloutStatusView,
  RunReportView,
  StagingStatusView,
} from '../lambdas/core/api-model.js';
import type {
  cancelAcceptedSchema,
  decisionAcceptedSchema,
  forceRecoveryAcceptedSchema,
  ledgerResponseSchema,
  nodeProgressSchema,
  removalAcceptedSchema,
  rolloutAcceptedSchema,
  rolloutPageSchema,
  scanAcceptedSchema,
  scanViewSchema,
  stagingAcceptedSchema,
} from '../lambdas/core/api-responses.js';
import type { CompliancePageView } from '../lambdas/core/compliance-api.js';
import type { ValidationProblem } from '../lambdas/core/errors.js';
import { joinReportPages } from './report-pages.js';

export type RolloutAccepted = z.output<typeof rolloutAcceptedSchema>;
export type RolloutStatus = RolloutStatusView;
export type RolloutPage = z.output<typeof rolloutPageSchema>;
export type RunReport = RunReportView;
export type CancelAccepted = z.output<typeof cancelAcceptedSchema>;
export type DecisionAccepted = z.output<typeof decisionAcceptedSchema>;
export type ForceRecoveryAccepted = z.output<typeof forceRecoveryAcceptedSchema>;
export type ScanAccepted = z.output<typeof scanAcceptedSchema>;
export type NodeProgress = z.output<typeof nodeProgressSchema>;
export type ScanView = z.output<typeof scanViewSchema>;
export type Ledger = z.output<typeof ledgerResponseSchema>;
export type RemovalAccepted = z.output<typeof removalAcceptedSchema>;
export type RemovalBody = RemovalRequest;
export type StagingAccepted = z.output<typeof stagingAcceptedSchema>;
export type StagingStatus = StagingStatusView;

/** A cluster or a group of servers, as GET /rollouts takes it (`?cluster=` or `?group=`). */
export interface RolloutTarget {
  readonly kind: 'cluster' | 'group';
  readonly name: string;
}

export interface ListOptions {
  readonly limit?: number;
  readonly cursor?: string;
}

/** The change-management API, one method per route (api/openapi.json). */
export interface RolloutBackend {
  /** Where requests go, for messages: "https://…/v1" or "the local sandbox (scenario …)". */
  readonly description: string;
  /** POST /rollouts (202). */
  startRollout(input: unknown, idempotencyKey?: string): Promise<RolloutAccepted>;
  /** GET /rollouts/{id}. */
  getRollout(id: string): Promise<RolloutStatus>;
  /** GET /rollouts?cluster=…|group=…&limit=…&cursor=… (newest first). */
  listRollouts(target: RolloutTarget, options?: ListOptions): Promise<RolloutPage>;
  /** GET /rollouts/{id}/report, JSON or (Accept: text/csv) CSV. */
  getReport(id: string, format: 'json'): Promise<RunReport>;
  getReport(id: string, format: 'csv'): Promise<string>;
  /** POST /rollouts/{id}/cancel (202). */
  cancel(id: string, reason?: string): Promise<CancelAccepted>;
  /** POST /rollouts/{id}/approve or /reject (202). */
  decide(id: string, decision: 'approve' | 'reject', comment?: string): Promise<DecisionAccepted>;
  /** POST /targets/{id}/force-recovery (200): break the lock of a target whose run has ended. */
  forceRecovery(target: string, reason: string): Promise<ForceRecoveryAccepted>;
  /** POST /scans (202): starts a scan, which installs nothing. */
  scan(input: unknown): Promise<ScanAccepted>;
  /** GET /scans/{id}: the scan's status and, once it ended, its result per node. */
  getScan(id: string): Promise<ScanView>;
  /** GET /nodes/{id}/ledger. */
  getLedger(node: string): Promise<Ledger>;
  /** POST /nodes/{id}/removals (202). */
  requestRemoval(node: string, body: RemovalBody): Promise<RemovalAccepted>;
  /** GET /compliance?target=…&limit=…&cursor=… (issue 13, item 8). */
  getCompliance(target: string, options?: ListOptions): Promise<CompliancePageView>;
  /** POST /stagings (202): stage the rollout's updates on its nodes; installs nothing. */
  startStaging(input: unknown, idempotencyKey?: string): Promise<StagingAccepted>;
  /** GET /stagings/{id}. */
  getStaging(id: string): Promise<StagingStatus>;
  /** Releases what the backend holds (the local sandbox's DynamoDB). */
  close(): Promise<void>;
}

/** A status the rollout no longer changes from (Pending and Running are not). */
export function isTerminal(status: Pick<RolloutStatus, 'status'>): boolean {
  return status.status !== 'Running' && status.status !== 'Pending';
}

// ---------------------------------------------------------------------------------------------
// Errors

export interface BackendErrorDetails {
  /** The HTTP status; 0 when no answer came (network, credentials). */
  readonly status: number;
  /** The API's error code (ValidationFailed, TargetBusy, …), API Gateway's, or ours. */
  readonly code: string;
  /** The API's message, as sent (it may span lines). */
  readonly message: string;
  readonly field?: string;
  readonly value?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly requestId?: string;
  /** Every problem of a 400 ValidationFailed, as the API lists them. */
  readonly problems?: readonly ValidationProblem[];
  readonly cause?: unknown;
}

/**
 * A request the API refused or could not serve, or that did not reach it. Its message is one
 * line naming the field, the code and the status; cli/main.ts prints it without a stack.
 */
export class BackendError extends Error {
  override readonly name = 'BackendError';
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly value?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly requestId?: string;
  readonly problems?: readonly ValidationProblem[];
  /** The API's message as sent. */
  readonly apiMessage: string;

  constructor(error: BackendErrorDetails) {
    super(
      describe(error),
      error.cause === undefined ? undefined : { cause: error.cause as Error | undefined },
    );
    this.status = error.status;
    this.code = error.code;
    this.apiMessage = error.message;
    if (error.field !== undefined) this.field = error.field;
    if (Object.hasOwn(error, 'value')) this.value = error.value;
    if (error.details !== undefined) this.details = error.details;
    if (error.requestId !== undefined) this.requestId = error.requestId;
    if (error.problems !== undefined) this.problems = error.problems;
  }
}

/**
 * `<first line> (HTTP 400 ValidationFailed; field target.name)`, then the message's other lines
 * (one problem a line) unchanged: nothing is cut, so every problem reaches the operator.
 */
function describe(error: BackendErrorDetails): string {
  const [first = '', ...rest] = error.message
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '');
  const where = [
    error.status > 0 ? `HTTP ${error.status} ${error.code}` : error.code,
    error.field === undefined ? undefined : `field ${error.field}`,
    error.status >= 500 && error.requestId !== undefined
      ? `request id ${error.requestId}`
      : undefined,
  ].filter((part) => part !== undefined);
  return [`${first.trim() || '(no message)'} (${where.join('; ')})`, ...rest].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The requests, once for both backends

/** One request to the API, before it travels. `path` has its parameters encoded. */
export interface ApiCall {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** The API's answer. */
export interface ApiAnswer {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends one request and returns the answer; throws BackendError when no answer came. */
export type Transport = (call: ApiCall) => Promise<ApiAnswer>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The error an answer's body carries: the API's `{ error }`, API Gateway's `{ message }`, or text. */
export function errorFromAnswer(answer: ApiAnswer): BackendError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    parsed = undefined;
  }
  const body = isRecord(parsed) ? parsed : {};
  if (isRecord(body.error) && typeof body.error.message === 'string') {
    const e = body.error as Partial<ErrorBody['error']> & Record<string, unknown>;
    return new BackendError({
      status: answer.status,
      code: typeof e.code === 'string' ? e.code : `HTTP${answer.status}`,
      message: e.message as string,
      ...(typeof e.field === 'string' ? { field: e.field } : {}),
      ...(Object.hasOwn(e, 'value') ? { value: e.value } : {}),
      ...(isRecord(e.details) ? { details: e.details } : {}),
      ...(typeof e.requestId === 'string' ? { requestId: e.requestId } : {}),
      ...(Array.isArray(e.problems) ? { problems: e.problems as ValidationProblem[] } : {}),
    });
  }
  // API Gateway's own answers when its gateway responses are not ours (e.g. a custom domain in
  // front): `{ "message": "..." }` or `{ "Message": "..." }`, the type in x-amzn-errortype.
  const message =
    typeof body.message === 'string'
      ? body.message
      : typeof body.Message === 'string'
        ? body.Message
        : answer.body.trim().slice(0, 300) || 'the API answered with an empty body';
  const errorType = answer.headers['x-amzn-errortype']?.split(':')[0];
  const requestId = answer.headers['x-amzn-requestid'] ?? answer.headers['x-amz-apigw-id'];
  return new BackendError({
    status: answer.status,
    code: errorType || `HTTP${answer.status}`,
    message,
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/** The cursor of the Link header's rel="next" reference (RFC 8288), if the answer has one. */
export function nextCursorOf(answer: ApiAnswer): string | undefined {
  const link = answer.headers.link;
  if (link === undefined) return undefined;
  for (const part of link.split(',')) {
    const match = /^\s*<(?<ref>[^>]*)>\s*;(?<params>.*)$/.exec(part);
    if (match?.groups && /(^|;)\s*rel="?next"?\s*(;|$)/i.test(match.groups.params as string)) {
      return (
        new URL(match.groups.ref as string, 'https://api.invalid/').searchParams.get('cursor') ??
        undefined
      );
    }
  }
  return undefined;
}

/** `/rollouts/{id}` with `id` encoded, as api-model's fillPath does. */
const at = (template: string, id: string) => template.replace('{id}', encodeURIComponent(id));

const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };

/** A RolloutBackend over a transport: each method is one request of the API. */
export function apiBackend(
  transport: Transport,
  description: string,
  close: () => Promise<void> = async () => undefined,
): RolloutBackend {
  const send = async (
    method: ApiCall['method'],
    path: string,
    options: { query?: Record<string, string>; headers?: Record<string, string>; body?: unknown },
  ): Promise<ApiAnswer> => {
    const answer = await transport({
      method,
      path,
      query: options.query ?? {},
      headers: {
        ...(options.body === undefined ? { accept: 'application/json' } : JSON_HEADERS),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    if (answer.status < 200 || answer.status > 299) throw errorFromAnswer(answer);
    return answer;
  };
  const json = async <T>(
    method: ApiCall['method'],
    path: string,
    options: {
      query?: Record<string, string>;
      headers?: Record<string, string>;
      body?: unknown;
    } = {},
  ): Promise<T> => {
    const answer = await send(method, path, options);
    try {
      return JSON.parse(answer.body) as T;
    } catch (error) {
      throw new BackendError({
        status: answer.status,
        code: 'InvalidResponse',
        message: `${method} ${path} answered ${answer.status} with a body that is not JSON: ${answer.body.slice(0, 120)}`,
        cause: error,
      });
    }
  };

  function getReport(id: string, format: 'json'): Promise<RunReport>;
  function getReport(id: string, format: 'csv'): Promise<string>;
  // Every page of the report (the API pages it by ?cursor=, and answers a first page when the
  // whole would pass Lambda's 6 MB response limit), joined into one report.
  async function getReport(id: string, format: 'json' | 'csv'): Promise<RunReport | string> {
    const path = at('/rollouts/{id}/report', id);
    if (format === 'json') {
      return joinReportPages((cursor) =>
        json<RunReport>('GET', path, cursor === undefined ? {} : { query: { cursor } }),
      );
    }
    const csv = { headers: { accept: 'text/csv' } };
    const first = await send('GET', path, csv);
    let body = first.body;
    const seen = new Set<string>();
    for (let cursor = nextCursorOf(first); cursor !== undefined; ) {
      if (seen.has(cursor)) {
        throw new Error(
          `the report's pages do not end: the API gave the cursor ${JSON.stringify(cursor.slice(0, 60))} twice`,
        );
      }
      seen.add(cursor);
      const page = await send('GET', path, { ...csv, query: { cursor } });
      // Each page starts with the header line; the first page's is kept.
      body += page.body.slice(page.body.indexOf('\r\n') + 2);
      cursor = nextCursorOf(page);
    }
    return body;
  }

  return {
    description,
    startRollout: (input, idempotencyKey) =>
      json('POST', '/rollouts', {
        body: input,
        ...(idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': idempotencyKey } }),
      }),
    getRollout: (id) => json('GET', at('/rollouts/{id}', id)),
    listRollouts: (target, options = {}) =>
      json('GET', '/rollouts', {
        query: {
          [target.kind]: target.name,
          ...(options.limit === undefined ? {} : { limit: String(options.limit) }),
          ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
        },
      }),
    getReport,
    cancel: (id, reason) =>
      json('POST', at('/rollouts/{id}/cancel', id), {
        body: reason === undefined ? {} : { reason },
      }),
    decide: (id, decision, comment) =>
      json('POST', at(`/rollouts/{id}/${decision}`, id), {
        body: comment === undefined ? {} : { comment },
      }),
    forceRecovery: (target, reason) =>
      json('POST', at('/targets/{id}/force-recovery', target), { body: { reason } }),
    scan: (input) => json('POST', '/scans', { body: input }),
    getScan: (id) => json('GET', at('/scans/{id}', id)),
    getLedger: (node) => json('GET', at('/nodes/{id}/ledger', node)),
    requestRemoval: (node, body) => json('POST', at('/nodes/{id}/removals', node), { body }),
    getCompliance: (target, options = {}) =>
      json('GET', '/compliance', {
        query: {
          target,
          ...(options.limit === undefined ? {} : { limit: String(options.limit) }),
          ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
        },
      }),
    startStaging: (input, idempotencyKey) =>
      json('POST', '/stagings', {
        body: input,
        ...(idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': idempotencyKey } }),
      }),
    getStaging: (id) => json('GET', at('/stagings/{id}', id)),
    close,
  };
}
