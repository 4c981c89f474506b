/**
 * api: the change-management API behind API Gateway (REST, Lambda proxy integration, IAM auth).
 * One function routes every request; the routes, request schemas and views are in
 * core/api-model.ts (the response schemas and the OpenAPI document, which this function never
 * builds, are in core/api-responses.ts and core/api-openapi.ts, out of its bundle), and this file
 * does the I/O: the run store, Step Functions, the scan.
 *
 * Every answer is JSON (or the CSV report). A request the API cannot accept gets a 4xx whose
 * body names the field and the problem (`ApiError`). AWS throttling is a 503 with Retry-After;
 * anything unexpected is a logged 500 that names only the request id. No request reaches a 500
 * by what it sends: test/handlers/api.property.test.ts sends arbitrary requests to every route.
 */

import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  API_PATHS,
  ApiError,
  buildRunReport,
  cancelRequestSchema,
  canonicalJson,
  DEFAULT_PAGE_SIZE,
  decisionRequestSchema,
  type ExecutionView,
  executionArnFor,
  fillPath,
  forceRecoveryRequestSchema,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_TTL_SECONDS,
  IDEMPOTENT_REPLAY_HEADER,
  listQuerySchema,
  matchRoute,
  maxBodyBytes,
  type OperationId,
  parseIdempotencyKey,
  parseJsonBody,
  parseNodeName,
  parseRequest,
  parseRolloutRequest,
  parseRunId,
  parseTargetName,
  type RolloutRequest,
  removalRefused,
  removalRequestSchema,
  reportFormat,
  reportToCsv,
  requestHash,
  rolloutIdempotencyKey,
  rolloutStatusView,
  rolloutSummary,
  validationError,
} from '../core/api-model.js';
import type { RunReportView } from '../core/api-responses.js';
import {
  COMPLIANCE_DEFAULT_PAGE_SIZE,
  compliancePageView,
  complianceQuerySchema,
} from '../core/compliance-api.js';
import { showValue } from '../core/errors.js';
import {
  installedUpdates,
  type LedgerEntry,
  LedgerError,
  planRemoval,
  type RemovalPlan,
  safeRemovalOrder,
} from '../core/install-ledger.js';
import { lockForceRecovered } from '../core/lifecycle-events.js';
import { nodeKey } from '../core/node-names.js';
import {
  decodeReportCursor,
  escapedBytes,
  nextLinkHeader,
  proxyResponseBytes,
  REPORT_BUDGET_BYTES,
  type ReportQuery,
  reportPage,
  reportQuerySchema,
} from '../core/report-pages.js';
import { parseRolloutInput, RolloutInputError } from '../core/rollout-input.js';
import { scanNodeResultKey } from '../core/scan-result.js';
import { type ExecutionStatus, holderIsAlive } from '../core/target-lock.js';
import {
  type ComplianceStore,
  createComplianceStore,
  InvalidComplianceCursorError,
} from '../shared/compliance-store.js';
import { createEventPublisher, type LifecyclePublisher } from '../shared/event-publisher.js';
import { reportNodeNames } from '../shared/report-nodes.js';
import { publishRunEndedOutsideWorkflow } from '../shared/run-ended-outside.js';
import {
  createRunStore,
  type IdempotencyRecord,
  InvalidCursorError,
  LockHeldError,
  type LockRecord,
  RunExistsError,
  RunNotFoundError,
  RunNotRunningError,
  type RunRecord,
  type RunStore,
} from '../shared/run-store.js';
import { logContext, logger, requiredEnv, tracer } from '../shared/runtime.js';
import {
  isSelectedRequest,
  type ManifestUpload,
  parseLargeList,
  parseSelectedRequest,
} from '../shared/selected-request.js';
import { makeStagingRoutes, type StagingAnswer } from './api-staging.js';
import { readNodeProgress } from './node-progress.js';
import { makeScanRoutes, readArtifact, type ScanApiDeps } from './scan-api.js';

/** What a removal is started with, besides the node and the plan. */
export interface RemovalStartRequest {
  readonly changeTicket: {
    readonly system: string;
    readonly id: string;
    readonly url?: string;
  } | null;
  readonly requestedBy: string | null;
  /** The plan is out of order (KB823836) and the caller accepted that. */
  readonly forced: boolean;
  /** The node's cluster or group, when the request names it: the removal takes its lock. */
  readonly target: { readonly kind: 'cluster' | 'group'; readonly name: string } | null;
  /** The node's SSM managed node id, when the request gives it. */
  readonly instanceId: string | null;
  /**
   * How to remove each update of the plan, from the ledger (`removal` of its install): the
   * method and, for DISM, the package name. @default - wusa for each
   */
  readonly removals?: readonly LedgerRemovalItem[];
  /**
   * Claims the target for the run about to start, in one conditional write (as POST /rollouts
   * does), or throws 409 naming the live holder. Called after the input is valid, before
   * StartExecution. @default - nothing claimed
   */
  readonly claim?: (runId: string) => Promise<void>;
}

/** A removal item as the rollout input takes it: the KB id, or the id with how to remove it. */
export type LedgerRemovalItem =
  | string
  | { readonly updateId: string; readonly method: 'wusa' }
  | { readonly updateId: string; readonly method: 'dism'; readonly packageName: string };

/** Each update of `order` with how the ledger says to remove it (its active entry's `removal`). */
export function removalItemsOf(
  ledger: { readonly entries: readonly LedgerEntry[] },
  order: readonly string[],
): LedgerRemovalItem[] {
  return order.map((updateId) => {
    const how = ledger.entries.find(
      (e) => e.removedAt === undefined && e.updateId.toUpperCase() === updateId.toUpperCase(),
    )?.removal;
    return how === undefined ? updateId : { updateId, ...how };
  });
}

