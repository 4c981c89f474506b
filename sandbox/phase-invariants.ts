/**
 * The promise phases make (issue 13, item 4), checked on every sandbox run that has phases:
 * a later phase's node never starts before its phase gate let it, that is
 * - never after a phase whose nodes failed more than its failuresAllowed (the run stops there);
 * - never before the last node of every earlier phase has its result recorded, plus that
 *   phase's bake when it bakes.
 *
 * The phases are resolved again from the rollout input (the same rules the workflow got), and
 * the evidence is the run store's node result writes and the node starts seen over time, not
 * the workflow's own verdicts or events.
 */
import { nodeKey } from '../lambdas/core/node-names.js';
import { parseRolloutInput } from '../lambdas/core/rollout-input.js';

export const PHASES_GATE_IN_ORDER = {
  name: 'phasesGateInOrder',
  rule: "With phases: no node of a later phase starts after a phase whose failed nodes exceed its failuresAllowed, nor before every earlier phase's nodes have their results recorded and that phase's bake (if any) has passed since the last of them.",
} as const;

export interface PhaseEvidence {
  readonly runId: string;
  /** The rollout input as the run was started with it. */
  readonly rollout: unknown;
  readonly startedAt: string;
  readonly nodeResults: readonly {
    readonly at: number;
    readonly runId: string;
    readonly node: string;
    readonly status: string;
  }[];
  readonly nodeStarts: readonly {
    readonly at: number;
    readonly runId: string;
    readonly node: string;
  }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The problems found (none when the promise held), and what was checked. */
export function checkPhasesGateInOrder(evidence: PhaseEvidence): {
  problems: string[];
  detail: string;
} {
  let phases: ReturnType<typeof parseRolloutInput>['phases'];
  let order: readonly string[];
  try {
    const resolved = parseRolloutInput(evidence.rollout, new Date(evidence.startedAt), {
      defaultRunId: evidence.runId,
    });
    phases = resolved.phases;
    order = resolved.target.nodes.map((n) => n.name);
  } catch {
    return { problems: [], detail: 'the rollout input was refused: no phases ran' };
  }
  if (!phases) return { problems: [], detail: 'the run has no phases' };
  const results = evidence.nodeResults.filter((w) => w.runId === evidence.runId);
  const lastResult = new Map<string, { at: number; status: string }>();
  for (const w of results) lastResult.set(nodeKey(w.node), w);
  const firstStart = new Map<string, number>();
  for (const s of evidence.nodeStarts) {
    if (s.runId === evidence.runId && !firstStart.has(nodeKey(s.node))) {
      firstStart.set(nodeKey(s.node), s.at);
    }
  }
  const problems: string[] = [];
  for (const phase of phases.list) {
    const own = order.slice(phase.start, phase.end);
    const later = order.slice(phase.end).filter((n) => firstStart.has(nodeKey(n)));
    if (later.length === 0) continue;
    const firstLater = Math.min(...later.map((n) => firstStart.get(nodeKey(n)) as number));
    const failed = own.filter((n) => lastResult.get(nodeKey(n))?.status === 'Failed');
    if (failed.length > phase.failuresAllowed) {
      problems.push(
        `${phase.name}: ${failed.length} failed (${failed.join(', ')}), ${phase.failuresAllowed} allowed, yet ${later.join(', ')} of later phases started`,
      );
      continue;
    }
    const unrecorded = own.filter((n) => !lastResult.has(nodeKey(n)));
    if (unrecorded.length > 0) {
      problems.push(
        `${phase.name}: ${unrecorded.join(', ')} never recorded, yet later phases started`,
      );
      continue;
    }
    const done = Math.max(...own.map((n) => lastResult.get(nodeKey(n))?.at as number));
    const gateOpens = done + phase.bakeSeconds * 1000;
    if (firstLater < gateOpens) {
      problems.push(
        `${phase.name}: a later phase started at ${iso(firstLater)}, before its gate opened at ${iso(gateOpens)} (last result ${iso(done)}, bake ${phase.bakeSeconds} s)`,
      );
    }
  }
  return {
    problems,
    detail: `${phases.count} phase(s) over ${order.length} node(s), each later phase started only through its gate`,
  };
}
