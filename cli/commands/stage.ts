/**
 * `rollout stage --local`: staging before the window (issue 13 item 5) in the local sandbox: the
 * synthesized staging workflow stages each rollout of a scenario (StageUpdates on every node:
 * download, SHA-256 check, protected cache; nothing drained, installed or restarted) and prints
 * the per-node staging table from the run store.
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CommandSpec, type Io, parseFlags, UsageError } from '../args.js';
import type { RolloutBackend, StagingStatus } from '../backend.js';
import { readJsonFile } from '../files.js';
import {
  type LocalService,
  localDataDir,
  readLocalService,
  serviceBackend,
} from '../local-service.js';
import { quietHandlers } from '../quiet.js';
import { chooseFleet } from './sandbox.js';

const STAGING_SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/staging.json', import.meta.url),
);

export const stageCommand = {
  name: 'stage',
  summary: "stage each node's updates before the window (download and verify, install nothing)",
  usage:
    'rollout stage --input <rollout.json> [--idempotency-key <key>] [--json] [--endpoint <url>]\n' +
    '       rollout stage --status <staging id> [--json] [--endpoint <url>]\n' +
    '       rollout stage --local [--scenario <file>] [--fleet pwsh|model] [--json]\n' +
    '       rollout stage --local [--input <rollout.json> | --status <id>] [--json]  (with local up)',
  details: [
    'Runs the staging workflow over each rollout of the scenario in the local sandbox: every node',
    'gets StageUpdates, which copies each planned hotfix into a cache folder named by its SHA-256',
    '(SYSTEM and Administrators only), verifies it, and downloads the selected Windows updates',
    'without installing them. Nothing is drained, installed or restarted. Prints per node: files,',
    'bytes, digests verified, cache hits, and what could not be staged. Exit status 0 when every',
    'staging run succeeds and changed nothing on a node.',
    '',
    'Against the deployed API: --input starts a staging run (POST /stagings) and prints its id;',
    '--status <id> prints its status and per-node table (GET /stagings/{id}). A retry with the',
    'same --idempotency-key (else the same change ticket) and input starts nothing new.',
    '',
    'While rollout local up runs, --local goes to it as to the deployed API: --input (default: the',
    "scenario's own rollout, target.nodes may be left out) starts a staging run and waits for its",
    'end, then prints the table; --status <id> shows one. --scenario and --fleet belong to local up.',
    '',
    'Options:',
    '  --input <file>     the rollout input, as for rollout start (staging.maxConcurrency applies)',
    '  --idempotency-key <key>  a client token for retries (default: the change ticket, if any)',
    '  --status <id>      the staging run to show',
    "  --endpoint <url>   the API's base URL with its stage (default: $ROLLOUT_API_URL); SigV4",
    '  --region <region>  the region to sign for (default: from the endpoint host, else $AWS_REGION)',
    '  --profile <name>   the ~/.aws/config profile (default: $AWS_PROFILE, else default)',
    '  --local            stage in the local sandbox instead',
    '  --scenario <file>  a scenario (default: examples/scenarios/staging.json)',
    '  --fleet <kind>     pwsh (the real StageUpdates script) or model (default: as rollout sandbox)',
    '  --json             print the staging records instead',
    '  -h, --help         show this help',
  ],
  options: {
    input: { type: 'string' },
    'idempotency-key': { type: 'string' },
    status: { type: 'string' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    profile: { type: 'string' },
    local: { type: 'boolean', default: false },
    scenario: { type: 'string' },
    fleet: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

export async function runStage(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(stageCommand, argv);
  if (!flags.local) return stageThroughApi(flags, io);
  const service = readLocalService(localDataDir(io.cwd));
  if (service) return stageThroughService(flags, io, service);
  for (const flag of ['input', 'idempotency-key', 'status', 'endpoint', 'region', 'profile']) {
    if (flags[flag as keyof typeof flags] !== undefined) {
      throw new UsageError(
        `rollout stage: --${flag} is for the deployed API; --local stages the scenario's rollouts (see rollout stage --help)`,
      );
    }
  }
  quietHandlers();
  const [{ loadScenario, ScenarioError }, { runScenario }, staging, invariants, pwshFleet] =
    await Promise.all([
      import('../../sandbox/scenario.js'),
      import('../../sandbox/run-scenario.js'),
      import('../../sandbox/staging-report.js'),
      import('../../sandbox/staging-invariants.js'),
      import('../../sandbox/pwsh-fleet.js'),
    ]);
  const fleet = chooseFleet(flags.fleet, pwshFleet, io);
  const path = flags.scenario ? resolve(io.cwd, flags.scenario) : STAGING_SCENARIO;
  let scenario: Awaited<ReturnType<typeof loadScenario>>;
  try {
    scenario = await loadScenario(path);
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message);
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--scenario ${JSON.stringify(flags.scenario ?? path)}: cannot read the file (${code ?? (error as Error).message})`,
    );
  }
  const outcomes: {
    name: string;
    status: string;
    cause?: string;
    problems: string[];
    records: unknown[];
  }[] = [];
  const result = await runScenario(scenario, {
    fleet,
    runRollouts: false,
    beforeRuns: async (sandbox, simulated) => {
      for (const [i, run] of scenario.runs.entries()) {
        const name = `${scenario.name}-staging-${i + 1}`
          .replace(/[^A-Za-z0-9_-]/g, '-')
          .slice(0, 64);
        const from = simulated.log.length;
        const execution = await sandbox.runStaging({ ...run.rollout, runId: name }, name);
        const records = await staging.readStagingReport(sandbox.store, name);
        outcomes.push({
          name,
          status: execution.status,
          ...(execution.cause ? { cause: execution.cause } : {}),
          problems: invariants.checkStagingRun(simulated.log.slice(from)),
          records,
        });
        if (!flags.json) {
          io.out(
            `Staging ${name}: ${execution.status}${execution.cause ? ` (${execution.cause})` : ''}`,
          );
          if (records.length > 0) io.out(staging.formatStagingTable(records as never));
        }
      }
    },
  });
  await result.sandbox.stop();
  const ok = outcomes.every((o) => o.status === 'SUCCEEDED' && o.problems.length === 0);
  if (flags.json) {
    io.out(JSON.stringify({ scenario: scenario.name, fleet, staging: outcomes }, null, 2));
  } else {
    for (const o of outcomes.filter((x) => x.problems.length > 0)) {
      io.out(
        `  stagingSafe VIOLATED in ${o.name}:\n${o.problems.map((p) => `    - ${p}`).join('\n')}`,
      );
    }
    io.out(`Fleet: ${pwshFleet.describeFleet(fleet)}.`);
  }
  return ok ? 0 : 1;
}

type StageFlags = ReturnType<typeof parseFlags<typeof stageCommand.options>>;

/** POST /stagings (--input) or GET /stagings/{id} (--status) against the deployed API. */
async function stageThroughApi(flags: StageFlags, io: Io): Promise<number> {
  for (const flag of ['scenario', 'fleet'] as const) {
    if (flags[flag] !== undefined) {
      throw new UsageError(
        `rollout stage: --${flag} applies only with --local (see rollout stage --help)`,
      );
    }
  }
  if ((flags.input === undefined) === (flags.status === undefined)) {
    throw new UsageError(
      'rollout stage: give --input <rollout.json> to start a staging run or --status <id> to show one (or --local for the sandbox; see rollout stage --help)',
    );
  }
  if (flags.status !== undefined && flags['idempotency-key'] !== undefined) {
    throw new UsageError('rollout stage: --idempotency-key applies only with --input');
  }
  const endpoint = flags.endpoint ?? process.env.ROLLOUT_API_URL;
  if (endpoint === undefined || endpoint.trim() === '') {
    throw new UsageError(
      'rollout stage: --endpoint <url> is required (or set ROLLOUT_API_URL), or use --local for the sandbox (see rollout stage --help)',
    );
  }
  const input = flags.input === undefined ? undefined : readJsonFile(io.cwd, flags.input, 'input');
  const { createHttpBackend } = await import('../http-backend.js');
  const backend = createHttpBackend({
    endpoint: endpoint.trim(),
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
  });
  try {
    return await stageWith(backend, flags, io, input);
  } finally {
    await backend.close();
  }
}

