/**
 * `rollout sandbox`: run a scenario's rollouts offline, through the very state machines
 * `cdk synth` produces and the real Lambda handlers, against a simulated Windows fleet.
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CommandSpec, type Io, parseFlags, UsageError } from '../args.js';
import { quietHandlers } from '../quiet.js';

export const DEFAULT_SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/default.json', import.meta.url),
);

export const sandboxCommand = {
  name: 'sandbox',
  summary: 'run a rollout scenario in the local sandbox (no AWS account needed)',
  usage: 'rollout sandbox [--scenario <file>] [--fleet pwsh|model] [--json]',
  details: [
    'Runs each rollout of the scenario through the synthesized rollout and node workflows, with the',
    'real Lambda handlers, a local DynamoDB (dynalite on loopback) and a simulated Windows fleet, in',
    'virtual time. Prints live progress per node, then a report per run (like Get-CauReport -Detailed)',
    'and the install ledger. After each run the safety invariants are checked (README, "Safety");',
    'a violated invariant fails the run. Exit status 0 when every run ends as the scenario expects',
    'and breaks no invariant.',
    '',
    'Options:',
    '  --scenario <file>  a scenario (JSON; see examples/scenarios/ and the README)',
    '                     (default: examples/scenarios/default.json)',
    "  --fleet <kind>     pwsh: each node runs the real SSM documents' scripts (dotnet pwsh);",
    '                     model: the TypeScript model of them (fast; large fleets, no pwsh)',
    '                     (default: pwsh when dotnet pwsh runs here, else model, said loudly)',
    '  --json             print the machine-readable report instead: run status, per-node status,',
    '                     per-update outcome and exit code, restarts, drains, ledger',
    '  -h, --help         show this help',
  ],
  options: {
    scenario: { type: 'string' },
    fleet: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

export async function runSandbox(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(sandboxCommand, argv);
  quietHandlers();
  const [
    { loadScenario, ScenarioError },
    { runScenario },
    { renderRunReport, formatDuration },
    { createProgressDisplay },
    pwshFleet,
  ] = await Promise.all([
    import('../../sandbox/scenario.js'),
    import('../../sandbox/run-scenario.js'),
    import('../../sandbox/report.js'),
    import('../../sandbox/progress.js'),
    import('../../sandbox/pwsh-fleet.js'),
  ]);
  const fleet = chooseFleet(flags.fleet, pwshFleet, io);
  const path = flags.scenario ? resolve(io.cwd, flags.scenario) : DEFAULT_SCENARIO;
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
  const live = !flags.json && process.stdout.isTTY === true;
  const display = createProgressDisplay((text) => process.stdout.write(text), live);
  if (!flags.json) {
    io.out(
      `Scenario ${scenario.name}: ${scenario.runs.length} rollout${scenario.runs.length === 1 ? '' : 's'}, ${scenario.nodes.length} simulated nodes, ${pwshFleet.describeFleet(fleet)}`,
    );
  }
  const result = await runScenario(scenario, {
    fleet,
    ...(flags.json ? {} : { onProgress: display.onProgress }),
  });
  display.finish();
  if (flags.json) {
    io.out(
      JSON.stringify(
        {
          scenario: result.scenario,
          fleet: result.fleetKind,
          expectationsMet: result.expectationsMet,
          historyStore: result.historyStore,
          wallMs: Math.round(result.wallMs),
          simulatedSeconds: result.simulatedMs / 1000,
          runs: result.runs.map((r) => ({
            execution: {
              name: r.execution.name,
              status: r.execution.status,
              ...(r.execution.error ? { error: r.execution.error, cause: r.execution.cause } : {}),
              historyEvents: r.execution.historyEvents,
            },
            ...(r.report ? r.report : {}),
            expectationsMet: r.expectationsMet,
            mismatches: r.mismatches,
            invariants: r.invariants.map(({ name, ok, detail }) => ({ name, ok, detail })),
            ...(r.actions.length > 0 ? { actions: r.actions } : {}),
          })),
        },
        null,
        2,
      ),
    );
    return result.expectationsMet ? 0 : 1;
  }
  for (const run of result.runs) {
    io.out('');
    if (run.report) io.out(renderRunReport(run.report));
    else
      io.out(
        `Execution ${run.execution.name}: ${run.execution.status} ${run.execution.error ?? ''}: ${run.execution.cause ?? ''}`,
      );
    const broken = run.invariants.filter((i) => !i.ok);
    io.out(
      broken.length === 0
        ? `  invariants: all ${run.invariants.length} hold`
        : `  invariants: ${broken.length} of ${run.invariants.length} VIOLATED (${broken.map((i) => i.name).join(', ')})`,
    );
    io.out(
      run.expectationsMet
        ? '  as expected'
        : `  NOT as expected:\n${run.mismatches.map((m) => `    - ${m}`).join('\n')}`,
    );
  }
  io.out('');
  io.out(`Fleet: ${pwshFleet.describeFleet(result.fleetKind)}.`);
  io.out(`Run history: ${result.historyStore} (discarded when the sandbox exits).`);
  io.out(
    `Simulated time ${formatDuration(result.simulatedMs / 1000)} in ${(result.wallMs / 1000).toFixed(1)} s of wall time. ${result.expectationsMet ? 'Every run ended as the scenario expects.' : 'Some runs did NOT end as the scenario expects.'}`,
  );
  return result.expectationsMet ? 0 : 1;
}

/**
 * `--fleet`, checked; without it pwsh when it runs here, else the model with one loud line.
 * Shared by `rollout chaos`.
 */
export function chooseFleet(
  flag: string | undefined,
  pwshFleet: typeof import('../../sandbox/pwsh-fleet.js'),
  io: Io,
): 'pwsh' | 'model' {
  if (flag !== undefined) {
    let fleet: 'pwsh' | 'model';
    try {
      fleet = pwshFleet.parseFleetKind(flag);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (fleet === 'pwsh' && !pwshFleet.pwshAvailable()) {
      throw new UsageError(
        '--fleet pwsh: dotnet pwsh does not run here; install the .NET SDK and run npm run pwsh:restore, or use --fleet model',
      );
    }
    return fleet;
  }
  if (pwshFleet.pwshAvailable()) return 'pwsh';
  io.err(pwshFleet.PWSH_MISSING);
  return 'model';
}
