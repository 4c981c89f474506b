import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type ApiRoute, type OperationId } from '../../lambdas/core/api-model.js';
import { errorBodySchema } from '../../lambdas/core/api-responses.js';
import { makeApiHandler } from '../../lambdas/handlers/api.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';
import { useDynalite } from '../helpers/dynalite.js';

const sfn = mockClient(SFNClient);
const NOW = new Date('2025-05-13T22:00:00.000Z');
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Rollout';
const RUNS_PER_ROUTE = Number(process.env.API_PROPERTY_RUNS ?? 200);

const db = useDynalite();
let api: ReturnType<typeof makeApiHandler>;
let store: RunStore;
const APPROVAL = {
  runId: 'run-1',
  taskToken: 'token',
  target: 'CLUSTER1',
  afterNodes: 1,
  timeoutMinutes: 60,
  changeTicket: null,
  requestedAt: '2025-05-13T21:00:00.000Z',
  expiresAt: 4_000_000_000,
};

beforeAll(async () => {
  logger.setLogLevel('SILENT');
  const { tableName, client } = await db.table('runs', {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new RunStore({ client, tableName });
  const base = {
    target: 'CLUSTER1',
    targetKind: 'cluster' as const,
    nodes: ['NODE1', 'NODE2', 'NODE3'],
    maxFailedNodes: 1,
    startedAt: '2025-05-13T21:00:00.000Z',
  };
  await store.putRun({ ...base, runId: 'run-1', status: 'Running' });
  await store.putRun({ ...base, runId: 'run-2', status: 'Succeeded' });
  await store.putNodeResult('run-1', 'NODE1', { status: 'Succeeded', startedAt: base.startedAt });
  await store.putApproval(APPROVAL);
  await store.acquireLock('CLUSTER1', 'run-1', 3600, NOW);
  await store.appendLedgerEntries('NODE1', [
    {
      node: 'NODE1',
      sequence: 1,
      updateId: 'KB1000001',
      installedAt: '2025-05-01T10:00:00.000Z',
      hotpatched: false,
      replacedFiles: [{ path: '%windir%\\a.dll' }],
    },
    {
      node: 'NODE1',
      sequence: 2,
      updateId: 'KB1000002',
      installedAt: '2025-05-02T10:00:00.000Z',
      hotpatched: false,
      replacedFiles: [{ path: 'C:\\Windows\\A.DLL' }],
    },
  ]);

  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: `${MACHINE.replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: NOW,
  }));
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', input: '{}' });
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});

  api = makeApiHandler({
    sfn: new SFNClient({ region: 'us-east-1' }),
    store,
    now: () => NOW,
    rolloutStateMachineArn: MACHINE,
    scans: { stateMachineArn: MACHINE, readNodeResult: async () => undefined },
    nodeStateMachineArn: MACHINE,
    stagingStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Staging',
    startRemoval: async () => ({ removalId: 'rm-1' }),
  });
});

afterAll(async () => {
  sfn.reset();
});

// ---------------------------------------------------------------------------------------------
// Requests

const VALID_ROLLOUT = {
  target: {
    kind: 'cluster',
    name: 'CLUSTER2',
    nodes: [
      { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
      { name: 'NODE2', instanceId: 'i-0123456789abcdef1' },
    ],
  },
  plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
  policy: { maxFailedNodes: 0 },
  changeTicket: { system: 'ServiceNow', id: 'CHG1' },
  approvalGate: { afterNodes: 1, timeoutMinutes: 30 },
};

const MUTATION_PATHS: readonly (readonly (string | number)[])[] = [
  [],
  ['target'],
  ['target', 'kind'],
  ['target', 'name'],
  ['target', 'nodes'],
  ['target', 'nodes', 0],
  ['target', 'nodes', 1, 'name'],
  ['target', 'nodes', 0, 'instanceId'],
  ['plugins'],
  ['plugins', 0],
  ['plugins', 0, 'arguments'],
  ['policy'],
  ['policy', 'maxFailedNodes'],
  ['policy', 'nodeOrder'],
  ['policy', 'stopAfter'],
  ['policy', 'maxConcurrency'],
  ['changeTicket'],
  ['changeTicket', 'url'],
  ['approvalGate'],
  ['approvalGate', 'afterNodes'],
  ['runId'],
  ['drain'],
  ['requestedBy'],
  ['__proto__'],
  ['constructor'],
  ['updates'],
  ['updates', 0],
  ['force'],
  ['includeDependents'],
  ['comment'],
  ['approvedBy'],
  ['reason'],
];

/** A copy of `base` with the value at `path` replaced (plain data, so JSON-safe). */
function mutate(base: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const copy = (
    Array.isArray(base) ? [...base] : base !== null && typeof base === 'object' ? { ...base } : {}
  ) as Record<string | number, unknown>;
  Object.defineProperty(copy, head, {
    value: mutate(copy[head], rest, value),
    enumerable: true,
    configurable: true,
    writable: true,
  });
  return copy;
}

const anyJsonText = fc.oneof(
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.anything().map((v) => {
    try {
      return JSON.stringify(v) ?? '';
    } catch {
      return String(v);
    }
  }),
);

const ROLLOUT_BODIES: unknown[] = [
  VALID_ROLLOUT,
  { ...VALID_ROLLOUT, changeTicket: { system: 'Jira', id: 'OPS-2' }, approvalGate: undefined },
  { ...VALID_ROLLOUT, target: { ...VALID_ROLLOUT.target, name: 'CLUSTER1' } },
  {
    ...VALID_ROLLOUT,
    plugins: [{ name: 'Microsoft.HotfixPlugin', arguments: 'HotfixRootFolderPath="s3://b/p"' }],
  },
];
const DECISION_BODIES: unknown[] = [{}, { comment: 'ok', approvedBy: 'CAB' }];
const REMOVAL_BODIES: unknown[] = [
  { updates: ['KB1000001'] },
  { updates: ['KB1000002'] },
  { updates: ['KB1000001'], includeDependents: true },
  { updates: ['KB1000001'], force: true },
];
/** The valid bodies of each route, to mutate from. */
const VALID_BODIES: Record<OperationId, unknown[]> = {
  startRollout: ROLLOUT_BODIES,
  scan: ROLLOUT_BODIES,
  startStaging: ROLLOUT_BODIES,
  getStaging: [{}],
  approveRollout: DECISION_BODIES,
  rejectRollout: DECISION_BODIES,
  cancelRollout: [{}, { reason: 'window closed', requestedBy: 'bob' }],
  forceRecovery: [{ reason: 'execution aborted by hand' }, { reason: 'x', requestedBy: 'bob' }],
  requestRemoval: REMOVAL_BODIES,
  listRollouts: [{}],
  getRollout: [{}],
  getRolloutReport: [{}],
  getLedger: [{}],
  getCompliance: [{}],
  getScan: [{}],
  getNodeProgress: [{}],
};
const ALL_BODIES = [...new Set(Object.values(VALID_BODIES).flat())];

/** Values a client might plausibly put in a field, wrong or right, and any JSON. */
const fieldValues = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    0,
    1,
    2,
    -1,
    1.5,
    1e308,
    '',
    'NODE1',
    'CLUSTER1',
    'i-0123456789abcdef0',
    'cluster',
    'group',
    'always',
    'KB1000001',
    'PT2H',
    '2h',
    'https://x.example/1',
    'javascript:alert(1)',
    true,
    [],
    {},
    ['NODE2', 'NODE1'],
    { system: 'S', id: 'I' },
  ),
  fc.string({ maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }),
);

const bodiesFor = (route: ApiRoute) => {
  const valid = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...VALID_BODIES[route.operationId]) },
    { weight: 1, arbitrary: fc.constantFrom(...ALL_BODIES) },
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<string | null>(null) },
    { weight: 2, arbitrary: anyJsonText },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...MUTATION_PATHS), fieldValues)
        .map(([base, path, value]) => JSON.stringify(mutate(base, path, value))),
    },
    { weight: 4, arbitrary: valid.map((b) => JSON.stringify(b)) },
  );
};

const headers = fc
  .record({
    contentType: fc.option(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8'),
        },
        { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
      ),
      { nil: undefined },
    ),
    accept: fc.option(
      fc.oneof(
        fc.constantFrom(
          'text/csv',
          'application/json',
          '*/*',
          'text/csv;q=0.5, application/json;q=abc',
        ),
        fc.string({ maxLength: 60 }),
      ),
      { nil: undefined },
    ),
    key: fc.option(fc.oneof(fc.constantFrom('key-1', 'key-2'), fc.string({ maxLength: 300 })), {
      nil: undefined,
    }),
    other: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 100 }), {
      maxKeys: 3,
    }),
  })
  .map(({ contentType, accept, key, other }) => ({
    ...other,
    ...(contentType === undefined ? {} : { 'Content-Type': contentType }),
    ...(accept === undefined ? {} : { Accept: accept }),
    ...(key === undefined ? {} : { 'Idempotency-Key': key }),
  }));

const queryNames = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('cluster', 'group', 'limit', 'cursor') },
  { weight: 1, arbitrary: fc.string() },
);
const queryValues = fc.oneof(
  fc.constantFrom('CLUSTER1', 'web-1', '1', '100', '0', '-1', 'x'.repeat(5000)),
  fc.string(),
  fc.base64String(),
);
const ids = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('run-1', 'run-2', 'run-3', 'NODE1', 'node2'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '%', '..', 'a%2Fb', '%E0%A4%A', 'x'.repeat(65)),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 80 }) },
);

const requestFor = (route: ApiRoute) =>
  fc.record({
    method: fc.oneof(
      { weight: 9, arbitrary: fc.constant(route.method as string) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'x'),
      },
    ),
    id: ids,
    body: bodiesFor(route),
    isBase64Encoded: fc.boolean(),
    headers,
    query: fc.oneof(
      fc.constant(null),
      fc.dictionary(queryNames, queryValues, { maxKeys: 4 }),
      fc
        .record(
          {
            cluster: fc.oneof(fc.constantFrom('CLUSTER1', 'cluster2'), fc.string()),
            group: fc.constantFrom('web-1', '-x'),
            limit: fc.oneof(fc.constantFrom('1', '2', '100'), fc.string({ maxLength: 5 })),
            cursor: fc.oneof(
              fc.base64String(),
              fc
                .record({
                  pk: fc.string(),
                  sk: fc.string(),
                  gsi1pk: fc.string(),
                  gsi1sk: fc.string(),
                })
                .map((key) =>
                  Buffer.from(JSON.stringify({ ...key, gsi1pk: `TARGET#${key.gsi1pk}` })).toString(
                    'base64url',
                  ),
                ),
              fc
                .record({ pk: fc.string(), sk: fc.string(), gsi1sk: fc.string() })
                .map((key) =>
                  Buffer.from(JSON.stringify({ ...key, gsi1pk: 'TARGET#CLUSTER1' })).toString(
                    'base64url',
                  ),
                ),
            ),
          },
          { requiredKeys: [] },
        )
        .map((q) => Object.fromEntries(Object.entries(q)) as Record<string, string>),
    ),
    byResource: fc.boolean(),
  });

