/**
 * Issue 12 §1: the dashboard's server relays only the API's routes, only with the headers they
 * take, only for its own page (it signs with the operator's credentials), and the page it serves
 * loads nothing from elsewhere.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiCall } from '../../cli/backend.js';
import { dashboardTransport } from '../../cli/commands/dashboard.js';
import { type Dashboard, dashboardSources, startDashboard } from '../../cli/dashboard/server.js';

const calls: ApiCall[] = [];
let dashboard: Dashboard;

beforeAll(async () => {
  dashboard = await startDashboard({
    port: 0,
    description: 'https://api.example.invalid/v1 <b>(eu-west-1)</b>',
    transport: async (call) => {
      calls.push(call);
      if (call.path === '/rollouts/boom')
        throw Object.assign(new Error('no answer'), { code: 'Timeout' });
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: call.path, query: call.query }),
      };
    },
  });
});
afterAll(() => dashboard.close());

/** A raw request (fetch would not let a test set Host). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(dashboard.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { host: url.host, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const page = { 'x-rollout-dashboard': '1' };

describe('rollout dashboard server', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dashboard.server.address()).toMatchObject({ address: '127.0.0.1' });
  });

  it('serves the page, its script and style, with a CSP that allows nothing from elsewhere', async () => {
    const html = await raw('GET', '/');
    expect(html.status).toBe(200);
    expect(html.headers['content-security-policy']).toContain("default-src 'none'");
    expect(html.headers['content-security-policy']).toContain("script-src 'self'");
    expect(html.body).toContain('<script src="/app.js">');
    expect(html.body).not.toMatch(/https?:\/\/(?!api\.example\.invalid)/);
    // The backend's description is escaped into the page.
    expect(html.body).toContain('&lt;b&gt;(eu-west-1)&lt;/b&gt;');
    const script = await raw('GET', '/app.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toContain('javascript');
    expect(script.body).toContain('x-rollout-dashboard');
    expect((await raw('GET', '/app.css')).status).toBe(200);
    expect((await raw('GET', '/nothing')).status).toBe(404);
  });

  it('relays an API route with its query and only the headers the API takes', async () => {
    calls.length = 0;
    const answer = await raw('GET', '/api/rollouts?cluster=CLUSTER1&limit=5', {
      ...page,
      accept: 'application/json',
      cookie: 'secret=1',
      authorization: 'Bearer x',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      path: '/rollouts',
      query: { cluster: 'CLUSTER1', limit: '5' },
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers).toEqual({ accept: 'application/json' });
  });

  it('relays a POST body as sent, path parameters still encoded', async () => {
    calls.length = 0;
    const answer = await raw(
      'POST',
      '/api/rollouts/run%2F1/approve',
      { ...page, 'content-type': 'application/json' },
      '{"comment":"ok"}',
    );
    expect(answer.status).toBe(200);
    expect(calls[0]).toMatchObject({
      method: 'POST',
      path: '/rollouts/run%2F1/approve',
      body: '{"comment":"ok"}',
    });
  });

  it('relays the staging routes the staging page calls, and no other staging path', async () => {
    calls.length = 0;
    const started = await raw(
      'POST',
      '/api/stagings',
      { ...page, 'content-type': 'application/json' },
      '{"target":{"kind":"cluster","name":"C"}}',
    );
    const read = await raw('GET', '/api/stagings/stage%2F1', page);
    const other = await raw('POST', '/api/stagings/stage-1', page);
    expect([started.status, read.status, other.status]).toEqual([200, 200, 404]);
    expect(calls.map((c) => [c.method, c.path])).toEqual([
      ['POST', '/stagings'],
      ['GET', '/stagings/stage%2F1'],
    ]);
  });

  it.each([
    ['without the page header', 'GET', '/api/rollouts?cluster=C', {}, 403],
    [
      'from another origin',
      'POST',
      '/api/rollouts/r/cancel',
      { ...page, origin: 'https://evil.example' },
      403,
    ],
    ['a route the API does not have', 'GET', '/api/secrets', page, 404],
    [
      'force-recovery (not offered by the page)',
      'POST',
      '/api/targets/C/force-recovery',
      page,
      404,
    ],
    ['a DELETE', 'DELETE', '/api/rollouts/r', page, 404],
  ] as const)(
    'refuses a request %s, and relays nothing',
    async (_why, method, path, headers, status) => {
      calls.length = 0;
      const answer = await raw(method, path, headers);
      expect(answer.status).toBe(status);
      expect(JSON.parse(answer.body).error.code).toBeTypeOf('string');
      expect(calls).toHaveLength(0);
    },
  );

  it('refuses a request for another Host (DNS rebinding)', async () => {
    calls.length = 0;
    const answer = await raw('GET', '/api/rollouts?cluster=C', {
      ...page,
      host: 'attacker.example:80',
    });
    expect(answer.status).toBe(421);
    expect(calls).toHaveLength(0);
  });

  it('answers 502 with the code when the API gave no answer', async () => {
    const answer = await raw('GET', '/api/rollouts/boom', page);
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body).error).toEqual({ code: 'Timeout', message: 'no answer' });
  });
});

describe("the page's script is rebuilt when any source it bundles changed", () => {
  it('compares the build with every file it bundled, not only cli/dashboard/ (npm ci builds it)', () => {
    const sources = dashboardSources().map((f) => f.replaceAll('\\', '/'));
    // A change in what app.ts imports (the report's pages, the ledger's rules) must count too.
    expect(sources.some((f) => f.endsWith('/cli/report-pages.ts'))).toBe(true);
    expect(sources.some((f) => f.endsWith('/lambdas/core/install-ledger.ts'))).toBe(true);
    expect(sources.some((f) => f.endsWith('/cli/dashboard/app.ts'))).toBe(true);
  });
});

describe('rollout dashboard flags', () => {
  const io = { out: () => undefined, err: () => undefined, cwd: process.cwd() };
  it('--local with --endpoint is refused, naming the flag', async () => {
    await expect(dashboardTransport(io, { local: true, endpoint: 'https://x' })).rejects.toThrow(
      '--endpoint is for the deployed API',
    );
  });
  it('--local without a running control plane says to start one', async () => {
    await expect(
      dashboardTransport(io, { local: true, 'data-dir': '/nonexistent/rollout-data' }),
    ).rejects.toThrow('start one with rollout local up');
  });
  it('without --endpoint or ROLLOUT_API_URL it says what is needed', async () => {
    const saved = process.env.ROLLOUT_API_URL;
    delete process.env.ROLLOUT_API_URL;
    try {
      await expect(dashboardTransport(io, {})).rejects.toThrow('--endpoint <url> is required');
    } finally {
      if (saved !== undefined) process.env.ROLLOUT_API_URL = saved;
    }
  });
});
