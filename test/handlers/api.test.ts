/**
 * The API handler, route by route: Step Functions mocked (aws-sdk-client-mock), the run store
 * real (RunStore on dynalite), so idempotency claims, the cancel condition and paging are
 * evaluated by a DynamoDB implementation rather than assumed. Responses are checked against
 * the schemas the OpenAPI document is generated from.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { REPORT_CSV_COLUMNS } from '../../lambdas/core/api-model.js';
import {
  cancelAcceptedSchema,
  decisionAcceptedSchema,
  errorBodySchema,
  ledgerResponseSchema,
  removalAcceptedSchema,
  rolloutAcceptedSchema,
  rolloutPageSchema,
  rolloutStatusSchema,
  runReportSchema,
  scanViewSchema,
} from '../../lambdas/core/api-responses.js';
import type { UpdateResult } from '../../lambdas/core/contracts.js';
import type { LedgerEntry } from '../../lambdas/core/install-ledger.js';
import {
  type ApiDeps,
  makeApiHandler,
  makeRolloutRemovalStarter,
} from '../../lambdas/handlers/api.js';
import { makeApprovalGateHandler } from '../../lambdas/handlers/approval-gate.js';
import { type RunRecord, RunStore } from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';
import type { RunReport } from '../../sandbox/report.js';
import { apiEvent } from '../helpers/api-event.js';
import { useDynalite } from '../helpers/dynalite.js';

const sfn = mockClient(SFNClient);
const NOW = new Date('2025-05-13T22:00:00.000Z');
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Rollout';
const executionArn = (name: string) =>
  `arn:aws:states:us-east-1:000000000000:execution:Rollout:${name}`;
const CALLER = 'arn:aws:iam::000000000000:user/alice';

const db = useDynalite();
let store: RunStore;

beforeAll(async () => {
  logger.setLogLevel('SILENT');
});

beforeEach(async () => {
  // A fresh table per test, with GSI1 for the history.
  const { tableName, client } = await db.table('api', {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new RunStore({ client, tableName });
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: executionArn(input.name),
    startDate: NOW,
  }));
  sfn
    .on(DescribeExecutionCommand)
    .rejects(new ExecutionDoesNotExist({ message: 'no such execution', $metadata: {} }));
});

afterEach(() => {
  sfn.reset();
  vi.restoreAllMocks();
});

function handler(overrides: Partial<ApiDeps> = {}) {
  return makeApiHandler({
    sfn: new SFNClient({ region: 'us-east-1' }),
    store,
    now: () => NOW,
    random: () => 0.5,
    rolloutStateMachineArn: MACHINE,
    ...overrides,
  });
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly headers?: Record<string, string | undefined>;
  readonly query?: Record<string, string | undefined>;
}

/** An API Gateway REST proxy event, as the catch-all resource delivers it. */
const event = (request: Request) =>
  apiEvent({ ...request, callerArn: CALLER, callerId: 'AIDAEXAMPLE' });

async function call(request: Request, deps: Partial<ApiDeps> = {}) {
  const result = await handler(deps)(event(request));
  return { ...result, json: parseBody(result) };
}

function parseBody(result: APIGatewayProxyResult): unknown {
  const type = String(result.headers?.['Content-Type'] ?? '');
  return type.startsWith('application/json') ? JSON.parse(result.body) : undefined;
}

/** Asserts a 4xx in the error shape and returns its `error`. */
function clientError(result: { statusCode: number; json: unknown }, status: number, code: string) {
  expect(result.statusCode).toBe(status);
  const body = errorBodySchema.parse(result.json);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
  return body.error;
}

const nodes = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    name: `NODE${i + 1}`,
    instanceId: `i-0123456789abcdef${i}`,
  }));

const rolloutBody = (overrides: Record<string, unknown> = {}) => ({
  target: { kind: 'cluster', name: 'CLUSTER1', nodes: nodes(3) },
  plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
  changeTicket: {
    system: 'ServiceNow',
    id: 'CHG0031337',
    url: 'https://sn.example.com/CHG0031337',
  },
  approvalGate: { afterNodes: 1, timeoutMinutes: 60 },
  ...overrides,
});

const run = (overrides: Partial<RunRecord> = {}): RunRecord => ({
  runId: 'run-1',
  target: 'CLUSTER1',
  targetKind: 'cluster',
  nodes: ['NODE1', 'NODE2', 'NODE3'],
  maxFailedNodes: 1,
  status: 'Running',
  startedAt: '2025-05-13T21:00:00.000Z',
  execution: executionArn('run-1'),
  changeTicket: { system: 'ServiceNow', id: 'CHG1' },
  requestedBy: 'alice',
  ...overrides,
});

const approval = (runId = 'run-1') => ({
  runId,
  taskToken: `token-${runId}`,
  target: 'CLUSTER1',
  afterNodes: 1,
  timeoutMinutes: 60,
  changeTicket: null,
  requestedAt: '2025-05-13T21:30:00.000Z',
  expiresAt: Math.floor(NOW.getTime() / 1000) + 7200,
});

const startInputs = () =>
  sfn.commandCalls(StartExecutionCommand).map((c) => ({
    name: c.args[0].input.name,
    input: JSON.parse(c.args[0].input.input ?? 'null') as Record<string, unknown>,
  }));

// ---------------------------------------------------------------------------------------------

