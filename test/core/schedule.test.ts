/**
 * The self-updating schedule against a calendar written out by hand. 2026 begins on a Thursday;
 * the first days of its months fall on: Jan Thu, Feb Sun, Mar Sun, Apr Wed, May Fri, Jun Mon,
 * Jul Wed, Aug Sat, Sep Tue, Oct Thu, Nov Sun, Dec Tue; 2027-01-01 is a Friday.
 * DST in 2026: Europe/Paris forward Sun Mar 29 (02:00 -> 03:00), back Sun Oct 25 (03:00 -> 02:00);
 * America/New_York forward Sun Mar 8 (02:00 -> 03:00), back Sun Nov 1 (02:00 -> 01:00).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RolloutRuleError } from '../../lambdas/core/errors.js';
import {
  DAYS_OF_WEEK,
  describeSchedule,
  isScheduledOccurrence,
  nextOccurrences,
  parseSchedule,
  type Schedule,
  ScheduleError,
  type ScheduleInput,
  scheduleInputSchema,
  scheduleTriggerSchema,
  shouldRunAt,
  skippedDates,
  toScheduleInput,
  toSchedulerExpressions,
  windowFor,
} from '../../lambdas/core/schedule.js';

const NEW_YEAR_2026 = new Date('2026-01-01T00:00:00Z');

/** `YYYY-MM-DD HH:MM` on the wall clock of `timeZone`. */
function wallText(instant: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    })
      .formatToParts(instant)
      .map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

const base: ScheduleInput = {
  startDate: '2026-01-01',
  daysOfWeek: ['Tuesday'],
  time: '03:00',
  timeZone: 'UTC',
  windowMinutes: 240,
};
const schedule = (input: Partial<ScheduleInput>): Schedule => parseSchedule({ ...base, ...input });

/** Runs `fn` and returns the ScheduleError it throws; fails the test if it does not. */
function scheduleError(fn: () => unknown): ScheduleError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleError);
    return error as ScheduleError;
  }
  throw new Error('expected a ScheduleError, nothing was thrown');
}

