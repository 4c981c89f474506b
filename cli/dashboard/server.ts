/**
 * `rollout dashboard`'s web server, the way `kubectl argo rollouts dashboard` works: it listens on
 * 127.0.0.1 only, serves one page (cli/dashboard/app.ts, bundled with esbuild, no CDN) and relays
 * the page's `/api/...` requests to the change-management API through a {@link Transport}: the
 * SigV4-signing one of cli/http-backend.ts (the credentials stay in this process; the page sees
 * only the API's answers) or the local control plane's (`rollout local up`).
 *
 * Only the API's own routes are relayed, only with the headers they take. Because the server signs
 * with the operator's credentials, a page of another site must not drive it: an `/api` request must
 * carry the `x-rollout-dashboard` header (a cross-site page cannot send it without a CORS
 * preflight, which is never granted), any Origin must be this server's, and the Host must be the
 * loopback address it listens on (DNS rebinding).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiCall, Transport } from '../backend.js';
import { DASHBOARD_CSS, dashboardHtml } from './page.js';

/** The header every `/api` request of the page carries (see the file comment). */
export const DASHBOARD_HEADER = 'x-rollout-dashboard';

/** The API routes the page may call: method and path pattern (api/openapi.json). */
const ROUTES: readonly (readonly [ApiCall['method'], RegExp])[] = [
  ['GET', /^\/rollouts$/],
  ['GET', /^\/rollouts\/[^/]+$/],
  ['GET', /^\/rollouts\/[^/]+\/report$/],
  ['GET', /^\/rollouts\/[^/]+\/nodes\/[^/]+\/progress$/],
  ['POST', /^\/rollouts\/[^/]+\/(?:cancel|approve|reject)$/],
  ['POST', /^\/scans$/],
  ['GET', /^\/scans\/[^/]+$/],
  ['POST', /^\/stagings$/],
  ['GET', /^\/stagings\/[^/]+$/],
  ['GET', /^\/nodes\/[^/]+\/ledger$/],
  ['POST', /^\/nodes\/[^/]+\/removals$/],
];

/** The request headers relayed to the API; nothing else the browser sends goes on. */
const RELAYED_HEADERS = ['accept', 'content-type', 'idempotency-key'] as const;

const MAX_BODY = 1_048_576;

export interface DashboardOptions {
  /** Where the page's API requests go. */
  readonly transport: Transport;
  /** What the page says it is connected to ("https://…/v1 (eu-west-1)" or the local service). */
  readonly description: string;
  /** 0 for any free port. */
  readonly port: number;
  /** A line for each relayed request that failed. @default - nothing */
  readonly log?: (line: string) => void;
}

export interface Dashboard {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The page's script: bundled at build time (scripts/build-cli.mjs), else now

const APP_SOURCE = fileURLToPath(new URL('./app.ts', import.meta.url));
const APP_BUILT = fileURLToPath(new URL('../../dist/cli/dashboard/app.js', import.meta.url));
/** The build's list of the page's sources (repository-relative), written by build-cli. */
const APP_INPUTS = fileURLToPath(new URL('../../dist/cli/dashboard/inputs.json', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The sources of the page's script: every file the build bundled (its inputs.json:
 * cli/dashboard/ and what it imports, e.g. lambdas/core/, cli/report-pages.ts), else every file
 * of cli/dashboard/ (no build yet). A source gone since the build counts as changed now.
 */
export function dashboardSources(): string[] {
  let inputs: string[];
  try {
    inputs = (JSON.parse(readFileSync(APP_INPUTS, 'utf8')) as { inputs: string[] }).inputs.map(
      (p) => join(REPO, p),
    );
  } catch {
    inputs = readdirSync(dirname(APP_SOURCE))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dirname(APP_SOURCE), f));
  }
  return inputs;
}

function sourceTimes(): number[] {
  return dashboardSources().map((file) => (existsSync(file) ? statSync(file).mtimeMs : Date.now()));
}

/**
 * The bundled script of the page: the build's (dist/cli/dashboard/app.js) when it is newer than
 * every source it was bundled from, else bundled now with esbuild (a dev dependency); the
 * build's as it is when esbuild is not installed.
 */