describe('POST /rollouts', () => {
  it('starts the rollout workflow named by the rollout id: 202', async () => {
    // Act
    const result = await call({ method: 'POST', path: '/rollouts', body: rolloutBody() });
    // Assert
    expect(result.statusCode).toBe(202);
    const body = rolloutAcceptedSchema.parse(result.json);
    expect(body.status).toBe('Running');
    expect(body.executionArn).toBe(executionArn(body.rolloutId));
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: MACHINE,
      name: body.rolloutId,
    });
    expect(startInputs()[0]?.input).toMatchObject({
      runId: body.rolloutId,
      approvalGate: { afterNodes: 1, timeoutMinutes: 60 },
      changeTicket: { system: 'ServiceNow', id: 'CHG0031337' },
    });
    expect(result.headers?.['Idempotent-Replay']).toBeUndefined();
  });

  it('returns the same rollout to a retry with the same Idempotency-Key and body', async () => {
    // Arrange
    const headers = { 'Idempotency-Key': 'a2b8c6e4-retry' };
    const first = await call({ method: 'POST', path: '/rollouts', body: rolloutBody(), headers });
    const reordered = Object.fromEntries(Object.entries(rolloutBody()).reverse());
    // Act
    const retry = await call(
      { method: 'POST', path: '/rollouts', body: reordered, headers },
      { random: () => 0.9 },
    );
    // Assert
    expect(retry.statusCode).toBe(202);
    expect(retry.headers?.['Idempotent-Replay']).toBe('true');
    expect(rolloutAcceptedSchema.parse(retry.json).rolloutId).toBe(
      rolloutAcceptedSchema.parse(first.json).rolloutId,
    );
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('uses the change ticket as the key when there is no header', async () => {
    // Arrange
    const first = await call({ method: 'POST', path: '/rollouts', body: rolloutBody() });
    // Act
    const retry = await call(
      { method: 'POST', path: '/rollouts', body: rolloutBody() },
      { random: () => 0.1 },
    );
    // Assert
    expect(retry.headers?.['Idempotent-Replay']).toBe('true');
    expect((retry.json as { rolloutId: string }).rolloutId).toBe(
      (first.json as { rolloutId: string }).rolloutId,
    );
    expect((retry.json as { idempotencyKey: string }).idempotencyKey).toBe(
      'change ticket ServiceNow:CHG0031337',
    );
  });

  it('gives concurrent requests with one key one rollout', async () => {
    // Arrange
    const headers = { 'Idempotency-Key': 'k-concurrent' };
    const send = (random: number) =>
      call(
        { method: 'POST', path: '/rollouts', body: rolloutBody(), headers },
        { random: () => random },
      );
    // Act
    const results = await Promise.all([send(0.1), send(0.5), send(0.9)]);
    // Assert
    const ids = results.map((r) => rolloutAcceptedSchema.parse(r.json).rolloutId);
    expect(new Set(ids).size).toBe(1);
    expect(new Set(startInputs().map((s) => s.name))).toEqual(new Set(ids));
  });

  it('starts a new rollout once the key has expired (24 hours)', async () => {
    // Arrange
    const first = await call({ method: 'POST', path: '/rollouts', body: rolloutBody() });
    const later = new Date(NOW.getTime() + 25 * 3_600_000);
    // Act
    const again = await call(
      { method: 'POST', path: '/rollouts', body: rolloutBody() },
      { now: () => later },
    );
    // Assert
    expect(again.statusCode).toBe(202);
    expect(again.headers?.['Idempotent-Replay']).toBeUndefined();
    expect((again.json as { rolloutId: string }).rolloutId).not.toBe(
      (first.json as { rolloutId: string }).rolloutId,
    );
  });

  it('refuses the same key with another body: 422 naming the rollout it started', async () => {
    // Arrange
    const headers = { 'Idempotency-Key': 'k-1' };
    const first = await call({ method: 'POST', path: '/rollouts', body: rolloutBody(), headers });
    // Act
    const result = await call({
      method: 'POST',
      path: '/rollouts',
      body: rolloutBody({ drain: 'always' }),
      headers,
    });
    // Assert
    const error = clientError(result, 422, 'IdempotencyKeyReused');
    expect(error.field).toBe('Idempotency-Key');
    expect(error.details?.rolloutId).toBe((first.json as { rolloutId: string }).rolloutId);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('starts on the retry, under the same name, a request whose start was throttled', async () => {
    // Arrange
    const headers = { 'Idempotency-Key': 'k-throttled' };
    sfn.on(StartExecutionCommand).rejectsOnce(
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const throttled = await call({
      method: 'POST',
      path: '/rollouts',
      body: rolloutBody(),
      headers,
    });
    sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
      executionArn: executionArn(input.name),
      startDate: NOW,
    }));
    // Act
    const retry = await call(
      { method: 'POST', path: '/rollouts', body: rolloutBody(), headers },
      { random: () => 0.9 },
    );
    // Assert
    expect(throttled.statusCode).toBe(503);
    expect(throttled.headers?.['Retry-After']).toBe('5');
    expect(retry.statusCode).toBe(202);
    const [a, b] = startInputs();
    expect(b?.name).toBe(a?.name);
    expect(b?.input).toEqual(a?.input);
    expect((retry.json as { rolloutId: string }).rolloutId).toBe(a?.name);
  });

  it('answers 409 with the holder when the cluster has an active rollout', async () => {
    // Arrange
    await store.acquireLock('cluster1', 'run-active', 3600, new Date(NOW.getTime() - 60_000));
    // Act
    const result = await call({ method: 'POST', path: '/rollouts', body: rolloutBody() });
    // Assert
    const error = clientError(result, 409, 'TargetBusy');
    expect(error.details).toMatchObject({ activeRolloutId: 'run-active' });
    expect(error.field).toBe('target.name');
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('starts when the lock left behind has expired', async () => {
    // Arrange
    await store.acquireLock('CLUSTER1', 'run-old', 60, new Date(NOW.getTime() - 3_600_000));
    // Act
    const result = await call({ method: 'POST', path: '/rollouts', body: rolloutBody() });
    // Assert
    expect(result.statusCode).toBe(202);
  });

  it('answers 409 when a given run id is taken by another execution', async () => {
    // Arrange
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('my-run'),
      status: 'SUCCEEDED',
      input: '{"other":true}',
    });
    // Act
    const result = await call({
      method: 'POST',
      path: '/rollouts',
      body: rolloutBody({ runId: 'my-run', changeTicket: undefined }),
    });
    // Assert
    const error = clientError(result, 409, 'RolloutIdInUse');
    expect(error).toMatchObject({ field: 'runId', value: 'my-run' });
  });

  it.each([
    { case: 'no body', rawBody: '', field: '(body)', status: 400, code: 'ValidationFailed' },
    { case: 'not JSON', rawBody: '{"target":', field: '(body)', status: 400, code: 'InvalidJson' },
    {
      case: 'no target',
      body: { plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }] },
      field: 'target',
      status: 400,
      code: 'ValidationFailed',
    },
    {
      case: 'a bad instance id',
      body: rolloutBody({
        target: { kind: 'cluster', name: 'C1', nodes: [{ name: 'N1', instanceId: 'i-xyz' }] },
        approvalGate: undefined,
      }),
      field: 'target.nodes[0].instanceId',
      status: 400,
      code: 'ValidationFailed',
    },
    {
      case: 'a pilot as large as the cluster',
      body: rolloutBody({ approvalGate: { afterNodes: 3, timeoutMinutes: 60 } }),
      field: 'approvalGate.afterNodes',
      status: 400,
      code: 'ValidationFailed',
    },
    {
      case: 'a bad Idempotency-Key',
      body: rolloutBody(),
      headers: { 'idempotency-key': 'has spaces in it' },
      field: 'Idempotency-Key',
      status: 400,
      code: 'ValidationFailed',
    },
    {
      case: 'a text body',
      body: rolloutBody(),
      headers: { 'Content-Type': 'text/plain' },
      field: 'Content-Type',
      status: 415,
      code: 'UnsupportedMediaType',
    },
    {
      case: 'a huge body',
      // POST /rollouts takes up to 6,000,000 bytes (a 100,000-node list, issue 11).
      rawBody: JSON.stringify({ target: 'x'.repeat(6_000_000) }),
      field: '(body)',
      status: 413,
      code: 'PayloadTooLarge',
    },
  ])('$case → $status naming $field', async ({ body, rawBody, headers, field, status, code }) => {
    // Act
    const result = await call({
      method: 'POST',
      path: '/rollouts',
      ...(body === undefined ? {} : { body }),
      ...(rawBody === undefined ? {} : { rawBody }),
      ...(headers === undefined ? {} : { headers }),
    });
    // Assert
    expect(clientError(result, status, code).field).toBe(field);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('answers 500 naming only the request id for an unexpected error', async () => {
    // Arrange
    sfn
      .on(StartExecutionCommand)
      .rejects(new StateMachineDoesNotExist({ message: 'arn:secret', $metadata: {} }));
    const logged = vi.spyOn(logger, 'error');
    // Act
    const result = await call({ method: 'POST', path: '/rollouts', body: rolloutBody() });
    // Assert
    expect(result.statusCode).toBe(500);
    expect(logged).toHaveBeenCalledWith(
      'unexpected error',
      expect.objectContaining({ path: '/rollouts' }),
    );
    const body = errorBodySchema.parse(result.json);
    expect(body.error).toMatchObject({ code: 'InternalError', requestId: 'req-1' });
    expect(result.body).not.toContain('secret');
  });
});