describe('nextOccurrences: the next 12 against the 2026 calendar', () => {
  it.each([
    {
      source: 'brief: every Tuesday and Thursday at 3:00',
      input: { daysOfWeek: ['Tuesday', 'Thursday'], time: '03:00', timeZone: 'Europe/Paris' },
      expressions: ['cron(0 3 ? * TUE,THU *)'],
      days: [
        '2026-01-01',
        '2026-01-06',
        '2026-01-08',
        '2026-01-13',
        '2026-01-15',
        '2026-01-20',
        '2026-01-22',
        '2026-01-27',
        '2026-01-29',
        '2026-02-03',
        '2026-02-05',
        '2026-02-10',
      ],
    },
    {
      source: 'brief: second Tuesday of every month (Patch Tuesday)',
      input: { daysOfWeek: ['Tuesday'], weeksOfMonth: [2], timeZone: 'America/New_York' },
      expressions: ['cron(0 3 ? * 3#2 *)'],
      days: [
        '2026-01-13',
        '2026-02-10',
        '2026-03-10',
        '2026-04-14',
        '2026-05-12',
        '2026-06-09',
        '2026-07-14',
        '2026-08-11',
        '2026-09-08',
        '2026-10-13',
        '2026-11-10',
        '2026-12-08',
      ],
    },
    {
      source: 'CAU -WeeksOfMonth: 5 is the last week; the last Friday, also when it is the 4th',
      input: { daysOfWeek: ['Friday'], weeksOfMonth: [5], time: '22:00', timeZone: 'Europe/Paris' },
      expressions: ['cron(0 22 ? * 6L *)'],
      days: [
        '2026-01-30',
        '2026-02-27',
        '2026-03-27',
        '2026-04-24',
        '2026-05-29',
        '2026-06-26',
        '2026-07-31',
        '2026-08-28',
        '2026-09-25',
        '2026-10-30',
        '2026-11-27',
        '2026-12-25',
      ],
    },
    {
      source: 'brief: every 2 weeks on Saturday starting 2026-01-03',
      input: { startDate: '2026-01-03', daysOfWeek: ['Saturday'], intervalWeeks: 2, time: '01:00' },
      expressions: ['cron(0 1 ? * SAT *)'],
      guard: { kind: 'intervalWeeks', every: 2, anchorWeekStart: '2025-12-28' },
      days: [
        '2026-01-03',
        '2026-01-17',
        '2026-01-31',
        '2026-02-14',
        '2026-02-28',
        '2026-03-14',
        '2026-03-28',
        '2026-04-11',
        '2026-04-25',
        '2026-05-09',
        '2026-05-23',
        '2026-06-06',
      ],
    },
    {
      source: 'brief: weeks 1 and 3 on Sunday (minutes kept: 04:15)',
      input: {
        daysOfWeek: ['Sunday'],
        weeksOfMonth: [1, 3],
        time: '04:15',
        timeZone: 'Asia/Kolkata',
      },
      expressions: ['cron(15 4 ? * 1#1 *)', 'cron(15 4 ? * 1#3 *)'],
      days: [
        '2026-01-04',
        '2026-01-18',
        '2026-02-01',
        '2026-02-15',
        '2026-03-01',
        '2026-03-15',
        '2026-04-05',
        '2026-04-19',
        '2026-05-03',
        '2026-05-17',
        '2026-06-07',
        '2026-06-21',
      ],
    },
    {
      source: 'Add-CauClusterRole example 1: Tuesday,Saturday, second and fourth weeks',
      input: {
        daysOfWeek: ['Tuesday', 'Saturday'],
        weeksOfMonth: [2, 4],
        timeZone: 'Europe/Berlin',
      },
      expressions: [
        'cron(0 3 ? * 3#2 *)',
        'cron(0 3 ? * 3#4 *)',
        'cron(0 3 ? * 7#2 *)',
        'cron(0 3 ? * 7#4 *)',
      ],
      days: [
        '2026-01-10',
        '2026-01-13',
        '2026-01-24',
        '2026-01-27',
        '2026-02-10',
        '2026-02-14',
        '2026-02-24',
        '2026-02-28',
        '2026-03-10',
        '2026-03-14',
        '2026-03-24',
        '2026-03-28',
      ],
    },
    {
      // Weeks from Sunday 2025-12-28: 0, 3, 6, ... Tuesday 2025-12-30 is before startDate.
      source: 'Add-CauClusterRole example 2: Tuesday,Saturday, every three weeks',
      input: { daysOfWeek: ['Tuesday', 'Saturday'], intervalWeeks: 3 },
      expressions: ['cron(0 3 ? * TUE,SAT *)'],
      guard: { kind: 'intervalWeeks', every: 3, anchorWeekStart: '2025-12-28' },
      days: [
        '2026-01-03',
        '2026-01-20',
        '2026-01-24',
        '2026-02-10',
        '2026-02-14',
        '2026-03-03',
        '2026-03-07',
        '2026-03-24',
        '2026-03-28',
        '2026-04-14',
        '2026-04-18',
        '2026-05-05',
      ],
    },
    {
      // February and March have four Fridays: the 4th is the last, and runs once.
      source: 'ours: weeks 4 and 5 on Friday; #4 and #5 never fire on the same day',
      input: { daysOfWeek: ['Friday'], weeksOfMonth: [4, 5] },
      expressions: ['cron(0 3 ? * 6#4 *)', 'cron(0 3 ? * 6#5 *)'],
      days: [
        '2026-01-23',
        '2026-01-30',
        '2026-02-27',
        '2026-03-27',
        '2026-04-24',
        '2026-05-22',
        '2026-05-29',
        '2026-06-26',
        '2026-07-24',
        '2026-07-31',
        '2026-08-28',
        '2026-09-25',
      ],
    },
    {
      source: 'CAU -StartDate: nothing before it (Patch Tuesday from 2026-03-11, into 2027)',
      input: { startDate: '2026-03-11', daysOfWeek: ['Tuesday'], weeksOfMonth: [2] },
      expressions: ['cron(0 3 ? * 3#2 *)'],
      days: [
        '2026-04-14',
        '2026-05-12',
        '2026-06-09',
        '2026-07-14',
        '2026-08-11',
        '2026-09-08',
        '2026-10-13',
        '2026-11-10',
        '2026-12-08',
        '2027-01-12',
        '2027-02-09',
        '2027-03-09',
      ],
    },
  ])('$source', ({ input, expressions, days, ...rest }) => {
    // Arrange
    const s = schedule(input);
    const time = s.time;
    // Act
    const occurrences = nextOccurrences(s, NEW_YEAR_2026, 12);
    const plan = toSchedulerExpressions(s);
    // Assert
    expect(occurrences.map((o) => wallText(o, s.timeZone))).toEqual(
      days.map((day) => `${day} ${time}`),
    );
    expect(plan.expressions).toEqual(expressions);
    expect(plan.timeZone).toBe(s.timeZone);
    expect(plan.guard).toEqual('guard' in rest ? rest.guard : undefined);
    for (const o of occurrences) expect(isScheduledOccurrence(s, o)).toBe(true);
  });

  it('counts from `from` inclusive: an occurrence at `from` is the first', () => {
    const s = schedule({ weeksOfMonth: [2] });
    const at = new Date('2026-01-13T03:00:00Z');
    expect(nextOccurrences(s, at, 1)).toEqual([at]);
    expect(nextOccurrences(s, new Date(at.getTime() + 60_000), 1)).toEqual([
      new Date('2026-02-10T03:00:00Z'),
    ]);
  });

  it('runs on startDate itself', () => {
    const s = schedule({ startDate: '2026-01-13', weeksOfMonth: [2] });
    expect(nextOccurrences(s, NEW_YEAR_2026, 1)).toEqual([new Date('2026-01-13T03:00:00Z')]);
  });

  it('gives none for count 0, and refuses a bad count or date', () => {
    const s = schedule({});
    expect(nextOccurrences(s, NEW_YEAR_2026, 0)).toEqual([]);
    expect(() => nextOccurrences(s, NEW_YEAR_2026, -1)).toThrow(RangeError);
    expect(() => nextOccurrences(s, NEW_YEAR_2026, 1.5)).toThrow(RangeError);
    expect(() => nextOccurrences(s, new Date('nope'), 1)).toThrow(/from is not a valid date/);
  });
});