/**
 * `rollout stage --local` while `rollout local up` runs: POST /stagings to the service (the
 * input defaults to the scenario's own rollout), then GET /stagings/{id} until it ends; or
 * --status <id>. --scenario and --fleet belong to local up then.
 */
async function stageThroughService(
  flags: StageFlags,
  io: Io,
  service: LocalService,
): Promise<number> {
  for (const flag of ['scenario', 'fleet', 'endpoint', 'region', 'profile'] as const) {
    if (flags[flag] !== undefined) {
      throw new UsageError(
        `rollout stage: --${flag}: the local control plane at ${service.url} already runs scenario ${service.scenario}; give --scenario and --fleet to rollout local up (or rollout local down first)`,
      );
    }
  }
  if (flags.status !== undefined && flags.input !== undefined) {
    throw new UsageError('rollout stage: give --input or --status, not both');
  }
  if (flags.status !== undefined && flags['idempotency-key'] !== undefined) {
    throw new UsageError('rollout stage: --idempotency-key applies only with --input');
  }
  const input =
    flags.input === undefined
      ? flags.status === undefined
        ? service.defaultInput
        : undefined
      : readJsonFile(io.cwd, flags.input, 'input');
  const backend = serviceBackend(service);
  try {
    return await stageWith(backend, flags, io, input, { follow: true });
  } finally {
    await backend.close();
  }
}