describe('GET /rollouts/{id}', () => {
  it('gives status, per-node progress and the current step', async () => {
    // Arrange
    await store.putRun(run());
    await store.putNodeResult('run-1', 'NODE1', {
      status: 'Succeeded',
      startedAt: '2025-05-13T21:00:00.000Z',
      finishedAt: '2025-05-13T21:20:00.000Z',
      restarts: 1,
      drained: true,
    });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('run-1'),
      status: 'RUNNING',
      startDate: new Date('2025-05-13T21:00:00.000Z'),
    });
    // Act
    const result = await call({ method: 'GET', path: '/rollouts/run-1' });
    // Assert
    expect(result.statusCode).toBe(200);
    const body = rolloutStatusSchema.parse(result.json);
    expect(body).toMatchObject({
      rolloutId: 'run-1',
      status: 'Running',
      execution: { status: 'RUNNING' },
      currentStep: { phase: 'UpdatingNodes', nodes: ['NODE2'] },
      progress: { total: 3, finished: 1, succeeded: 1, pending: 2 },
    });
    expect(body.nodes[0]).toMatchObject({ name: 'NODE1', restarts: 1, drained: true });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: executionArn('run-1'),
    });
  });

  it('shows the approval the rollout waits for', async () => {
    // Arrange
    await store.putRun(run());
    await store.putApproval(approval());
    // Act
    const result = await call({ method: 'GET', path: '/rollouts/run-1' });
    // Assert
    expect(rolloutStatusSchema.parse(result.json)).toMatchObject({
      currentStep: { phase: 'AwaitingApproval' },
      approval: { afterNodes: 1, decideBy: '2025-05-13T22:30:00.000Z' },
    });
  });

  it('answers Pending for an execution that has not recorded its run yet', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: executionArn('new'), status: 'RUNNING' });
    const result = await call({ method: 'GET', path: '/rollouts/new' });
    expect(rolloutStatusSchema.parse(result.json).status).toBe('Pending');
  });

  it('answers 404 for an unknown rollout and 400 for a malformed id', async () => {
    expect(clientError(await call({ method: 'GET', path: '/rollouts/nope' }), 404, 'NotFound'));
    const bad = clientError(
      await call({ method: 'GET', path: '/rollouts/not%20an%20id' }),
      400,
      'ValidationFailed',
    );
    expect(bad).toMatchObject({ field: 'id', value: 'not an id' });
  });
});

