/**
 * `rollout dashboard`: the web dashboard on 127.0.0.1 (cli/dashboard/server.ts), over the
 * deployed API (requests signed here with the credentials chain) or the local control plane of
 * `rollout local up` (--local). Runs until Ctrl-C.
 */
import { type CommandSpec, type Io, parseFlags, UsageError } from '../args.js';
import type { Transport } from '../backend.js';
import { localDataDir, readLocalService, serviceTransport } from '../local-service.js';

export const DEFAULT_DASHBOARD_PORT = 3100;

export const dashboardCommand = {
  name: 'dashboard',
  summary:
    'serve the rollout dashboard on 127.0.0.1 (runs, a run live, reports, ledgers, scans, staging)',
  usage:
    'rollout dashboard [--port <n>] [--endpoint <url>] [--region <r>] [--profile <p>]\n' +
    '       rollout dashboard --local [--port <n>] [--data-dir <dir>]',
  details: [
    'A web page on http://127.0.0.1:<port>: the runs of a cluster or group (filter by status),',
    'one run live (each node, approve / reject / cancel with a confirmation), its report',
    "(failures first), a node's ledger with removal (the KB823836 check first), and a scan",
    'preview. This process relays the page to the API and signs each request with your AWS',
    'credentials (the default chain); no credential reaches the page. It listens on loopback only.',
    '',
    'Options:',
    `  --port <n>         the port (default ${DEFAULT_DASHBOARD_PORT}; 0: any free one)`,
    '  --endpoint <url>   the API base URL (default: $ROLLOUT_API_URL)',
    '  --region <region>  the region to sign for (default: from the endpoint host, else $AWS_REGION)',
    '  --profile <name>   the ~/.aws/config profile (default: $AWS_PROFILE, else default)',
    '  --local            use the local control plane of rollout local up',
    '  --data-dir <dir>   with --local: its data folder (as given to rollout local up)',
    '  -h, --help         show this help',
  ],
  options: {
    port: { type: 'string' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    profile: { type: 'string' },
    local: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_DASHBOARD_PORT;
  const n = /^\d{1,5}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= 65535)) {
    throw new UsageError(
      `rollout dashboard: --port ${JSON.stringify(value)}: expected a whole number from 0 to 65535`,
    );
  }
  return n;
}

/** Where the page's requests go, as the flags choose. */
export async function dashboardTransport(
  io: Io,
  flags: {
    local?: boolean;
    endpoint?: string;
    region?: string;
    profile?: string;
    'data-dir'?: string;
  },
): Promise<{ transport: Transport; description: string }> {
  if (flags.local) {
    for (const flag of ['endpoint', 'region', 'profile'] as const) {
      if (flags[flag] !== undefined) {
        throw new UsageError(
          `rollout dashboard: --${flag} is for the deployed API; --local uses the local control plane`,
        );
      }
    }
    const dir = localDataDir(io.cwd, flags['data-dir']);
    const service = readLocalService(dir);
    if (!service) {
      throw new UsageError(
        `rollout dashboard --local: no local control plane runs for ${dir}; start one with rollout local up`,
      );
    }
    return {
      transport: serviceTransport(service.url),
      description: `local control plane ${service.url} (scenario ${service.scenario})`,
    };
  }
  if (flags['data-dir'] !== undefined) {
    throw new UsageError('rollout dashboard: --data-dir applies only with --local');
  }
  const endpoint = flags.endpoint ?? process.env.ROLLOUT_API_URL;
  if (endpoint === undefined || endpoint.trim() === '') {
    throw new UsageError(
      'rollout dashboard: --endpoint <url> is required (or set ROLLOUT_API_URL), or use --local (see rollout dashboard --help)',
    );
  }
  const { createHttpTransport } = await import('../http-backend.js');
  return createHttpTransport({
    endpoint: endpoint.trim(),
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
  });
}

export async function runDashboard(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(dashboardCommand, argv);
  const port = parsePort(flags.port);
  const { transport, description } = await dashboardTransport(io, flags);
  const { startDashboard } = await import('../dashboard/server.js');
  let dashboard: Awaited<ReturnType<typeof startDashboard>>;
  try {
    dashboard = await startDashboard({
      transport,
      description,
      port,
      log: (line) => io.err(`[${new Date().toISOString()}] ${line}`),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new UsageError(
        `rollout dashboard: --port ${port}: ${code === 'EADDRINUSE' ? 'in use' : 'not allowed'}; give another port (0 for any free one)`,
        { cause: error },
      );
    }
    throw error;
  }
  io.out(`rollout dashboard: ${dashboard.url} (API: ${description})`);
  io.out('  Ctrl-C stops it');
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await dashboard.close();
  return 0;
}