type GeneratedRequest = ReturnType<typeof requestFor> extends fc.Arbitrary<infer T> ? T : never;

function eventOf(route: ApiRoute, r: GeneratedRequest) {
  const path = route.path.replace('{id}', encodeURIComponent(r.id));
  return {
    httpMethod: r.method,
    path,
    resource: r.byResource ? route.path : '/{proxy+}',
    pathParameters: r.byResource
      ? route.path.includes('{id}')
        ? { id: r.id }
        : null
      : { proxy: path },
    headers: r.headers,
    multiValueHeaders: null,
    queryStringParameters: r.query,
    multiValueQueryStringParameters: r.query
      ? Object.fromEntries(Object.entries(r.query).map(([k, v]) => [k, [v]]))
      : null,
    body: r.isBase64Encoded && r.body !== null ? Buffer.from(r.body).toString('base64') : r.body,
    isBase64Encoded: r.isBase64Encoded,
    requestContext: { requestId: 'prop', identity: { userArn: 'arn:aws:iam::0:user/p' } },
  };
}

/** The contract every answer keeps. */
function checkAnswer(result: {
  statusCode: number;
  headers?: Record<string, unknown>;
  body: string;
}) {
  expect(result.statusCode).toBeGreaterThanOrEqual(200);
  expect(result.statusCode).toBeLessThan(500);
  const type = String(result.headers?.['Content-Type'] ?? '');
  if (type.startsWith('text/csv')) return;
  expect(type).toBe('application/json');
  const body = JSON.parse(result.body) as unknown;
  if (result.statusCode >= 400) {
    const error = errorBodySchema.parse(body).error;
    expect(error.message.length).toBeGreaterThan(0);
  }
}

