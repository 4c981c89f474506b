/**
 * `rollout chaos`: the random fault campaign. Generates small scenarios from a seed, runs each
 * through the synthesized workflows in the sandbox, checks the safety invariants and what each
 * run must do, and shrinks every failing run to a scenario file that reproduces it.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type CommandSpec, type Io, parseFlags, UsageError } from '../args.js';
import { quietHandlers } from '../quiet.js';
import { chooseFleet } from './sandbox.js';

export const chaosCommand = {
  name: 'chaos',
  summary: 'run random fault scenarios in the sandbox and check the safety invariants',
  usage: 'rollout chaos [--runs <n>] [--seed <s>] [--faults <kinds>] [--out <dir>] [--json]',
  details: [
    'Generates --runs small scenarios from --seed (clusters and groups of 2 to 6 nodes, 1 to 3',
    'updates, 0 to 3 faults each), runs each through the synthesized rollout and node workflows',
    'with the real handlers, and checks the safety invariants (README, "Safety") and what each',
    'run must do (a run with no faults must succeed). The same seed gives the same runs. A',
    'failing run is shrunk (fewer faults, nodes, updates) and written to --out as a scenario',
    'file that reproduces it (rollout sandbox --scenario <file>). The last line is',
    '"chaos: N runs, K invariant violations"; the exit status is 1 when K > 0 or a run missed',
    'its own expectation.',
    '',
    'Options:',
    '  --runs <n>       how many runs (default 100)',
    '  --seed <s>       the seed, a whole number (default 1)',
    '  --faults <kinds> fault kinds to draw from, comma-separated; or all but some, each with a',
    '                   leading -, e.g. --faults=-exit-1641,-pending-reboot (default: all)',
    '  --parallel <n>   runs in flight at once, each in its own sandbox (default 4)',
    '  --fleet <kind>   model: the TypeScript model of the SSM documents (default: campaigns are',
    "                   long); pwsh: the documents' real scripts in dotnet pwsh",
    '  --out <dir>      where reproductions go (default chaos-repro)',
    '  --no-shrink      report failing runs as drawn, without shrinking or writing files',
    '  --list-faults    list the fault kinds and exit',
    '  --json           print the campaign result as JSON (the summary line goes to stderr)',
    '  -h, --help       show this help',
  ],
  options: {
    runs: { type: 'string' },
    seed: { type: 'string' },
    faults: { type: 'string' },
    parallel: { type: 'string' },
    fleet: { type: 'string' },
    out: { type: 'string' },
    'no-shrink': { type: 'boolean', default: false },
    'list-faults': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

function wholeNumber(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `rollout chaos: --${flag} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

export async function runChaos(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(chaosCommand, argv);
  const runs = wholeNumber('runs', flags.runs, 100, 1, 1_000_000);
  const seed = wholeNumber('seed', flags.seed, 1, 0, 4_294_967_295);
  const parallel = wholeNumber('parallel', flags.parallel, 4, 1, 64);
  quietHandlers();
  const chaos = await import('../../sandbox/chaos.js');
  if (flags['list-faults']) {
    for (const kind of chaos.FAULT_KINDS) io.out(`${kind.name.padEnd(18)} ${kind.summary}`);
    return 0;
  }
  let kinds: ReturnType<typeof chaos.selectFaultKinds>;
  try {
    kinds = chaos.selectFaultKinds(flags.faults);
  } catch (error) {
    if (error instanceof chaos.ChaosError) throw new UsageError(`rollout chaos: ${error.message}`);
    throw error;
  }
  const shrink = !flags['no-shrink'];
  const pwshFleet = await import('../../sandbox/pwsh-fleet.js');
  // The model unless asked: a campaign of hundreds of runs is what the model is for.
  const fleet = chooseFleet(flags.fleet ?? 'model', pwshFleet, io);
  if (!flags.json) {
    io.out(
      `chaos: seed ${seed}, ${runs} runs, fault kinds: ${kinds.length === chaos.FAULT_KINDS.length ? 'all' : kinds.map((k) => k.name).join(', ') || 'none'}; ${pwshFleet.describeFleet(fleet)}`,
    );
  }
  const result = await chaos.runCampaign({
    runs,
    seed,
    kinds,
    shrink,
    parallel,
    fleet,
    ...(flags.json
      ? {}
      : {
          onRun: (r) => {
            if (r.violations.length === 0 && r.expectationFailures.length === 0) return;
            io.out(
              `run ${r.spec.index}: ${r.runStatus}; ${[...r.violations.map((v) => `${v.name}: ${v.detail}`), ...r.expectationFailures].join('; ')}`,
            );
          },
        }),
  });
  const files: string[] = [];
  if (shrink && result.failures.length > 0) {
    const dir = resolve(io.cwd, flags.out ?? 'chaos-repro');
    await mkdir(dir, { recursive: true });
    for (const failure of result.failures) {
      const draft = chaos.reproduction(failure.shrunk ?? failure.run);
      const file = join(dir, `${draft.name}.json`);
      await writeFile(file, `${JSON.stringify(draft, null, 2)}\n`);
      files.push(file);
    }
  }
  const summary = `chaos: ${result.runs} runs, ${result.invariantViolations} invariant violations`;
  if (flags.json) {
    io.out(
      JSON.stringify(
        {
          seed: result.seed,
          fleet,
          runs: result.runs,
          faultKinds: result.faultKinds,
          invariantViolations: result.invariantViolations,
          byInvariant: result.byInvariant,
          expectationFailures: result.expectationFailures,
          wallSeconds: Math.round(result.wallMs) / 1000,
          runsPerSecond: Math.round(result.runsPerSecond * 100) / 100,
          failures: result.failures.map((f, i) => ({
            index: f.run.spec.index,
            runStatus: f.run.runStatus,
            faults: f.run.spec.faults.map((x) => x.kind),
            violations: f.run.violations,
            expectationFailures: f.run.expectationFailures,
            ...(f.shrunk
              ? {
                  shrunk: {
                    description: chaos.buildScenario(f.shrunk.spec).description,
                    violations: f.shrunk.violations,
                    runs: f.shrinkRuns,
                  },
                }
              : {}),
            ...(files[i] ? { reproduction: files[i] } : {}),
          })),
        },
        null,
        2,
      ),
    );
    io.err(summary);
  } else {
    if (files.length > 0) {
      io.out(`${files.length} shrunk reproduction(s):`);
      for (const file of files) io.out(`  rollout sandbox --scenario ${file}`);
    }
    const by = Object.entries(result.byInvariant)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    io.out(
      `${(result.wallMs / 1000).toFixed(1)} s of wall time, ${result.runsPerSecond.toFixed(2)} runs/s${by ? `; violations by invariant: ${by}` : ''}; ${result.expectationFailures} run(s) missed their own expectation`,
    );
    io.out(summary);
  }
  return result.invariantViolations > 0 || result.expectationFailures > 0 ? 1 : 0;
}
