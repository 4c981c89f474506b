/**
 * The local control plane as a service that lives between commands (`rollout local up|down`):
 * one process holds a sandbox (the synthesized workflows, the real handlers, the scenario's
 * simulated fleet) and serves the change-management API's routes over HTTP on 127.0.0.1, while
 * its virtual clock runs at `speed` simulated seconds per real second. The `--local` commands
 * find it through `<data>/service.json` and talk to it as they talk to the deployed API (without
 * signing: it listens on loopback only).
 *
 * The data folder (`--data-dir`, else ROLLOUT_LOCAL_DATA, else `rollout/local` under the user's
 * state folder: $XDG_STATE_HOME or ~/.local/state, never the repository) holds `service.json`
 * (pid, URL, scenario), `service.log`, the run store (`store/`, dynalite's LevelDB) and the virtual
 * clock (`clock.json`). `local down` + `local up` keeps runs, ledgers and locks, and the clock
 * goes on from where it stopped; the scenario's own rollouts run only when the store is new. A
 * rollout still under way at `local down` loses its execution (the workflows live in the
 * process): it stays Running with its target locked until `rollout force-recovery --local`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from './args.js';
import {
  type ApiAnswer,
  type ApiCall,
  apiBackend,
  type RolloutBackend,
  type Transport,
} from './backend.js';

/** What `service.json` holds. */
export interface LocalService {
  readonly pid: number;
  readonly url: string;
  readonly scenario: string;
  readonly startedAt: string;
  /** Simulated seconds per real second. */
  readonly speed: number;
  /** The scenario's first rollout, target.nodes filled in: what `start --local` sends by default. */
  readonly defaultInput?: unknown;
}

export const DEFAULT_SPEED = 60;

/**
 * The data folder: the one given, else ROLLOUT_LOCAL_DATA, else `rollout/local` under the user's
 * state folder ($XDG_STATE_HOME, else ~/.local/state).
 */
export function localDataDir(cwd: string, given?: string): string {
  const chosen = given ?? process.env.ROLLOUT_LOCAL_DATA;
  if (chosen !== undefined && chosen.trim() !== '') return resolve(cwd, chosen);
  const state = process.env.XDG_STATE_HOME?.trim() || join(homedir(), '.local', 'state');
  return join(resolve(state), 'rollout', 'local');
}

/** Where the virtual clock stood when the service last stopped (or last ticked). */
const clockFile = (dir: string) => join(dir, 'clock.json');

function savedClock(dir: string): Date | undefined {
  try {
    const at = new Date((JSON.parse(readFileSync(clockFile(dir), 'utf8')) as { now: string }).now);
    return Number.isNaN(at.getTime()) ? undefined : at;
  } catch {
    return undefined;
  }
}

const serviceFile = (dir: string) => join(dir, 'service.json');

/**
 * The safety invariants of the runs that ended under the service (`invariants.json`): every
 * rollout execution is checked once as it ends (the scenario's, the API's, a window's), as the
 * sandbox command checks a scenario's runs, and every staging execution against stagingSafe.
 * Kept across `local down` / `local up`.
 */
export interface LocalInvariants {
  /** Rollout and staging executions checked. */
  readonly checked: number;
  /** Each broken invariant: the execution, the invariant, what broke it. */
  readonly violations: readonly {
    readonly execution: string;
    readonly invariant: string;
    readonly detail: string;
  }[];
}

const invariantsFile = (dir: string) => join(dir, 'invariants.json');

/**
 * The service's invariant checks so far (none before its first rollout ended). A file that does
 * not read back is an error naming it, never taken as "nothing checked".
 */
