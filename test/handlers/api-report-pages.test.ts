/**
 * GET /rollouts/{id}/report in pages: ?limit=&cursor=, the `page` field and the Link header, the
 * 400s of a bad limit or cursor, and the first page a report over Lambda's 6 MB response limit
 * answers instead of a 502. The run store is RunStore on dynalite; the 13,000-node report is
 * built in memory (the store's reads stubbed) so the default budget meets a real oversized report.
 */
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { REPORT_CSV_COLUMNS } from '../../lambdas/core/api-model.js';
import { errorBodySchema, runReportSchema } from '../../lambdas/core/api-responses.js';
import type { UpdateResult } from '../../lambdas/core/contracts.js';
import {
  encodeReportCursor,
  escapedBytes,
  LAMBDA_RESPONSE_LIMIT_BYTES,
  proxyResponseBytes,
  REPORT_BUDGET_BYTES,
} from '../../lambdas/core/report-pages.js';
import { type ApiDeps, makeApiHandler } from '../../lambdas/handlers/api.js';
import {
  type NodeResultRecord,
  type RunRecord,
  RunStore,
  type StoredUpdateResult,
} from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';
import { apiEvent } from '../helpers/api-event.js';
import { useDynalite } from '../helpers/dynalite.js';

const sfn = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Rollout';
const db = useDynalite();
let store: RunStore;

beforeAll(() => {
  logger.setLogLevel('SILENT');
});

