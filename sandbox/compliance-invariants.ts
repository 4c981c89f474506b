/**
 * The promise of a compliance assessment (issue 13, item 8): it is read-only. While it ran, none
 * of its target's nodes was drained, resumed or restarted, none was sent any document but
 * ScanUpdates (no install, removal, script or restart command), and nothing was installed.
 *
 * The evidence is the fleet's own: its log of drains, resumes, restarts and commands, and the
 * installs each node recorded, not the assessment's word.
 */
import type { DocumentKey } from '../lambdas/core/contracts.js';
import { nodeKey } from '../lambdas/core/node-names.js';
import type { FleetLogEntry } from './fleet.js';

export const ASSESSMENT_READ_ONLY = {
  name: 'assessmentReadOnly',
  rule: 'A compliance assessment (issue 13, item 8) changes nothing: while it runs, its target’s nodes are not drained, resumed or restarted, are sent no document but ScanUpdates, and install nothing. Evidence: the fleet log and the nodes’ installs.',
} as const;

/** The only document an assessment may send. */
const SCAN_DOCUMENT: DocumentKey = 'scan';

export interface AssessmentEvidence {
  readonly assessmentId: string;
  /** The fleet log while the assessment ran. */
  readonly log: readonly FleetLogEntry[];
  /** The assessment's target's nodes. */
  readonly nodes: readonly string[];
  /** What the node installed since the assessment started. */
  readonly installsSince: (node: string) => readonly { readonly update: string }[];
}

export function checkAssessmentReadOnly(evidence: AssessmentEvidence): {
  problems: string[];
  detail: string;
} {
  const members = new Set(evidence.nodes.map(nodeKey));
  const problems: string[] = [];
  let commands = 0;
  for (const entry of evidence.log) {
    if (!members.has(nodeKey(entry.node))) continue;
    const at = new Date(entry.at).toISOString();
    if (entry.kind === 'drain' || entry.kind === 'resume' || entry.kind === 'restart') {
      problems.push(
        `${entry.node}: ${entry.kind} at ${at} during assessment ${evidence.assessmentId}`,
      );
    } else if (entry.kind === 'command') {
      if (entry.document !== SCAN_DOCUMENT) {
        problems.push(
          `${entry.node}: command ${entry.commandId} (${entry.document}) at ${at} during assessment ${evidence.assessmentId}; an assessment sends only ScanUpdates`,
        );
      } else commands++;
    }
  }
  for (const node of evidence.nodes) {
    for (const install of evidence.installsSince(node)) {
      problems.push(
        `${node}: installed ${install.update} during assessment ${evidence.assessmentId}`,
      );
    }
  }
  return {
    problems,
    detail: `assessment ${evidence.assessmentId}: ${commands} ScanUpdates command update(s) on ${evidence.nodes.length} node(s); nothing drained, resumed, restarted or installed`,
  };
}
