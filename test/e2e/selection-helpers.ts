/** Shared by the target-selection e2e tests (issue 11 §1): a tagged fleet and one selected run. */
import { checkRunInvariants, violations } from '../../sandbox/invariants.js';
import { readRunReport } from '../../sandbox/report.js';
import type { ScenarioResult } from '../../sandbox/run-scenario.js';
import { parseScenario } from '../../sandbox/scenario.js';

const FILE = 'windows10.0-kb5036001-x64.msu';
export const TARGET = 'web-fleet';

/** `count` nodes WEB001..; `tagged(i)` gives each node's tags and groups. */
export function selectionScenario(
  count: number,
  tagged: (i: number) => { tags?: Record<string, string>; resourceGroups?: string[] },
  /** The update's installer exit codes on every node. @default [0] */
  exitCodes: readonly number[] = [0],
) {
  const width = Math.max(3, String(count).length);
  const nameOf = (i: number) => `WEB${String(i + 1).padStart(width, '0')}`;
  return parseScenario(
    {
      name: `selection-${count}`,
      hotfixRoot: { files: [{ path: `CAUHotfix_All/${FILE}` }] },
      nodes: Array.from({ length: count }, (_, i) => ({
        name: nameOf(i),
        ...tagged(i),
        updates: { KB5036001: { exitCodes: [...exitCodes], minutes: 1 } },
      })),
      // The scenario's own run is not run (runRollouts: false); it names one node.
      rollout: { target: { kind: 'group', name: TARGET, nodes: [{ name: nameOf(0) }] } },
    },
    'test',
  );
}

export const PLUGINS = [
  {
    name: 'Microsoft.HotfixPlugin',
    arguments: 'HotfixRootFolderPath=s3://selection-hotfixes/root',
  },
];

/** The Lambda error's message in a Fail state's cause. */
export const messageOf = (cause: string | undefined) =>
  (JSON.parse(cause ?? '{}') as { errorMessage?: string }).errorMessage ?? '';

/** Runs one rollout input in the scenario's sandbox; returns its execution, report and invariants. */
export async function runSelected(
  result: ScenarioResult,
  input: Record<string, unknown>,
  name: string,
) {
  const { sandbox, fleet, observations } = result;
  const fleetFrom = fleet.log.length;
  const execution = await sandbox.runRollout(input, name);
  const runId = (execution.output as { runId?: string } | undefined)?.runId ?? name;
  const report = await readRunReport(sandbox.store, runId, sandbox.s3).catch(() => undefined);
  const invariants =
    report === undefined
      ? []
      : await sandbox.clock.track(() =>
          checkRunInvariants({
            sandbox,
            fleet,
            observations,
            execution,
            report,
            nodes: report.nodes.map((n) => n.name),
            fleetFrom,
          }),
        );
  return { execution, report, invariants: violations(invariants), fleetFrom };
}
