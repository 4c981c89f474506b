/**
 * `rollout local up|down|status`: the local control plane as a service between commands
 * (cli/local-service.ts). `up` starts `rollout local serve` detached and waits for it to listen.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CommandSpec, type Io, UsageError } from '../args.js';
import {
  DEFAULT_SPEED,
  type LocalInvariants,
  localDataDir,
  readLocalInvariants,
  readLocalService,
  serveLocal,
} from '../local-service.js';

const ROLLOUT_BIN = fileURLToPath(new URL('../../bin/rollout.mjs', import.meta.url));

export const localCommand = {
  name: 'local',
  summary: 'start (up) or stop (down) a local control plane that the --local commands share',
  usage:
    'rollout local up [--scenario <file>] [--port <n>] [--speed <x>] [--data-dir <dir>] [--json]\n' +
    '       rollout local down [--data-dir <dir>]\n' +
    '       rollout local status [--data-dir <dir>] [--json]',
  details: [
    'up: starts the sandbox as a service on 127.0.0.1: the synthesized workflows, the real',
    "handlers and the scenario's simulated fleet behind the API's own routes. It first runs the",
    "scenario's rollouts; after that every run command with --local (start, status, list,",
    'report, cancel, approve, scan, ledger, remove) talks to it, and rollouts started there run',
    'on in the background in simulated time, --speed simulated seconds per real second.',
    'down: stops it. Its run store (runs, ledgers, locks) and its clock stay in the data folder,',
    "so the next up goes on from them (the scenario's own rollouts run only on a new store); a",
    'rollout still under way at down stays Running, its target locked, until force-recovery.',
    'Every rollout that ends under the service is checked against the safety invariants (README',
    '"Safety"), as the sandbox command checks its runs, and every staging against stagingSafe:',
    'status shows how many were checked and any broken one (service.log has a line per run;',
    'invariants.json the count and the violations).',
    '',
    'Options:',
    '  --scenario <file>  the fleet (default: examples/scenarios/change-management.json)',
    '  --port <n>         the port (default: any free one)',
    `  --speed <x>        simulated seconds per real second, 1 to 3600 (default ${DEFAULT_SPEED})`,
    '  --data-dir <dir>   the data folder: service.json, service.log, the run store, the clock',
    '                     (default: $ROLLOUT_LOCAL_DATA, else $XDG_STATE_HOME/rollout/local or',
    '                     ~/.local/state/rollout/local); --data is the same',
    '  --json             print service.json',
    '  -h, --help         show this help',
  ],
  options: {
    scenario: { type: 'string' },
    port: { type: 'string' },
    speed: { type: 'string' },
    data: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: localCommand.options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`rollout local: ${(error as Error).message} (see rollout local --help)`);
  }
}

function whole(
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
  fallback: number,
) {
  if (value === undefined) return fallback;
  const n = /^\d{1,6}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(
      `rollout local: --${flag} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLocal(argv: readonly string[], io: Io): Promise<number> {
  const { values: flags, positionals } = parse(argv);
  const [action, ...rest] = positionals;
  if (rest.length > 0 || !['up', 'down', 'status', 'serve'].includes(action ?? '')) {
    throw new UsageError(
      `rollout local: expected up, down or status${action === undefined ? '' : `, not ${JSON.stringify(positionals.join(' '))}`} (see rollout local --help)`,
    );
  }
  const dataDir = localDataDir(io.cwd, flags['data-dir'] ?? flags.data);
  const port = whole(flags.port, 'port', 0, 65535, 0);
  const speed = whole(flags.speed, 'speed', 1, 3600, DEFAULT_SPEED);
  const running = readLocalService(dataDir);

  if (action === 'serve') {
    await serveLocal({
      cwd: io.cwd,
      dataDir,
      ...(flags.scenario === undefined ? {} : { scenario: flags.scenario }),
      port,
      speed,
      log: (line) => io.err(`[${new Date().toISOString()}] ${line}`),
    });
    // A rollout still under way keeps timers of the sandbox alive; the service has stopped.
    process.exit(0);
  }
  if (action === 'status') {
    const invariants = readLocalInvariants(dataDir);
    if (flags.json) {
      io.out(JSON.stringify(running ? { ...running, invariants } : null, null, 2));
    } else {
      io.out(
        running
          ? `local control plane: ${running.url} (pid ${running.pid}, scenario ${running.scenario}, ${running.speed}x)`
          : `no local control plane runs for ${dataDir}`,
      );
      if (running) io.out(`  ${describeInvariants(invariants)}`);
    }
    return running ? 0 : 1;
  }
  if (action === 'down') {
    if (!running) {
      io.out(`no local control plane runs for ${dataDir}`);
      return 0;
    }
    process.kill(running.pid, 'SIGTERM');
    for (let i = 0; i < 100 && readLocalService(dataDir); i++) await sleep(100);
    io.out(`stopped the local control plane at ${running.url}`);
    return 0;
  }
  // up
  if (running) {
    throw new UsageError(
      `rollout local up: one already runs at ${running.url} (pid ${running.pid}); rollout local down first`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const log = openSync(join(dataDir, 'service.log'), 'a');
  const child = spawn(
    process.execPath,
    [
      ROLLOUT_BIN,
      'local',
      'serve',
      '--data',
      dataDir,
      '--port',
      String(port),
      '--speed',
      String(speed),
      ...(flags.scenario === undefined ? [] : ['--scenario', flags.scenario]),
    ],
    { cwd: io.cwd, detached: true, stdio: ['ignore', log, log] },
  );
  let exited: number | null = null;
  child.on('exit', (code) => {
    exited = code ?? 1;
  });
  for (let i = 0; i < 1200; i++) {
    const service = readLocalService(dataDir);
    if (service) {
      child.unref();
      if (flags.json) io.out(JSON.stringify(service, null, 2));
      else {
        io.out(
          `local control plane: ${service.url} (pid ${service.pid}, scenario ${service.scenario}, ${service.speed}x)`,
        );
        io.out('  the --local commands now use it; rollout local down stops it');
      }
      return 0;
    }
    if (exited !== null) {
      throw new UsageError(
        `rollout local up: the service exited (${exited}); see ${join(dataDir, 'service.log')}`,
      );
    }
    await sleep(100);
  }
  child.kill('SIGTERM');
  throw new UsageError(
    `rollout local up: the service did not start in 120 s; see ${join(dataDir, 'service.log')}`,
  );
}

/** `local status`'s line on the safety invariants of the rollouts that ended under the service. */
export function describeInvariants(invariants: LocalInvariants): string {
  if (invariants.checked === 0) return 'safety invariants: no rollout or staging has ended yet';
  const runs = `${invariants.checked} ended rollout(s) and staging(s) checked`;
  if (invariants.violations.length === 0) return `safety invariants: all hold (${runs})`;
  const broken = invariants.violations.map((v) => `${v.execution}: ${v.invariant}`).join(', ');
  return `safety invariants: ${invariants.violations.length} VIOLATED (${runs}): ${broken}; see invariants.json`;
}
