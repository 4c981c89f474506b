/**
 * The staging routes of the API (issue 13 item 5): POST /stagings starts the staging state
 * machine, GET /stagings/{id} reads its execution and the nodes' staging records. Step
 * Functions mocked (aws-sdk-client-mock), the run store real (RunStore on dynalite), so the
 * idempotency claim and the STAGING# query run against a DynamoDB implementation.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stagingStatusOf } from '../../lambdas/core/api-model.js';
import {
  errorBodySchema,
  stagingAcceptedSchema,
  stagingStatusSchema,
} from '../../lambdas/core/api-responses.js';
import { type ApiDeps, makeApiHandler } from '../../lambdas/handlers/api.js';
import { RunStore, type StagingRecord } from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';
import { apiEvent } from '../helpers/api-event.js';
import { useDynalite } from '../helpers/dynalite.js';

const sfn = mockClient(SFNClient);
const NOW = new Date('2025-05-13T22:00:00.000Z');
const ROLLOUT_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Rollout';
const STAGING_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Staging';
const stagingExecution = (name: string) =>
  `arn:aws:states:us-east-1:000000000000:execution:Staging:${name}`;

const db = useDynalite();
let store: RunStore;

beforeAll(async () => {
  logger.setLogLevel('SILENT');
});

beforeEach(async () => {
  const { tableName, client } = await db.table('staging-api', {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new RunStore({ client, tableName });
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: stagingExecution(input.name),
    startDate: NOW,
  }));
  sfn
    .on(DescribeExecutionCommand)
    .rejects(new ExecutionDoesNotExist({ message: 'no such execution', $metadata: {} }));
});

afterEach(() => {
  sfn.reset();
});

const body = (overrides: Record<string, unknown> = {}) => ({
  target: {
    kind: 'cluster',
    name: 'CLUSTER1',
    nodes: [1, 2, 3].map((i) => ({ name: `NODE${i}`, instanceId: `i-0123456789abcdef${i}` })),
  },
  plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
  changeTicket: { system: 'ServiceNow', id: 'CHG0031337' },
  staging: { maxConcurrency: 2 },
  ...overrides,
});

async function call(
  request: { method: string; path: string; body?: unknown; headers?: Record<string, string> },
  deps: Partial<ApiDeps> = {},
) {
  const handler = makeApiHandler({
    sfn: new SFNClient({ region: 'us-east-1' }),
    store,
    now: () => NOW,
    random: () => 0.5,
    rolloutStateMachineArn: ROLLOUT_MACHINE,
    stagingStateMachineArn: STAGING_MACHINE,
    ...deps,
  });
  const result = await handler(
    apiEvent({ ...request, callerArn: 'arn:aws:iam::000000000000:user/a' }),
  );
  return { ...result, json: JSON.parse(result.body) as unknown };
}

const starts = () =>
  sfn.commandCalls(StartExecutionCommand).map((c) => ({
    arn: c.args[0].input.stateMachineArn,
    name: c.args[0].input.name,
    input: JSON.parse(c.args[0].input.input ?? 'null') as Record<string, unknown>,
  }));

const staged = (node: string, overrides: Partial<StagingRecord> = {}): StagingRecord => ({
  runId: 'stage-1',
  node,
  status: 'Staged',
  files: 2,
  bytes: 2048,
  digestsVerified: 2,
  cacheHits: 1,
  problems: [],
  windowsUpdates: 0,
  stagedDigests: ['a'.repeat(64), 'b'.repeat(64)],
  stagedAt: '2025-05-13T21:30:00.000Z',
  ...overrides,
});

describe('POST /stagings', () => {
  it('starts the staging state machine (not the rollout one) named by the staging id: 202', async () => {
    // Act
    const result = await call({ method: 'POST', path: '/stagings', body: body() });
    // Assert
    expect(result.statusCode).toBe(202);
    const accepted = stagingAcceptedSchema.parse(result.json);
    expect(accepted.status).toBe('Running');
    expect(accepted.executionArn).toBe(stagingExecution(accepted.stagingId));
    expect(accepted.idempotencyKey).toBe('change ticket ServiceNow:CHG0031337');
    expect(starts()).toEqual([
      {
        arn: STAGING_MACHINE,
        name: accepted.stagingId,
        input: { ...body(), runId: accepted.stagingId },
      },
    ]);
    // No target lock: a rollout of the same cluster may start meanwhile.
    expect(await store.getLock('CLUSTER1')).toBeUndefined();
  });

  it('returns the same staging to a retry with the same Idempotency-Key and body, starting nothing new', async () => {
    // Arrange
    const headers = { 'Idempotency-Key': 'stage-token-1' };
    const first = stagingAcceptedSchema.parse(
      (await call({ method: 'POST', path: '/stagings', body: body(), headers })).json,
    );
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: first.executionArn,
      status: 'SUCCEEDED',
      startDate: NOW,
    });
    // Act
    const retry = await call(
      { method: 'POST', path: '/stagings', body: body(), headers },
      { random: () => 0.9 },
    );
    // Assert
    expect(retry.statusCode).toBe(202);
    expect(retry.headers?.['Idempotent-Replay']).toBe('true');
    expect(stagingAcceptedSchema.parse(retry.json)).toEqual({
      ...first,
      status: 'Succeeded',
      idempotencyKey: 'Idempotency-Key "stage-token-1"',
    });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('refuses another body under the same Idempotency-Key with 422 naming the first staging', async () => {
    // Arrange
    const headers = { 'Idempotency-Key': 'stage-token-2' };
    const first = stagingAcceptedSchema.parse(
      (await call({ method: 'POST', path: '/stagings', body: body(), headers })).json,
    );
    // Act
    const other = await call({
      method: 'POST',
      path: '/stagings',
      body: body({ staging: { maxConcurrency: 5 } }),
      headers,
    });
    // Assert
    expect(other.statusCode).toBe(422);
    const error = errorBodySchema.parse(other.json).error;
    expect(error.code).toBe('IdempotencyKeyReused');
    expect(error.field).toBe('Idempotency-Key');
    expect(error.details).toEqual({ stagingId: first.stagingId });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('keeps stagings and rollouts apart: the same change ticket may start both', async () => {
    // Act
    const rollout = await call({ method: 'POST', path: '/rollouts', body: body() });
    const staging = await call({ method: 'POST', path: '/stagings', body: body() });
    // Assert
    expect(rollout.statusCode).toBe(202);
    expect(staging.statusCode).toBe(202);
    expect(starts().map((s) => s.arn)).toEqual([ROLLOUT_MACHINE, STAGING_MACHINE]);
  });

  it('starts the execution a first request claimed but never started, once', async () => {
    // Arrange: the first StartExecution fails after the key is claimed.
    const headers = { 'Idempotency-Key': 'stage-token-3' };
    sfn.on(StartExecutionCommand).rejectsOnce(new Error('socket hang up'));
    const failed = await call({ method: 'POST', path: '/stagings', body: body(), headers });
    expect(failed.statusCode).toBe(500);
    sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
      executionArn: stagingExecution(input.name),
    }));
    // Act
    const retry = await call({ method: 'POST', path: '/stagings', body: body(), headers });
    // Assert
    expect(retry.statusCode).toBe(202);
    const names = starts().map((s) => s.name);
    expect(names).toHaveLength(2);
    expect(names[1]).toBe(names[0]);
    expect(stagingAcceptedSchema.parse(retry.json).stagingId).toBe(names[0]);
  });

  it('refuses a runId that names a staging run already recorded: 409 naming runId', async () => {
    // Arrange
    await store.putStaging(staged('NODE1'));
    // Act
    const result = await call({
      method: 'POST',
      path: '/stagings',
      body: body({ runId: 'stage-1' }),
    });
    // Assert
    expect(result.statusCode).toBe(409);
    const error = errorBodySchema.parse(result.json).error;
    expect(error).toMatchObject({ code: 'RolloutIdInUse', field: 'runId', value: 'stage-1' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('refuses an execution name taken with another input: 409', async () => {
    // Arrange
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', input: '{"other":true}' });
    // Act
    const result = await call({
      method: 'POST',
      path: '/stagings',
      body: body({ runId: 'stage-9' }),
    });
    // Assert
    expect(result.statusCode).toBe(409);
    expect(errorBodySchema.parse(result.json).error.field).toBe('runId');
  });

  it('names the bad staging field and value: 400, nothing started', async () => {
    // Act
    const result = await call({
      method: 'POST',
      path: '/stagings',
      body: body({ staging: { maxConcurrency: 51 } }),
    });
    // Assert
    expect(result.statusCode).toBe(400);
    const error = errorBodySchema.parse(result.json).error;
    expect(error.code).toBe('ValidationFailed');
    expect(error.field).toBe('staging.maxConcurrency');
    expect(error.value).toBe(51);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('answers 501 where the staging workflow is not wired', async () => {
    // Act
    const result = await call(
      { method: 'POST', path: '/stagings', body: body() },
      { stagingStateMachineArn: undefined },
    );
    // Assert
    expect(result.statusCode).toBe(501);
    expect(errorBodySchema.parse(result.json).error.message).toMatch(/STAGING_STATE_MACHINE_ARN/);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });
});

describe('GET /stagings/{id}', () => {
  it("shows the execution's status and each node's staging record", async () => {
    // Arrange
    await store.putStaging(staged('NODE2', { status: 'Partial', problems: ['KB1: timeout'] }));
    await store.putStaging(staged('NODE1'));
    sfn.on(DescribeExecutionCommand, { executionArn: stagingExecution('stage-1') }).resolves({
      executionArn: stagingExecution('stage-1'),
      status: 'SUCCEEDED',
      startDate: new Date('2025-05-13T21:00:00.000Z'),
      stopDate: new Date('2025-05-13T21:31:00.000Z'),
    });
    // Act
    const result = await call({ method: 'GET', path: '/stagings/stage-1' });
    // Assert
    expect(result.statusCode).toBe(200);
    const view = stagingStatusSchema.parse(result.json);
    expect(view).toMatchObject({
      stagingId: 'stage-1',
      executionArn: stagingExecution('stage-1'),
      status: 'Succeeded',
      startedAt: '2025-05-13T21:00:00.000Z',
      stoppedAt: '2025-05-13T21:31:00.000Z',
      counts: { Staged: 1, Partial: 1 },
    });
    expect(view.nodes.map((n) => [n.node, n.status, n.problems])).toEqual([
      ['NODE1', 'Staged', []],
      ['NODE2', 'Partial', ['KB1: timeout']],
    ]);
    expect(view.nodes[0]).toMatchObject({
      files: 2,
      bytes: 2048,
      digestsVerified: 2,
      cacheHits: 1,
    });
  });

  it('shows a running staging with no node recorded yet', async () => {
    // Arrange
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', startDate: NOW });
    // Act
    const view = stagingStatusSchema.parse(
      (await call({ method: 'GET', path: '/stagings/stage-2' })).json,
    );
    // Assert
    expect(view).toMatchObject({ status: 'Running', nodes: [], counts: {}, stoppedAt: null });
  });

  it('shows the records as Unknown once Step Functions forgot the execution', async () => {
    // Arrange
    await store.putStaging(staged('NODE1'));
    // Act
    const view = stagingStatusSchema.parse(
      (await call({ method: 'GET', path: '/stagings/stage-1' })).json,
    );
    // Assert
    expect(view).toMatchObject({ status: 'Unknown', executionArn: null, counts: { Staged: 1 } });
  });

  it('answers 404 for a staging id with neither execution nor records', async () => {
    // Act
    const result = await call({ method: 'GET', path: '/stagings/nope' });
    // Assert
    expect(result.statusCode).toBe(404);
    expect(errorBodySchema.parse(result.json).error).toMatchObject({ field: 'id', value: 'nope' });
  });

  it('answers 400 naming a malformed id', async () => {
    // Act
    const result = await call({ method: 'GET', path: '/stagings/bad%20id' });
    // Assert
    expect(result.statusCode).toBe(400);
    expect(errorBodySchema.parse(result.json).error.field).toBe('id');
  });
});

describe('stagingStatusOf', () => {
  it.each([
    ['RUNNING', 'Running'],
    ['SUCCEEDED', 'Succeeded'],
    ['FAILED', 'Failed'],
    ['TIMED_OUT', 'TimedOut'],
    ['ABORTED', 'Aborted'],
    ['PENDING_REDRIVE', 'Failed'],
  ])('DescribeExecution %s is %s', (status, expected) => {
    expect(stagingStatusOf(status)).toBe(expected);
  });
});
