/** `rollout plan`: what each node would install from a hotfix root (CAU's Invoke-CauScan). */
import {
  DEFAULT_CONFIG_FILE_NAME,
  DEFAULT_UPDATE_ROOT,
  type HotfixPlan,
  planHotfixRoot,
} from '../../lambdas/core/hotfix-plan.js';
import { type CommandSpec, type Io, parseFlags, required } from '../args.js';
import { listFiles } from '../files.js';
import { loadConfig } from './config.js';

export const planCommand = {
  name: 'plan',
  summary: 'plan a hotfix root: the ordered updates each node installs, and what is ignored',
  usage: 'rollout plan --root <folder> --nodes <A,B,...> [--config <xml>] [--json]',
  details: [
    'Options:',
    '  --root <folder>           the hotfix root: CAUHotfix_All\\, <NodeName>\\ and',
    '                            <scope>\\<FolderRule>\\ folders (CAU hotfix plug-in layout)',
    '  --nodes <A,B,...>         the nodes of the run (NetBIOS names, comma-separated)',
    '  --config <xml>            the hotfix configuration (default: <root>/DefaultHotfixConfig.xml',
    '                            when the root has one, else the built-in default)',
    `  --config-file-name <name> HotfixConfigFileName in the root (default: ${DEFAULT_CONFIG_FILE_NAME})`,
    `  --update-root <path>      where nodes keep the files, for $update$ (default: ${DEFAULT_UPDATE_ROOT})`,
    '  --json                    print JSON: { config, nodes: { <name>: [{ file, rule, path,',
    '                            parameters, ... }] }, ignored: [{ file, reason }], warnings }',
    '  -h, --help                show this help',
    '',
    'Order per node: CAUHotfix_All before the node folder; extension rules before folder rules',
    '(in the order the configuration declares them); file names in ordinal order ignoring case.',
  ],
  options: {
    root: { type: 'string' },
    nodes: { type: 'string' },
    config: { type: 'string' },
    'config-file-name': { type: 'string' },
    'update-root': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
} satisfies CommandSpec;

export function runPlan(argv: readonly string[], io: Io): number {
  const flags = parseFlags(planCommand, argv);
  const root = required(flags.root, 'root', planCommand.name);
  const nodes = required(flags.nodes, 'nodes', planCommand.name)
    .split(',')
    .map((n) => n.trim());
  const configFileName = flags['config-file-name'] ?? DEFAULT_CONFIG_FILE_NAME;
  const { config, source } = loadConfig(io.cwd, flags.config, { folder: root, configFileName });
  const plan = planHotfixRoot({
    files: listFiles(io.cwd, root, 'root'),
    nodes,
    config,
    configFileName,
    ...(flags['update-root'] ? { updateRoot: flags['update-root'] } : {}),
  });
  if (flags.json) {
    io.out(JSON.stringify({ config: { source, warnings: config.warnings }, ...plan }, null, 2));
  } else {
    io.out(renderPlan(plan, source, config.warnings));
  }
  return 0;
}

/** The plan as text, like a scan report. */
export function renderPlan(
  plan: HotfixPlan,
  source: string,
  configWarnings: readonly string[],
): string {
  const lines = [`Hotfix configuration: ${source}`];
  for (const [node, updates] of Object.entries(plan.nodes)) {
    lines.push('', `${node}: ${updates.length} update${updates.length === 1 ? '' : 's'}`);
    updates.forEach((u, i) => {
      lines.push(
        `  ${i + 1}. ${u.file}  [${u.rule.kind} rule ${u.rule.name}${u.alwaysReboot ? ', alwaysReboot' : ''}]`,
      );
      lines.push(`     ${u.path} ${u.parameters}`.trimEnd());
    });
  }
  if (plan.ignored.length > 0) {
    lines.push('', `Ignored (${plan.ignored.length}):`);
    for (const i of plan.ignored) lines.push(`  ${i.file}: ${i.reason}`);
  }
  const warnings = [...configWarnings, ...plan.warnings];
  if (warnings.length > 0) {
    lines.push('', 'Warnings:');
    for (const w of warnings) lines.push(`  ${w}`);
  }
  return lines.join('\n');
}