describe('daylight saving time (as EventBridge Scheduler: gap skipped, overlap once, first)', () => {
  it.each([
    {
      source: 'Europe/Paris spring forward: 02:30 does not exist on Sun 2026-03-29, skipped',
      input: { startDate: '2026-03-01', daysOfWeek: ['Sunday'], time: '02:30' },
      timeZone: 'Europe/Paris',
      from: '2026-03-01T00:00:00Z',
      expected: [
        '2026-03-01T01:30:00.000Z',
        '2026-03-08T01:30:00.000Z',
        '2026-03-15T01:30:00.000Z',
        '2026-03-22T01:30:00.000Z',
        '2026-04-05T00:30:00.000Z',
      ],
    },
    {
      source: 'Europe/Paris spring forward: 03:00 exists on Sun 2026-03-29, already summer time',
      input: { startDate: '2026-03-01', daysOfWeek: ['Sunday'], time: '03:00' },
      timeZone: 'Europe/Paris',
      from: '2026-03-20T00:00:00Z',
      expected: [
        '2026-03-22T02:00:00.000Z',
        '2026-03-29T01:00:00.000Z',
        '2026-04-05T01:00:00.000Z',
      ],
    },
    {
      source: 'Europe/Paris fall back: 02:30 twice on Sun 2026-10-25, runs once, the first',
      input: { startDate: '2026-03-01', daysOfWeek: ['Sunday'], time: '02:30' },
      timeZone: 'Europe/Paris',
      from: '2026-10-17T00:00:00Z',
      expected: [
        '2026-10-18T00:30:00.000Z',
        '2026-10-25T00:30:00.000Z',
        '2026-11-01T01:30:00.000Z',
      ],
    },
    {
      source: 'America/New_York spring forward: second Sunday 02:30, lost on 2026-03-08',
      input: { daysOfWeek: ['Sunday'], weeksOfMonth: [2], time: '02:30' },
      timeZone: 'America/New_York',
      from: '2026-01-01T00:00:00Z',
      expected: [
        '2026-01-11T07:30:00.000Z',
        '2026-02-08T07:30:00.000Z',
        '2026-04-12T06:30:00.000Z',
      ],
    },
    {
      source: 'America/New_York fall back: 01:30 twice on Sun 2026-11-01, runs once, the first',
      input: { daysOfWeek: ['Sunday'], time: '01:30' },
      timeZone: 'America/New_York',
      from: '2026-10-24T00:00:00Z',
      expected: [
        '2026-10-25T05:30:00.000Z',
        '2026-11-01T05:30:00.000Z',
        '2026-11-08T06:30:00.000Z',
      ],
    },
  ])('$source', ({ input, timeZone, from, expected }) => {
    const s = schedule({ ...input, timeZone });
    const occurrences = nextOccurrences(s, new Date(from), expected.length);
    expect(occurrences.map((o) => o.toISOString())).toEqual(expected);
  });

  it('the second instant of an ambiguous time is not an occurrence', () => {
    const paris = schedule({ daysOfWeek: ['Sunday'], time: '02:30', timeZone: 'Europe/Paris' });
    expect(isScheduledOccurrence(paris, new Date('2026-10-25T00:30:00Z'))).toBe(true);
    expect(isScheduledOccurrence(paris, new Date('2026-10-25T01:30:00Z'))).toBe(false);
    const ny = schedule({ daysOfWeek: ['Sunday'], time: '01:30', timeZone: 'America/New_York' });
    expect(isScheduledOccurrence(ny, new Date('2026-11-01T05:30:00Z'))).toBe(true);
    expect(isScheduledOccurrence(ny, new Date('2026-11-01T06:30:00Z'))).toBe(false);
  });

  it('skippedDates lists the schedule days lost to a gap', () => {
    const paris = schedule({ daysOfWeek: ['Sunday'], time: '02:30', timeZone: 'Europe/Paris' });
    expect(skippedDates(paris, '2026-01-01', 730)).toEqual(['2026-03-29', '2027-03-28']);
    const ny = schedule({
      daysOfWeek: ['Sunday'],
      weeksOfMonth: [2],
      time: '02:15',
      timeZone: 'America/New_York',
    });
    expect(skippedDates(ny, '2026-01-01', 365)).toEqual(['2026-03-08']);
    expect(skippedDates(schedule({ timeZone: 'Europe/Paris' }), '2026-01-01', 730)).toEqual([]);
    expect(() => skippedDates(paris, '2026-13-01', 1)).toThrow(RangeError);
  });

  it('a window is elapsed time: 240 minutes from 23:00 before spring forward ends at 04:00', () => {
    // Sat 2026-03-28 23:00 CET is 22:00Z; 4 hours later it is 04:00 CEST.
    const s = schedule({ daysOfWeek: ['Saturday'], time: '23:00', timeZone: 'Europe/Paris' });
    const [occurrence] = nextOccurrences(s, new Date('2026-03-28T00:00:00Z'), 1);
    const window = windowFor(s, occurrence as Date);
    expect(window).toEqual({
      startAt: new Date('2026-03-28T22:00:00Z'),
      stopAt: new Date('2026-03-29T02:00:00Z'),
      stopAfterMinutes: 240,
    });
    expect(wallText(window.stopAt, 'Europe/Paris')).toBe('2026-03-29 04:00');
  });
});