/** Milliseconds between two GET /stagings/{id} while `stage --local` follows a run in local up. */
const FOLLOW_INTERVAL_MS = 500;

async function stageWith(
  backend: Pick<RolloutBackend, 'startStaging' | 'getStaging'>,
  flags: StageFlags,
  io: Io,
  input: unknown,
  options: { readonly follow?: boolean } = {},
): Promise<number> {
  if (flags.status === undefined) {
    const accepted = await backend.startStaging(input, flags['idempotency-key']);
    if (options.follow) {
      let view = await backend.getStaging(accepted.stagingId);
      while (view.status === 'Running') {
        await new Promise((done) => setTimeout(done, FOLLOW_INTERVAL_MS));
        view = await backend.getStaging(accepted.stagingId);
      }
      return printStagingView(view, flags, io);
    }
    if (flags.json) io.out(JSON.stringify(accepted, null, 2));
    else {
      io.out(
        `Staging ${accepted.stagingId} ${accepted.status} (execution ${accepted.executionArn})`,
      );
      io.out(`Follow it with: rollout stage --status ${accepted.stagingId}`);
    }
    return 0;
  }
  return printStagingView(await backend.getStaging(flags.status), flags, io);
}

async function printStagingView(view: StagingStatus, flags: StageFlags, io: Io): Promise<number> {
  if (flags.json) {
    io.out(JSON.stringify(view, null, 2));
  } else {
    const { formatStagingTable } = await import('../../sandbox/staging-report.js');
    const counts = Object.entries(view.counts).map(([k, n]) => `${n} ${k}`);
    io.out(
      `Staging ${view.stagingId}: ${view.status}${counts.length > 0 ? ` (${counts.join(', ')})` : ''}`,
    );
    if (view.nodes.length > 0) {
      io.out(formatStagingTable(view.nodes.map((n) => ({ ...n, runId: view.stagingId }))));
    }
  }
  // As rollout status: 1 once it ended other than Succeeded (or is past history, Unknown).
  return view.status === 'Succeeded' || view.status === 'Running' ? 0 : 1;
}