export interface ApiDeps {
  readonly sfn: SFNClient;
  readonly store: RunStore;
  readonly now: () => Date;
  /** Random numbers in [0, 1), for generated rollout ids. @default Math.random */
  readonly random?: () => number;
  /** The rollout workflow: POST /rollouts starts it, GET /rollouts/{id} describes its executions. */
  readonly rolloutStateMachineArn: string;
  /**
   * The scan workflow: POST /scans starts it, GET /scans/{id} reads it (scan-api.ts).
   * @default - none: POST /scans and GET /scans/{id} answer 501
   */
  readonly scans?: ScanApiDeps;
  /**
   * The node workflow: GET /rollouts/{id}/nodes/{node}/progress reads its executions' history.
   * @default - none: that route answers 501
   */
  readonly nodeStateMachineArn?: string;
  /**
   * Starts removing updates from a node in the plan's order, then restarting it.
   * @default - none: POST /nodes/{id}/removals answers 501 after planning, and starts nothing
   */
  readonly startRemoval?: (
    node: string,
    plan: RemovalPlan,
    request: RemovalStartRequest,
  ) => Promise<{ readonly removalId: string; readonly executionArn?: string }>;
  /**
   * The bytes a report response may take, as Lambda serializes it; a bigger report is paged.
   * @default REPORT_BUDGET_BYTES (6,000,000, below Lambda's 6,291,456)
   */
  readonly reportBudgetBytes?: number;
  /** Ledgers a report reads at once. @default 8 */
  readonly ledgerConcurrency?: number;
  /** The staging workflow (POST /stagings). @default - none: the staging routes answer 501 */
  readonly stagingStateMachineArn?: string;
  /**
   * Where ForceRecovery publishes Rollout Lock Force Recovered.
   * @default - none: the recovery is recorded on the run, no event is published
   */
  readonly publisher?: LifecyclePublisher;
  /**
   * The target's compliance, a page at a time (issue 13, item 8).
   * @default - none: GET /compliance answers 501
   */
  readonly compliance?: Pick<ComplianceStore, 'listCompliance'>;
  /**
   * Where POST /rollouts uploads a group's list longer than 2,000 nodes, as a manifest (issue 11).
   * @default - none: such a list is refused
   */
  readonly manifests?: ManifestUpload;
}

// ---------------------------------------------------------------------------------------------
// The request, read defensively: API Gateway builds the event, but headers and parameters are
// the client's, and absent ones are null.

interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly resource: string | undefined;
  readonly pathParameters: Readonly<Record<string, string>>;
  readonly headers: ReadonlyMap<string, string>;
  readonly query: Readonly<Record<string, string>>;
  /** Query parameters given more than once. */
  readonly repeatedQuery: readonly string[];
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
  readonly requestId: string | undefined;
  /** The IAM principal that signed the request. */
  readonly caller: string | undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const strings = (value: unknown): Record<string, string> =>
  isRecord(value)
    ? Object.fromEntries(
        Object.entries(value).filter((entry): entry is [string, string] => {
          return typeof entry[1] === 'string';
        }),
      )
    : {};

function readRequest(event: unknown): ApiRequest {
  const e = isRecord(event) ? event : {};
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(strings(e.headers))) {
    headers.set(name.toLowerCase(), value);
  }
  const multi = isRecord(e.multiValueQueryStringParameters)
    ? e.multiValueQueryStringParameters
    : {};
  const context = isRecord(e.requestContext) ? e.requestContext : {};
  const identity = isRecord(context.identity) ? context.identity : {};
  const caller = [identity.userArn, identity.caller].find(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  return {
    method: typeof e.httpMethod === 'string' ? e.httpMethod.toUpperCase() : 'GET',
    path: typeof e.path === 'string' ? e.path : '/',
    resource: typeof e.resource === 'string' ? e.resource : undefined,
    pathParameters: strings(e.pathParameters),
    headers,
    query: strings(e.queryStringParameters),
    repeatedQuery: Object.entries(multi)
      .filter(([, values]) => Array.isArray(values) && values.length > 1)
      .map(([name]) => name),
    body: typeof e.body === 'string' ? e.body : null,
    isBase64Encoded: e.isBase64Encoded === true,
    requestId: typeof context.requestId === 'string' ? context.requestId : undefined,
    caller,
  };
}

// ---------------------------------------------------------------------------------------------
// Responses

const BASE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...BASE_HEADERS, ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * One page of the report (report-pages.ts): the run-level fields, `page`, and the nodes from the
 * cursor's on that fit the budget; a Link header when a next page exists. `nodes` are the page's,
 * `result` its response.
 */
