/**
 * toStagingExpressions (issue 13 item 5): the Scheduler cron that starts staging
 * `staging.hoursBeforeWindow` hours before each window, in the schedule's own time zone, the
 * time moved back across midnight with the weekday (EventBridge cron: 1 = SUN ... 7 = SAT).
 */
import { describe, expect, it } from 'vitest';
import {
  nextOccurrences,
  parseSchedule,
  type Schedule,
  ScheduleError,
  type ScheduleInput,
  toStagingExpressions,
} from '../../lambdas/core/schedule.js';

const base: ScheduleInput = {
  startDate: '2026-01-01',
  daysOfWeek: ['Tuesday'],
  time: '01:00',
  timeZone: 'UTC',
  windowMinutes: 240,
};
const schedule = (input: Partial<ScheduleInput>): Schedule => parseSchedule({ ...base, ...input });

describe('toStagingExpressions', () => {
  it.each([
    // [case, schedule, hours, expressions, exact, daysBefore]
    ['01:00 Tuesday, 3 h: 22:00 Monday', {}, 3, ['cron(0 22 ? * MON *)'], true, 1],
    ['01:00 Tuesday, 1 h: same day', {}, 1, ['cron(0 0 ? * TUE *)'], true, 0],
    [
      '00:30 Sunday, 1 h: Saturday 23:30 (the week wraps)',
      { time: '00:30', daysOfWeek: ['Sunday'] },
      1,
      ['cron(30 23 ? * SAT *)'],
      true,
      1,
    ],
    [
      '03:15 Tuesday and Thursday, 27 h: Monday and Wednesday 00:15',
      { time: '03:15', daysOfWeek: ['Tuesday', 'Thursday'] },
      27,
      ['cron(15 0 ? * MON,WED *)'],
      true,
      1,
    ],
    ['01:00 Tuesday, 49 h: Sunday 00:00, two days back', {}, 49, ['cron(0 0 ? * SUN *)'], true, 2],
    [
      '01:00 Tuesday, 168 h: the same time a week before',
      {},
      168,
      ['cron(0 1 ? * TUE *)'],
      true,
      7,
    ],
    ['01:00 Tuesday, 24 h: Monday 01:00', {}, 24, ['cron(0 1 ? * MON *)'], true, 1],
    [
      'second Tuesday 05:00, 3 h: same day, exact',
      { time: '05:00', weeksOfMonth: [2] },
      3,
      ['cron(0 2 ? * 3#2 *)'],
      true,
      0,
    ],
    [
      'last Friday 23:00, 2 h: same day, exact',
      { time: '23:00', daysOfWeek: ['Friday'], weeksOfMonth: [5] },
      2,
      ['cron(0 21 ? * 6L *)'],
      true,
      0,
    ],
    [
      'second Tuesday 05:30, 3 h: the minutes kept',
      { time: '05:30', weeksOfMonth: [2] },
      3,
      ['cron(30 2 ? * 3#2 *)'],
      true,
      0,
    ],
    [
      'second Tuesday 01:00, 3 h: every Monday 22:00 (a superset)',
      { weeksOfMonth: [2] },
      3,
      ['cron(0 22 ? * MON *)'],
      false,
      1,
    ],
    [
      'every 2 weeks, 3 h: every week (a superset)',
      { intervalWeeks: 2 },
      3,
      ['cron(0 22 ? * MON *)'],
      false,
      1,
    ],
  ] as const)('%s', (_case, input, hours, expressions, exact, daysBefore) => {
    const s = schedule(input as Partial<ScheduleInput>);
    expect(toStagingExpressions(s, hours)).toEqual({
      expressions,
      timeZone: 'UTC',
      exact,
      daysBefore,
    });
  });

  it('keeps the time zone: the shift is wall-clock time there', () => {
    const s = schedule({ timeZone: 'Europe/Paris', time: '02:00', daysOfWeek: ['Monday'] });
    expect(toStagingExpressions(s, 4)).toMatchObject({
      expressions: ['cron(0 22 ? * SUN *)'],
      timeZone: 'Europe/Paris',
    });
  });

  it('fires exactly n hours before every window of a weekly schedule (a year of windows, each n)', () => {
    // An evaluator of the expression, independent of how it was made.
    const matches = (expression: string, at: Date) => {
      const m = /^cron\((\d+) (\d+) \? \* ([A-Z,]+) \*\)$/.exec(expression);
      if (!m) throw new Error(`unexpected expression ${expression}`);
      const days = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
      return (
        at.getUTCMinutes() === Number(m[1]) &&
        at.getUTCHours() === Number(m[2]) &&
        (m[3] as string).split(',').includes(days[at.getUTCDay()] as string)
      );
    };
    const s = schedule({ daysOfWeek: ['Sunday', 'Wednesday', 'Friday'], time: '04:45' });
    for (let hours = 1; hours <= 168; hours++) {
      const [expression] = toStagingExpressions(s, hours).expressions as [string];
      for (const window of nextOccurrences(s, new Date('2026-01-01T00:00:00Z'), 156)) {
        const stagingAt = new Date(window.getTime() - hours * 3_600_000);
        expect(matches(expression, stagingAt), `${hours} h before ${window.toISOString()}`).toBe(
          true,
        );
      }
    }
  });

  it.each([0, 169, 2.5, Number.NaN])('refuses hoursBeforeWindow %s, naming the field', (hours) => {
    let error: unknown;
    try {
      toStagingExpressions(schedule({}), hours);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScheduleError);
    expect((error as ScheduleError).problems).toEqual([
      {
        field: 'staging.hoursBeforeWindow',
        value: hours,
        message: 'expected a whole number of hours from 1 to 168',
      },
    ]);
  });
});