describe('no client input reaches a 5xx', () => {
  it.each(API_ROUTES.map((route) => ({ route, name: `${route.method} ${route.path}` })))(
    '$name',
    async ({ route }) => {
      await fc.assert(
        fc.asyncProperty(requestFor(route), async (request) => {
          // Decisions and cancels consume the waiting token: put one back each time.
          await store.putApproval(APPROVAL);
          checkAnswer(await api(eventOf(route, request)));
        }),
        { numRuns: RUNS_PER_ROUTE },
      );
    },
  );

  it('nor any path, method or event shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record({
            httpMethod: fc.oneof(fc.string(), fc.anything()),
            path: fc.oneof(fc.string(), fc.webPath(), fc.anything()),
            resource: fc.oneof(fc.string(), fc.constantFrom(...API_ROUTES.map((r) => r.path))),
            pathParameters: fc.anything(),
            headers: fc.anything(),
            queryStringParameters: fc.anything(),
            multiValueQueryStringParameters: fc.anything(),
            body: fc.anything(),
            isBase64Encoded: fc.anything(),
            requestContext: fc.anything(),
          }),
        ),
        async (event) => {
          checkAnswer(await api(event));
        },
      ),
      { numRuns: RUNS_PER_ROUTE * 2 },
    );
  });
});
