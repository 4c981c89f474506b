/**
 * The live progress display: one line per node with its current phase and simulated time,
 * redrawn in place on a terminal; on a pipe, one line per node when it finishes.
 */
import type { ProgressEvent } from './engine.js';

/** The phase a node is in when its workflow enters a state (states not listed keep the phase). */
const PHASES: ReadonlyArray<[RegExp, string]> = [
  [/^Preflight$/, 'preflight'],
  [/^PlanNode$/, 'planning'],
  [/^Inventory$/, 'inventory'],
  [/^HotpatchEligibility$/, 'hotpatch check'],
  [/^PreUpdateScript$/, 'pre-update script'],
  [/^Drain$/, 'draining'],
  [/^InstallHotfixes$/, 'installing hotfixes'],
  [/^InstallWindowsUpdates$/, 'installing Windows updates'],
  [/^Retry/, 'retrying'],
  [/^Restart(Final|After\w+Plugin)$/, 'restarting'],
  [/^Verify$/, 'verifying'],
  [/^Resume(AfterFailure)?$/, 'resuming'],
  [/^PostUpdateScript$/, 'post-update script'],
  [/^(NodeUpdated|RecordNodeSucceeded)$/, 'updated'],
  [/^NodeFailed$/, 'FAILED'],
  [/^NodeHadNothingToInstall$/, 'nothing to install'],
  [/^NodeNotStarted$/, 'not started (StopAfter)'],
];
const FINAL = new Set(['updated', 'FAILED', 'nothing to install', 'not started (StopAfter)']);

export interface ProgressDisplay {
  readonly onProgress: (event: ProgressEvent) => void;
  /** Ends the display (prints what is left). */
  finish(): void;
}

/** A display writing to `out`; `live` redraws in place (a terminal). */
export function createProgressDisplay(
  write: (text: string) => void,
  live: boolean,
): ProgressDisplay {
  const nodes = new Map<string, { phase: string; at: Date }>();
  let drawn = 0;
  let pending = false;
  const redraw = () => {
    pending = false;
    const lines = [...nodes.entries()].map(
      ([name, s]) => `  ${name.padEnd(16)} ${s.at.toISOString().slice(11, 19)}  ${s.phase}`,
    );
    const up = drawn > 0 ? `\u001b[${drawn}A` : '';
    write(`${up}${lines.map((l) => `\u001b[2K${l}`).join('\n')}\n`);
    drawn = lines.length;
  };
  return {
    onProgress(event) {
      if (!event.node) return;
      const phase = PHASES.find(([pattern]) => pattern.test(event.state))?.[1];
      if (!phase) return;
      const key = event.runId ? `${event.node}` : event.node;
      nodes.set(key, { phase, at: event.at });
      if (live) {
        if (!pending) {
          pending = true;
          setImmediate(redraw);
        }
      } else if (FINAL.has(phase)) {
        write(`  ${event.node.padEnd(16)} ${event.at.toISOString().slice(11, 19)}  ${phase}\n`);
      }
    },
    finish() {
      if (live && nodes.size > 0) redraw();
      nodes.clear();
      drawn = 0;
    },
  };
}
