/** Issue 12 §3: per-update start and end times from the command's completion and the durations. */
import { describe, expect, it } from 'vitest';
import { withUpdateTimes } from '../../lambdas/core/update-times.js';

const at = new Date('2026-01-13T23:00:00.000Z');

describe('withUpdateTimes', () => {
  it.each([
    {
      case: 'updates run one after another, the last ending at completion',
      durations: [60, 120, 30],
      times: [
        ['2026-01-13T22:56:30.000Z', '2026-01-13T22:57:30.000Z'],
        ['2026-01-13T22:57:30.000Z', '2026-01-13T22:59:30.000Z'],
        ['2026-01-13T22:59:30.000Z', '2026-01-13T23:00:00.000Z'],
      ],
    },
    {
      case: 'a zero, negative or non-finite duration counts as zero',
      durations: [10, -5, Number.NaN],
      times: [
        ['2026-01-13T22:59:50.000Z', '2026-01-13T23:00:00.000Z'],
        ['2026-01-13T23:00:00.000Z', '2026-01-13T23:00:00.000Z'],
        ['2026-01-13T23:00:00.000Z', '2026-01-13T23:00:00.000Z'],
      ],
    },
    { case: 'no update', durations: [], times: [] },
  ])('$case', ({ durations, times }) => {
    const timed = withUpdateTimes(
      durations.map((durationSeconds, index) => ({ index, durationSeconds })),
      at,
    );
    expect(timed.map((t) => [t.startedAt, t.finishedAt])).toEqual(times);
    expect(timed.map((t) => t.index)).toEqual(durations.map((_, i) => i));
  });
});