describe('GET /rollouts?cluster=', () => {
  beforeEach(async () => {
    for (const [i, startedAt] of [
      '2025-05-10T00:00:00.000Z',
      '2025-05-12T00:00:00.000Z',
      '2025-05-11T00:00:00.000Z',
    ].entries()) {
      await store.putRun(run({ runId: `run-${i + 1}`, startedAt, status: 'Succeeded' }));
    }
    await store.putRun(run({ runId: 'other', target: 'CLUSTER2' }));
  });

  it('lists the history newest first, a page at a time', async () => {
    // Act
    const first = await call({
      method: 'GET',
      path: '/rollouts',
      query: { cluster: 'cluster1', limit: '2' },
    });
    const page1 = rolloutPageSchema.parse(first.json);
    const second = await call({
      method: 'GET',
      path: '/rollouts',
      query: { cluster: 'CLUSTER1', limit: '2', cursor: page1.cursor as string },
    });
    const page2 = rolloutPageSchema.parse(second.json);
    // Assert
    expect(page1.rollouts.map((r) => r.rolloutId)).toEqual(['run-2', 'run-3']);
    expect(page1.cursor).toEqual(expect.any(String));
    expect(page2.rollouts.map((r) => r.rolloutId)).toEqual(['run-1']);
    expect(page2.cursor).toBeNull();
    expect(page1.rollouts[0]).toMatchObject({
      target: { name: 'CLUSTER1', kind: 'cluster' },
      nodes: 3,
    });
  });

  it.each([
    { case: 'no cluster', query: {}, field: 'cluster' },
    { case: 'a limit of 0', query: { cluster: 'C1', limit: '0' }, field: 'limit' },
    { case: 'an unknown parameter', query: { cluster: 'C1', order: 'asc' }, field: 'order' },
    {
      case: 'a foreign cursor',
      query: { cluster: 'C1', cursor: 'bm90LWEtY3Vyc29y' },
      field: 'cursor',
    },
    {
      case: "another target's cursor",
      query: {
        cluster: 'C1',
        cursor: Buffer.from(
          JSON.stringify({ pk: 'RUN#x', sk: 'RUN', gsi1pk: 'TARGET#C2', gsi1sk: 'x' }),
        ).toString('base64url'),
      },
      field: 'cursor',
    },
    {
      case: 'a forged cursor DynamoDB refuses',
      query: {
        cluster: 'C1',
        cursor: Buffer.from(
          JSON.stringify({ pk: '', sk: '', gsi1pk: 'TARGET#C1', gsi1sk: '' }),
        ).toString('base64url'),
      },
      field: 'cursor',
    },
  ])('$case → 400 naming $field', async ({ query, field }) => {
    const result = await call({ method: 'GET', path: '/rollouts', query });
    expect(clientError(result, 400, 'ValidationFailed').field).toBe(field);
  });

  it('refuses a parameter given twice', async () => {
    // Arrange
    const e = {
      ...event({ method: 'GET', path: '/rollouts', query: { cluster: 'C1' } }),
      multiValueQueryStringParameters: { cluster: ['C1', 'C2'] },
    };
    // Act
    const result = await handler()(e);
    // Assert
    expect(
      clientError({ ...result, json: JSON.parse(result.body) }, 400, 'ValidationFailed').field,
    ).toBe('cluster');
  });
});

const update = (index: number, overrides: Partial<UpdateResult> = {}): UpdateResult => ({
  index,
  plugin: 'Microsoft.HotfixPlugin',
  update: `CAUHotfix_All/KB500000${index}.msu`,
  exitCode: 0,
  outcome: 'Success',
  rebootRequired: false,
  rebootInitiated: false,
  transient: false,
  durationSeconds: 42,
  logTail: '',
  ...overrides,
});

const ledgerEntry = (
  sequence: number,
  updateId: string,
  files: string[],
  runId = 'run-1',
): LedgerEntry => ({
  node: 'NODE1',
  sequence,
  updateId,
  installedAt: `2025-05-0${sequence}T10:00:00.000Z`,
  runId,
  hotpatched: false,
  replacedFiles: files.map((path) => ({ path })),
});

describe('GET /rollouts/{id}/report', () => {
  beforeEach(async () => {
    await store.putRun(
      run({
        status: 'Failed',
        finishedAt: '2025-05-13T22:00:00.000Z',
        summary: { reason: '1 node(s) failed' },
      }),
    );
    await store.putNodeResult('run-1', 'NODE1', {
      status: 'Failed',
      startedAt: '2025-05-13T21:00:00.000Z',
      detail: 'exit code 0x80240017, "not applicable"',
    });
    await store.putUpdateResults('run-1', 'NODE1', 1, [
      update(0, {
        update: 'Folder, with comma/KB5000001.msu',
        detail: 'line one\nline "two", with comma',
        exitCode: -2145124329,
        outcome: 'Failed',
      }),
      update(1, { exitCode: 3010, outcome: 'Success_RebootRequired', rebootRequired: true }),
    ]);
    await store.appendLedgerEntries('NODE1', [ledgerEntry(1, 'KB5000002', ['%windir%\\a.dll'])]);
  });

  it('is the CAU-style report as JSON', async () => {
    // Act
    const result = await call({ method: 'GET', path: '/rollouts/run-1/report' });
    // Assert
    expect(result.statusCode).toBe(200);
    const report: RunReport = runReportSchema.parse(result.json);
    expect(report).toMatchObject({
      status: 'Failed',
      reason: '1 node(s) failed',
      makespanSeconds: 3600,
    });
    expect(
      report.nodes[0]?.updates.map((u) => [
        u.outcome,
        u.exitCode,
        u.rebootRequired,
        u.durationSeconds,
      ]),
    ).toEqual([
      ['Failed', -2145124329, false, 42],
      ['Success_RebootRequired', 3010, true, 42],
    ]);
    expect(report.nodes[0]?.ledger.map((e) => e.updateId)).toEqual(['KB5000002']);
  });

  it('is RFC 4180 CSV with Accept: text/csv, values with commas, quotes and newlines intact', async () => {
    // Act
    const result = await call({
      method: 'GET',
      path: '/rollouts/run-1/report',
      headers: { Accept: 'text/csv' },
    });
    // Assert
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['Content-Type']).toBe('text/csv; charset=utf-8');
    const lines = result.body.split('\r\n');
    expect(lines[0]).toBe(REPORT_CSV_COLUMNS.join(','));
    expect(result.body).toContain('"Folder, with comma/KB5000001.msu"');
    expect(result.body).toContain('"line one\nline ""two"", with comma"');
    expect(result.body).toContain(',-2145124329,0x80240017,');
  });

  it('answers 406 for an Accept it cannot give, 404 for an unknown rollout', async () => {
    clientError(
      await call({
        method: 'GET',
        path: '/rollouts/run-1/report',
        headers: { Accept: 'text/html' },
      }),
      406,
      'NotAcceptable',
    );
    clientError(await call({ method: 'GET', path: '/rollouts/run-9/report' }), 404, 'NotFound');
  });
});

