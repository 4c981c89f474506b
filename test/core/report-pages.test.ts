/**
 * report-pages: the report's query, its cursors, and how many nodes a page holds. Small budgets
 * stand in for Lambda's 6 MB; the test of the default budget against a real oversized report is
 * in test/handlers/api-report-pages.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../lambdas/core/api-model.js';
import {
  decodeReportCursor,
  encodeReportCursor,
  escapedBytes,
  LAMBDA_RESPONSE_LIMIT_BYTES,
  MAX_REPORT_PAGE_SIZE,
  nextLinkHeader,
  proxyResponseBytes,
  REPORT_BUDGET_BYTES,
  reportPage,
  reportQuerySchema,
} from '../../lambdas/core/report-pages.js';
import { apiError } from '../helpers/api-error.js';

const cursorOf = (fields: unknown) =>
  Buffer.from(JSON.stringify(fields), 'utf8').toString('base64url');

describe('the limits', () => {
  it('leaves a margin below Lambda’s 6 MB response limit', () => {
    expect(LAMBDA_RESPONSE_LIMIT_BYTES).toBe(6 * 1024 * 1024);
    expect(REPORT_BUDGET_BYTES).toBeLessThan(LAMBDA_RESPONSE_LIMIT_BYTES);
    expect(REPORT_BUDGET_BYTES).toBeGreaterThan(LAMBDA_RESPONSE_LIMIT_BYTES * 0.9);
  });
});

describe('reportQuerySchema', () => {
  const goodCursor = encodeReportCursor({ rolloutId: 'run-1', start: 5 });
  it.each([
    { query: {}, read: {}, source: 'no query: the whole report, or its first page' },
    { query: { limit: '1' }, read: { limit: 1 }, source: 'the smallest page' },
    {
      query: { limit: String(MAX_REPORT_PAGE_SIZE) },
      read: { limit: MAX_REPORT_PAGE_SIZE },
      source: 'the largest page',
    },
    { query: { limit: '00020' }, read: { limit: 20 }, source: 'leading zeros are a number' },
    {
      query: { cursor: goodCursor, limit: '50' },
      read: { cursor: goodCursor, limit: 50 },
      source: 'a next page',
    },
    { query: { cursor: 'x'.repeat(512) }, read: { cursor: 'x'.repeat(512) }, source: 'longest' },
  ])('reads $source', ({ query, read }) => {
    expect(parseRequest('the query', reportQuerySchema, query)).toEqual(read);
  });

  const LIMIT = `expected a whole number from 1 to ${MAX_REPORT_PAGE_SIZE}`;
  const CURSOR = 'expected the nextCursor of the previous page';
  it.each([
    { query: { limit: '0' }, field: 'limit', value: '0', message: LIMIT },
    { query: { limit: '10001' }, field: 'limit', value: '10001', message: LIMIT },
    { query: { limit: '100000' }, field: 'limit', value: '100000', message: LIMIT },
    { query: { limit: '-1' }, field: 'limit', value: '-1', message: LIMIT },
    { query: { limit: '1.5' }, field: 'limit', value: '1.5', message: LIMIT },
    { query: { limit: 'ten' }, field: 'limit', value: 'ten', message: LIMIT },
    { query: { limit: '' }, field: 'limit', value: '', message: LIMIT },
    { query: { cursor: '' }, field: 'cursor', value: '', message: CURSOR },
    { query: { cursor: 'a b' }, field: 'cursor', value: 'a b', message: CURSOR },
    { query: { cursor: 'abc=' }, field: 'cursor', value: 'abc=', message: CURSOR },
    {
      query: { cursor: 'x'.repeat(513) },
      field: 'cursor',
      value: 'x'.repeat(513),
      message: CURSOR,
    },
  ])('refuses $field $value, naming both', ({ query, field, value, message }) => {
    const error = apiError(() => parseRequest('the query', reportQuerySchema, query));
    expect(error).toMatchObject({ status: 400, code: 'ValidationFailed' });
    expect(error.problems).toEqual([expect.objectContaining({ field, value, message })]);
  });

  it('refuses a query parameter it does not know, by name', () => {
    const error = apiError(() => parseRequest('the query', reportQuerySchema, { offset: '10' }));
    expect(error).toMatchObject({ status: 400, field: 'offset', value: '10' });
    expect(error.problems).toEqual([
      { field: 'offset', value: '10', message: 'unknown field; accepted here: limit, cursor' },
    ]);
  });
});

describe('report cursors', () => {
  it.each([
    { start: 0, nodesTotal: 1 },
    { start: 1, nodesTotal: 2 },
    { start: 12_345, nodesTotal: 100_000 },
    { start: 99_999, nodesTotal: 100_000 },
  ])('give back where page $start starts (of $nodesTotal)', ({ start, nodesTotal }) => {
    const cursor = encodeReportCursor({ rolloutId: 'run-1', start });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parseRequest('the query', reportQuerySchema, { cursor })).toEqual({ cursor });
    expect(decodeReportCursor(cursor, { rolloutId: 'run-1', nodesTotal })).toBe(start);
  });

  it.each([
    { cursor: '!!!', reason: 'not a cursor this API returned', source: 'not base64url' },
    { cursor: 'bm90IGpzb24', reason: 'not a cursor this API returned', source: 'not JSON' },
    { cursor: cursorOf(null), reason: 'not a cursor this API returned', source: 'JSON null' },
    { cursor: cursorOf(7), reason: 'not a cursor this API returned', source: 'a number' },
    { cursor: cursorOf('ab'), reason: 'not a cursor this API returned', source: 'a string' },
    { cursor: cursorOf(['run-1', 1]), reason: 'not a cursor this API returned', source: 'array' },
    {
      cursor: cursorOf({ r: 'run-1' }),
      reason: 'not a cursor this API returned',
      source: 'no start',
    },
    {
      cursor: cursorOf({ r: 'run-1', s: 1, x: 0 }),
      reason: 'not a cursor this API returned',
      source: 'a field more',
    },
    {
      cursor: cursorOf({ r: 1, s: 1 }),
      reason: 'not a cursor this API returned',
      source: 'a rollout id that is no string',
    },
    {
      cursor: cursorOf({ r: 'run-1', s: '1' }),
      reason: 'not a cursor this API returned',
      source: 'a start that is a string',
    },
    {
      cursor: cursorOf({ r: 'run-1', s: 1.5 }),
      reason: 'not a cursor this API returned',
      source: 'a start that is no whole number',
    },
    {
      cursor: cursorOf({ r: 'run-1', s: -1 }),
      reason: 'not a cursor this API returned',
      source: 'a negative start',
    },
    {
      cursor: encodeReportCursor({ rolloutId: 'run-2', start: 1 }),
      reason: 'it belongs to rollout "run-2"',
      source: 'another rollout’s cursor',
    },
    {
      cursor: encodeReportCursor({ rolloutId: 'run-1', start: 10 }),
      reason: "it starts at node 11, past the report's 10 nodes",
      source: 'a start past the last node',
    },
    {
      cursor: encodeReportCursor({ rolloutId: 'run-1', start: 11 }),
      reason: "it starts at node 12, past the report's 10 nodes",
      source: 'a start further past',
    },
  ])('refuses $source as a 400 naming the cursor', ({ cursor, reason }) => {
    const error = apiError(() =>
      decodeReportCursor(cursor, { rolloutId: 'run-1', nodesTotal: 10 }),
    );
    expect(error).toMatchObject({
      status: 400,
      code: 'ValidationFailed',
      field: 'cursor',
      value: cursor,
    });
    expect(error.message).toBe(
      `cursor ${JSON.stringify(cursor)}: ${reason}; pass back the nextCursor of the previous page unchanged`,
    );
  });

  it('shows at most 60 characters of a long cursor in the message, and all of it as the value', () => {
    const cursor = 'A'.repeat(200);
    const error = apiError(() =>
      decodeReportCursor(cursor, { rolloutId: 'run-1', nodesTotal: 10 }),
    );
    expect(error.message.startsWith(`cursor "${'A'.repeat(60)}": `)).toBe(true);
    expect(error.value).toBe(cursor);
  });

  it('accepts a start of 0 (the first page) and the last node', () => {
    const at = (start: number) => encodeReportCursor({ rolloutId: 'run-1', start });
    expect(decodeReportCursor(at(0), { rolloutId: 'run-1', nodesTotal: 10 })).toBe(0);
    expect(decodeReportCursor(at(9), { rolloutId: 'run-1', nodesTotal: 10 })).toBe(9);
  });
});

describe('sizes as Lambda counts them', () => {
  it.each([
    { text: '', bytes: 0, source: 'nothing' },
    { text: 'NODE1', bytes: 5, source: 'plain ASCII' },
    { text: '"a"', bytes: 5, source: 'quotes are escaped: \\"' },
    { text: 'a\r\nb', bytes: 6, source: 'CR LF are \\r\\n' },
    { text: 'C:\\Windows', bytes: 11, source: 'a backslash doubles' },
    { text: 'é', bytes: 2, source: 'UTF-8: two bytes' },
    { text: '\u0001', bytes: 6, source: 'a control character is \\u0001' },
  ])('escapedBytes: $source', ({ text, bytes }) => {
    expect(escapedBytes(text)).toBe(bytes);
  });

  it('proxyResponseBytes is the serialized result, its body escaped', () => {
    const result = { statusCode: 200, body: '{"a":"é"}' };
    expect(proxyResponseBytes(result)).toBe(
      Buffer.byteLength('{"statusCode":200,"body":"{\\"a\\":\\"é\\"}"}'),
    );
  });

  it('the escaping of a concatenation is the sum of its parts’ (why a page can be measured node by node)', () => {
    const parts = ['{"name":"N1","detail":"a\\"b"}', ',', '{"name":"N2é"}\r\n'];
    expect(escapedBytes(parts.join(''))).toBe(parts.map(escapedBytes).reduce((a, b) => a + b, 0));
  });
});

describe('reportPage', () => {
  /** Nodes of the given sizes, an empty response of `empty` bytes plus the cursor's length. */
  const page = (
    sizes: readonly number[],
    options: { start?: number; limit?: number; budget: number; empty?: number },
  ) => {
    const measured: number[] = [];
    const result = reportPage({
      rolloutId: 'run-1',
      nodesTotal: sizes.length,
      start: options.start ?? 0,
      limit: options.limit,
      budgetBytes: options.budget,
      emptyResponseBytes: (cursor) => (options.empty ?? 100) + cursor.length,
      nodeBytes: (index) => {
        measured.push(index);
        return sizes[index] as number;
      },
    });
    return { ...result, measured };
  };
  // The longest cursor of a 5-node report (start 5) is this long.
  const CURSOR5 = encodeReportCursor({ rolloutId: 'run-1', start: 5 }).length;
  const next = (start: number) => encodeReportCursor({ rolloutId: 'run-1', start });

  it.each([
    { budget: 100 + CURSOR5 + 50, end: 5, source: 'exactly the budget: all of it' },
    { budget: 100 + CURSOR5 + 49, end: 4, source: 'a byte short: the last node waits' },
    { budget: 100 + CURSOR5 + 30, end: 3, source: 'three nodes' },
    { budget: 100 + CURSOR5 + 29, end: 2, source: 'a byte short of three' },
    { budget: 100 + CURSOR5 + 10, end: 1, source: 'one node' },
    { budget: 1, end: 1, source: 'nothing fits: still one node, so a client gets further' },
  ])('holds what fits: $source', ({ budget, end }) => {
    const result = page([10, 10, 10, 10, 10], { budget });
    expect(result.end).toBe(end);
    expect(result.nextCursor).toBe(end < 5 ? next(end) : null);
  });

  it.each([
    { start: 0, limit: 2, end: 2, cursor: 2, source: 'the first page of two' },
    { start: 2, limit: 2, end: 4, cursor: 4, source: 'the second' },
    { start: 4, limit: 2, end: 5, cursor: null, source: 'the last, shorter page' },
    { start: 3, limit: undefined, end: 5, cursor: null, source: 'no limit: the rest' },
    { start: 0, limit: 5, end: 5, cursor: null, source: 'a limit of all the nodes' },
    { start: 0, limit: 10_000, end: 5, cursor: null, source: 'a limit above the nodes' },
  ])('pages by limit within a large budget: $source', ({ start, limit, end, cursor }) => {
    const result = page([10, 10, 10, 10, 10], { start, limit, budget: 1_000_000 });
    expect(result.end).toBe(end);
    expect(result.nextCursor).toBe(cursor === null ? null : next(cursor));
  });

  it('stops at whichever comes first, the limit or the budget', () => {
    expect(page([10, 10, 10, 10, 10], { limit: 2, budget: 100 + CURSOR5 + 30 }).end).toBe(2);
    expect(page([10, 10, 10, 10, 10], { limit: 4, budget: 100 + CURSOR5 + 30 }).end).toBe(3);
  });

  it('weighs each node by its own size, from the page’s start', () => {
    // 100 + cursor, then 5, 40, 5: the second page (from node 1) fits 40 + 5 in 45.
    expect(page([5, 40, 5], { start: 1, budget: 100 + CURSOR5 + 45 }).end).toBe(3);
    const result = page([5, 40, 5], { start: 1, budget: 100 + CURSOR5 + 44 });
    expect(result.end).toBe(2);
    expect(result.measured).toEqual([1, 2]);
  });

  it('measures the empty response with the longest cursor of the report', () => {
    const seen: string[] = [];
    reportPage({
      rolloutId: 'run-1',
      nodesTotal: 12_000,
      start: 0,
      limit: 3,
      budgetBytes: 1_000_000,
      emptyResponseBytes: (cursor) => {
        seen.push(cursor);
        return 0;
      },
      nodeBytes: () => 1,
    });
    expect(seen).toEqual([next(12_000)]);
  });

  it('an empty report is one page with no next', () => {
    expect(page([], { budget: 1 })).toEqual({ end: 0, nextCursor: null, measured: [] });
  });

  it('reads no node beyond the page', () => {
    expect(page([10, 10, 10, 10, 10], { limit: 2, budget: 1_000_000 }).measured).toEqual([0, 1]);
  });
});

describe('nextLinkHeader', () => {
  it.each([
    { cursor: 'abc_-1', limit: undefined, link: '<?cursor=abc_-1>; rel="next"' },
    { cursor: 'abc_-1', limit: 50, link: '<?limit=50&cursor=abc_-1>; rel="next"' },
  ])('is relative to the request: $link', ({ cursor, limit, link }) => {
    expect(nextLinkHeader(cursor, limit)).toBe(link);
  });

  it('resolves to the same report with the next cursor (RFC 3986 §5.2)', () => {
    const link = nextLinkHeader('Y3Vyc29y', 10);
    const target = /^<(?<ref>[^>]+)>; rel="next"$/.exec(link)?.groups?.ref;
    const url = new URL(
      target as string,
      'https://api.example.com/v1/rollouts/run-1/report?limit=10',
    );
    expect(url.pathname).toBe('/v1/rollouts/run-1/report');
    expect(Object.fromEntries(url.searchParams)).toEqual({ limit: '10', cursor: 'Y3Vyc29y' });
  });
});
