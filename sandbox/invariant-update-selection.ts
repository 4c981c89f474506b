/**
 * The promise of issue 13 item 2, checked on every run: an update the run's updateSelection
 * excludes is never installed. Independent of the report: the run's own selection is applied
 * again to every install the fleet saw during the run (a Windows Update item by its scenario
 * facts, a hotfix file by the KB in its name), and the report must not call such an update
 * installed either.
 */
import { isSuccessfulOutcome } from '../lambdas/core/exit-codes.js';
import { nodeKey } from '../lambdas/core/node-names.js';
import {
  hotfixFileExclusion,
  kbFromFileName,
  type UpdateSelection,
  updateExclusion,
} from '../lambdas/core/update-selection.js';
import type { SimulatedFleet } from './fleet.js';
import type { RunReport } from './report.js';
import { windowsUpdateFacts } from './update-selection-model.js';

export interface SelectionEvidence {
  readonly fleet: SimulatedFleet;
  readonly nodes: readonly string[];
  /** The run's resolved updateSelection; null: none; undefined: not known (an API run). */
  readonly updateSelection?: UpdateSelection | null;
  readonly startedAt: number;
  readonly stoppedAt: number;
  readonly report?: RunReport;
}

/** Problems (empty: none) and what was checked. */
export function excludedNeverInstalled(evidence: SelectionEvidence): {
  problems: string[];
  checked: string;
} {
  const selection = evidence.updateSelection;
  if (selection === undefined) return { problems: [], checked: 'no updateSelection known' };
  if (selection === null) return { problems: [], checked: 'the run selects every update' };
  const problems: string[] = [];
  let installs = 0;
  for (const name of evidence.nodes) {
    const node = evidence.fleet.node(name);
    const offered = evidence.fleet.windowsUpdateOffered(name);
    for (const install of node.installs) {
      const at = Date.parse(install.at);
      if (at < evidence.startedAt || at > evidence.stoppedAt) continue;
      installs++;
      const item = offered.find((u) => u.title === install.update);
      const exclusion = item
        ? updateExclusion(windowsUpdateFacts(item), selection, new Date(at))
        : hotfixFileExclusion(kbFromFileName(install.update), selection);
      if (exclusion) {
        problems.push(
          `${node.name} installed ${install.update} at ${install.at}, which updateSelection.${exclusion.rule} excludes (${exclusion.reason})`,
        );
      }
    }
    const reported = evidence.report?.nodes.find((n) => nodeKey(n.name) === nodeKey(name));
    for (const u of reported?.updates ?? []) {
      if (
        u.excludedBy &&
        isSuccessfulOutcome(u.outcome as never) &&
        u.outcome !== 'NotApplicable'
      ) {
        problems.push(
          `${name}: the report calls ${u.update} ${u.outcome} although ${u.excludedBy} excluded it`,
        );
      }
    }
  }
  return {
    problems,
    checked: `${installs} install(s) during the run, none of an update the selection excludes`,
  };
}
