/**
 * `rollout demo`: the rules engine on the shipped examples (what `npm start` runs); `rollout
 * sandbox` runs whole rollouts against a simulated fleet.
 */
import { fileURLToPath } from 'node:url';
import { type CommandSpec, type Io, parseFlags } from '../args.js';
import { runExitCode } from './exit-code.js';
import { runHotpatch } from './hotpatch.js';
import { runPlan } from './plan.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

export const demoCommand = {
  name: 'demo',
  summary: 'run plan, exit-code and hotpatch on the shipped examples (what npm start runs)',
  usage: 'rollout demo [--json]',
  details: [
    'Plans examples/hotfix-root for a 4-node cluster, classifies the exit codes a run meets, and',
    'decides hotpatch eligibility for examples/hotpatch-facts.json and hotpatch-modern.json.',
    '',
    'Whole rollouts against a simulated fleet: rollout sandbox, or rollout start --local.',
    '',
    'Options:',
    '  --json       one JSON document: { steps: [{ command, result }] }, each result the',
    "               command's own --json answer",
    '  -h, --help   show this help',
  ],
  options: {
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

export function runDemo(argv: readonly string[], io: Io): number {
  const flags = parseFlags(demoCommand, argv);
  const steps: { command: string; result: unknown }[] = [];
  const run = (
    title: string,
    args: readonly string[],
    command: (argv: readonly string[], io: Io) => number,
  ) => {
    const shown = `rollout ${args.join(' ')}`;
    if (!flags.json) {
      io.out(`\n=== ${title}\n$ ${shown}\n`);
      command(args.slice(1), { ...io, cwd: EXAMPLES });
      return;
    }
    const out: string[] = [];
    command([...args.slice(1), '--json'], { ...io, out: (t) => out.push(t), cwd: EXAMPLES });
    steps.push({ command: shown, result: JSON.parse(out.join('\n')) });
  };

  run(
    'What would install where (CAU Invoke-CauScan)',
    ['plan', '--root', 'hotfix-root', '--nodes', 'NODE1,NODE2,NODE3,NODE4'],
    runPlan,
  );
  for (const [code, extension] of [
    ['0x80240017', 'msu'],
    ['3010', 'msu'],
    ['1641', 'msi'],
    ['1618', 'msi'],
    ['1642', 'msp'],
  ] as const) {
    run(
      'How an installer exit code reads',
      ['exit-code', '--code', code, '--extension', extension],
      runExitCode,
    );
  }
  run(
    'Hotpatch eligibility, KB897341 rules',
    ['hotpatch', '--input', 'hotpatch-facts.json'],
    runHotpatch,
  );
  run(
    'Hotpatch eligibility, modern hotpatch',
    ['hotpatch', '--input', 'hotpatch-modern.json'],
    runHotpatch,
  );
  if (flags.json) io.out(JSON.stringify({ steps }, null, 2));
  else {
    io.out(
      '\nWhole rollouts against a simulated fleet: npx rollout sandbox, or npx rollout start --local.',
    );
  }
  return 0;
}