describe('shouldRunAt: the guard of a triggered run', () => {
  const every2 = schedule({ startDate: '2026-01-03', daysOfWeek: ['Saturday'], intervalWeeks: 2 });

  it.each([
    {
      source: 'an on-week Saturday, on time',
      scheduledTime: '2026-01-17T03:00:00Z',
      now: '2026-01-17T03:00:20Z',
      run: true,
    },
    {
      source: 'an on-week Saturday, started late by retries but in the window',
      scheduledTime: '2026-01-17T03:00:00Z',
      now: '2026-01-17T06:59:00Z',
      run: true,
    },
    {
      source: 'the off-week Saturday cron also fires on',
      scheduledTime: '2026-01-10T03:00:00Z',
      now: '2026-01-10T03:00:00Z',
      reason: 'notAnOccurrence',
      message: /every 2 weeks, counted from the week of 2025-12-28/,
    },
    {
      source: 'a Saturday before startDate',
      scheduledTime: '2025-12-27T03:00:00Z',
      now: '2025-12-27T03:00:00Z',
      reason: 'beforeStartDate',
      message: /2025-12-27 03:00 UTC is before the schedule's startDate 2026-01-03/,
    },
    {
      source: 'started after the window closed',
      scheduledTime: '2026-01-17T03:00:00Z',
      now: '2026-01-17T07:00:00Z',
      reason: 'windowClosed',
      message: /closed at 2026-01-17T07:00:00.000Z \(240 minutes\)/,
    },
    {
      source: 'not the schedule time',
      scheduledTime: '2026-01-17T04:00:00Z',
      now: '2026-01-17T04:00:00Z',
      reason: 'notAnOccurrence',
      message: /2026-01-17 04:00 UTC is not an occurrence/,
    },
  ])('$source', ({ scheduledTime, now, ...expected }) => {
    const decision = shouldRunAt(every2, new Date(scheduledTime), new Date(now));
    if ('run' in expected) {
      expect(decision).toEqual({
        run: true,
        occurrence: new Date(scheduledTime),
        window: windowFor(every2, new Date(scheduledTime)),
      });
    } else {
      expect(decision).toMatchObject({ run: false, reason: expected.reason });
      expect(decision.run ? '' : decision.message).toMatch(expected.message);
    }
  });

  it('reads the scheduled time to the minute (Scheduler fires within it)', () => {
    expect(shouldRunAt(every2, new Date('2026-01-17T03:00:42Z')).run).toBe(true);
  });
});