describe('POST /rollouts/{id}/cancel', () => {
  it('flags a running rollout and fails the approval it waits at', async () => {
    // Arrange
    await store.putRun(run());
    await store.putApproval(approval());
    // Act
    const result = await call({
      method: 'POST',
      path: '/rollouts/run-1/cancel',
      body: { reason: 'change window closed' },
    });
    // Assert
    expect(result.statusCode).toBe(202);
    expect(cancelAcceptedSchema.parse(result.json)).toMatchObject({ approvalCancelled: true });
    expect(await store.getRun('run-1')).toMatchObject({
      cancelRequested: true,
      cancelRequestedBy: CALLER,
      cancelReason: 'change window closed',
    });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'token-run-1',
      error: 'RolloutCancelled',
    });
    expect(await store.getApproval('run-1')).toBeUndefined();
  });

  it('takes an empty body, and a second cancel keeps the first one', async () => {
    // Arrange
    await store.putRun(run());
    await call({ method: 'POST', path: '/rollouts/run-1/cancel', body: { requestedBy: 'bob' } });
    // Act
    const second = await call({ method: 'POST', path: '/rollouts/run-1/cancel' });
    // Assert
    expect(second.statusCode).toBe(202);
    expect((await store.getRun('run-1'))?.cancelRequestedBy).toBe('bob');
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 0);
  });

  it('answers 409 for a rollout that has ended, 404 for an unknown one', async () => {
    // Arrange
    await store.putRun(run({ status: 'Succeeded' }));
    // Act
    const ended = await call({ method: 'POST', path: '/rollouts/run-1/cancel' });
    const unknown = await call({ method: 'POST', path: '/rollouts/run-2/cancel' });
    // Assert
    expect(clientError(ended, 409, 'RolloutNotRunning').details).toEqual({ status: 'Succeeded' });
    clientError(unknown, 404, 'NotFound');
  });

  it('answers 409 with Retry-After while the rollout is starting', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: executionArn('run-3'), status: 'RUNNING' });
    const result = await call({ method: 'POST', path: '/rollouts/run-3/cancel' });
    clientError(result, 409, 'RolloutStarting');
    expect(result.headers?.['Retry-After']).toBe('5');
  });

  it('answers 400 for an unknown body field', async () => {
    await store.putRun(run());
    const result = await call({
      method: 'POST',
      path: '/rollouts/run-1/cancel',
      body: { why: 'x' },
    });
    expect(clientError(result, 400, 'ValidationFailed').field).toBe('why');
    expect((await store.getRun('run-1'))?.cancelRequested).toBeUndefined();
  });
});

describe('POST /rollouts/{id}/approve and /reject', () => {
  beforeEach(async () => {
    await store.putRun(run());
  });

  it('approve completes the gate with the decision', async () => {
    // Arrange
    await store.putApproval(approval());
    // Act
    const result = await call({
      method: 'POST',
      path: '/rollouts/run-1/approve',
      body: { approvedBy: 'CAB', comment: 'pilot looks good' },
    });
    // Assert
    expect(result.statusCode).toBe(202);
    expect(decisionAcceptedSchema.parse(result.json)).toMatchObject({
      decision: 'approved',
      decidedBy: CALLER,
      approvedBy: 'CAB',
    });
    const sent = sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input;
    expect(sent?.taskToken).toBe('token-run-1');
    expect(JSON.parse(sent?.output ?? '{}')).toMatchObject({
      approved: true,
      approvedBy: 'CAB',
      comment: 'pilot looks good',
      decidedBy: CALLER,
    });
    expect(await store.getApproval('run-1')).toBeUndefined();
  });

  it('completes the token the approval-gate task stored', async () => {
    // Arrange
    const gate = makeApprovalGateHandler({ store, now: () => NOW });
    await gate({
      taskToken: 'token-from-workflow',
      runId: 'run-1',
      target: 'CLUSTER1',
      afterNodes: 1,
      timeoutMinutes: 60,
      changeTicket: null,
    });
    // Act
    const result = await call({ method: 'POST', path: '/rollouts/run-1/approve' });
    // Assert
    expect(result.statusCode).toBe(202);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: 'token-from-workflow',
    });
    clientError(
      await call({ method: 'POST', path: '/rollouts/run-1/approve' }),
      409,
      'NoApprovalPending',
    );
  });

  it('reject fails the gate with ApprovalRejected', async () => {
    // Arrange
    await store.putApproval(approval());
    // Act
    const result = await call({ method: 'POST', path: '/rollouts/run-1/reject' });
    // Assert
    expect(decisionAcceptedSchema.parse(result.json).decision).toBe('rejected');
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'token-run-1',
      error: 'ApprovalRejected',
    });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 0);
  });

  it('answers 409 when no approval is pending, 404 for an unknown rollout', async () => {
    clientError(
      await call({ method: 'POST', path: '/rollouts/run-1/approve' }),
      409,
      'NoApprovalPending',
    );
    clientError(await call({ method: 'POST', path: '/rollouts/run-2/reject' }), 404, 'NotFound');
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 0);
  });

  it('answers 409 when the gate timed out meanwhile, and forgets its token', async () => {
    // Arrange
    await store.putApproval(approval());
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(new TaskTimedOut({ message: 'timed out', $metadata: {} }));
    // Act
    const result = await call({ method: 'POST', path: '/rollouts/run-1/approve' });
    // Assert
    clientError(result, 409, 'NoApprovalPending');
    expect(await store.getApproval('run-1')).toBeUndefined();
  });

  it('answers 400 naming a bad field', async () => {
    await store.putApproval(approval());
    const result = await call({
      method: 'POST',
      path: '/rollouts/run-1/approve',
      body: { approvedBy: 7 },
    });
    expect(clientError(result, 400, 'ValidationFailed')).toMatchObject({
      field: 'approvedBy',
      value: 7,
    });
    expect(await store.getApproval('run-1')).toBeDefined();
  });
});