function reportPageOf(
  report: RunReportView,
  format: 'json' | 'csv',
  query: ReportQuery,
  budgetBytes: number,
): { readonly nodes: RunReportView['nodes']; readonly result: () => APIGatewayProxyResult } {
  const nodesTotal = report.nodes.length;
  const start =
    query.cursor === undefined
      ? 0
      : decodeReportCursor(query.cursor, { rolloutId: report.runId, nodesTotal });
  const respond = (
    nodes: RunReportView['nodes'],
    nextCursor: string | null,
  ): APIGatewayProxyResult => {
    const headers: Record<string, string> =
      nextCursor === null ? {} : { Link: nextLinkHeader(nextCursor, query.limit) };
    if (format === 'json') {
      return json(200, { ...report, page: { nodesTotal, start, nextCursor }, nodes }, headers);
    }
    return {
      statusCode: 200,
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="rollout-${report.runId}.csv"`,
        ...BASE_HEADERS,
        ...headers,
      },
      body: reportToCsv({ ...report, nodes }),
    };
  };
  // A CSV node is its rows: its CSV less the header line.
  const csvHeader = format === 'csv' ? escapedBytes(reportToCsv({ ...report, nodes: [] })) : 0;
  const page = reportPage({
    rolloutId: report.runId,
    nodesTotal,
    start,
    limit: query.limit,
    budgetBytes,
    emptyResponseBytes: (cursor) => proxyResponseBytes(respond([], cursor)),
    nodeBytes: (index) => {
      const node = report.nodes[index] as RunReportView['nodes'][number];
      return format === 'json'
        ? escapedBytes(JSON.stringify(node)) + 1
        : escapedBytes(reportToCsv({ ...report, nodes: [node] })) - csvHeader;
    },
  });
  const nodes = report.nodes.slice(start, page.end);
  return { nodes, result: () => respond(nodes, page.nextCursor) };
}

/** AWS throttling or briefly failing: a condition of the service, not of the request. */
function isTransient(error: unknown): boolean {
  if (!isRecord(error) && !(error instanceof Error)) return false;
  const e = error as {
    name?: unknown;
    $retryable?: { throttling?: unknown };
    $metadata?: { httpStatusCode?: unknown };
  };
  return (
    (typeof e.name === 'string' && THROTTLING_ERRORS.has(e.name)) ||
    e.$retryable?.throttling === true ||
    e.$metadata?.httpStatusCode === 429 ||
    e.$metadata?.httpStatusCode === 503
  );
}

const THROTTLING_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'KmsThrottlingException',
  'UnprocessedItems',
  // Step Functions: too many open executions in the account.
  'ExecutionLimitExceeded',
]);

function errorResult(error: unknown, request: ApiRequest): APIGatewayProxyResult {
  if (error instanceof ApiError) {
    if (error.status >= 500) logger.warn('request not served', { code: error.code });
    else logger.info('request refused', { code: error.code, field: error.field });
    return json(error.status, error.toBody(request.requestId), { ...error.headers });
  }
  if (isTransient(error)) {
    logger.warn('throttled by AWS', { error });
    const body = new ApiError(
      'ServiceUnavailable',
      'AWS is throttling the control plane; retry after the Retry-After seconds',
    ).toBody(request.requestId);
    return json(503, body, { 'Retry-After': '5' });
  }
  logger.error('unexpected error', { error, method: request.method, path: request.path });
  const body = new ApiError(
    'InternalError',
    `internal error; it is logged under request id ${request.requestId ?? '(none)'}`,
  ).toBody(request.requestId);
  return json(500, body);
}

// ---------------------------------------------------------------------------------------------
// Step Functions

/**
 * How long a target claim made before StartExecution holds while its execution cannot be seen:
 * long enough for StartExecution to land, short enough that a claim whose start failed does not
 * keep the target for long (a replay of the request repairs it sooner).
 */
export const CLAIM_SECONDS = 300;

const TOKEN_GONE: ReadonlySet<string> = new Set([
  'TaskDoesNotExist',
  'TaskTimedOut',
  'InvalidToken',
]);

const nameOf = (error: unknown) =>
  isRecord(error) || error instanceof Error ? String((error as { name?: unknown }).name) : '';

async function describeExecution(
  sfn: SFNClient,
  arn: string,
): Promise<(ExecutionView & { readonly input?: string }) | undefined> {
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    return {
      arn: out.executionArn ?? arn,
      status: out.status ?? 'UNKNOWN',
      ...(out.startDate ? { startDate: out.startDate } : {}),
      ...(out.stopDate ? { stopDate: out.stopDate } : {}),
      ...(out.input === undefined ? {} : { input: out.input }),
    };
  } catch (error) {
    if (nameOf(error) === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

const sameInput = (stored: string | undefined, input: unknown) => {
  if (stored === undefined) return false;
  try {
    return canonicalJson(JSON.parse(stored)) === canonicalJson(input);
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------------------------------------

type Route = (
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
) => Promise<APIGatewayProxyResult>;

export function makeApiHandler(deps: ApiDeps) {
  const random = deps.random ?? Math.random;
  const machine = deps.rolloutStateMachineArn;

  /** DescribeExecution's status, NOT_FOUND for an execution Step Functions does not know. */
  const executionStatus = async (arn: string): Promise<ExecutionStatus> =>
    ((await describeExecution(deps.sfn, arn))?.status ?? 'NOT_FOUND') as ExecutionStatus;

  /**
   * Starts the rollout execution named `runId`. Step Functions itself answers a second start of
   * a running execution with the same name and input with the first one's ARN; a closed one is
   * ours when its input is the same.
   */
  const startExecution = async (runId: string, input: Readonly<Record<string, unknown>>) => {
    try {
      const out = await deps.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: machine,
          name: runId,
          input: JSON.stringify(input),
        }),
      );
      return out.executionArn ?? executionArnFor(machine, runId);
    } catch (error) {
      if (nameOf(error) !== 'ExecutionAlreadyExists') throw error;
      const arn = executionArnFor(machine, runId);
      const existing = await describeExecution(deps.sfn, arn);
      if (existing && sameInput(existing.input, input)) return arn;
      throw new ApiError(
        'RolloutIdInUse',
        `rollout id ${JSON.stringify(runId)} is already used by another rollout; leave runId out to get a new one`,
        { field: 'runId', value: runId, cause: error },
      );
    }
  };

  /**
   * Claims the target for `runId` before its execution starts (issue 15): one conditional write
   * that takes the lock naming the execution about to start, or 409 naming the live holder. The
   * workflow's AcquireLock adopts the claim (same run, same execution). A claim whose execution
   * never starts lapses after CLAIM_SECONDS (core/target-lock.ts), or a replay of the same
   * request repairs it by starting that execution.
   */
  const claimTarget = async (
    target: { readonly kind: string; readonly name: string },
    runId: string,
    now: Date,
  ) => {
    const execution = executionArnFor(machine, runId);
    const claim = () =>
      deps.store.acquireLock(target.name, runId, CLAIM_SECONDS, now, execution).then(() => true);
    const busy = (lock: LockRecord | undefined, cause: unknown) => {
      const holder = lock?.holder ?? '(unknown)';
      return new ApiError(
        'TargetBusy',
        `${target.kind} ${target.name} has an active rollout, ${holder}${lock?.execution ? ` (execution ${lock.execution})` : ''}; one rollout per ${target.kind} at a time: wait for it, or cancel it (POST /rollouts/${holder}/cancel)`,
        {
          field: 'target.name',
          value: target.name,
          details: {
            activeRolloutId: holder,
            ...(lock?.leaseExpiresAt ? { leaseExpiresAt: lock.leaseExpiresAt } : {}),
            ...(lock?.execution ? { activeExecutionArn: lock.execution } : {}),
          },
          cause,
        },
      );
    };
    try {
      await claim();
      return;
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      const current = await deps.store.getLock(target.name);
      if (current !== undefined) {
        const { alive } = await holderIsAlive(current, now, executionStatus);
        if (alive) throw busy(current, error);
      }
      try {
        // Free (released meanwhile) or held by the dead: take it, exactly once among racers.
        if (current === undefined) await claim();
        else await deps.store.takeOverLock(current, runId, CLAIM_SECONDS, now, execution);
      } catch (retry) {
        if (!(retry instanceof LockHeldError)) throw retry;
        throw busy(await deps.store.getLock(target.name), retry);
      }
    }
  };

  /**
   * A rollout whose execution ended before it recorded itself (refused input, a lost race for
   * the target) is recorded now, Failed with Step Functions' error and cause, so its status,
   * report and replays tell the truth. Undefined while the execution runs (or is unknown).
   */
  const recordEndedBeforeRecorded = async (
    runId: string,
    executionArn: string,
    request: RolloutRequest,
  ): Promise<RunRecord | undefined> => {
    const out = await deps.sfn
      .send(new DescribeExecutionCommand({ executionArn }))
      .catch((error: unknown) => {
        if (nameOf(error) === 'ExecutionDoesNotExist') return undefined;
        throw error;
      });
    if (out?.status === undefined || out.status === 'RUNNING' || out.status === 'PENDING_REDRIVE')
      return undefined;
    const { rollout } = request;
    const record: RunRecord = {
      runId,
      target: rollout.target.name,
      targetKind: rollout.target.kind,
      nodes: rollout.target.nodes.map((n) => n.name),
      maxFailedNodes: rollout.policy.maxFailedNodes,
      status: out.status === 'SUCCEEDED' ? 'Succeeded' : 'Failed',
      startedAt: (out.startDate ?? deps.now()).toISOString(),
      finishedAt: (out.stopDate ?? deps.now()).toISOString(),
      failureReason:
        `the execution ended ${out.status} before the run was recorded${out.error ? `: ${out.error}` : ''}${out.cause ? `: ${out.cause}` : ''}`.slice(
          0,
          4000,
        ),
      execution: executionArn,
      ...(rollout.changeTicket ? { changeTicket: rollout.changeTicket } : {}),
      ...(rollout.requestedBy ? { requestedBy: rollout.requestedBy } : {}),
    };
    try {
      await deps.store.putRun(record);
    } catch (error) {
      // Recorded meanwhile (by the workflow, or a concurrent replay): that record stands.
      if (!(error instanceof RunExistsError)) throw error;
      return deps.store.getRun(runId);
    }
    logger.warn('rollout ended before it was recorded; recorded as Failed', {
      status: out.status,
      error: out.error,
    });
    // Whoever started it (a change ticket waiting for its end) learns it ended, as of any run.
    if (record.status === 'Failed') {
      await publishRunEndedOutsideWorkflow(deps.store, deps.publisher, runId, deps.now());
    }
    return record;
  };

  /** The answer to a request whose key was seen: the same rollout, or 422 for another request. */
  const replay = async (
    seen: IdempotencyRecord,
    hash: string,
    request: RolloutRequest,
    shownKey: string,
    now: Date,
  ) => {
    if (seen.requestHash !== hash) {
      throw new ApiError(
        'IdempotencyKeyReused',
        `${shownKey} was used within the last 24 hours for another request (rollout ${seen.runId}); a retry must repeat the request exactly, and a new rollout needs a new ${IDEMPOTENCY_KEY_HEADER}`,
        {
          field: shownKey.startsWith('change ticket') ? 'changeTicket' : IDEMPOTENCY_KEY_HEADER,
          details: { rolloutId: seen.runId },
        },
      );
    }
    let executionArn = seen.executionArn;
    if (executionArn === undefined) {
      // The first request claimed the key but did not get through StartExecution: start it now,
      // under the same name and with the same input, so there is never a second execution.
      const input = { ...request.input, runId: seen.runId };
      const existing = await describeExecution(deps.sfn, executionArnFor(machine, seen.runId));
      if (existing !== undefined && sameInput(existing.input, input)) {
        // It did start (the note was lost): that execution is the rollout; claim nothing.
        executionArn = existing.arn;
      } else {
        await claimTarget(request.rollout.target, seen.runId, now);
        executionArn = await startExecution(seen.runId, input);
      }
      await deps.store.recordIdempotentStart(seen.key, executionArn);
    }
    logContext({ runId: seen.runId, target: request.rollout.target.name });
    const run =
      (await deps.store.getRun(seen.runId)) ??
      (await recordEndedBeforeRecorded(seen.runId, executionArn, request));
    logger.info('idempotent replay', { executionArn, status: run?.status ?? 'Running' });
    return json(
      202,
      {
        rolloutId: seen.runId,
        executionArn,
        status: run?.status ?? 'Running',
        idempotencyKey: shownKey,
      },
      { [IDEMPOTENT_REPLAY_HEADER]: 'true' },
    );
  };

  const startRollout: Route = async (request) => {
    const body = parseJsonBody({
      body: request.body,
      isBase64Encoded: request.isBase64Encoded,
      contentType: request.headers.get('content-type'),
      required: true,
      // Issue 11: a group of up to 100,000 listed nodes (uploaded as a manifest).
      maxBytes: maxBodyBytes('startRollout'),
    });
    const headerKey = parseIdempotencyKey(request.headers.get('idempotency-key'));
    const now = deps.now();
    // Issue 11: a selected group, or more nodes than an input lists (selected-request.ts).
    const parsed: RolloutRequest & { upload?: () => Promise<Record<string, unknown>> } =
      isSelectedRequest(body) && isRecord(body)
        ? Object.hasOwn(body.target as object, 'select')
          ? parseSelectedRequest(body, now, { random })
          : parseLargeList(body, now, deps.manifests, { random })
        : parseRolloutRequest(body, now, { random });
    const { rollout } = parsed;
    const runId = rollout.runId;
    logContext({ runId, target: rollout.target.name });
    const key = rolloutIdempotencyKey(headerKey, rollout.changeTicket);
    const shownKey =
      headerKey !== undefined
        ? `${IDEMPOTENCY_KEY_HEADER} ${JSON.stringify(headerKey)}`
        : rollout.changeTicket
          ? `change ticket ${rollout.changeTicket.system}:${rollout.changeTicket.id}`
          : '';
    const hash = requestHash('startRollout', body);
    const nowSeconds = Math.floor(now.getTime() / 1000);

    if (key !== undefined) {
      const seen = await deps.store.getIdempotencyRecord(key);
      if (seen !== undefined && seen.expiresAt >= nowSeconds) {
        return replay(seen, hash, parsed, shownKey, now);
      }
    }
    if (isRecord(body) && body.runId !== undefined && (await deps.store.getRun(runId))) {
      throw new ApiError(
        'RolloutIdInUse',
        `rollout id ${JSON.stringify(runId)} is already used by another rollout; leave runId out to get a new one`,
        { field: 'runId', value: runId },
      );
    }
    if (key !== undefined) {
      const claim = await deps.store.claimIdempotencyKey(
        {
          key,
          requestHash: hash,
          runId,
          createdAt: now.toISOString(),
          expiresAt: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
        },
        now,
      );
      // Another request with this key got there first (a concurrent retry): answer as a replay.
      if (!claim.claimed) return replay(claim.record, hash, parsed, shownKey, now);
    }
    // After the key, so identical concurrent requests are replays of one, not 409s of each other.
    try {
      await claimTarget(rollout.target, runId, now);
    } catch (error) {
      if (key !== undefined && error instanceof ApiError) {
        await deps.store.releaseIdempotencyKey(key, runId);
      }
      throw error;
    }
    const executionArn = await startExecution(
      runId,
      parsed.upload ? await parsed.upload() : parsed.input,
    );
    if (key !== undefined) await deps.store.recordIdempotentStart(key, executionArn);
    logger.info('rollout started', { executionArn, nodes: rollout.target.nodes.length });
    return json(202, {
      rolloutId: runId,
      executionArn,
      status: 'Running',
      idempotencyKey: key === undefined ? null : shownKey,
    });
  };

  const listRollouts: Route = async (request) => {
    if (request.repeatedQuery.length > 0) {
      const name = request.repeatedQuery[0] as string;
      throw new ApiError('ValidationFailed', `query parameter ${name}: given more than once`, {
        field: name,
      });
    }
    const query = parseRequest('the query', listQuerySchema, request.query);
    const target = (query.cluster ?? query.group) as string;
    try {
      const page = await deps.store.listRunsByTarget(target, {
        limit: query.limit ?? DEFAULT_PAGE_SIZE,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return json(200, {
        target,
        rollouts: page.runs.map(rolloutSummary),
        cursor: page.cursor ?? null,
      });
    } catch (error) {
      // A cursor that decodes to a key DynamoDB refuses is the client's, like a malformed one.
      if (
        error instanceof InvalidCursorError ||
        (query.cursor !== undefined && nameOf(error) === 'ValidationException')
      ) {
        throw new ApiError(
          'ValidationFailed',
          `cursor: ${error instanceof InvalidCursorError ? error.message : 'not a cursor this API returned'}; pass back the cursor of the previous page unchanged`,
          { field: 'cursor', value: query.cursor, cause: error },
        );
      }
      throw error;
    }
  };

  const getRollout: Route = async (_request, params) => {
    const id = parseRunId(params.id);
    logContext({ runId: id });
    const items = await deps.store.getRunItems(id);
    const arn = items.run?.execution ?? executionArnFor(machine, id);
    const [execution, approval] = await Promise.all([
      describeExecution(deps.sfn, arn),
      items.run?.status === 'Running' ? deps.store.getApproval(id) : undefined,
    ]);
    if (items.run === undefined && execution === undefined) {
      throw new ApiError('NotFound', `no rollout ${JSON.stringify(id)}`, {
        field: 'id',
        value: id,
      });
    }
    return json(
      200,
      rolloutStatusView({
        rolloutId: id,
        ...(items.run ? { run: items.run } : {}),
        nodes: items.nodes,
        execution: execution ?? null,
        ...(approval ? { approval } : {}),
      }),
    );
  };

  const getRolloutReport: Route = async (request, params) => {
    const id = parseRunId(params.id);
    logContext({ runId: id });
    if (request.repeatedQuery.length > 0) {
      const name = request.repeatedQuery[0] as string;
      throw new ApiError('ValidationFailed', `query parameter ${name}: given more than once`, {
        field: name,
      });
    }
    const query = parseRequest('the query', reportQuerySchema, request.query);
    const accept = request.headers.get('accept');
    const format = reportFormat(accept);
    if (format === undefined) {
      throw new ApiError(
        'NotAcceptable',
        `Accept ${JSON.stringify(accept)}: the report is application/json or text/csv`,
        { field: 'Accept', value: accept },
      );
    }
    const items = await deps.store.getRunItems(id);
    const run = items.run;
    if (run === undefined) {
      throw new ApiError(
        'NotFound',
        `no rollout ${JSON.stringify(id)} is recorded (a rollout is recorded once its execution has taken the target's lock)`,
        { field: 'id', value: id },
      );
    }
    const concurrency = Math.max(1, deps.ledgerConcurrency ?? 8);
    // Issue 11: every node of a selection, from its resolved list (report-nodes.ts). Ledgers are
    // read for the nodes the record names and those that reported: a node that never started
    // installed nothing in this run.
    const names = await reportNodeNames(run, deps.manifests?.s3);
    const lock = await deps.store.getLock(run.target);
    const build = (ledgers: ReadonlyMap<string, readonly LedgerEntry[]>) =>
      buildRunReport({
        run: { ...run, nodes: names },
        nodes: items.nodes,
        updates: items.updates,
        ...(items.scripts ? { scripts: items.scripts } : {}),
        ...(items.phases ? { phases: items.phases } : {}),
        ledgers,
        ...(lock ? { lockHolder: lock.holder } : {}),
      });
    const budget = deps.reportBudgetBytes ?? REPORT_BUDGET_BYTES;
    // The page is chosen without ledgers first, and only its nodes' ledgers are read: a ledger
    // only adds to a node, so the page with them ends no later (and a page of a 100,000-node
    // report does not read 100,000 ledgers).
    const draft = reportPageOf(build(new Map()), format, query, budget);
    const onPage = new Set(draft.nodes.map((n) => nodeKey(n.name)));
    const queue = [...new Set([...run.nodes, ...items.nodes.map((n) => n.node)])].filter((node) =>
      onPage.has(nodeKey(node)),
    );
    const ledgers = new Map<string, readonly LedgerEntry[]>();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
          try {
            ledgers.set(node, (await deps.store.getLedger(node)).entries);
          } catch (error) {
            // A stored ledger that does not validate must not hide the run's report.
            if (!(error instanceof LedgerError)) throw error;
            logger.warn('ledger unreadable; reported without it', { node, error });
          }
        }
      }),
    );
    return reportPageOf(build(ledgers), format, query, budget).result();
  };

  const optionalBody = (request: ApiRequest, operation: OperationId) =>
    parseJsonBody({
      body: request.body,
      isBase64Encoded: request.isBase64Encoded,
      contentType: request.headers.get('content-type'),
      required: false,
      maxBytes: maxBodyBytes(operation),
    }) ?? {};

  /** Fails the task a gate waits on; false when the token is gone (decided or timed out). */
  const failTask = async (taskToken: string, error: string, cause: string) => {
    try {
      await deps.sfn.send(
        new SendTaskFailureCommand({ taskToken, error, cause: cause.slice(0, 32_768) }),
      );
      return true;
    } catch (failure) {
      if (TOKEN_GONE.has(nameOf(failure))) return false;
      throw failure;
    }
  };

  const cancelRollout: Route = async (request, params) => {
    const id = parseRunId(params.id);
    logContext({ runId: id });
    const body = parseRequest(
      'the cancel request',
      cancelRequestSchema,
      optionalBody(request, 'cancelRollout'),
    );
    const now = deps.now();
    const requestedBy = body.requestedBy ?? request.caller;
    let run: Awaited<ReturnType<RunStore['requestCancel']>>;
    try {
      run = await deps.store.requestCancel(id, {
        requestedAt: now.toISOString(),
        ...(requestedBy === undefined ? {} : { requestedBy }),
        ...(body.reason === undefined ? {} : { reason: body.reason }),
      });
    } catch (error) {
      if (error instanceof RunNotRunningError) {
        throw new ApiError(
          'RolloutNotRunning',
          `rollout ${id} is ${error.status}; only a running rollout can be cancelled`,
          { field: 'id', value: id, details: { status: error.status }, cause: error },
        );
      }
      if (!(error instanceof RunNotFoundError)) throw error;
      const execution = await describeExecution(deps.sfn, executionArnFor(machine, id));
      if (execution?.status === 'RUNNING') {
        throw new ApiError(
          'RolloutStarting',
          `rollout ${id} is starting and not recorded yet; retry the cancel in a few seconds`,
          { field: 'id', value: id, headers: { 'Retry-After': '5' }, cause: error },
        );
      }
      throw new ApiError('NotFound', `no rollout ${JSON.stringify(id)}`, {
        field: 'id',
        value: id,
        cause: error,
      });
    }
    let approvalCancelled = false;
    const approval = await deps.store.getApproval(id);
    if (approval) {
      approvalCancelled = await failTask(
        approval.taskToken,
        'RolloutCancelled',
        JSON.stringify({ cancelledBy: requestedBy ?? null, reason: body.reason ?? null }),
      );
      await deps.store.deleteApproval(id, approval.taskToken);
    }
    logger.info('cancel requested', { approvalCancelled });
    return json(202, {
      rolloutId: id,
      status: run.status,
      cancelRequested: true,
      cancelRequestedAt: run.cancelRequestedAt ?? now.toISOString(),
      approvalCancelled,
      message: approvalCancelled
        ? 'the rollout was waiting for approval and stops there; no further node is updated'
        : 'the rollout stops after the current node has left its safe state (it is never left drained); no further node is updated',
    });
  };

  const decide =
    (approved: boolean): Route =>
    async (request, params) => {
      const id = parseRunId(params.id);
      logContext({ runId: id });
      const body = parseRequest(
        'the decision',
        decisionRequestSchema,
        optionalBody(request, approved ? 'approveRollout' : 'rejectRollout'),
      );
      const noneAwaiting = async () => {
        const run = await deps.store.getRun(id);
        if (run === undefined) {
          throw new ApiError('NotFound', `no rollout ${JSON.stringify(id)}`, {
            field: 'id',
            value: id,
          });
        }
        return new ApiError(
          'NoApprovalPending',
          `rollout ${id} (${run.status}) is not waiting for approval: it has no approval gate, has not reached it, or it was decided, cancelled or timed out`,
          { field: 'id', value: id, details: { status: run.status } },
        );
      };
      const approval = await deps.store.getApproval(id);
      if (approval === undefined) throw await noneAwaiting();
      const decidedAt = deps.now().toISOString();
      const decision = {
        approved,
        approvedBy: body.approvedBy ?? null,
        comment: body.comment ?? null,
        decidedAt,
        decidedBy: request.caller ?? 'unknown',
      };
      let delivered = true;
      if (approved) {
        try {
          await deps.sfn.send(
            new SendTaskSuccessCommand({
              taskToken: approval.taskToken,
              output: JSON.stringify(decision),
            }),
          );
        } catch (error) {
          if (!TOKEN_GONE.has(nameOf(error))) throw error;
          delivered = false;
        }
      } else {
        delivered = await failTask(
          approval.taskToken,
          'ApprovalRejected',
          JSON.stringify(decision),
        );
      }
      await deps.store.deleteApproval(id, approval.taskToken);
      if (!delivered) throw await noneAwaiting();
      // An approval racing a cancel is delivered, but the cancel wins before the next node: say so.
      const cancelRequested = (await deps.store.getRun(id))?.cancelRequested === true;
      logger.info('approval decided', { approved, cancelRequested });
      return json(202, {
        rolloutId: id,
        decision: approved ? 'approved' : 'rejected',
        decidedAt,
        decidedBy: decision.decidedBy,
        approvedBy: decision.approvedBy,
        comment: decision.comment,
        cancelRequested,
        message: !approved
          ? 'rejected: the remaining nodes are not updated and the rollout ends Cancelled'
          : cancelRequested
            ? 'approved, but a cancel was requested: the rollout stops before its next node and ends Cancelled'
            : 'approved: the remaining nodes are updated',
      });
    };

  const scanRoutes = deps.scans ? makeScanRoutes(deps.sfn, deps.scans) : undefined;
  const scansNotWired = () =>
    new ApiError(
      'NotImplemented',
      'scanning is not wired in this deployment (the API function has no SCAN_STATE_MACHINE_ARN); nothing was scanned',
    );

  const scan: Route = async (request) => {
    const body = parseJsonBody({
      body: request.body,
      isBase64Encoded: request.isBase64Encoded,
      contentType: request.headers.get('content-type'),
      required: true,
      maxBytes: maxBodyBytes('scan'),
    });
    // Issue 11: a group chosen by target.select is checked as POST /rollouts checks it; the
    // scan workflow resolves it and reads the whole list from S3.
    const selected =
      isSelectedRequest(body) && isRecord(body) && Object.hasOwn(body.target as object, 'select');
    const { rollout, input } = selected
      ? parseSelectedRequest(body, deps.now(), { random })
      : parseRolloutRequest(body, deps.now(), { random });
    logContext({ runId: rollout.runId, target: rollout.target.name });
    if (scanRoutes === undefined) throw scansNotWired();
    return json(202, await scanRoutes.startScan(rollout.runId, input));
  };

  const getNodeProgress: Route = async (_request, params) => {
    const id = parseRunId(params.id);
    const node = parseNodeName(params.node);
    logContext({ runId: id, node });
    if (deps.nodeStateMachineArn === undefined) {
      throw new ApiError(
        'NotImplemented',
        'node progress is not wired in this deployment (the API function has no NODE_STATE_MACHINE_ARN)',
      );
    }
    return json(200, await readNodeProgress(deps.sfn, deps.nodeStateMachineArn, id, node));
  };

  const getScan: Route = async (_request, params) => {
    const id = parseRunId(params.id);
    logContext({ runId: id });
    if (scanRoutes === undefined) throw scansNotWired();
    return json(200, await scanRoutes.getScan(id));
  };

  const getLedger: Route = async (_request, params) => {
    const node = parseNodeName(params.id);
    logContext({ node });
    const ledger = await deps.store.getLedger(node);
    return json(200, {
      node: ledger.node,
      entries: ledger.entries,
      installed: installedUpdates(ledger).map((e) => e.updateId),
      removalOrder: safeRemovalOrder(ledger),
    });
  };

  const getCompliance: Route = async (request) => {
    if (request.repeatedQuery.length > 0) {
      const name = request.repeatedQuery[0] as string;
      throw new ApiError('ValidationFailed', `query parameter ${name}: given more than once`, {
        field: name,
      });
    }
    const query = parseRequest('the query', complianceQuerySchema, request.query);
    logContext({ target: query.target });
    if (deps.compliance === undefined) {
      throw new ApiError('NotImplemented', 'compliance is not wired in this deployment', {
        field: 'target',
      });
    }
    try {
      const page = await deps.compliance.listCompliance(query.target, {
        limit: query.limit ?? COMPLIANCE_DEFAULT_PAGE_SIZE,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return json(200, compliancePageView(query.target, page.nodes, page.cursor));
    } catch (error) {
      if (
        error instanceof InvalidComplianceCursorError ||
        (query.cursor !== undefined && nameOf(error) === 'ValidationException')
      ) {
        throw new ApiError(
          'ValidationFailed',
          `cursor: ${error instanceof InvalidComplianceCursorError ? error.message : 'not a cursor this API returned'}; pass back the cursor of the previous page unchanged`,
          { field: 'cursor', value: query.cursor, cause: error },
        );
      }
      throw error;
    }
  };

  const requestRemoval: Route = async (request, params) => {
    const node = parseNodeName(params.id);
    logContext({ node });
    const body = parseRequest(
      'the removal request',
      removalRequestSchema,
      parseJsonBody({
        body: request.body,
        isBase64Encoded: request.isBase64Encoded,
        contentType: request.headers.get('content-type'),
        required: true,
        maxBytes: maxBodyBytes('requestRemoval'),
      }),
    );
    const ledger = await deps.store.getLedger(node);
    let plan: RemovalPlan;
    try {
      plan = planRemoval(ledger, body.updates, {
        includeDependents: body.includeDependents ?? false,
      });
    } catch (error) {
      if (!(error instanceof LedgerError)) throw error;
      const problems = error.problems.map((p) => ({
        ...p,
        field: p.field.replace(/^requested/, 'updates'),
      }));
      const invalid = validationError(`cannot remove from ${node}`, problems, error);
      throw new ApiError('RemovalNotPossible', invalid.message, {
        ...(invalid.field === undefined ? {} : { field: invalid.field }),
        ...(Object.hasOwn(invalid, 'value') ? { value: invalid.value } : {}),
        problems,
        cause: error,
      });
    }
    if (!plan.safe && body.force !== true) throw removalRefused(node, plan);
    if (deps.startRemoval === undefined) {
      throw new ApiError(
        'NotImplemented',
        `removing updates is not wired in this deployment; nothing was started. The plan for ${node} would remove ${plan.order.join(', ')} in that order, then restart the node`,
        { details: { order: plan.order, addedDependents: plan.addedDependents } },
      );
    }
    const requestedBy = body.requestedBy ?? request.caller ?? null;
    const target = body.target;
    const started = await deps.startRemoval(node, plan, {
      changeTicket: body.changeTicket ?? null,
      requestedBy,
      forced: !plan.safe,
      target: target ?? null,
      instanceId: body.instanceId ?? null,
      removals: removalItemsOf(ledger, plan.order),
      // The same atomic claim as POST /rollouts: two requests cannot both start on the target.
      ...(target === undefined
        ? {}
        : { claim: (runId: string) => claimTarget(target, runId, deps.now()) }),
    });
    logger.info('removal started', { removalId: started.removalId, order: plan.order });
    return json(202, {
      node: ledger.node,
      removalId: started.removalId,
      executionArn: started.executionArn ?? null,
      order: plan.order,
      addedDependents: plan.addedDependents,
      restartRequired: plan.restartRequired,
      forced: !plan.safe,
      warnings: plan.warnings,
    });
  };

  /** CAU's ForceRecovery: break the lock of a target whose rollout no longer runs. */
  const forceRecovery: Route = async (request, params) => {
    const target = parseTargetName(params.id);
    logContext({ target });
    const body = parseRequest(
      'the force-recovery request',
      forceRecoveryRequestSchema,
      parseJsonBody({
        body: request.body,
        isBase64Encoded: request.isBase64Encoded,
        contentType: request.headers.get('content-type'),
        required: true,
        maxBytes: maxBodyBytes('forceRecovery'),
      }),
    );
    const now = deps.now();
    const lock = await deps.store.getLock(target);
    if (lock === undefined) {
      throw new ApiError(
        'NotFound',
        `target ${JSON.stringify(target)} is not locked: there is nothing to recover, a rollout may start`,
        { field: 'id', value: target },
      );
    }
    logContext({ runId: lock.holder, target });
    const { alive, status } = await holderIsAlive(lock, now, executionStatus);
    if (alive) {
      throw new ApiError(
        'RolloutStillRunning',
        lock.execution === undefined
          ? `target ${JSON.stringify(target)} is locked by rollout ${lock.holder} until ${lock.leaseExpiresAt}; ForceRecovery breaks only the lock of a rollout that is no longer running`
          : `target ${JSON.stringify(target)} is locked by rollout ${lock.holder}, whose execution ${lock.execution} is running; ForceRecovery never breaks the lock of a live rollout: cancel it (POST /rollouts/${lock.holder}/cancel) and it releases the lock when it ends`,
        {
          field: 'id',
          value: target,
          details: {
            activeRolloutId: lock.holder,
            ...(lock.execution === undefined ? {} : { activeExecutionArn: lock.execution }),
            ...(status === undefined ? {} : { executionStatus: status }),
          },
        },
      );
    }
    if (!(await deps.store.breakLock(lock))) {
      throw new ApiError(
        'LockChanged',
        `the lock of target ${JSON.stringify(target)} changed while it was checked (released, or taken by a new rollout); read it again before recovering`,
        { field: 'id', value: target },
      );
    }
    const recovery = {
      recoveredAt: now.toISOString(),
      recoveredBy: body.requestedBy ?? request.caller ?? 'unknown',
      reason: body.reason,
      executionStatus: status ?? 'LEASE_EXPIRED',
      ...(lock.execution === undefined ? {} : { execution: lock.execution }),
      lockAcquiredAt: lock.acquiredAt,
    };
    const recorded = await deps.store.recordForceRecovery(lock.holder, recovery);
    logger.warn('ForceRecovery broke the lock', {
      executionStatus: recovery.executionStatus,
      recoveredBy: recovery.recoveredBy,
      runRecorded: recorded !== undefined,
    });
    if (deps.publisher?.enabled) {
      // A run that never recorded itself has no sequence counter: its events start at 1.
      const { sequence, run } = recorded
        ? await deps.store.nextEventSequence(lock.holder)
        : {
            sequence: 1,
            run: {
              runId: lock.holder,
              target,
              nodes: [],
              maxFailedNodes: 0,
              startedAt: lock.acquiredAt,
              ...(lock.execution === undefined ? {} : { execution: lock.execution }),
            },
          };
      const event = lockForceRecovered(run, recovery, {
        sequence,
        occurredAt: recovery.recoveredAt,
      });
      await deps.publisher.publish(event.detailType, event.detail);
      // The run it marked Failed has ended: its Rollout Failed, as any other end has.
      if (recorded?.markedFailed) {
        await publishRunEndedOutsideWorkflow(deps.store, deps.publisher, lock.holder, now);
      }
    }
    return json(200, {
      target,
      recovered: true,
      rolloutId: lock.holder,
      executionArn: lock.execution ?? null,
      executionStatus: recovery.executionStatus,
      recoveredAt: recovery.recoveredAt,
      recoveredBy: recovery.recoveredBy,
      reason: recovery.reason,
      runMarkedFailed: recorded?.markedFailed ?? false,
    });
  };

  // Issue 13 item 5: the staging routes (api-staging.ts).
  const staging = makeStagingRoutes({
    sfn: deps.sfn,
    store: deps.store,
    now: deps.now,
    random,
    ...(deps.stagingStateMachineArn ? { stagingStateMachineArn: deps.stagingStateMachineArn } : {}),
  });
  const answer = (a: StagingAnswer) => json(a.status, a.body, { ...a.headers });
  const startStaging: Route = async (request) => {
    const body = parseJsonBody({
      body: request.body,
      isBase64Encoded: request.isBase64Encoded,
      contentType: request.headers.get('content-type'),
      required: true,
      maxBytes: maxBodyBytes('startStaging'),
    });
    const headerKey = parseIdempotencyKey(request.headers.get('idempotency-key'));
    return answer(await staging.startStaging(body, headerKey));
  };
  const getStaging: Route = async (_request, params) => answer(await staging.getStaging(params.id));

  const routes: Record<OperationId, Route> = {
    startRollout,
    listRollouts,
    getRollout,
    getRolloutReport,
    cancelRollout,
    approveRollout: decide(true),
    rejectRollout: decide(false),
    forceRecovery,
    getNodeProgress,
    scan,
    getScan,
    startStaging,
    getStaging,
    getLedger,
    requestRemoval,
    getCompliance,
  };

  return async function api(event: unknown): Promise<APIGatewayProxyResult> {
    const request = readRequest(event);
    try {
      // The resource template and its decoded parameters when API Gateway matched a route; the
      // raw path otherwise (the catch-all routes, or a base path mapping in front).
      const path =
        request.resource !== undefined &&
        API_PATHS.includes(request.resource) &&
        (!request.resource.includes('{id}') || request.pathParameters.id !== undefined)
          ? fillPath(request.resource, request.pathParameters)
          : request.path;
      const match = matchRoute(request.method, path);
      if (match.kind === 'none') {
        throw new ApiError(
          'RouteNotFound',
          `no route ${request.method} ${showValue(path)}; the routes are ${API_PATHS.join(', ')}`,
          { field: 'path', value: path },
        );
      }
      if (match.kind === 'wrongMethod') {
        throw new ApiError(
          'MethodNotAllowed',
          `${request.method} is not allowed on ${showValue(path)}; allowed: ${match.allowed.join(', ')}`,
          { field: 'method', value: request.method, headers: { Allow: match.allowed.join(', ') } },
        );
      }
      return await routes[match.route.operationId](request, match.params);
    } catch (error) {
      return errorResult(error, request);
    }
  };
}

/**
 * `startRemoval` over the rollout workflow: a rollout of the node alone, in its cluster (or
 * group) so it takes that target's lock, with `removal` in the plan's order and no plug-in. The
 * node is drained, the updates removed, the node restarted and resumed. The removal id is the
 * rollout id.
 * @throws ApiError 400 when the request lacks the target or the instance id.
 */
export function makeRolloutRemovalStarter(deps: {
  readonly sfn: Pick<SFNClient, 'send'>;
  readonly rolloutStateMachineArn: string;
  readonly now: () => Date;
  readonly random?: () => number;
}): NonNullable<ApiDeps['startRemoval']> {
  return async (node, plan, request) => {
    if (request.target === null) {
      throw new ApiError(
        'ValidationFailed',
        `the removal request needs target: { kind, name }, the cluster (or group) of ${node}: the removal runs as a rollout of it, under its lock`,
        { field: 'target' },
      );
    }
    if (request.instanceId === null) {
      throw new ApiError(
        'ValidationFailed',
        `the removal request needs instanceId, the SSM managed node that is ${node}`,
        { field: 'instanceId' },
      );
    }
    const input: Record<string, unknown> = {
      target: { ...request.target, nodes: [{ name: node, instanceId: request.instanceId }] },
      removal: { updates: [...(request.removals ?? plan.order)] },
      ...(request.changeTicket === null ? {} : { changeTicket: request.changeTicket }),
      ...(request.requestedBy === null ? {} : { requestedBy: request.requestedBy.slice(0, 256) }),
    };
    let runId: string;
    try {
      runId = parseRolloutInput(
        input,
        deps.now(),
        deps.random ? { random: deps.random } : {},
      ).runId;
    } catch (error) {
      if (!(error instanceof RolloutInputError)) throw error;
      throw validationError('the removal request is invalid', error.problems, error);
    }
    await request.claim?.(runId);
    const out = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.rolloutStateMachineArn,
        name: runId,
        input: JSON.stringify({ ...input, runId }),
      }),
    );
    return {
      removalId: runId,
      executionArn: out.executionArn ?? executionArnFor(deps.rolloutStateMachineArn, runId),
    };
  };
}

