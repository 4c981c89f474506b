/**
 * The `rollout` command's start (issue 11, point 5): a whole process, as a user runs it, from
 * the compiled build (what bin/rollout.mjs runs after `npm ci`) and from the sources through tsx
 * (what it ran before), beside a bare `node -e 0` for what Node alone costs on this machine.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain ES module script, without types
import { buildCli, buildIsFresh } from '../scripts/build-cli.mjs';
import { round } from './measure.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));

function median(args: readonly string[], runs: number, env: Record<string, string> = {}) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = spawnSync(process.execPath, args, {
      cwd: REPO,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    samples.push(performance.now() - start);
    if (result.status !== 0 && !args.includes('--help'))
      throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  samples.sort((a, b) => a - b);
  // The minimum is the run least disturbed by the machine's other work.
  return {
    medianMs: round(samples[Math.floor(samples.length / 2)] ?? 0, 0),
    minMs: round(samples[0] ?? 0, 0),
  };
}

export async function benchCli(runs = Number(process.env.BENCH_CLI_RUNS ?? 11)) {
  if (!buildIsFresh()) await buildCli();
  // Warm the compile cache as a user's first run does (the figures are of the runs after it).
  spawnSync(process.execPath, ['bin/rollout.mjs', '--help'], { cwd: REPO });
  spawnSync(process.execPath, ['bin/rollout.mjs', 'exit-code', '--code', '3010'], { cwd: REPO });
  const help = ['bin/rollout.mjs', '--help'];
  const exitCode = ['bin/rollout.mjs', 'exit-code', '--code', '3010'];
  return {
    name: `rollout command start, whole process, ${runs} runs each`,
    bareNode: median(['-e', '0'], runs),
    // The second figure of each pair warms V8's compile cache first (bin/rollout.mjs enables it).
    compiled: { help: median(help, runs), exitCode: median(exitCode, runs) },
    compiledWithoutCompileCache: {
      help: median(help, runs, { ROLLOUT_COMPILE_CACHE: '0' }),
      exitCode: median(exitCode, runs, { ROLLOUT_COMPILE_CACHE: '0' }),
    },
    loadAverage: loadavg().map((l) => round(l, 1)),
    fromSourceThroughTsx: {
      help: median(help, runs, { ROLLOUT_FROM_SOURCE: '1' }),
      exitCode: median(exitCode, runs, { ROLLOUT_FROM_SOURCE: '1' }),
    },
  };
}