describe('scans: POST /scans and GET /scans/{id}', () => {
  const SCAN_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Scan';
  const scanExecution = (id: string) =>
    `arn:aws:states:us-east-1:000000000000:execution:Scan:${id}`;
  const nodeResult = (node: string) => ({
    schemaVersion: 1,
    scanId: 'scan-1',
    node,
    instanceId: 'i-0123456789abcdef0',
    scannedAt: NOW.toISOString(),
    status: 'Scanned',
    error: null,
    pingStatus: 'Online',
    pendingRestart: false,
    windowsUpdate: { found: 1, applicable: 1 },
    updates: [],
    excluded: [],
    restartExpected: false,
    restartReasons: [],
    hotpatchCandidates: 0,
  });
  const scans = (stored: Record<string, string> = {}) => ({
    stateMachineArn: SCAN_MACHINE,
    readNodeResult: vi.fn(async (_id: string, node: string) => stored[node]),
  });

  it('POST starts the scan workflow with the validated input and answers 202 with the scan id', async () => {
    // Arrange
    sfn.on(StartExecutionCommand).resolves({ executionArn: scanExecution('scan-1') });
    // Act
    const result = await call(
      { method: 'POST', path: '/scans', body: rolloutBody({ runId: 'scan-1' }) },
      { scans: scans() },
    );
    // Assert
    expect(result.statusCode).toBe(202);
    expect(result.json).toEqual({
      scanId: 'scan-1',
      executionArn: scanExecution('scan-1'),
      status: 'Running',
    });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const sent = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(sent?.stateMachineArn).toBe(SCAN_MACHINE);
    expect(sent?.name).toBe('scan-1');
    expect(JSON.parse(sent?.input ?? '{}')).toMatchObject({
      runId: 'scan-1',
      target: { name: 'CLUSTER1' },
    });
  });

  it('POST refuses a scan id in use, naming runId', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
    const result = await call(
      { method: 'POST', path: '/scans', body: rolloutBody({ runId: 'scan-1' }) },
      { scans: scans() },
    );
    expect(clientError(result, 409, 'RolloutIdInUse').field).toBe('runId');
  });

  it('GET of a running scan gives its status and no nodes yet', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', startDate: NOW });
    const deps = scans();
    const result = await call({ method: 'GET', path: '/scans/scan-1' }, { scans: deps });
    expect(result.statusCode).toBe(200);
    expect(result.json).toMatchObject({ scanId: 'scan-1', status: 'Running', nodes: [] });
    expect(deps.readNodeResult).not.toHaveBeenCalled();
  });

  it('GET of a finished scan reads each node result in order, naming the ones it cannot read', async () => {
    // Arrange
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'SUCCEEDED',
      startDate: NOW,
      stopDate: NOW,
      output: JSON.stringify({ scanId: 'scan-1', plan: null, nodes: ['NODE1', 'NODE2', 'NODE3'] }),
    });
    const deps = scans({
      NODE1: JSON.stringify(nodeResult('NODE1')),
      NODE3: JSON.stringify({ ...nodeResult('NODE3'), schemaVersion: 99 }),
    });
    // Act
    const result = await call({ method: 'GET', path: '/scans/scan-1' }, { scans: deps });
    // Assert
    const view = scanViewSchema.parse(result.json);
    expect(view.status).toBe('Succeeded');
    expect(view.nodes.map((n) => n.node)).toEqual(['NODE1']);
    expect(view.nodesMissing).toEqual(['NODE2', 'NODE3']);
    expect(deps.readNodeResult).toHaveBeenCalledWith('scan-1', 'NODE2');
  });

  it('GET of a failed scan says why, from the Lambda error in the cause', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      startDate: NOW,
      stopDate: NOW,
      error: 'NodesOffline',
      cause: JSON.stringify({ errorType: 'NodesOffline', errorMessage: 'NODE1 is offline' }),
    });
    const result = await call({ method: 'GET', path: '/scans/scan-1' }, { scans: scans() });
    expect(result.json).toMatchObject({
      status: 'Failed',
      error: { code: 'NodesOffline', message: 'NODE1 is offline' },
    });
  });

  it('GET of an unknown scan is 404 naming the id; a bad id is 400', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .rejects(Object.assign(new Error('none'), { name: 'ExecutionDoesNotExist' }));
    const missing = await call({ method: 'GET', path: '/scans/scan-9' }, { scans: scans() });
    expect(clientError(missing, 404, 'NotFound')).toMatchObject({ field: 'id', value: 'scan-9' });
    const bad = await call({ method: 'GET', path: '/scans/bad%20id' }, { scans: scans() });
    expect(clientError(bad, 400, 'ValidationFailed').field).toBe('id');
  });

  it('answers 501 where scanning is not wired, after checking the body', async () => {
    clientError(
      await call({ method: 'POST', path: '/scans', body: { target: 1 } }),
      400,
      'ValidationFailed',
    );
    clientError(
      await call({ method: 'POST', path: '/scans', body: rolloutBody() }),
      501,
      'NotImplemented',
    );
    clientError(await call({ method: 'GET', path: '/scans/scan-1' }), 501, 'NotImplemented');
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });
});

