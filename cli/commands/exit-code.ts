/** `rollout exit-code`: classify an installer exit code against a hotfix rule. */
import { classifyExitCode, KNOWN_EXIT_CODES } from '../../lambdas/core/exit-codes.js';
import {
  findExtensionRule,
  findFolderRule,
  type HotfixRule,
} from '../../lambdas/core/hotfix-config.js';
import { type CommandSpec, type Io, parseFlags, required, UsageError } from '../args.js';
import { loadConfig } from './config.js';

export const exitCodeCommand = {
  name: 'exit-code',
  summary: "classify an installer exit code into CAU's outcomes",
  usage:
    'rollout exit-code --code <code> [--extension msu|msi|msp | --folder <FolderRuleName>] [--config <xml>] [--json]',
  details: [
    'Options:',
    '  --code <code>        the exit code: signed or unsigned 32-bit decimal, or hex (3010, 0xBC2,',
    '                       2149842967, -2145124329, 0x80240017)',
    '  --extension <ext>    classify with the extension rule for this file type (default: msu)',
    '  --folder <name>      classify with the <Folder> rule of this name instead',
    '  --config <xml>       a DefaultHotfixConfig.xml to read the rules from',
    '                       (default: the built-in lambdas/core/default-hotfix-config.xml)',
    '  --json               print one JSON object: code, hex, name, outcome, rebootRequired,',
    '                       rebootInitiated, transient, rule',
    '  -h, --help           show this help',
    '',
    'Outcomes: Success, Success_RebootRequired, Fail_RebootRequired, AlreadyInstalled,',
    'NotApplicable, and Failed for any code the rule does not list (no restart).',
  ],
  options: {
    code: { type: 'string' },
    extension: { type: 'string' },
    folder: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

export function runExitCode(argv: readonly string[], io: Io): number {
  const flags = parseFlags(exitCodeCommand, argv);
  const code = required(flags.code, 'code', exitCodeCommand.name);
  if (flags.extension !== undefined && flags.folder !== undefined) {
    throw new UsageError('rollout exit-code: give --extension or --folder, not both');
  }
  const { config, source } = loadConfig(io.cwd, flags.config);
  let rule: HotfixRule | undefined;
  if (flags.folder !== undefined) {
    rule = findFolderRule(config, flags.folder);
    if (!rule) {
      const names = config.folderRules.map((r) => r.name).join(', ') || 'none';
      throw new UsageError(
        `--folder ${JSON.stringify(flags.folder)}: ${source} has no <Folder> rule of that name (folder rules: ${names})`,
      );
    }
  } else {
    const extension = (flags.extension ?? 'msu').replace(/^\./, '');
    rule = findExtensionRule(config, `update.${extension}`);
    if (!rule) {
      const names = config.extensionRules.map((r) => r.name.toLowerCase()).join(', ') || 'none';
      throw new UsageError(
        `--extension ${JSON.stringify(flags.extension)}: ${source} has no extension rule for it (extension rules: ${names})`,
      );
    }
  }
  const result = classifyExitCode(code, rule.exitConditions, { alwaysReboot: rule.alwaysReboot });
  if (flags.json) {
    io.out(
      JSON.stringify(
        { ...result, rule: { kind: rule.kind, name: rule.name }, config: source },
        null,
        2,
      ),
    );
    return 0;
  }
  const known = KNOWN_EXIT_CODES.get(result.code);
  io.out(
    [
      `Exit code ${result.code} (${result.hex})${known ? ` ${known.name}: ${known.meaning}` : ''}`,
      `Rule:      ${rule.kind} ${rule.name} (${source})`,
      `Outcome:   ${result.outcome}${result.matchedCondition ? '' : ' (the rule does not list this code)'}`,
      `Restart:   ${result.rebootInitiated ? 'already started by the installer' : result.rebootRequired ? 'required' : 'not required'}`,
      ...(result.transient ? ['Transient: yes, a later retry may succeed'] : []),
    ].join('\n'),
  );
  return 0;
}
