/**
 * The promise health gates make during a bake (issue 13, item 1), part of `noNodeStartsInAlarm`:
 * with onAlarm stop, a phase that bakes (and keeps alarmsQuiet) reads the alarms every
 * healthGates.checkEveryMinutes, so an alarm in ALARM for a whole check interval inside the bake
 * stops the run there, even when it is OK again before the bake ends: no node of a later phase
 * starts after such a bake.
 *
 * The phases are resolved again from the rollout input; the evidence is the alarm timeline, the
 * run store's node result writes (a phase's bake starts after the last of its nodes' results)
 * and the node starts, not the workflow's verdicts or events.
 */

import { nodeKey } from '../lambdas/core/node-names.js';
import { DEFAULT_BAKE_CHECK_MINUTES } from '../lambdas/core/phases.js';
import { parseRolloutInput } from '../lambdas/core/rollout-input.js';

/** The bake's first read comes a little after the phase's last result (its verdict, its event). */
const SLACK_MS = 60_000;

export interface BakeGateEvidence {
  readonly runId: string;
  /** The rollout input as the run was started with it. */
  readonly rollout: unknown;
  readonly startedAt: string;
  /** The alarms the gates read (by name and by tag, resolved). */
  readonly alarmNames: readonly string[];
  readonly inAlarmThroughout: (name: string, from: number, to: number) => boolean;
  /** When the alarm changed state, ascending (to find its ALARM spans). */
  readonly changesOf: (name: string) => readonly { readonly at: number; readonly state: string }[];
  readonly nodeResults: readonly {
    readonly at: number;
    readonly runId: string;
    readonly node: string;
  }[];
  readonly nodeStarts: readonly {
    readonly at: number;
    readonly runId: string;
    readonly node: string;
  }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The problems (a node started after a bake that should have stopped the run) and a summary. */
export function checkBakeGates(evidence: BakeGateEvidence): { problems: string[]; bakes: number } {
  let resolved: ReturnType<typeof parseRolloutInput>;
  try {
    resolved = parseRolloutInput(evidence.rollout, new Date(evidence.startedAt), {
      defaultRunId: evidence.runId,
    });
  } catch {
    return { problems: [], bakes: 0 };
  }
  const phases = resolved.phases?.list ?? [];
  const everyMs = (resolved.healthGates?.checkEveryMinutes ?? DEFAULT_BAKE_CHECK_MINUTES) * 60_000;
  const order = resolved.target.nodes.map((n) => n.name);
  const results = evidence.nodeResults.filter((r) => r.runId === evidence.runId);
  const starts = evidence.nodeStarts.filter((s) => s.runId === evidence.runId);
  const problems: string[] = [];
  let bakes = 0;
  for (const phase of phases) {
    if (phase.advance !== 'bake' || !phase.alarmsQuiet) continue;
    const mine = new Set(order.slice(phase.start, phase.end).map(nodeKey));
    const later = new Set(order.slice(phase.end).map(nodeKey));
    const ends = results.filter((r) => mine.has(nodeKey(r.node))).map((r) => r.at);
    if (ends.length === 0) continue;
    bakes++;
    const bakeFrom = Math.max(...ends);
    const next = starts
      .filter((s) => later.has(nodeKey(s.node)) && s.at >= bakeFrom)
      .sort((a, b) => a.at - b.at)[0];
    // The run stopped in (or at the end of) this bake: nothing started to break the promise.
    if (next === undefined) continue;
    // The bake read the alarms at least every interval from just after bakeFrom until next.
    const bakeTo = Math.min(next.at, bakeFrom + phase.bakeSeconds * 1000);
    for (const name of evidence.alarmNames) {
      const spanStarts = [
        bakeFrom + SLACK_MS,
        ...evidence
          .changesOf(name)
          .filter((c) => c.state === 'ALARM' && c.at > bakeFrom + SLACK_MS)
          .map((c) => c.at),
      ];
      const fired = spanStarts.find(
        (from) =>
          from + everyMs + SLACK_MS <= bakeTo &&
          evidence.inAlarmThroughout(name, from, from + everyMs + SLACK_MS),
      );
      if (fired !== undefined) {
        problems.push(
          `${next.node} started at ${iso(next.at)} after the bake of ${phase.name} (phases[${phase.index}]) in which ${name} was in ALARM from ${iso(fired)} for more than a check interval (${everyMs / 60_000} min)`,
        );
      }
    }
  }
  return { problems, bakes };
}