export async function dashboardScript(): Promise<string> {
  const built = existsSync(APP_BUILT) ? statSync(APP_BUILT).mtimeMs : -1;
  if (built >= Math.max(...sourceTimes())) return readFileSync(APP_BUILT, 'utf8');
  try {
    const { build } = await import('esbuild');
    const result = await build(dashboardBuildOptions(APP_SOURCE, { write: false }));
    const file = result.outputFiles?.[0];
    if (file === undefined) throw new Error('esbuild wrote no file');
    return file.text;
  } catch (error) {
    if (built >= 0) return readFileSync(APP_BUILT, 'utf8');
    throw new Error(
      `the dashboard's script is not built (${APP_BUILT}) and cannot be bundled now: ${(error as Error).message}; run npm run build:cli`,
      { cause: error },
    );
  }
}

/** esbuild's options for the page's script; scripts/build-cli.mjs uses the same. */
export function dashboardBuildOptions(
  entry: string,
  extra: { write: false } | { outfile: string },
) {
  return {
    entryPoints: [entry],
    bundle: true,
    format: 'iife' as const,
    platform: 'browser' as const,
    target: 'es2022',
    logLevel: 'warning' as const,
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// The server

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
) {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
  response.end(body);
}

function sendError(response: ServerResponse, status: number, code: string, message: string) {
  send(response, status, 'application/json', JSON.stringify({ error: { code, message } }));
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new RangeError('request body over 1 MiB');
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 0 ? undefined : Buffer.concat(chunks).toString('utf8');
}

/** Starts the dashboard's server on 127.0.0.1. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const script = await dashboardScript();
  let port = options.port;
  const hosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);

  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      if (!hosts().has(request.headers.host ?? '')) {
        sendError(response, 421, 'WrongHost', `this server answers only 127.0.0.1:${port}`);
        return;
      }
      if (!url.pathname.startsWith('/api/')) {
        if (request.method !== 'GET') {
          sendError(response, 405, 'MethodNotAllowed', `${request.method} ${url.pathname}`);
        } else if (url.pathname === '/' || url.pathname === '/index.html') {
          send(response, 200, 'text/html; charset=utf-8', dashboardHtml(options.description));
        } else if (url.pathname === '/app.js') {
          send(response, 200, 'text/javascript; charset=utf-8', script);
        } else if (url.pathname === '/app.css') {
          send(response, 200, 'text/css; charset=utf-8', DASHBOARD_CSS);
        } else {
          sendError(response, 404, 'NotFound', `no page ${url.pathname}`);
        }
        return;
      }
      const origin = request.headers.origin;
      if (
        request.headers[DASHBOARD_HEADER] !== '1' ||
        (origin && !hosts().has(new URL(origin).host))
      ) {
        sendError(
          response,
          403,
          'Forbidden',
          'only the dashboard page of this server may call its API',
        );
        return;
      }
      const path = url.pathname.slice('/api'.length);
      const method =
        request.method === 'POST' ? 'POST' : request.method === 'GET' ? 'GET' : undefined;
      if (method === undefined || !ROUTES.some(([m, re]) => m === method && re.test(path))) {
        sendError(response, 404, 'NoSuchRoute', `the API has no route ${request.method} ${path}`);
        return;
      }
      try {
        const body = await readBody(request);
        const headers: Record<string, string> = {};
        for (const name of RELAYED_HEADERS) {
          const value = request.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        const answer = await options.transport({
          method,
          path,
          query: Object.fromEntries(url.searchParams),
          headers,
          ...(body === undefined ? {} : { body }),
        });
        const type = answer.headers['content-type'] ?? 'application/json';
        send(response, answer.status, type, answer.body);
      } catch (error) {
        // A BackendError (no answer: network, credentials) carries its code; nothing secret.
        const e = error as { code?: unknown; message?: string };
        options.log?.(`${method} ${path}: ${e.message ?? String(error)}`);
        sendError(
          response,
          502,
          typeof e.code === 'string' ? e.code : 'ApiUnreachable',
          e.message ?? String(error),
        );
      }
    })().catch((error: unknown) => {
      options.log?.(`request failed: ${(error as Error).message}`);
      if (!response.headersSent)
        sendError(response, 500, 'DashboardError', (error as Error).message);
      else response.end();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, '127.0.0.1', () => done());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
