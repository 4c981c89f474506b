/**
 * Per-update start and end times (issue 12 §3, like Get-CauReport -Detailed). One SSM command
 * installs a node's updates one after another, and each result line carries its duration; the
 * interpret-results task runs as the command completes. So the last update ended at the command's
 * completion, and each earlier one ended where the next began. Times are ISO 8601 UTC, whole
 * seconds kept as measured.
 */
import type { UpdateResult } from './contracts.js';

export interface UpdateTimes {
  readonly startedAt: string;
  readonly finishedAt: string;
}

/**
 * The results, in the order the command ran them, each with its start and end; `completedAt` is
 * when the command completed. A negative or non-finite duration counts as zero.
 */
export function withUpdateTimes<T extends Pick<UpdateResult, 'durationSeconds'>>(
  results: readonly T[],
  completedAt: Date,
): (T & UpdateTimes)[] {
  let end = completedAt.getTime();
  const timed: (T & UpdateTimes)[] = [];
  for (let i = results.length - 1; i >= 0; i--) {
    const result = results[i] as T;
    const seconds = Number.isFinite(result.durationSeconds)
      ? Math.max(0, result.durationSeconds)
      : 0;
    const start = end - seconds * 1000;
    timed.unshift({
      ...result,
      startedAt: new Date(start).toISOString(),
      finishedAt: new Date(end).toISOString(),
    });
    end = start;
  }
  return timed;
}