export function readLocalInvariants(dir: string): LocalInvariants {
  const file = invariantsFile(dir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { checked: 0, violations: [] };
    throw error;
  }
  let saved: LocalInvariants | undefined;
  try {
    saved = JSON.parse(text) as LocalInvariants;
  } catch {
    saved = undefined;
  }
  if (saved && Number.isInteger(saved.checked) && Array.isArray(saved.violations)) return saved;
  throw new UsageError(
    `${file}: not the local control plane's invariant record ({ checked, violations }); move it away to start a new one`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running service of a data folder, or undefined (a stale file is ignored). */
export function readLocalService(dir: string): LocalService | undefined {
  const file = serviceFile(dir);
  if (!existsSync(file)) return undefined;
  let service: LocalService;
  try {
    service = JSON.parse(readFileSync(file, 'utf8')) as LocalService;
  } catch {
    return undefined;
  }
  return typeof service.pid === 'number' && alive(service.pid) ? service : undefined;
}

/** Requests to the service, as the deployed API gets them (no signature: loopback only). */
export function serviceTransport(url: string): Transport {
  return async (call: ApiCall): Promise<ApiAnswer> => {
    const target = new URL(`${url}${call.path}`);
    for (const [k, v] of Object.entries(call.query)) target.searchParams.set(k, v);
    let response: Response;
    try {
      response = await fetch(target, {
        method: call.method,
        headers: call.headers,
        ...(call.body === undefined ? {} : { body: call.body }),
      });
    } catch (error) {
      const { BackendError } = await import('./backend.js');
      throw new BackendError({
        status: 0,
        code: 'LocalServiceUnreachable',
        message: `the local control plane at ${url} did not answer (${(error as Error).message}); run rollout local up`,
        cause: error,
      });
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    return { status: response.status, headers, body: await response.text() };
  };
}

/** The API backend over a running service. */
export function serviceBackend(service: LocalService): RolloutBackend {
  return apiBackend(
    serviceTransport(service.url),
    `the local control plane at ${service.url} (scenario ${service.scenario})`,
  );
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 1_048_576) throw new UsageError('request body over 1 MiB');
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 0 ? undefined : Buffer.concat(chunks).toString('utf8');
}

export interface ServeOptions {
  readonly cwd: string;
  readonly dataDir: string;
  readonly scenario?: string;
  readonly port: number;
  readonly speed: number;
  readonly log: (line: string) => void;
}

/**
 * Runs the service in this process until SIGTERM or SIGINT. Requests and clock ticks take turns,
 * so a handler never runs while the clock moves.
 */
export async function serveLocal(options: ServeOptions): Promise<void> {
  const { openLocalBackend } = await import('./local-backend.js');
  const storePath = join(options.dataDir, 'store');
  const kept = existsSync(storePath);
  const startTime = kept ? savedClock(options.dataDir) : undefined;
  mkdirSync(options.dataDir, { recursive: true });
  const backend = await openLocalBackend({
    cwd: options.cwd,
    ...(options.scenario === undefined ? {} : { scenario: options.scenario }),
    runScenarioRollouts: !kept,
    storePath,
    ...(startTime === undefined ? {} : { startTime }),
  });
  if (kept)
    options.log(`kept store ${storePath}; clock at ${backend.sandbox.clock.now().toISOString()}`);
  const saveClock = () =>
    writeFileSync(
      clockFile(options.dataDir),
      `${JSON.stringify({ now: backend.sandbox.clock.now().toISOString() })}\n`,
    );
  saveClock();
  let turn: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = turn.then(fn, fn);
    turn = next.catch(() => undefined);
    return next;
  };
  const TICK_MS = 250;
  let ticks = 0;
  let invariants = readLocalInvariants(options.dataDir);
  const checkEnded = async () => {
    const ended = await backend.checkEndedRollouts();
    if (ended.length === 0) return;
    const violations = [...invariants.violations];
    for (const run of ended) {
      if (run.error !== undefined) {
        options.log(
          `invariants of ${run.kind} ${run.execution} (${run.status}): NOT CHECKED: ${run.error}`,
        );
        violations.push({ execution: run.execution, invariant: 'checkFailed', detail: run.error });
        continue;
      }
      const broken = run.invariants.filter((i) => !i.ok);
      options.log(
        broken.length === 0
          ? `invariants of ${run.kind} ${run.execution} (${run.status}): all ${run.invariants.length} hold (${run.invariants.map((i) => `${i.name}: ${i.detail}`).join('; ')})`
          : `invariants of ${run.kind} ${run.execution} (${run.status}): ${broken.length} of ${run.invariants.length} VIOLATED: ${broken.map((i) => `${i.name}: ${i.detail}`).join('; ')}`,
      );
      for (const i of broken) {
        violations.push({ execution: run.execution, invariant: i.name, detail: i.detail });
      }
    }
    invariants = { checked: invariants.checked + ended.length, violations };
    // Whole or not at all: `local status` may read it at any moment.
    const file = invariantsFile(options.dataDir);
    writeFileSync(`${file}.partial`, `${JSON.stringify(invariants, null, 2)}\n`);
    renameSync(`${file}.partial`, file);
  };
  const ticker = setInterval(() => {
    void exclusive(async () => {
      await backend.sandbox.advance(TICK_MS * options.speed);
      if (++ticks % 4 === 0) saveClock();
      await checkEnded().catch((error: unknown) =>
        options.log(`invariant checks failed: ${(error as Error).message}`),
      );
    });
  }, TICK_MS);

  const server = createServer((request, response) => {
    void (async () => {
      try {
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        let body = await readBody(request);
        // As in the one-process sandbox, an input may leave out target.nodes (the scenario's).
        if (body !== undefined && ['/rollouts', '/scans', '/stagings'].includes(url.pathname)) {
          try {
            body = JSON.stringify(backend.completeInput(JSON.parse(body)));
          } catch {
            // Not JSON: the API refuses it, naming the problem.
          }
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(request.headers)) {
          if (typeof v === 'string') headers[k.toLowerCase()] = v;
        }
        const answer = await exclusive(() =>
          backend.transport({
            method: request.method === 'POST' ? 'POST' : 'GET',
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            headers,
            ...(body === undefined ? {} : { body }),
          }),
        );
        response.writeHead(answer.status, answer.headers);
        response.end(answer.body);
      } catch (error) {
        options.log(`request failed: ${(error as Error).message}`);
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            error: { code: 'LocalServiceError', message: (error as Error).message },
          }),
        );
      }
    })();
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, '127.0.0.1', () => done());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const service: LocalService = {
    pid: process.pid,
    url: `http://127.0.0.1:${port}`,
    scenario: backend.scenario.name,
    startedAt: new Date().toISOString(),
    speed: options.speed,
    defaultInput: backend.scenario.runs[0]
      ? backend.completeInput(backend.defaultInput())
      : undefined,
  };
  mkdirSync(options.dataDir, { recursive: true });
  writeFileSync(serviceFile(options.dataDir), `${JSON.stringify(service, null, 2)}\n`);
  options.log(`serving ${service.url} (scenario ${service.scenario}, ${options.speed}x)`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  clearInterval(ticker);
  server.close();
  await exclusive(async () => {
    saveClock();
    await checkEnded().catch((error: unknown) =>
      options.log(`invariant checks failed: ${(error as Error).message}`),
    );
    await backend.close();
  });
  rmSync(serviceFile(options.dataDir), { force: true });
  options.log('stopped');
}