beforeEach(async () => {
  const { tableName, client } = await db.table('report-pages', {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new RunStore({ client, tableName });
  sfn
    .on(DescribeExecutionCommand)
    .rejects(new ExecutionDoesNotExist({ message: 'no such execution', $metadata: {} }));
});

afterEach(() => {
  sfn.reset();
  vi.restoreAllMocks();
});

const NODES = ['NODE1', 'NODE2', 'NODE3', 'NODE4', 'NODE5'];

const run = (overrides: Partial<RunRecord> = {}): RunRecord => ({
  runId: 'run-1',
  target: 'CLUSTER1',
  targetKind: 'cluster',
  nodes: NODES,
  maxFailedNodes: 1,
  status: 'Failed',
  startedAt: '2025-05-13T21:00:00.000Z',
  finishedAt: '2025-05-13T22:00:00.000Z',
  summary: { reason: '1 node(s) failed' },
  changeTicket: { system: 'ServiceNow', id: 'CHG1' },
  requestedBy: 'alice',
  ...overrides,
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

interface Call {
  readonly query?: Record<string, string | readonly string[]>;
  readonly accept?: string;
  readonly id?: string;
}

async function call(request: Call, deps: Partial<ApiDeps> = {}) {
  const handler = makeApiHandler({
    sfn: new SFNClient({ region: 'us-east-1' }),
    store,
    now: () => new Date('2025-05-13T22:30:00.000Z'),
    rolloutStateMachineArn: MACHINE,
    ...deps,
  });
  const result = await handler(
    apiEvent({
      method: 'GET',
      path: `/rollouts/${request.id ?? 'run-1'}/report`,
      ...(request.query ? { query: request.query } : {}),
      ...(request.accept ? { headers: { Accept: request.accept } } : {}),
    }),
  );
  return result as APIGatewayProxyResult & { headers: Record<string, string> };
}

/** The query the Link header's reference gives, resolved against the request as a client would. */
function nextQuery(result: { headers: Record<string, string> }): Record<string, string> | null {
  const link = result.headers.Link;
  if (link === undefined) return null;
  const ref = /^<(?<ref>[^>]+)>; rel="next"$/.exec(link)?.groups?.ref;
  expect(ref, `Link ${link}`).toBeDefined();
  const url = new URL(ref as string, 'https://api.example.com/v1/rollouts/run-1/report');
  expect(url.pathname).toBe('/v1/rollouts/run-1/report');
  return Object.fromEntries(url.searchParams);
}

/** Every page from `query` on, following the Link header. */
async function allPages(
  query: Record<string, string>,
  deps: Partial<ApiDeps> = {},
  accept?: string,
) {
  const pages: (APIGatewayProxyResult & { headers: Record<string, string> })[] = [];
  for (let q: Record<string, string> | null = query; q !== null; ) {
    const page = await call({ query: q, ...(accept ? { accept } : {}) }, deps);
    expect(page.statusCode, page.body.slice(0, 300)).toBe(200);
    pages.push(page);
    q = nextQuery(page);
    expect(pages.length).toBeLessThan(100);
  }
  return pages;
}

const jsonOf = (result: APIGatewayProxyResult) => {
  const body = JSON.parse(result.body) as {
    page: { nodesTotal: number; start: number; nextCursor: string | null };
  };
  return { ...runReportSchema.parse(body), page: body.page };
};

function badRequest(result: APIGatewayProxyResult, field: string, value: unknown) {
  expect(result.statusCode).toBe(400);
  const { error } = errorBodySchema.parse(JSON.parse(result.body));
  expect(error.code).toBe('ValidationFailed');
  const named = [error, ...(error.problems ?? [])].find((p) => p.field === field);
  expect(named, JSON.stringify(error)).toBeDefined();
  expect(named?.value).toEqual(value);
  return error;
}

describe('GET /rollouts/{id}/report in pages', () => {
  beforeEach(async () => {
    await store.putRun(run());
    await store.putNodeResult('run-1', 'NODE1', {
      status: 'Failed',
      startedAt: '2025-05-13T21:00:00.000Z',
      detail: 'exit code 0x80240017, "not applicable"',
    });
    await store.putUpdateResults('run-1', 'NODE1', 1, [
      update(0, { detail: 'line one\nline "two", with comma', outcome: 'Failed', exitCode: 1 }),
      update(1, { exitCode: 3010, outcome: 'Success_RebootRequired', rebootRequired: true }),
    ]);
    await store.putNodeResult('run-1', 'NODE2', {
      status: 'Succeeded',
      startedAt: '2025-05-13T21:10:00.000Z',
    });
    await store.putUpdateResults('run-1', 'NODE2', 1, [update(0)]);
    await store.putNodeResult('run-1', 'NODE3', {
      status: 'Succeeded',
      startedAt: '2025-05-13T21:20:00.000Z',
    });
    await store.putUpdateResults('run-1', 'NODE3', 1, [update(0)]);
    // NODE3's ledger is long: with it NODE3 weighs far more than without.
    await store.appendLedgerEntries(
      'NODE3',
      Array.from({ length: 12 }, (_, i) => ({
        node: 'NODE3',
        sequence: i + 1,
        updateId: `KB50100${String(i).padStart(2, '0')}`,
        installedAt: '2025-05-13T21:30:00.000Z',
        runId: 'run-1',
        hotpatched: false,
        replacedFiles: [{ path: '%windir%\\system32\\a.dll' }],
      })),
    );
  });

  it('answers the whole report when it fits, with page { nodesTotal, start 0, nextCursor null } and no Link', async () => {
    // Act
    const result = await call({});
    // Assert
    expect(result.statusCode).toBe(200);
    expect(result.headers.Link).toBeUndefined();
    const report = jsonOf(result);
    expect(report.nodes.map((n) => n.name)).toEqual(NODES);
    expect(report.page).toEqual({ nodesTotal: 5, start: 0, nextCursor: null });
  });

  it('pages the nodes by ?limit=, each page with the run-level fields, and the pages join to the whole report', async () => {
    // Arrange
    const whole = jsonOf(await call({}));
    // Act
    const pages = (await allPages({ limit: '2' })).map(jsonOf);
    // Assert
    expect(pages.map((p) => p.nodes.map((n) => n.name))).toEqual([
      ['NODE1', 'NODE2'],
      ['NODE3', 'NODE4'],
      ['NODE5'],
    ]);
    expect(pages.map((p) => [p.page.start, p.page.nodesTotal])).toEqual([
      [0, 5],
      [2, 5],
      [4, 5],
    ]);
    expect(pages.map((p) => p.page.nextCursor)).toEqual([
      encodeReportCursor({ rolloutId: 'run-1', start: 2 }),
      encodeReportCursor({ rolloutId: 'run-1', start: 4 }),
      null,
    ]);
    const { nodes: _all, page: _page, ...runFields } = whole;
    for (const page of pages) {
      const { nodes: _n, page: _p, ...fields } = page;
      expect(fields).toEqual(runFields);
      expect(fields).toMatchObject({
        status: 'Failed',
        reason: '1 node(s) failed',
        runId: 'run-1',
      });
    }
    expect(pages.flatMap((p) => p.nodes)).toEqual(whole.nodes);
  });

  it('keeps ?limit= in the Link header, and the cursor alone pages on', async () => {
    // Act
    const first = await call({ query: { limit: '3' } });
    const cursor = jsonOf(first).page.nextCursor as string;
    const second = await call({ query: { cursor } });
    // Assert
    expect(nextQuery(first)).toEqual({ limit: '3', cursor });
    expect(jsonOf(second).nodes.map((n) => n.name)).toEqual(['NODE4', 'NODE5']);
  });

  it('pages the CSV alike: a header line each page, the rows joined are the whole CSV', async () => {
    // Arrange
    const whole = await call({ accept: 'text/csv' });
    // Act
    const pages = await allPages({ limit: '2' }, {}, 'text/csv');
    // Assert
    expect(pages).toHaveLength(3);
    const header = `${REPORT_CSV_COLUMNS.join(',')}\r\n`;
    for (const page of pages) {
      expect(page.headers['Content-Type']).toBe('text/csv; charset=utf-8');
      expect(page.body.startsWith(header)).toBe(true);
    }
    expect(header + pages.map((p) => p.body.slice(header.length)).join('')).toBe(whole.body);
    expect(pages[0]?.body).toContain('"line one\nline ""two"", with comma"');
  });

  it.each<{ query: Record<string, string>; field: string; value: string }>([
    { query: { limit: '0' }, field: 'limit', value: '0' },
    { query: { limit: '10001' }, field: 'limit', value: '10001' },
    { query: { limit: 'all' }, field: 'limit', value: 'all' },
    { query: { cursor: 'not a cursor' }, field: 'cursor', value: 'not a cursor' },
    { query: { cursor: 'bm9wZQ' }, field: 'cursor', value: 'bm9wZQ' },
  ])(
    'answers 400 for $field=$value, naming the field and the value',
    async ({ query, field, value }) => {
      badRequest(await call({ query }), field, value);
    },
  );

  it('refuses another rollout’s cursor and one past the last node, and says why', async () => {
    // Arrange
    await store.putRun(run({ runId: 'run-2', nodes: ['NODE1'] }));
    const other = encodeReportCursor({ rolloutId: 'run-2', start: 1 });
    const past = encodeReportCursor({ rolloutId: 'run-1', start: 5 });
    // Act
    const a = badRequest(await call({ query: { cursor: other } }), 'cursor', other);
    const b = badRequest(await call({ query: { cursor: past } }), 'cursor', past);
    // Assert
    expect(a.message).toContain('it belongs to rollout "run-2"');
    expect(b.message).toContain("past the report's 5 nodes");
  });

  it('answers 400 for a parameter given twice or one it does not know', async () => {
    const twice = await call({ query: { limit: ['2', '3'] } });
    expect(twice.statusCode).toBe(400);
    expect(errorBodySchema.parse(JSON.parse(twice.body)).error.field).toBe('limit');
    const unknown = await call({ query: { offset: '2' } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('offset');
  });

  it.each([
    { format: 'json', accept: undefined },
    { format: 'csv', accept: 'text/csv' },
  ])(
    'answers a $format report over the budget as pages that each fit, nothing dropped',
    async ({ accept }) => {
      // Arrange: a budget one byte below the whole report's response.
      const whole = await call(accept ? { accept } : {});
      const budget = proxyResponseBytes(whole) - 1;
      // Act
      const pages = await allPages({}, { reportBudgetBytes: budget }, accept);
      // Assert
      expect(pages.length).toBeGreaterThan(1);
      for (const page of pages) expect(proxyResponseBytes(page)).toBeLessThanOrEqual(budget);
      if (accept === undefined) {
        const reports = pages.map(jsonOf);
        expect(reports[0]?.page.nextCursor).not.toBeNull();
        expect(reports.flatMap((p) => p.nodes)).toEqual(jsonOf(whole).nodes);
      } else {
        const header = `${REPORT_CSV_COLUMNS.join(',')}\r\n`;
        expect(header + pages.map((p) => p.body.slice(header.length)).join('')).toBe(whole.body);
      }
    },
  );

  it('reads the ledgers of the page’s nodes only, and shows them', async () => {
    // Arrange
    const read = vi.spyOn(store, 'getLedger');
    // Act
    const first = jsonOf(await call({ query: { limit: '2' } }));
    const firstReads = read.mock.calls.map(([node]) => node).sort();
    read.mockClear();
    const second = jsonOf(
      await call({ query: { limit: '2', cursor: first.page.nextCursor as string } }),
    );
    // Assert
    expect(firstReads).toEqual(['NODE1', 'NODE2']);
    expect(read.mock.calls.map(([node]) => node).sort()).toEqual(['NODE3', 'NODE4']);
    expect(second.nodes[0]?.ledger.map((e) => e.updateId)).toHaveLength(12);
  });

  it('ends a page before a node whose ledger would not fit, and starts the next with it', async () => {
    // Arrange: room for all five nodes without NODE3's ledger (about 1,300 bytes), not with it.
    const withLedger = await call({ query: { limit: '3' } });
    const budget = proxyResponseBytes(withLedger) - 200;
    const ledgerBytes = escapedBytes(JSON.stringify(jsonOf(withLedger).nodes[2]?.ledger));
    expect(ledgerBytes).toBeGreaterThan(1000);
    // Act
    const pages = (await allPages({}, { reportBudgetBytes: budget })).map(jsonOf);
    // Assert
    expect(pages[0]?.nodes.map((n) => n.name)).toEqual(['NODE1', 'NODE2']);
    expect(pages[1]?.nodes[0]?.name).toBe('NODE3');
    expect(pages[1]?.nodes[0]?.ledger).toHaveLength(12);
    expect(pages.flatMap((p) => p.nodes.map((n) => n.name))).toEqual(NODES);
  });

  it('holds fewer nodes than ?limit= when that many would not fit', async () => {
    // Arrange: room for about two nodes.
    const two = await call({ query: { limit: '2' } });
    const budget = proxyResponseBytes(two) + 20;
    // Act
    const result = await call({ query: { limit: '5' } }, { reportBudgetBytes: budget });
    // Assert
    const report = jsonOf(result);
    expect(report.nodes.length).toBe(2);
    expect(nextQuery(result)).toEqual({ limit: '5', cursor: report.page.nextCursor });
  });
});

describe('the default budget, on a report that passed Lambda’s 6 MB limit', () => {
  it('answers 13,000 updated nodes in pages under 6,291,456 bytes each, all 13,000 listed', async () => {
    // Arrange: 13,000 nodes that each installed two updates, read from a stubbed store.
    const names = Array.from({ length: 13_000 }, (_, i) => `WEB${String(i + 1).padStart(5, '0')}`);
    const nodes: NodeResultRecord[] = names.map((node) => ({
      runId: 'big',
      node,
      status: 'Succeeded',
      startedAt: '2025-05-13T21:00:00.000Z',
      finishedAt: '2025-05-13T21:20:00.000Z',
      attempts: 1,
    }));
    const updates: StoredUpdateResult[] = names.flatMap((node) =>
      [0, 1].map((index) => ({
        ...update(index, { detail: 'installed "KB5000001", restart pending' }),
        runId: 'big',
        node,
        attempt: 1,
      })),
    );
    vi.spyOn(store, 'getRunItems').mockResolvedValue({
      run: run({
        runId: 'big',
        target: 'WEB',
        targetKind: 'group',
        nodes: names,
        status: 'Succeeded',
      }),
      nodes,
      updates,
    });
    vi.spyOn(store, 'getLedger').mockImplementation(async (node) => ({ node, entries: [] }));
    vi.spyOn(store, 'getLock').mockResolvedValue(undefined);
    const request = (query: Record<string, string> = {}) =>
      makeApiHandler({
        sfn: new SFNClient({ region: 'us-east-1' }),
        store,
        now: () => new Date('2025-05-13T22:30:00.000Z'),
        rolloutStateMachineArn: MACHINE,
      })(apiEvent({ method: 'GET', path: '/rollouts/big/report', query }));
    // Act
    const first = await request();
    const pages = [first];
    for (let cursor = JSON.parse(first.body).page.nextCursor; cursor !== null; ) {
      const page = await request({ cursor });
      pages.push(page);
      cursor = JSON.parse(page.body).page.nextCursor;
    }
    // Assert: the whole report, as the route answered it before paging, was over the limit.
    const reports = pages.map(jsonOf);
    const { page: _page, ...rest } = reports[0] as ReturnType<typeof jsonOf>;
    const unpaged = {
      ...first,
      body: JSON.stringify({ ...rest, nodes: reports.flatMap((r) => r.nodes) }),
    };
    expect(proxyResponseBytes(unpaged)).toBeGreaterThan(LAMBDA_RESPONSE_LIMIT_BYTES);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) {
      expect(page.statusCode).toBe(200);
      expect(proxyResponseBytes(page)).toBeLessThanOrEqual(LAMBDA_RESPONSE_LIMIT_BYTES);
      expect(proxyResponseBytes(page)).toBeLessThanOrEqual(REPORT_BUDGET_BYTES);
    }
    // Full pages: the budget is used, not a few nodes at a time.
    expect(proxyResponseBytes(first)).toBeGreaterThan(REPORT_BUDGET_BYTES * 0.99);
    expect(first.headers?.Link).toMatch(/^<\?cursor=[A-Za-z0-9_-]+>; rel="next"$/);
    expect(reports.flatMap((r) => r.nodes.map((n) => n.name))).toEqual(names);
    expect(reports.every((r) => r.page.nodesTotal === 13_000)).toBe(true);
  }, 60_000);
});
