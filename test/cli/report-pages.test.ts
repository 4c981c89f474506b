/**
 * The CLI follows the report's pages: `rollout report` over HTTPS, against the real API handler
 * (RunStore on dynalite) with a small response budget so a five-node report comes in pages, shows
 * the whole report; `--json` stays one report; the CSV of getReport joins the pages' rows.
 */
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiBackend, nextCursorOf, type RunReport } from '../../cli/backend.js';
import { createHttpBackend } from '../../cli/http-backend.js';
import { main } from '../../cli/main.js';
import { joinReportPages } from '../../cli/report-pages.js';
import { reportToCsv } from '../../lambdas/core/api-model.js';
import { proxyResponseBytes } from '../../lambdas/core/report-pages.js';
import { makeApiHandler } from '../../lambdas/handlers/api.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';
import { apiEvent } from '../helpers/api-event.js';
import { useDynalite } from '../helpers/dynalite.js';

const sfn = mockClient(SFNClient);
const ENDPOINT = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NODES = ['NODE1', 'NODE2', 'NODE3', 'NODE4', 'NODE5'];
const db = useDynalite();
let store: RunStore;

beforeAll(() => {
  logger.setLogLevel('SILENT');
});

beforeEach(async () => {
  const { tableName, client } = await db.table('cli-report-pages', {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new RunStore({ client, tableName });
  sfn
    .on(DescribeExecutionCommand)
    .rejects(new ExecutionDoesNotExist({ message: 'no such execution', $metadata: {} }));
  await store.putRun({
    runId: 'r-1',
    target: 'CLUSTER1',
    targetKind: 'cluster',
    nodes: NODES,
    maxFailedNodes: 1,
    status: 'Succeeded',
    startedAt: '2026-01-13T21:00:00.000Z',
    finishedAt: '2026-01-13T22:00:00.000Z',
    changeTicket: { system: 'ServiceNow', id: 'CHG1' },
    requestedBy: 'alice',
  });
  for (const node of NODES) {
    await store.putNodeResult('r-1', node, {
      status: 'Succeeded',
      startedAt: '2026-01-13T21:00:00.000Z',
    });
    await store.putUpdateResults('r-1', node, 1, [
      {
        index: 0,
        plugin: 'Microsoft.WindowsUpdatePlugin',
        update: 'KB5034439',
        exitCode: 3010,
        outcome: 'Success_RebootRequired',
        rebootRequired: true,
        rebootInitiated: true,
        transient: false,
        durationSeconds: 90,
        logTail: '',
        detail: 'restart "pending", then done',
      },
    ]);
  }
});

afterEach(() => {
  sfn.reset();
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

/**
 * A fetch that is API Gateway in front of the real handler: the stage stripped from the path,
 * the query and headers passed on, the handler's status, headers and body sent back.
 */
function gateway(reportBudgetBytes?: number) {
  const handler = makeApiHandler({
    sfn: new SFNClient({ region: 'eu-west-1' }),
    store,
    now: () => new Date('2026-01-13T22:30:00Z'),
    rolloutStateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:Rollout',
    ...(reportBudgetBytes === undefined ? {} : { reportBudgetBytes }),
  });
  const sent: URL[] = [];
  const fetch = (async (input: string | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    sent.push(url);
    const headers = Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k, v]),
    );
    const result = await handler(
      apiEvent({
        method: init.method ?? 'GET',
        path: url.pathname.replace(/^\/prod/, ''),
        query: Object.fromEntries(url.searchParams),
        headers,
      }),
    );
    return new Response(result.body, {
      status: result.statusCode,
      headers: result.headers as Record<string, string>,
    });
  }) as typeof globalThis.fetch;
  return { fetch, sent };
}

/** A budget that holds the run-level fields and about two nodes. */
async function twoNodeBudget(accept = 'application/json'): Promise<number> {
  const handler = makeApiHandler({
    sfn: new SFNClient({ region: 'eu-west-1' }),
    store,
    now: () => new Date('2026-01-13T22:30:00Z'),
    rolloutStateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:Rollout',
  });
  const two = await handler(
    apiEvent({
      method: 'GET',
      path: '/rollouts/r-1/report',
      query: { limit: '2' },
      headers: { Accept: accept },
    }),
  );
  return proxyResponseBytes(two) + 30;
}

describe('the CLI follows the report’s pages', () => {
  it('rollout report --json is the whole report, one JSON document, after three requests', async () => {
    // Arrange
    const { fetch, sent } = gateway(await twoNodeBudget());
    vi.stubGlobal('fetch', fetch);
    vi.stubEnv('AWS_ACCESS_KEY_ID', CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    const out: string[] = [];
    const err: string[] = [];
    // Act
    const status = await main(
      ['report', 'r-1', '--endpoint', ENDPOINT, '--region', 'eu-west-1', '--json'],
      { out: (t) => out.push(t), err: (t) => err.push(t), cwd: process.cwd() },
    );
    // Assert
    expect(err.join('\n')).toBe('');
    expect(status).toBe(0);
    const report = JSON.parse(out.join('\n')) as RunReport;
    expect(report.nodes.map((n) => n.name)).toEqual(NODES);
    expect(report.page).toEqual({ nodesTotal: 5, start: 0, nextCursor: null });
    expect(report).toMatchObject({ runId: 'r-1', status: 'Succeeded', requestedBy: 'alice' });
    expect(sent.map((u) => u.pathname)).toEqual([
      '/prod/rollouts/r-1/report',
      '/prod/rollouts/r-1/report',
      '/prod/rollouts/r-1/report',
    ]);
    expect(sent.map((u) => u.searchParams.has('cursor'))).toEqual([false, true, true]);
  });

  it('rollout report (text) lists every node, not the first page’s', async () => {
    // Arrange
    const { fetch } = gateway(await twoNodeBudget());
    vi.stubGlobal('fetch', fetch);
    vi.stubEnv('AWS_ACCESS_KEY_ID', CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    const out: string[] = [];
    // Act
    const status = await main(['report', 'r-1', '--endpoint', ENDPOINT, '--region', 'eu-west-1'], {
      out: (t) => out.push(t),
      err: () => undefined,
      cwd: process.cwd(),
    });
    // Assert
    expect(status).toBe(0);
    for (const node of NODES) expect(out.join('\n')).toContain(node);
  });

  it('getReport joins the pages: JSON equal to the unpaged report, CSV equal to its CSV', async () => {
    // Arrange
    const whole = await createHttpBackend({
      endpoint: ENDPOINT,
      credentials: CREDENTIALS,
      fetch: gateway().fetch,
    }).getReport('r-1', 'json');
    const pagedJson = gateway(await twoNodeBudget());
    const pagedCsv = gateway(await twoNodeBudget('text/csv'));
    const http = (fetch: typeof globalThis.fetch) =>
      createHttpBackend({ endpoint: ENDPOINT, credentials: CREDENTIALS, fetch });
    // Act
    const json = await http(pagedJson.fetch).getReport('r-1', 'json');
    const csv = await http(pagedCsv.fetch).getReport('r-1', 'csv');
    // Assert
    expect(json).toEqual(whole);
    expect(csv).toBe(reportToCsv(whole));
    expect(pagedJson.sent).toHaveLength(3);
    expect(pagedCsv.sent).toHaveLength(3);
  });

  it('stops with an error when the API hands back a cursor it gave before', async () => {
    // Arrange: a broken API whose every page points at the same next page.
    const page = {
      runId: 'r-1',
      nodes: [],
      page: { nodesTotal: 9, start: 0, nextCursor: 'c1' },
    };
    const backend = apiBackend(
      async () => ({ status: 200, headers: {}, body: JSON.stringify(page) }),
      'a looping API',
    );
    // Act / Assert
    await expect(backend.getReport('r-1', 'json')).rejects.toThrow(
      `the report's pages do not end: the API gave the cursor "c1" twice`,
    );
    const csv = apiBackend(
      async () => ({ status: 200, headers: { link: '<?cursor=c1>; rel="next"' }, body: 'a\r\n' }),
      'a looping API',
    );
    await expect(csv.getReport('r-1', 'csv')).rejects.toThrow(
      `the report's pages do not end: the API gave the cursor "c1" twice`,
    );
  });
});

describe('joinReportPages (the CLI’s and the dashboard’s report page)', () => {
  const report = (names: string[], start: number, nextCursor: string | null, total = 5) =>
    ({
      runId: 'r-1',
      status: 'Succeeded',
      page: { nodesTotal: total, start, nextCursor },
      nodes: names.map((name) => ({ name })),
    }) as unknown as RunReport;

  it('asks for each next page, tells its progress, and joins the nodes in order', async () => {
    // Arrange
    const pages: Record<string, RunReport> = {
      first: report(['N1', 'N2'], 0, 'c2'),
      c2: report(['N3', 'N4'], 2, 'c4'),
      c4: report(['N5'], 4, null),
    };
    const asked: (string | undefined)[] = [];
    const progress: string[] = [];
    // Act
    const joined = await joinReportPages(
      async (cursor) => {
        asked.push(cursor);
        return pages[cursor ?? 'first'] as RunReport;
      },
      (sofar, total) => progress.push(`${sofar}/${total}`),
    );
    // Assert
    expect(asked).toEqual([undefined, 'c2', 'c4']);
    expect(progress).toEqual(['2/5', '4/5']);
    expect(joined.nodes.map((n) => n.name)).toEqual(['N1', 'N2', 'N3', 'N4', 'N5']);
    expect(joined.page).toEqual({ nodesTotal: 5, start: 0, nextCursor: null });
    expect(joined).toMatchObject({ runId: 'r-1', status: 'Succeeded' });
  });

  it('gives back a report without a next page as it came (one request)', async () => {
    const whole = report(['N1'], 0, null, 1);
    const asked: (string | undefined)[] = [];
    const joined = await joinReportPages(async (cursor) => {
      asked.push(cursor);
      return whole;
    });
    expect(joined).toBe(whole);
    expect(asked).toEqual([undefined]);
  });
});

describe('nextCursorOf', () => {
  const answer = (link?: string) => {
    const headers: Record<string, string> = link === undefined ? {} : { link };
    return { status: 200, headers, body: '' };
  };
  it.each([
    { link: undefined, cursor: undefined, source: 'no Link header: the last page' },
    { link: '<?cursor=abc>; rel="next"', cursor: 'abc', source: 'the API’s own' },
    { link: '<?limit=2&cursor=a_b-c>; rel="next"', cursor: 'a_b-c', source: 'with a limit' },
    {
      link: '<https://h/v1/rollouts/r/report?cursor=xyz>; rel=next',
      cursor: 'xyz',
      source: 'an absolute reference, rel unquoted',
    },
    {
      link: '<?cursor=p>; rel="prev", <?cursor=n>; rel="next"',
      cursor: 'n',
      source: 'next among other relations',
    },
    { link: '<?cursor=p>; rel="prev"', cursor: undefined, source: 'no next relation' },
    {
      link: '<?cursor=x>; rel="nextish"',
      cursor: undefined,
      source: 'a relation that is not next',
    },
  ])('$source', ({ link, cursor }) => {
    expect(nextCursorOf(answer(link))).toBe(cursor);
  });
});