function productionDeps(): ApiDeps {
  const artifactsBucket = process.env.ARTIFACTS_BUCKET;
  const scanStateMachineArn = process.env.SCAN_STATE_MACHINE_ARN;
  const now = () => new Date();
  const s3 = tracer.captureAWSv3Client(new S3Client({}));
  const scans: ScanApiDeps | undefined =
    artifactsBucket && scanStateMachineArn
      ? {
          stateMachineArn: scanStateMachineArn,
          readNodeResult: (scanId, node) =>
            readArtifact(s3, artifactsBucket, scanNodeResultKey(scanId, node)),
        }
      : undefined;
  const sfn = tracer.captureAWSv3Client(new SFNClient({}));
  const rolloutStateMachineArn = requiredEnv('ROLLOUT_STATE_MACHINE_ARN');
  return {
    sfn,
    store: createRunStore(),
    now,
    random: Math.random,
    rolloutStateMachineArn,
    publisher: createEventPublisher(),
    compliance: createComplianceStore(),
    ...(scans ? { scans } : {}),
    ...(process.env.NODE_STATE_MACHINE_ARN
      ? { nodeStateMachineArn: process.env.NODE_STATE_MACHINE_ARN }
      : {}),
    ...(artifactsBucket ? { manifests: { s3, bucket: artifactsBucket } } : {}),
    ...(process.env.STAGING_STATE_MACHINE_ARN
      ? { stagingStateMachineArn: process.env.STAGING_STATE_MACHINE_ARN }
      : {}),
    startRemoval: makeRolloutRemovalStarter({
      sfn,
      rolloutStateMachineArn,
      now,
      random: Math.random,
    }),
  };
}

let cached: ReturnType<typeof makeApiHandler> | undefined;

export const handler = async (
  event: unknown,
  context?: Context,
): Promise<APIGatewayProxyResult> => {
  if (context) logger.addContext(context);
  cached ??= makeApiHandler(productionDeps());
  return cached(event);
};