describe('GET /rollouts/{id}/nodes/{node}/progress', () => {
  const NODE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Node';

  it("reads the node's execution history, newest first, into its step", async () => {
    // Arrange
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 9,
          type: 'TaskStateEntered',
          timestamp: NOW,
          stateEnteredEventDetails: {
            name: 'Drain',
            input: JSON.stringify({ plan: { hotfix: { updates: [{}] } } }),
          },
        },
      ],
    });
    // Act
    const result = await call(
      { method: 'GET', path: '/rollouts/run-1/nodes/NODE1/progress' },
      { nodeStateMachineArn: NODE_MACHINE },
    );
    // Assert
    expect(result.statusCode).toBe(200);
    expect(result.json).toMatchObject({
      executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Node:run-1-NODE1',
      status: 'Running',
      step: 'draining',
      summary: 'draining (1 hotfix update planned)',
    });
    const sent = sfn.commandCalls(GetExecutionHistoryCommand)[0]?.args[0].input;
    expect(sent).toMatchObject({ reverseOrder: true, includeExecutionData: true });
  });

  it('404 names the node whose execution has not started; 501 where it is not wired', async () => {
    sfn
      .on(GetExecutionHistoryCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'none', $metadata: {} }));
    const missing = await call(
      { method: 'GET', path: '/rollouts/run-1/nodes/NODE1/progress' },
      { nodeStateMachineArn: NODE_MACHINE },
    );
    expect(clientError(missing, 404, 'NotFound')).toMatchObject({ field: 'node', value: 'NODE1' });
    clientError(
      await call({ method: 'GET', path: '/rollouts/run-1/nodes/NODE1/progress' }),
      501,
      'NotImplemented',
    );
  });
});

describe('nodes: ledger and removals', () => {
  beforeEach(async () => {
    await store.appendLedgerEntries('NODE1', [
      ledgerEntry(1, 'KB1000001', ['%windir%\\system32\\authz.dll']),
      ledgerEntry(2, 'KB1000002', ['C:\\Windows\\System32\\AUTHZ.DLL']),
      ledgerEntry(3, 'KB1000003', ['%windir%\\other.dll']),
    ]);
  });

  it('GET /nodes/{id}/ledger gives the install order', async () => {
    // Act
    const result = await call({ method: 'GET', path: '/nodes/node1/ledger' });
    // Assert
    const body = ledgerResponseSchema.parse(result.json);
    expect(body.installed).toEqual(['KB1000001', 'KB1000002', 'KB1000003']);
    expect(body.removalOrder).toEqual(['KB1000003', 'KB1000002', 'KB1000001']);
  });

  it('gives an empty ledger for a node without installs, 400 for a bad name', async () => {
    expect(
      ledgerResponseSchema.parse((await call({ method: 'GET', path: '/nodes/NODE9/ledger' })).json)
        .entries,
    ).toEqual([]);
    expect(
      clientError(
        await call({ method: 'GET', path: '/nodes/bad*name/ledger' }),
        400,
        'ValidationFailed',
      ).field,
    ).toBe('id');
  });

  it('refuses an out-of-order removal with the KB823836 warnings: 409', async () => {
    // Arrange
    const startRemoval = vi.fn();
    // Act
    const result = await call(
      { method: 'POST', path: '/nodes/NODE1/removals', body: { updates: ['KB1000001'] } },
      { startRemoval },
    );
    // Assert
    const error = clientError(result, 409, 'RemovalOutOfOrder');
    expect(error.details?.warnings).toEqual([
      {
        updateId: 'KB1000001',
        laterUpdatesSharingFiles: [
          { updateId: 'KB1000002', files: ['C:\\Windows\\System32\\AUTHZ.DLL'] },
        ],
        installedSince: ['KB1000002', 'KB1000003'],
      },
    ]);
    expect(startRemoval).not.toHaveBeenCalled();
  });

  it.each([
    {
      case: 'includeDependents',
      body: { updates: ['KB1000001'], includeDependents: true },
      order: ['KB1000002', 'KB1000001'],
      forced: false,
      warnings: 0,
    },
    {
      case: 'force',
      body: { updates: ['KB1000001'], force: true },
      order: ['KB1000001'],
      forced: true,
      warnings: 1,
    },
    {
      case: 'a safe request',
      body: { updates: ['kb1000003'] },
      order: ['KB1000003'],
      forced: false,
      warnings: 0,
    },
  ])(
    'starts the removal with $case: 202 with the plan',
    async ({ body, order, forced, warnings }) => {
      // Arrange
      const startRemoval = vi.fn(async () => ({ removalId: 'rm-1', executionArn: 'arn:rm-1' }));
      // Act
      const result = await call(
        { method: 'POST', path: '/nodes/NODE1/removals', body },
        { startRemoval },
      );
      // Assert
      expect(result.statusCode).toBe(202);
      const accepted = removalAcceptedSchema.parse(result.json);
      expect(accepted).toMatchObject({ order, forced, restartRequired: true, removalId: 'rm-1' });
      expect(accepted.warnings).toHaveLength(warnings);
      expect(startRemoval).toHaveBeenCalledWith(
        'NODE1',
        expect.objectContaining({ order }),
        expect.objectContaining({ forced, requestedBy: CALLER }),
      );
    },
  );

  it.each([
    {
      case: 'an update not installed',
      body: { updates: ['KB9999999'] },
      status: 422,
      code: 'RemovalNotPossible',
      field: 'updates[0]',
    },
    {
      case: 'not a KB number',
      body: { updates: ['nope'] },
      status: 400,
      code: 'ValidationFailed',
      field: 'updates[0]',
    },
    {
      case: 'no updates',
      body: { updates: [] },
      status: 400,
      code: 'ValidationFailed',
      field: 'updates',
    },
    {
      case: 'force as text',
      body: { updates: ['KB1000003'], force: 'yes' },
      status: 400,
      code: 'ValidationFailed',
      field: 'force',
    },
  ])('$case → $status naming $field', async ({ body, status, code, field }) => {
    const result = await call(
      { method: 'POST', path: '/nodes/NODE1/removals', body },
      { startRemoval: vi.fn() },
    );
    expect(clientError(result, status, code).field).toBe(field);
  });

  describe('through the rollout workflow (makeRolloutRemovalStarter)', () => {
    const removalBody = {
      updates: ['KB1000004'],
      target: { kind: 'cluster', name: 'CLUSTER1' },
      instanceId: 'i-0123456789abcdef0',
    };
    const wired = () =>
      makeRolloutRemovalStarter({
        sfn: new SFNClient({ region: 'us-east-1' }),
        rolloutStateMachineArn: MACHINE,
        now: () => NOW,
        // Not the API's own 0.5: the removal and a rollout get different run ids.
        random: () => 0.25,
      });
    beforeEach(async () => {
      await store.appendLedgerEntries('NODE1', [
        {
          ...ledgerEntry(4, 'KB1000004', ['%windir%\\combined.dll']),
          removal: {
            method: 'dism',
            packageName: 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2849.1.8',
          },
        },
      ]);
    });

    it('starts the removal with the method and package name the ledger recorded', async () => {
      // Act
      const result = await call(
        { method: 'POST', path: '/nodes/NODE1/removals', body: removalBody },
        { startRemoval: wired() },
      );
      // Assert
      expect(result.statusCode).toBe(202);
      const started = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
      expect(JSON.parse(started?.input ?? '{}').removal).toEqual({
        updates: [
          {
            updateId: 'KB1000004',
            method: 'dism',
            packageName: 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2849.1.8',
          },
        ],
      });
    });

    it('claims the target atomically before it starts: the run holds the lock, a second request gets 409', async () => {
      // Act
      const first = await call(
        { method: 'POST', path: '/nodes/NODE1/removals', body: removalBody },
        { startRemoval: wired() },
      );
      const second = await call(
        { method: 'POST', path: '/rollouts', body: rolloutBody() },
        { startRemoval: wired() },
      );
      // Assert
      const removalId = (first.json as { removalId: string }).removalId;
      expect(await store.getLock('CLUSTER1')).toMatchObject({
        holder: removalId,
        execution: executionArn(removalId),
      });
      expect(clientError(second, 409, 'TargetBusy').details).toMatchObject({
        activeRolloutId: removalId,
      });
      expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    });

    it('answers 409 and starts nothing when a live rollout holds the target', async () => {
      // Arrange
      await store.acquireLock('CLUSTER1', 'run-active', 3600, new Date(NOW.getTime() - 60_000));
      // Act
      const result = await call(
        { method: 'POST', path: '/nodes/NODE1/removals', body: removalBody },
        { startRemoval: wired() },
      );
      // Assert
      expect(clientError(result, 409, 'TargetBusy').details).toMatchObject({
        activeRolloutId: 'run-active',
      });
      expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
    });
  });

  it('answers 501 where removals are not wired, and starts nothing', async () => {
    const result = await call({
      method: 'POST',
      path: '/nodes/NODE1/removals',
      body: { updates: ['KB1000003'] },
    });
    const error = clientError(result, 501, 'NotImplemented');
    expect(error.message).toContain('nothing was started');
    expect(error.details).toMatchObject({ order: ['KB1000003'] });
  });
});