describe('parseSchedule', () => {
  it('normalises: day names any case, lists in order, defaults, zone spelling', () => {
    const s = parseSchedule({
      startDate: '2026-01-01',
      daysOfWeek: ['saturday', ' TUESDAY '],
      weeksOfMonth: [5, 2],
      time: '03:00',
      timeZone: 'europe/paris',
      windowMinutes: 60,
    });
    expect(s).toEqual({
      startDate: '2026-01-01',
      daysOfWeek: ['Tuesday', 'Saturday'],
      weeksOfMonth: [2, 5],
      intervalWeeks: 1,
      time: '03:00',
      timeZone: 'Europe/Paris',
      windowMinutes: 60,
      enabled: true,
    });
    expect(parseSchedule(toScheduleInput(s))).toEqual(s);
    expect(describeSchedule(s)).toBe(
      'second and last Tuesday and Saturday of the month at 03:00 Europe/Paris from 2026-01-01, 60 minutes',
    );
  });

  it('round-trips intervalWeeks and enabled through toScheduleInput', () => {
    const s = schedule({ intervalWeeks: 3, enabled: false });
    expect(toScheduleInput(s)).toEqual({ ...base, intervalWeeks: 3, enabled: false });
    expect(parseSchedule(toScheduleInput(s))).toEqual(s);
  });

  it.each([
    // startDate
    {
      change: { startDate: undefined },
      field: 'startDate',
      message: /^missing; expected a calendar date/,
    },
    { change: { startDate: '2026-1-5' }, field: 'startDate', message: /YYYY-MM-DD/ },
    { change: { startDate: '2026-02-30' }, field: 'startDate', message: /calendar date/ },
    { change: { startDate: '1969-12-31' }, field: 'startDate', message: /from 1970-01-01/ },
    { change: { startDate: 20260101 }, field: 'startDate', message: /YYYY-MM-DD/ },
    // daysOfWeek
    {
      change: { daysOfWeek: undefined },
      field: 'daysOfWeek',
      message: /^missing; expected a non-empty list/,
    },
    { change: { daysOfWeek: [] }, field: 'daysOfWeek', message: /non-empty list of days/ },
    { change: { daysOfWeek: 'Tuesday' }, field: 'daysOfWeek', message: /list of days/ },
    {
      change: { daysOfWeek: ['Funday'] },
      field: 'daysOfWeek[0]',
      message: /Sunday, Monday, Tuesday/,
    },
    {
      change: { daysOfWeek: ['Tue'] },
      field: 'daysOfWeek[0]',
      message: /expected a day of the week/,
    },
    {
      change: { daysOfWeek: ['Tuesday', 'TUESDAY'] },
      field: 'daysOfWeek[1]',
      message: /same day as daysOfWeek\[0\]/,
    },
    // weeksOfMonth
    { change: { weeksOfMonth: [] }, field: 'weeksOfMonth', message: /non-empty list of weeks/ },
    {
      change: { weeksOfMonth: [0] },
      field: 'weeksOfMonth[0]',
      message: /from 1 to 5 \(5 = the last week/,
    },
    { change: { weeksOfMonth: [6] }, field: 'weeksOfMonth[0]', message: /from 1 to 5/ },
    { change: { weeksOfMonth: [1.5] }, field: 'weeksOfMonth[0]', message: /from 1 to 5/ },
    { change: { weeksOfMonth: ['2'] }, field: 'weeksOfMonth[0]', message: /from 1 to 5/ },
    {
      change: { weeksOfMonth: [2, 2] },
      field: 'weeksOfMonth[1]',
      message: /same week as weeksOfMonth\[0\]/,
    },
    { change: { weeksOfMonth: 2 }, field: 'weeksOfMonth', message: /list of weeks/ },
    // intervalWeeks
    { change: { intervalWeeks: 0 }, field: 'intervalWeeks', message: /from 1 to 52/ },
    { change: { intervalWeeks: 53 }, field: 'intervalWeeks', message: /from 1 to 52/ },
    { change: { intervalWeeks: 1.5 }, field: 'intervalWeeks', message: /whole number of weeks/ },
    { change: { intervalWeeks: '2' }, field: 'intervalWeeks', message: /whole number of weeks/ },
    // both
    {
      change: { weeksOfMonth: [2], intervalWeeks: 2 },
      field: 'intervalWeeks',
      message: /cannot be combined with weeksOfMonth \(\[2\]\).*-WeeksOfMonth.*-IntervalWeeks/,
    },
    // time
    { change: { time: undefined }, field: 'time', message: /^missing; expected a time of day/ },
    { change: { time: '3:00' }, field: 'time', message: /HH:MM on a 24-hour clock/ },
    { change: { time: '24:00' }, field: 'time', message: /HH:MM/ },
    { change: { time: '12:60' }, field: 'time', message: /HH:MM/ },
    { change: { time: '03:00:00' }, field: 'time', message: /HH:MM/ },
    { change: { time: 300 }, field: 'time', message: /HH:MM/ },
    // timeZone
    { change: { timeZone: undefined }, field: 'timeZone', message: /^missing; expected an IANA/ },
    {
      change: { timeZone: 'Mars/Olympus_Mons' },
      field: 'timeZone',
      message: /IANA time zone name/,
    },
    { change: { timeZone: '+01:00' }, field: 'timeZone', message: /IANA time zone name/ },
    { change: { timeZone: '' }, field: 'timeZone', message: /IANA time zone name/ },
    { change: { timeZone: 1 }, field: 'timeZone', message: /IANA time zone name/ },
    // windowMinutes
    {
      change: { windowMinutes: undefined },
      field: 'windowMinutes',
      message: /^missing; expected a whole number of minutes/,
    },
    { change: { windowMinutes: 0 }, field: 'windowMinutes', message: /from 1 to 10080/ },
    { change: { windowMinutes: 10081 }, field: 'windowMinutes', message: /from 1 to 10080/ },
    { change: { windowMinutes: 90.5 }, field: 'windowMinutes', message: /whole number of minutes/ },
    {
      change: { windowMinutes: 'PT4H' },
      field: 'windowMinutes',
      message: /whole number of minutes/,
    },
    // enabled, unknown fields
    { change: { enabled: 'yes' }, field: 'enabled', message: /expected true or false/ },
    {
      change: { stopAfter: 60 },
      field: 'stopAfter',
      message: /unknown field; accepted fields: startDate, daysOfWeek/,
    },
  ])('$field = $change: $message', ({ change, field, message }) => {
    // Arrange
    const input: Record<string, unknown> = { ...base, ...change };
    for (const key of Object.keys(change)) {
      if ((change as Record<string, unknown>)[key] === undefined) delete input[key];
    }
    // Act
    const error = scheduleError(() => parseSchedule(input));
    // Assert
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.field).toBe(field);
    expect(error.problems[0]?.message).toMatch(message);
    if (field in input || /\[/.test(field)) expect(error.message).toContain(`${field} (`);
  });

  it.each([null, [], 'Tuesdays at 3', 42])('refuses %j: not an object', (input) => {
    const error = scheduleError(() => parseSchedule(input));
    expect(error.problems).toEqual([
      { field: '(schedule)', value: input, message: expect.stringMatching(/^expected a schedule/) },
    ]);
  });

  it('lists every problem in one error, in field order, naming field and value', () => {
    const error = scheduleError(() =>
      parseSchedule({
        extra: true,
        windowMinutes: 0,
        timeZone: 'Nowhere/Land',
        time: '7am',
        intervalWeeks: 2,
        weeksOfMonth: [9],
        daysOfWeek: ['Funday', 'Monday', 'monday'],
        startDate: 'soon',
      }),
    );
    expect(error).toBeInstanceOf(RolloutRuleError);
    expect(error.name).toBe('ScheduleError');
    expect(error.problems.map((p) => [p.field, p.value])).toEqual([
      ['startDate', 'soon'],
      ['daysOfWeek[0]', 'Funday'],
      ['daysOfWeek[2]', 'monday'],
      ['weeksOfMonth[0]', 9],
      ['intervalWeeks', 2],
      ['time', '7am'],
      ['timeZone', 'Nowhere/Land'],
      ['windowMinutes', 0],
      ['extra', true],
    ]);
    expect(error.message).toMatch(
      /^schedule is invalid \(9 problems\):\n {2}- startDate \("soon"\)/,
    );
  });
});

describe('scheduleTriggerSchema: what a scheduled run carries', () => {
  it('accepts the trigger a schedule makes, and refuses unknown fields', () => {
    const s = schedule({ intervalWeeks: 2 });
    const plan = toSchedulerExpressions(s);
    const trigger = {
      name: 'nightly',
      expression: plan.expressions[0],
      scheduledTime: '2026-01-06T03:00:00Z',
      definition: toScheduleInput(s),
      guard: plan.guard,
    };
    expect(scheduleTriggerSchema.safeParse(trigger).success).toBe(true);
    expect(scheduleTriggerSchema.safeParse({ ...trigger, extra: 1 }).success).toBe(false);
    expect(scheduleTriggerSchema.safeParse({ ...trigger, scheduledTime: 'x' }).success).toBe(false);
  });
});

describe('properties', () => {
  const ZONES = [
    'UTC',
    'Europe/Paris',
    'America/New_York',
    'Australia/Lord_Howe', // 30-minute DST shift
    'Asia/Kolkata',
    'Pacific/Chatham',
    'America/Santiago', // changes at midnight
    'America/Havana',
  ];
  const scheduleInput = fc
    .record({
      start: fc.integer({ min: 0, max: 7 * 365 }),
      days: fc.subarray([...DAYS_OF_WEEK], { minLength: 1 }),
      mode: fc.oneof(
        fc.constant({}),
        fc.record({
          weeksOfMonth: fc.subarray([1, 2, 3, 4, 5], { minLength: 1 }),
        }),
        fc.record({ intervalWeeks: fc.integer({ min: 1, max: 52 }) }),
      ),
      hour: fc.integer({ min: 0, max: 23 }),
      minute: fc.integer({ min: 0, max: 59 }),
      timeZone: fc.constantFrom(...ZONES),
      windowMinutes: fc.integer({ min: 1, max: 10080 }),
    })
    .map(
      ({ start, days, mode, hour, minute, timeZone, windowMinutes }): ScheduleInput => ({
        startDate: new Date(Date.UTC(2024, 0, 1) + start * 86_400_000).toISOString().slice(0, 10),
        daysOfWeek: days,
        ...mode,
        time: `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`,
        timeZone,
        windowMinutes,
      }),
    );

  it('nextOccurrences: strictly increasing, each an occurrence, none before startDate or from', () => {
    fc.assert(
      fc.property(
        scheduleInput,
        fc.integer({ min: -60 * 24 * 400, max: 60 * 24 * 800 }),
        fc.integer({ min: 1, max: 12 }),
        (input, offsetMinutes, count) => {
          const s = parseSchedule(input);
          const from = new Date(Date.parse(`${s.startDate}T00:00:00Z`) + offsetMinutes * 60_000);
          const occurrences = nextOccurrences(s, from, count);
          expect(occurrences).toHaveLength(count);
          occurrences.forEach((o, i) => {
            expect(o.getTime()).toBeGreaterThanOrEqual(from.getTime());
            if (i > 0) expect(o.getTime()).toBeGreaterThan((occurrences[i - 1] as Date).getTime());
            expect(isScheduledOccurrence(s, o)).toBe(true);
            expect(isScheduledOccurrence(s, new Date(o.getTime() + 60_000))).toBe(false);
            expect(wallText(o, s.timeZone) >= s.startDate).toBe(true);
            expect(wallText(o, s.timeZone).slice(11)).toBe(s.time);
            expect(shouldRunAt(s, o).run).toBe(true);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('parseSchedule: the start date and the words (mutation testing, issue 14)', () => {
  it.each([
    ['1970-01-01', true],
    ['2199-12-31', true],
    ['1969-12-31', false],
    ['2200-01-01', false],
    ['2026-02-29', false],
    ['2028-02-29', true],
    ['2026-04-31', false],
    ['2026-13-01', false],
    ['x2026-01-01', false],
    ['2026-01-01x', false],
  ])('startDate %s accepted: %s', (startDate, accepted) => {
    if (accepted) expect(schedule({ startDate }).startDate).toBe(startDate);
    else expect(scheduleError(() => schedule({ startDate })).problems[0]?.field).toBe('startDate');
  });

  it.each([
    [{}, 'every Tuesday at 03:00 UTC from 2026-01-01, 240 minutes'],
    [
      { daysOfWeek: ['Monday', 'Wednesday', 'Friday'] as ScheduleInput['daysOfWeek'] },
      'every Monday, Wednesday and Friday at 03:00 UTC from 2026-01-01, 240 minutes',
    ],
    [{ intervalWeeks: 2 }, 'Tuesday every 2 weeks at 03:00 UTC from 2026-01-01, 240 minutes'],
    [{ intervalWeeks: 1 }, 'every Tuesday at 03:00 UTC from 2026-01-01, 240 minutes'],
  ])('describes %j', (change, words) => {
    expect(describeSchedule(schedule(change))).toBe(words);
  });
});

describe('schedule: what mutation testing found untested (issue 14)', () => {
  const fields = (error: ScheduleError) => error.problems.map((p) => p.field);

  it.each([
    {
      source: 'a day that is not a text',
      change: { daysOfWeek: [3] },
      problems: [['daysOfWeek[0]', /^expected a day of the week: Sunday, Monday/]],
    },
    {
      source: 'two days that are not texts are not "the same day"',
      change: { daysOfWeek: [1, 1] },
      problems: [
        ['daysOfWeek[0]', /^expected a day of the week/],
        ['daysOfWeek[1]', /^expected a day of the week/],
      ],
    },
    {
      source: 'a day repeated with spaces and another case',
      change: { daysOfWeek: ['Tuesday', ' tuesday '] },
      problems: [['daysOfWeek[1]', /^same day as daysOfWeek\[0\]; list each once$/]],
    },
    {
      source: 'two weeks given as texts are not "the same week"',
      change: { weeksOfMonth: ['2', '2'] },
      problems: [
        ['weeksOfMonth[0]', /from 1 to 5/],
        ['weeksOfMonth[1]', /from 1 to 5/],
      ],
    },
    {
      source: 'a repeated day before a bad one: in item order',
      change: { daysOfWeek: ['Monday', 'monday', 'Funday'] },
      problems: [
        ['daysOfWeek[1]', /^same day as daysOfWeek\[0\]/],
        ['daysOfWeek[2]', /^expected a day of the week/],
      ],
    },
    {
      source: 'item numbers of two digits sort as numbers',
      change: {
        daysOfWeek: [...DAYS_OF_WEEK, 'a', 'b', 'c', 'sunday', 'Funday'],
      },
      problems: [
        ['daysOfWeek[7]', /^expected a day/],
        ['daysOfWeek[8]', /^expected a day/],
        ['daysOfWeek[9]', /^expected a day/],
        ['daysOfWeek[10]', /^same day as daysOfWeek\[0\]/],
        ['daysOfWeek[11]', /^expected a day/],
      ],
    },
    {
      source: 'a bad intervalWeeks next to weeksOfMonth: both problems of the field',
      change: { weeksOfMonth: [2], intervalWeeks: 0 },
      problems: [
        ['intervalWeeks', /^expected a whole number of weeks from 1 to 52$/],
        ['intervalWeeks', /^cannot be combined with weeksOfMonth/],
      ],
    },
  ])('$source', ({ change, problems }) => {
    const error = scheduleError(() => parseSchedule({ ...base, ...change }));
    expect(error.problems.map((p) => p.field)).toEqual(problems.map(([field]) => field));
    error.problems.forEach((p, i) => {
      expect(p.message).toMatch(problems[i]?.[1] as RegExp);
    });
  });

  it("keeps zod's error as the cause, and has none when only the lists repeat", () => {
    const schemaError = scheduleError(() => parseSchedule({ ...base, time: '7am' }));
    expect(schemaError.cause).toBeInstanceOf(z.ZodError);
    const repeated = scheduleError(() =>
      parseSchedule({ ...base, daysOfWeek: ['Monday', 'monday'] }),
    );
    expect(fields(repeated)).toEqual(['daysOfWeek[1]']);
    expect(repeated.cause).toBeUndefined();
  });

  it('keeps a time zone name as written when Intl knows it by another name', () => {
    // Intl resolves the link US/Eastern to America/New_York; Scheduler takes either name.
    expect(schedule({ timeZone: 'US/Eastern' }).timeZone).toBe('US/Eastern');
    expect(schedule({ timeZone: 'europe/paris' }).timeZone).toBe('Europe/Paris');
  });

  it('each schema field says what it is, with its CAU parameter where CAU has one', () => {
    const described = Object.fromEntries(
      Object.entries(scheduleInputSchema.shape).map(([name, field]) => [name, field.description]),
    );
    expect(described).toEqual({
      startDate: expect.stringMatching(/^The first day .*YYYY-MM-DD.*CAU -StartDate/),
      daysOfWeek: expect.stringMatching(/^The days of the week .*CAU -DaysOfWeek/),
      weeksOfMonth: expect.stringMatching(/n-th such weekday.*5 = the last.*CAU -WeeksOfMonth/),
      intervalWeeks: expect.stringMatching(/^Every n-th week .*CAU -IntervalWeeks/),
      time: expect.stringMatching(/^When the window opens, HH:MM/),
      timeZone: expect.stringMatching(/^IANA time zone/),
      windowMinutes: expect.stringMatching(/^How long the window lasts/),
      enabled: expect.stringMatching(/^Whether the schedule triggers runs; default true/),
    });
    expect(scheduleTriggerSchema.description).toMatch(/^Set by a scheduled self-updating window/);
  });

  it('the trigger: a cron expression, an ISO time, a guard of 2 weeks or more', () => {
    const s = schedule({ intervalWeeks: 2 });
    const plan = toSchedulerExpressions(s);
    const trigger = {
      name: 'nightly',
      expression: plan.expressions[0],
      scheduledTime: '2026-01-06T03:00:00Z',
      definition: toScheduleInput(s),
      guard: plan.guard,
    };
    const issues = (change: object) => {
      const result = scheduleTriggerSchema.safeParse({ ...trigger, ...change });
      return result.success ? [] : result.error.issues.map((i) => [i.path.join('.'), i.message]);
    };
    expect(issues({})).toEqual([]);
    expect(issues({ expression: 'rate(14 days)' }).map(([path]) => path)).toEqual(['expression']);
    expect(issues({ scheduledTime: 'soon' })).toEqual([
      ['scheduledTime', 'expected an ISO 8601 date and time, e.g. 2026-01-13T02:00:00Z'],
    ]);
    expect(issues({ guard: { ...plan.guard, every: 1 } }).map(([path]) => path)).toEqual([
      'guard.every',
    ]);
  });

  it('a zone whose offset had seconds: Monrovia, 44 min 30 s behind UTC until 1972', () => {
    const monrovia = schedule({ startDate: '1971-01-01', timeZone: 'Africa/Monrovia' });
    expect(nextOccurrences(monrovia, new Date('1971-01-01T00:00:00Z'), 1)).toEqual([
      new Date('1971-01-05T03:44:30Z'),
    ]);
  });

  it('a time just before clocks go back that night: the instant before the change', () => {
    // Paris goes back at 03:00 CEST on Sun 2026-10-25 (01:00Z); 01:30 that day is still CEST.
    const paris = schedule({ daysOfWeek: ['Sunday'], time: '01:30', timeZone: 'Europe/Paris' });
    expect(nextOccurrences(paris, new Date('2026-10-24T00:00:00Z'), 1)).toEqual([
      new Date('2026-10-24T23:30:00Z'),
    ]);
  });

  it('nextOccurrences starts at from: not the day before, not startDate years back', () => {
    const tuesdays = schedule({ startDate: '1970-01-01' });
    // Tue 2026-01-06 03:00Z has passed at 04:00: the next is a week later.
    expect(nextOccurrences(tuesdays, new Date('2026-01-06T04:00:00Z'), 1)).toEqual([
      new Date('2026-01-13T03:00:00Z'),
    ]);
    // Paris Sunday 02:30: Sun 2026-03-29 has no 02:30 (clocks go forward); the next is Apr 5.
    const paris = schedule({ daysOfWeek: ['Sunday'], time: '02:30', timeZone: 'Europe/Paris' });
    expect(nextOccurrences(paris, new Date('2026-03-28T00:00:00Z'), 1)).toEqual([
      new Date('2026-04-05T00:30:00Z'),
    ]);
  });

  it('the last week: the last such weekday of a 30-day month, not one a week before', () => {
    // April 2026 has Thursdays 2, 9, 16, 23 and 30; May 2026 ends on Thursday 28.
    const lastThursday = schedule({ daysOfWeek: ['Thursday'], weeksOfMonth: [5] });
    expect(nextOccurrences(lastThursday, new Date('2026-04-01T00:00:00Z'), 2)).toEqual([
      new Date('2026-04-30T03:00:00Z'),
      new Date('2026-05-28T03:00:00Z'),
    ]);
  });

  it('a time just after clocks go forward that night: the instant after the change', () => {
    // New York goes forward at 02:00 EST on Sun 2026-03-08 (07:00Z); 03:30 is EDT, 07:30Z.
    const ny = schedule({ daysOfWeek: ['Sunday'], time: '03:30', timeZone: 'America/New_York' });
    expect(nextOccurrences(ny, new Date('2026-03-07T00:00:00Z'), 1)).toEqual([
      new Date('2026-03-08T07:30:00Z'),
    ]);
  });

  it('a day the zone skipped: Samoa went from Thu 2011-12-29 to Sat 2011-12-31', () => {
    const apia = schedule({
      startDate: '2011-12-01',
      daysOfWeek: ['Friday'],
      time: '03:00',
      timeZone: 'Pacific/Apia',
    });
    // 03:00 on the Saturday after it is not the skipped Friday's occurrence: the next is Jan 6 (+14).
    expect(nextOccurrences(apia, new Date('2011-12-29T00:00:00Z'), 1)).toEqual([
      new Date('2012-01-05T13:00:00Z'),
    ]);
    expect(skippedDates(apia, '2011-12-26', 14)).toEqual(['2011-12-30']);
  });

  it('before startDate nothing is an occurrence or a skipped date', () => {
    const paris = schedule({
      startDate: '2026-04-01',
      daysOfWeek: ['Sunday'],
      time: '02:30',
      timeZone: 'Europe/Paris',
    });
    expect(isScheduledOccurrence(paris, new Date('2026-03-22T01:30:00Z'))).toBe(false);
    expect(skippedDates(paris, '2026-03-01', 60)).toEqual([]);
  });

  it('skippedDates covers `days` days from fromDate, the last one included', () => {
    const paris = schedule({ daysOfWeek: ['Sunday'], time: '02:30', timeZone: 'Europe/Paris' });
    expect(skippedDates(paris, '2026-03-22', 7)).toEqual([]);
    expect(skippedDates(paris, '2026-03-22', 8)).toEqual(['2026-03-29']);
    expect(() => skippedDates(paris, '2026-13-01', 7)).toThrow(
      'fromDate (2026-13-01) is not a date YYYY-MM-DD',
    );
  });

  it('a weekly schedule: "not an occurrence" says no cycle', () => {
    const decision = shouldRunAt(schedule({}), new Date('2026-01-07T03:00:00Z'));
    expect(decision).toEqual({
      run: false,
      reason: 'notAnOccurrence',
      message:
        '2026-01-07 03:00 UTC is not an occurrence of the schedule (every Tuesday at 03:00 UTC from 2026-01-01, 240 minutes)',
    });
  });

  it.each([
    ['from', () => nextOccurrences(schedule({}), new Date(Number.NaN), 1)],
    ['instant', () => isScheduledOccurrence(schedule({}), new Date(Number.NaN))],
    ['occurrence', () => windowFor(schedule({}), new Date(Number.NaN))],
    ['scheduledTime', () => shouldRunAt(schedule({}), new Date(Number.NaN))],
    ['now', () => shouldRunAt(schedule({}), NEW_YEAR_2026, new Date(Number.NaN))],
  ])('an invalid %s is a RangeError naming it', (name, call) => {
    expect(call).toThrow(new RangeError(`${name} is not a valid date`));
  });

  it('a bad count is a RangeError naming it and its value', () => {
    expect(() => nextOccurrences(schedule({}), NEW_YEAR_2026, -1)).toThrow(
      new RangeError('count (-1) must be a whole number, 0 or more'),
    );
  });
});
