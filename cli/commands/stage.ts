/**
 * `rollout stage --local`: staging before the window (issue 13 item 5) in the local sandbox: the
 * synthesized staging workflow stages each rollout of a scenario (StageUpdates on every node:
 * download, SHA-256 check, protected cache; nothing drained, installed or restarted) and prints
 * the per-node staging table from the run store.
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CommandSpec, type Io, parseFlags, UsageError } from '../args.js';
import { quietHandlers } from '../quiet.js';
import { chooseFleet } from './sandbox.js';

const STAGING_SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/staging.json', import.meta.url),
);

export const stageCommand = {
  name: 'stage',
  summary: "stage each node's updates before the window (download and verify, install nothing)",
  usage: 'rollout stage --local [--scenario <file>] [--fleet pwsh|model] [--json]',
  details: [
    'Runs the staging workflow over each rollout of the scenario in the local sandbox: every node',
    'gets StageUpdates, which copies each planned hotfix into a cache folder named by its SHA-256',
    '(SYSTEM and Administrators only), verifies it, and downloads the selected Windows updates',
    'without installing them. Nothing is drained, installed or restarted. Prints per node: files,',
    'bytes, digests verified, cache hits, and what could not be staged. Exit status 0 when every',
    'staging run succeeds and changed nothing on a node.',
    '',
    'Only --local is built: the control plane deploys the staging state machine, but the API has',
    'no staging route yet (start it from the Step Functions console with the rollout input).',
    '',
    'Options:',
    '  --local            stage in the local sandbox (required for now)',
    '  --scenario <file>  a scenario (default: examples/scenarios/staging.json)',
    '  --fleet <kind>     pwsh (the real StageUpdates script) or model (default: as rollout sandbox)',
    '  --json             print the staging records instead',
    '  -h, --help         show this help',
  ],
  options: {
    local: { type: 'boolean', default: false },
    scenario: { type: 'string' },
    fleet: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

export async function runStage(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(stageCommand, argv);
  if (!flags.local) {
    throw new UsageError(
      '--local: required; the change-management API has no staging route yet (see rollout stage --help)',
    );
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
