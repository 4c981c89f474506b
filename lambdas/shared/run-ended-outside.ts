/**
 * Rollout Failed for a run marked Failed outside its workflow: its execution ended (aborted,
 * timed out, failed) before the run recorded its end, and the status-change rule (run-lock) or
 * ForceRecovery (api) marked it. Subscribers (a change ticket waiting for the run's end) learn
 * of it as of any other end, and the report and the events agree (the finished event carries
 * the stored status). Called after the run record is written: a failed publish loses no history.
 */
import { rolloutFinished } from '../core/lifecycle-events.js';
import type { LifecyclePublisher } from './event-publisher.js';
import type { RunStore } from './run-store.js';
import { summariseRun } from './run-summary.js';

export async function publishRunEndedOutsideWorkflow(
  store: RunStore,
  publisher: LifecyclePublisher | undefined,
  runId: string,
  now: Date,
): Promise<void> {
  if (!publisher?.enabled) return;
  const items = await store.getRunItems(runId);
  if (items.run === undefined) return;
  const summary = summariseRun(items.run, items.nodes, now);
  const { sequence, run } = await store.nextEventSequence(runId);
  const event = rolloutFinished(run, summary, {
    sequence,
    occurredAt: run.finishedAt ?? now.toISOString(),
  });
  await publisher.publish(event.detailType, event.detail);
}
