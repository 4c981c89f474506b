/**
 * `rollout demo`: the rules engine on the shipped examples. This is what `npm start` runs until
 * the local sandbox (which runs whole rollouts) exists.
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
  usage: 'rollout demo',
  details: [
    'Plans examples/hotfix-root for a 4-node cluster, classifies the exit codes a run meets, and',
    'decides hotpatch eligibility for examples/hotpatch-facts.json and hotpatch-modern.json.',
    '',
    'Options:',
    '  -h, --help   show this help',
  ],
  options: { help: { type: 'boolean', short: 'h', default: false } },
} satisfies CommandSpec;

export function runDemo(argv: readonly string[], io: Io): number {
  parseFlags(demoCommand, argv);
  const here: Io = { ...io, cwd: EXAMPLES };
  const step = (title: string, command: string) => io.out(`\n=== ${title}\n$ rollout ${command}\n`);

  step(
    'What would install where (CAU Invoke-CauScan)',
    'plan --root hotfix-root --nodes NODE1,NODE2,NODE3,NODE4',
  );
  runPlan(['--root', 'hotfix-root', '--nodes', 'NODE1,NODE2,NODE3,NODE4'], here);
  for (const [code, extension] of [
    ['0x80240017', 'msu'],
    ['3010', 'msu'],
    ['1641', 'msi'],
    ['1618', 'msi'],
    ['1642', 'msp'],
  ] as const) {
    step('How an installer exit code reads', `exit-code --code ${code} --extension ${extension}`);
    runExitCode(['--code', code, '--extension', extension], here);
  }
  step('Hotpatch eligibility, KB897341 rules', 'hotpatch --input hotpatch-facts.json');
  runHotpatch(['--input', 'hotpatch-facts.json'], here);
  step('Hotpatch eligibility, modern hotpatch', 'hotpatch --input hotpatch-modern.json');
  runHotpatch(['--input', 'hotpatch-modern.json'], here);
  io.out(
    '\nThe local sandbox that runs whole rollouts against a simulated fleet is not built yet.',
  );
  return 0;
}
