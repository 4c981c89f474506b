/** `rollout hotpatch`: decide whether an update can be installed on a node without a restart. */
import {
  decideHotpatch,
  type HotpatchDecision,
  parseHotpatchFacts,
} from '../../lambdas/core/hotpatch.js';
import { type CommandSpec, type Io, parseFlags, required } from '../args.js';
import { readJsonFile } from '../files.js';

export const hotpatchCommand = {
  name: 'hotpatch',
  summary: 'decide hotpatch eligibility (install without restart) from node and package facts',
  usage: 'rollout hotpatch --input <facts.json> [--json]',
  details: [
    'Options:',
    '  --input <facts.json>  the facts: policy "kb897341" (Windows Server 2003 SP1, KB897341) or',
    '                        "modern" (Windows Server 2022/2025 Azure Edition and Arc); see',
    '                        examples/hotpatch-facts.json and examples/hotpatch-modern.json',
    '  --json                print JSON: { eligible, reasons, checks, restart, installCommand }',
    '  -h, --help            show this help',
    '',
    'Eligible is a prediction: the installer exit code decides (0 = no restart, 3010 = restart).',
  ],
  options: {
    input: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

export function runHotpatch(argv: readonly string[], io: Io): number {
  const flags = parseFlags(hotpatchCommand, argv);
  const input = required(flags.input, 'input', hotpatchCommand.name);
  const decision = decideHotpatch(parseHotpatchFacts(readJsonFile(io.cwd, input, 'input')));
  io.out(flags.json ? JSON.stringify(decision, null, 2) : renderDecision(decision));
  return 0;
}

/** The decision as text. */
export function renderDecision(decision: HotpatchDecision): string {
  const lines = [
    `Hotpatch (${decision.policy}): ${decision.eligible ? 'ELIGIBLE' : 'NOT ELIGIBLE'}`,
    ...decision.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.rule}: ${c.detail}`),
    `Restart: ${decision.restart.mayBeRequired ? 'may still be required' : 'not expected'}`,
    ...decision.restart.reasons.map((r) => `  - ${r}`),
  ];
  if (decision.installCommand) lines.push(`Install with: ${decision.installCommand}`);
  if (decision.logFile) lines.push(`Install log:  ${decision.logFile}`);
  return lines.join('\n');
}
