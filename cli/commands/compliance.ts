/**
 * `rollout compliance --target <name>` (issue 13, item 8): each node's last compliance
 * assessment, from GET /compliance. With --local, the one-command sandbox first runs the
 * scenario's rollouts and then an assessment of the target (the synthesized assessment
 * workflow), since an assessment is what a deployed schedule would have run.
 */
import type { CompliancePageView } from '../../lambdas/core/compliance-api.js';
import { type CommandSpec, type Io, parseFlags, UsageError } from '../args.js';
import type { RolloutBackend } from '../backend.js';
import type { LocalBackend } from '../local-backend.js';
import {
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  LOCAL_READ_HELP,
  OUTPUT_HELP,
  withBackend,
} from './rollouts.js';

export const complianceCommand = {
  name: 'compliance',
  summary: "a cluster's or group's compliance per node, from its last assessment (GET /compliance)",
  usage:
    'rollout compliance --target <name> [--limit <n>] [--cursor <c>] [--json] [--local | --endpoint <url>]',
  details: [
    "Each node's last read-only assessment (Patch Manager's patch state): its state (Compliant,",
    'NonCompliant, or Unknown when the scan did not answer), what is missing, what failed on its',
    "last attempt in the node's last run, whether a restart is pending, and what changed since",
    'the assessment before (FellOut, CameBack). Assessments run on a schedule of kind',
    '"assessment", or by starting the compliance workflow; they install nothing.',
    '',
    'Options:',
    '  --target <name>    the cluster or group (required)',
    '  --limit <n>        nodes per page, 1 to 100 (default 50)',
    '  --cursor <c>       the next page, as the previous page printed it',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    ...LOCAL_READ_HELP,
    "With --local, an assessment of the target then runs in the sandbox (the scenario's rollout of",
    'that target says what to search for) before the answer.',
    'Example: rollout compliance --local --scenario examples/scenarios/compliance.json --target web',
  ],
  options: {
    ...CONNECTION_OPTIONS,
    target: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  },
} satisfies CommandSpec;

function isLocal(backend: RolloutBackend): backend is LocalBackend {
  return 'sandbox' in backend && 'scenario' in backend;
}

/** Runs an assessment of `target` in the local sandbox, from the scenario's rollout of it. */
async function assessLocally(backend: LocalBackend, target: string): Promise<void> {
  const runs = backend.scenario.runs.filter(
    (r) => r.rollout.target.name.toUpperCase() === target.toUpperCase(),
  );
  const input = runs[0]?.rollout;
  if (input === undefined) {
    const known = [...new Set(backend.scenario.runs.map((r) => r.rollout.target.name))];
    throw new UsageError(
      `rollout compliance: --target ${JSON.stringify(target)}: the scenario ${backend.scenario.name} has no rollout of it; its targets: ${known.join(', ') || 'none'}`,
    );
  }
  const { runId: _runId, ...rollout } = JSON.parse(JSON.stringify(input)) as Record<
    string,
    unknown
  >;
  backend.sandbox.startAssessment(rollout as never, `assessment-${target}`.slice(0, 64));
  await backend.sandbox.settle();
}

export async function runCompliance(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(complianceCommand, argv);
  const target = flags.target;
  if (target === undefined || target.trim() === '') {
    throw new UsageError(
      `rollout compliance: --target is required: ${complianceCommand.usage} (see rollout compliance --help)`,
    );
  }
  let limit: number | undefined;
  if (flags.limit !== undefined) {
    limit = Number(flags.limit);
    if (!/^[0-9]{1,4}$/.test(flags.limit) || limit < 1 || limit > 100) {
      throw new UsageError(
        `rollout compliance: --limit ${JSON.stringify(flags.limit)}: expected a whole number from 1 to 100`,
      );
    }
  }
  return withBackend(complianceCommand.name, io, flags, async (backend) => {
    if (flags.local && isLocal(backend)) await assessLocally(backend, target);
    const page = await backend.getCompliance(target, {
      ...(limit === undefined ? {} : { limit }),
      ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
    });
    if (flags.json) io.out(JSON.stringify(page, null, 2));
    else io.out(renderCompliance(page));
    return 0;
  });
}

/** The page as text: the counts, one row per node, then each node's reasons. */
export function renderCompliance(page: CompliancePageView): string {
  const { counts } = page;
  if (page.nodes.length === 0) {
    return `No assessment of ${page.target} is recorded yet: run one (a schedule of kind "assessment", or the compliance workflow).`;
  }
  const rows = page.nodes.map((n) => [
    n.node,
    n.state,
    String(n.missing.length),
    String(n.failed.length),
    n.pendingRestart === null ? '?' : n.pendingRestart ? 'yes' : 'no',
    n.change ?? '-',
    n.assessedAt,
  ]);
  const header = ['NODE', 'STATE', 'MISSING', 'FAILED', 'RESTART', 'CHANGE', 'ASSESSED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [
    `Compliance of ${page.target}: ${counts.Compliant} Compliant, ${counts.NonCompliant} NonCompliant, ${counts.Unknown} Unknown`,
    '',
    line(header),
    ...rows.map(line),
  ];
  for (const n of page.nodes.filter((x) => x.reasons.length > 0)) {
    out.push('', `${n.node}:`);
    for (const reason of n.reasons) out.push(`  - ${reason}`);
    for (const f of n.failed) {
      out.push(
        `  - failed: ${f.update} (exit ${f.exitCode ?? 'none'}, attempt ${f.attempt}, run ${f.runId})`,
      );
    }
  }
  if (page.cursor !== null) out.push('', `More nodes: --cursor ${page.cursor}`);
  return out.join('\n');
}