describe('routing', () => {
  it('answers 404 in the error shape for an unknown route', async () => {
    const result = await call({ method: 'GET', path: '/deployments' });
    expect(clientError(result, 404, 'RouteNotFound').field).toBe('path');
  });

  it('answers 405 with Allow for a method a path does not take', async () => {
    const result = await call({ method: 'DELETE', path: '/rollouts' });
    clientError(result, 405, 'MethodNotAllowed');
    expect(result.headers?.Allow).toBe('POST, GET');
  });

  it('routes by the matched resource and its decoded parameters', async () => {
    // Arrange
    await store.putRun(run({ runId: 'run-7' }));
    // Act
    const result = await handler()({
      ...event({ method: 'GET', path: '/v1/anything' }),
      resource: '/rollouts/{id}',
      pathParameters: { id: 'run-7' },
    });
    // Assert
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).rolloutId).toBe('run-7');
  });

  it('survives an event that is not an API Gateway event at all', async () => {
    const result = await handler()(null);
    expect(result.statusCode).toBe(404);
  });
});

describe('makeRolloutRemovalStarter', () => {
  const plan = { order: ['KB1000003', 'KB1000002'] } as never;
  const request = {
    changeTicket: { system: 'ServiceNow', id: 'CHG1' },
    requestedBy: 'someone',
    forced: false,
    target: { kind: 'cluster' as const, name: 'CLUSTER1' },
    instanceId: 'i-0123456789abcdef0',
  };
  const starter = (send: (command: unknown) => unknown) =>
    makeRolloutRemovalStarter({
      sfn: { send } as never,
      rolloutStateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:Rollout',
      now: () => new Date('2026-01-13T22:00:00.000Z'),
      random: () => 0,
    });

  it('starts a rollout of the node alone with removal in the plan order and no plug-in', async () => {
    const send = vi.fn(async (_command: unknown) => ({ executionArn: 'arn:exec' }));
    const started = await starter(send)('NODE1', plan, request);
    expect(started).toEqual({ removalId: '20260113T220000-000000', executionArn: 'arn:exec' });
    const command = send.mock.calls[0]?.[0] as unknown as {
      input: { name: string; input: string };
    };
    expect(command.input.name).toBe('20260113T220000-000000');
    expect(JSON.parse(command.input.input)).toEqual({
      target: {
        kind: 'cluster',
        name: 'CLUSTER1',
        nodes: [{ name: 'NODE1', instanceId: 'i-0123456789abcdef0' }],
      },
      removal: { updates: ['KB1000003', 'KB1000002'] },
      changeTicket: { system: 'ServiceNow', id: 'CHG1' },
      requestedBy: 'someone',
      runId: '20260113T220000-000000',
    });
  });

  it.each([
    [{ target: null }, 'target'],
    [{ instanceId: null }, 'instanceId'],
    [{ instanceId: 'not-an-id' }, 'target.nodes[0].instanceId'],
  ])('refuses %j naming %s, and starts nothing', async (change, field) => {
    const send = vi.fn();
    const failure = starter(send)('NODE1', plan, { ...request, ...change });
    await expect(failure).rejects.toMatchObject({ name: 'ApiError', status: 400, field });
    expect(send).not.toHaveBeenCalled();
  });
});
