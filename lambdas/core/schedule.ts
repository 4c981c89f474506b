/**
 * Scheduled self-updating windows: CAU's self-updating schedule (Add-CauClusterRole and
 * Set-CauClusterRole: `StartDate`, `DaysOfWeek`, `WeeksOfMonth`, `IntervalWeeks`) with a time of
 * day in an IANA time zone and a window length that becomes the run's `StopAfter`.
 *
 * - {@link parseSchedule} checks a schedule and names every problem with its field and value.
 * - {@link toSchedulerExpressions} turns it into EventBridge Scheduler cron expressions, one per
 *   Scheduler schedule, plus the guard the triggered run checks where cron cannot say it.
 * - {@link nextOccurrences}, {@link isScheduledOccurrence}, {@link shouldRunAt} and
 *   {@link windowFor} are the calendar, computed in the schedule's time zone with `Intl`.
 *
 * Calendar rules (sources: the Add-CauClusterRole help, MicrosoftDocs/windows-powershell-docs;
 * DOMAIN.md §2; the EventBridge cron reference and "Schedule types on EventBridge Scheduler"):
 * - `weeksOfMonth: [n]` with a weekday is the n-th such weekday of the month; 5 is the last
 *   one, even when the month has only four ("5 represents the last week of the month").
 * - `intervalWeeks: n` runs every n-th week, counted from the week of `startDate`. Weeks start
 *   on Sunday, as Windows' `DayOfWeek` does; the first week is the one holding `startDate`.
 * - Nothing runs on a day before `startDate` (local date in the time zone).
 * - Daylight saving time, as EventBridge Scheduler does it (AWS knowledge center, "adjust
 *   EventBridge schedule for daylight saving"): a wall time that does not exist that day (clocks
 *   go forward) is skipped, no run that day; an ambiguous one (clocks go back) runs once, and we
 *   take the first of the two instants (AWS does not say which; the first is the one a wall
 *   clock shows first). {@link skippedDates} lists the days a schedule loses to this.
 * - A window lasts `windowMinutes` of elapsed time from its start, also across a DST change,
 *   as CAU's `StopAfter` (a TimeSpan) does.
 *
 * Pure: no AWS SDK, no I/O, no clock.
 */
import * as z from 'zod';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Constants and types

/** Days of the week as CAU's `-DaysOfWeek` spells them, Sunday first (Windows' `DayOfWeek`). */
/**
 * What a schedule starts (issue 13, item 8): a `rollout` window (CAU's self-updating mode), or a
 * read-only compliance `assessment` of the same target (Azure Update Manager's periodic
 * assessment), e.g. daily, which scans and records compliance and installs nothing.
 */
export const SCHEDULE_KINDS = ['rollout', 'assessment'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export const DAYS_OF_WEEK = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
] as const;
export type DayOfWeek = (typeof DAYS_OF_WEEK)[number];

/** CAU's `-WeeksOfMonth` values; 5 is the last week of the month. */
export const WEEKS_OF_MONTH = [1, 2, 3, 4, 5] as const;
export type WeekOfMonth = (typeof WEEKS_OF_MONTH)[number];
/** The `weeksOfMonth` value meaning the last such weekday of the month. */
export const LAST_WEEK: WeekOfMonth = 5;

/** `intervalWeeks` goes to 52: at least one run a year. */
export const MAX_INTERVAL_WEEKS = 52;
/** Ours: a window lasts at most a week. */
export const MAX_WINDOW_MINUTES = 7 * 24 * 60;

/** A self-updating schedule as a user writes it (cdk.json context, construct props). */
export interface ScheduleInput {
  /** The first day the schedule may run, `YYYY-MM-DD`, in `timeZone` (CAU `-StartDate`). */
  startDate: string;
  /** The days it runs on, non-empty (CAU `-DaysOfWeek`); names compare case-insensitively. */
  daysOfWeek: string[];
  /**
   * Only these weeks of the month (CAU `-WeeksOfMonth`): the n-th such weekday of the month;
   * 5 is the last one, even when it is the 4th. Not with `intervalWeeks`.
   * @default - every week
   */
  weeksOfMonth?: number[];
  /**
   * Every n-th week, 1 to 52, counted from the week (Sunday to Saturday) of `startDate`
   * (CAU `-IntervalWeeks`). Not with `weeksOfMonth`.
   * @default 1
   */
  intervalWeeks?: number;
  /** When the window opens, `HH:MM` on a 24-hour clock, local time in `timeZone`. */
  time: string;
  /** An IANA time zone name, e.g. `Europe/Paris`, `America/New_York`, `UTC`. */
  timeZone: string;
  /** How long the window lasts, 1 to 10080 minutes; it becomes the run's `StopAfter`. */
  windowMinutes: number;
  /** Whether the schedule triggers runs (CAU `Enable-` / `Disable-CauClusterRole`). @default true */
  enabled?: boolean;
}

/** A checked schedule: names as {@link DAYS_OF_WEEK} spells them, lists sorted, defaults applied. */
export interface Schedule {
  readonly startDate: string;
  /** In week order, Sunday first. */
  readonly daysOfWeek: readonly DayOfWeek[];
  /** Ascending; absent when every week runs. */
  readonly weeksOfMonth?: readonly WeekOfMonth[];
  /** 1 when not given. */
  readonly intervalWeeks: number;
  readonly time: string;
  readonly timeZone: string;
  readonly windowMinutes: number;
  readonly enabled: boolean;
}

/** The run that cron cannot restrict: only every n-th week, counted from `anchorWeekStart`. */
export interface IntervalWeeksGuard {
  readonly kind: 'intervalWeeks';
  readonly every: number;
  /** The Sunday that starts the week of `startDate`, `YYYY-MM-DD`. */
  readonly anchorWeekStart: string;
}

/** What EventBridge Scheduler is given for a schedule. */
export interface SchedulerExpressions {
  /**
   * Cron expressions, `cron(minutes hours day-of-month month day-of-week year)`; Scheduler takes
   * one per schedule, so each becomes its own schedule. They never fire at the same minute.
   */
  readonly expressions: readonly string[];
  /** `ScheduleExpressionTimezone` of every expression. */
  readonly timeZone: string;
  /** Present when the expressions fire more often than the schedule runs. */
  readonly guard?: IntervalWeeksGuard;
}

/** A window: when it opens, when it closes, and its length as the run's `StopAfter`. */
export interface ScheduleWindow {
  readonly startAt: Date;
  readonly stopAt: Date;
  readonly stopAfterMinutes: number;
}

/** Whether a triggered run should go ahead, and why not. */
export type RunDecision =
  | { readonly run: true; readonly occurrence: Date; readonly window: ScheduleWindow }
  | {
      readonly run: false;
      readonly reason: 'beforeStartDate' | 'notAnOccurrence' | 'windowClosed';
      readonly message: string;
    };

/** Raised by {@link parseSchedule}; lists every problem, each with its field and value. */
export class ScheduleError extends RolloutRuleError {
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[], options?: { cause?: unknown }) {
    super(formatProblems('schedule is invalid', problems), options);
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------
// Schema

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const START_DATE_ACCEPTED = 'expected a calendar date YYYY-MM-DD from 1970-01-01 to 2199-12-31';
const DAY_ACCEPTED = `expected a day of the week: ${DAYS_OF_WEEK.join(', ')}`;
const DAYS_ACCEPTED = 'expected a non-empty list of days of the week, e.g. ["Tuesday", "Thursday"]';
const WEEK_ACCEPTED = 'expected a week of the month from 1 to 5 (5 = the last week of the month)';
const WEEKS_ACCEPTED = 'expected a non-empty list of weeks of the month from 1 to 5, e.g. [2, 4]';
const INTERVAL_ACCEPTED = `expected a whole number of weeks from 1 to ${MAX_INTERVAL_WEEKS}`;
const TIME_ACCEPTED = 'expected a time of day HH:MM on a 24-hour clock, e.g. "03:00" or "22:30"';
const TIME_ZONE_ACCEPTED =
  'expected an IANA time zone name, e.g. "Europe/Paris", "America/New_York" or "UTC"';
const WINDOW_ACCEPTED = `expected a whole number of minutes from 1 to ${MAX_WINDOW_MINUTES} (a week)`;

const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The day number (days since 1970-01-01) of an ISO date, or undefined if it is no date. */
function dayOfIsoDate(text: string): number | undefined {
  const match = isoDate.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1970 || year > 2199) return undefined;
  const n = dayNumber(year, month, day);
  // Date.UTC rolls a day or month that is out of range over: only a real date reads back the same.
  return isoOfDay(n) === text ? n : undefined;
}

/** The canonical spelling of an IANA time zone, or undefined when Intl does not know it. */
function canonicalTimeZone(name: string): string | undefined {
  // Intl also takes offsets ("+01:00"); Scheduler wants a zone name.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(name)) return undefined;
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions()
      .timeZone;
    // Keep the user's name (Scheduler takes IANA names); fix only its letter case.
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  } catch {
    return undefined;
  }
}

const wholeNumber = (min: number, max: number, message: string) =>
  z
    .number({ error: message })
    .refine((v) => Number.isInteger(v) && v >= min && v <= max, { error: message });

const dayOfWeek = z.string({ error: DAY_ACCEPTED }).transform((value, ctx): DayOfWeek => {
  const day = DAYS_OF_WEEK.find((d) => d.toLowerCase() === value.trim().toLowerCase());
  if (day === undefined) {
    ctx.addIssue({ code: 'custom', message: DAY_ACCEPTED });
    return z.NEVER;
  }
  return day;
});

/** The schema of {@link ScheduleInput}, strict: unknown fields are errors. */
export const scheduleInputSchema = z.strictObject(
  {
    startDate: z
      .string({ error: START_DATE_ACCEPTED })
      .refine((v) => dayOfIsoDate(v) !== undefined, { error: START_DATE_ACCEPTED })
      .describe('The first day the schedule may run, YYYY-MM-DD in timeZone (CAU -StartDate)'),
    daysOfWeek: z
      .array(dayOfWeek, { error: DAYS_ACCEPTED })
      .min(1, { error: DAYS_ACCEPTED })
      .describe('The days of the week it runs on (CAU -DaysOfWeek)'),
    weeksOfMonth: z
      .array(wholeNumber(1, 5, WEEK_ACCEPTED), { error: WEEKS_ACCEPTED })
      .min(1, { error: WEEKS_ACCEPTED })
      .optional()
      .describe('Only the n-th such weekday of the month; 5 = the last (CAU -WeeksOfMonth)'),
    intervalWeeks: wholeNumber(1, MAX_INTERVAL_WEEKS, INTERVAL_ACCEPTED)
      .optional()
      .describe('Every n-th week from the week of startDate (CAU -IntervalWeeks)'),
    time: z
      .string({ error: TIME_ACCEPTED })
      .regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, { error: TIME_ACCEPTED })
      .describe('When the window opens, HH:MM local time in timeZone'),
    timeZone: z
      .string({ error: TIME_ZONE_ACCEPTED })
      .transform((value, ctx) => {
        const zone = canonicalTimeZone(value);
        if (zone === undefined) {
          ctx.addIssue({ code: 'custom', message: TIME_ZONE_ACCEPTED });
          return z.NEVER;
        }
        return zone;
      })
      .describe('IANA time zone of time and startDate'),
    windowMinutes: wholeNumber(1, MAX_WINDOW_MINUTES, WINDOW_ACCEPTED).describe(
      "How long the window lasts; the run's StopAfter",
    ),
    enabled: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .describe('Whether the schedule triggers runs; default true'),
  },
  {
    error:
      'expected a schedule: { startDate, daysOfWeek, time, timeZone, windowMinutes, weeksOfMonth? | intervalWeeks?, enabled? }',
  },
);

const SCHEDULE_FIELDS = Object.keys(scheduleInputSchema.shape);

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  }
  return out === '' ? '(schedule)' : out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]) {
  let current = input;
  for (const part of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part)) {
      return { present: false, value: undefined };
    }
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return { present: true, value: current };
}

function issueProblems(issues: readonly z.core.$ZodIssue[], input: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({
          field: fieldPath([...issue.path, key]),
          value: valueAt(input, [...issue.path, key]).value,
          message: `unknown field; accepted fields: ${SCHEDULE_FIELDS.join(', ')}`,
        });
      }
      continue;
    }
    const { present, value } = valueAt(input, issue.path);
    problems.push({
      field: fieldPath(issue.path),
      ...(present ? { value } : {}),
      // An issue at the root is always present: valueAt of an empty path is the input.
      message: present ? issue.message : `missing; ${issue.message}`,
    });
  }
  return problems;
}

/** A day or week listed twice (days compare case-insensitively), whatever else is wrong. */
function duplicateProblems(raw: Record<string, unknown>): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const check = (field: string, key: (item: unknown) => unknown, what: string) => {
    const items = raw[field];
    if (!Array.isArray(items)) return;
    const keys = items.map(key);
    keys.forEach((k, i) => {
      const first = keys.indexOf(k);
      if (k !== undefined && first < i) {
        problems.push({
          field: `${field}[${i}]`,
          value: items[i],
          message: `same ${what} as ${field}[${first}]; list each once`,
        });
      }
    });
  };
  check('daysOfWeek', (d) => (typeof d === 'string' ? d.trim().toLowerCase() : undefined), 'day');
  check('weeksOfMonth', (w) => (typeof w === 'number' ? w : undefined), 'week');
  return problems;
}

/**
 * Checks a schedule and applies its defaults.
 *
 * @throws ScheduleError listing every problem, in field order, each with the field, the value
 *   and what is accepted; `weeksOfMonth` with `intervalWeeks` is one of them (CAU takes them in
 *   different parameter sets).
 */
export function parseSchedule(input: unknown): Schedule {
  const result = scheduleInputSchema.safeParse(input);
  const problems = result.success ? [] : issueProblems(result.error.issues, input);
  // Object() of null or undefined is {}; of any other primitive, an object without these fields.
  const raw: Record<string, unknown> = Object(input);
  problems.push(...duplicateProblems(raw));
  if (raw.weeksOfMonth !== undefined && raw.intervalWeeks !== undefined) {
    problems.push({
      field: 'intervalWeeks',
      value: raw.intervalWeeks,
      message: `cannot be combined with weeksOfMonth (${JSON.stringify(raw.weeksOfMonth)}): CAU takes -WeeksOfMonth (monthly) or -IntervalWeeks (weekly), not both; give one`,
    });
  }
  if (problems.length > 0 || !result.success) {
    const rank = (field: string) => {
      const i = SCHEDULE_FIELDS.indexOf(/^[^.[]*/.exec(field)?.[0] ?? field);
      return i === -1 ? SCHEDULE_FIELDS.length : i;
    };
    const item = (field: string) => Number(/\[(\d+)\]/.exec(field)?.[1] ?? -1);
    const sorted = problems
      .map((problem, i) => ({ problem, i }))
      .sort(
        (a, b) =>
          rank(a.problem.field) - rank(b.problem.field) ||
          item(a.problem.field) - item(b.problem.field) ||
          a.i - b.i,
      )
      .map((entry) => entry.problem);
    throw new ScheduleError(sorted, result.success ? {} : { cause: result.error });
  }
  const data = result.data;
  return {
    startDate: data.startDate,
    daysOfWeek: DAYS_OF_WEEK.filter((day) => data.daysOfWeek.includes(day)),
    ...(data.weeksOfMonth === undefined
      ? {}
      : {
          weeksOfMonth: WEEKS_OF_MONTH.filter((week) =>
            (data.weeksOfMonth as number[]).includes(week),
          ),
        }),
    intervalWeeks: data.intervalWeeks ?? 1,
    time: data.time,
    timeZone: data.timeZone,
    windowMinutes: data.windowMinutes,
    enabled: data.enabled ?? true,
  };
}

/** The schedule as input again (defaults left out): what {@link parseSchedule} reads back. */
export function toScheduleInput(schedule: Schedule): ScheduleInput {
  return {
    startDate: schedule.startDate,
    daysOfWeek: [...schedule.daysOfWeek],
    ...(schedule.weeksOfMonth ? { weeksOfMonth: [...schedule.weeksOfMonth] } : {}),
    ...(schedule.intervalWeeks > 1 ? { intervalWeeks: schedule.intervalWeeks } : {}),
    time: schedule.time,
    timeZone: schedule.timeZone,
    windowMinutes: schedule.windowMinutes,
    ...(schedule.enabled ? {} : { enabled: false }),
  };
}

// ---------------------------------------------------------------------------------------------
// Civil dates (day numbers: days since 1970-01-01, proleptic Gregorian)

function dayNumber(year: number, month: number, day: number): number {
  return Math.round(Date.UTC(year, month - 1, day) / DAY_MS);
}

function civil(n: number): { year: number; month: number; day: number } {
  const date = new Date(n * DAY_MS);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

/** 0 = Sunday ... 6 = Saturday. */
const weekday = (n: number) => new Date(n * DAY_MS).getUTCDay();

const daysInMonth = (year: number, month: number) =>
  new Date(Date.UTC(year, month, 0)).getUTCDate();

const isoOfDay = (n: number) => new Date(n * DAY_MS).toISOString().slice(0, 10);

const startDayOf = (schedule: Schedule) => dayOfIsoDate(schedule.startDate) as number;

/** The Sunday that starts the week of `startDate`. */
const anchorDayOf = (schedule: Schedule) => {
  const start = startDayOf(schedule);
  return start - weekday(start);
};

// ---------------------------------------------------------------------------------------------
// Time zones (Intl only)

interface WallClock {
  readonly day: number;
  readonly minuteOfDay: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall clock in `timeZone` at instant `ms`. */
function wallClock(timeZone: string, ms: number): WallClock {
  const parts: Record<string, number> = {};
  // The separators ("literal" parts) are stored too, as NaN, and never read.
  for (const part of formatterFor(timeZone).formatToParts(new Date(ms))) {
    parts[part.type] = Number(part.value);
  }
  const { year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0 } = parts;
  return { day: dayNumber(year, month, day), minuteOfDay: hour * 60 + minute, second };
}

/** How far `timeZone`'s wall clock is ahead of UTC at instant `ms`, in milliseconds. */
function offsetAt(timeZone: string, ms: number): number {
  const wall = wallClock(timeZone, ms);
  const wallMs = wall.day * DAY_MS + wall.minuteOfDay * MINUTE_MS + wall.second * 1000;
  return wallMs - Math.floor(ms / 1000) * 1000;
}

/**
 * The instants at which `timeZone`'s clock shows `minuteOfDay` on local day `day`: none in a gap
 * (clocks go forward), two in an overlap (clocks go back), else one. Ascending.
 */
function instantsAt(timeZone: string, day: number, minuteOfDay: number): number[] {
  const asUtc = day * DAY_MS + minuteOfDay * MINUTE_MS;
  // Every offset in force within a day either side; each candidate is then checked.
  const offsets = new Set(
    [asUtc - DAY_MS, asUtc, asUtc + DAY_MS].map((ms) => offsetAt(timeZone, ms)),
  );
  const found = new Set<number>();
  for (const offset of offsets) {
    const candidate = asUtc - offset;
    const wall = wallClock(timeZone, candidate);
    if (wall.day === day && wall.minuteOfDay === minuteOfDay) found.add(candidate);
  }
  return [...found].sort((a, b) => a - b);
}

const minuteOfDayOf = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

// ---------------------------------------------------------------------------------------------
// Calendar

/** Whether local day `day` is a day of the schedule (the time of day not considered). */
function isScheduleDay(schedule: Schedule, day: number): boolean {
  if (day < startDayOf(schedule)) return false;
  if (!schedule.daysOfWeek.includes(DAYS_OF_WEEK[weekday(day)] as DayOfWeek)) return false;
  if (schedule.weeksOfMonth) {
    const { year, month, day: date } = civil(day);
    const nth = Math.floor((date - 1) / 7) + 1;
    const last = date + 7 > daysInMonth(year, month);
    return schedule.weeksOfMonth.some((week) => week === nth || (week === LAST_WEEK && last));
  }
  // Every week is in the cycle of 1 week (n % 1 is 0); a day before startDate was refused above.
  return Math.floor((day - anchorDayOf(schedule)) / 7) % schedule.intervalWeeks === 0;
}

/** The occurrence on a schedule day: undefined when its wall time does not exist that day. */
function occurrenceOn(schedule: Schedule, day: number): number | undefined {
  return instantsAt(schedule.timeZone, day, minuteOfDayOf(schedule.time))[0];
}

function checkDate(value: Date, name: string): number {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new RangeError(`${name} is not a valid date`);
  return ms;
}

/**
 * The next `count` occurrences at or after `from`, ascending: the instants the windows open.
 * Days before `startDate` have none; a day whose wall time falls in a DST gap has none; an
 * ambiguous wall time gives its first instant. `enabled` is not considered: this is the calendar.
 */
export function nextOccurrences(schedule: Schedule, from: Date, count: number): Date[] {
  const fromMs = checkDate(from, 'from');
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count (${count}) must be a whole number, 0 or more`);
  }
  const out: Date[] = [];
  // A day early: where clocks go back at midnight, the previous local day can end after `from`.
  let day = Math.max(wallClock(schedule.timeZone, fromMs).day - 1, startDayOf(schedule));
  // The longest gap between occurrences is 52 weeks (twice, with a DST gap); bounded anyway.
  const lastDay = day + (count + 2) * 2 * 366;
  for (; out.length < count && day <= lastDay; day++) {
    if (!isScheduleDay(schedule, day)) continue;
    const at = occurrenceOn(schedule, day);
    if (at !== undefined && at >= fromMs) out.push(new Date(at));
  }
  return out;
}

/**
 * Whether `instant` (to the minute: Scheduler fires within the minute) is an occurrence of the
 * schedule: a schedule day on or after `startDate`, in the cycle of `intervalWeeks`, at the
 * first instant its wall clock shows `time`.
 */
export function isScheduledOccurrence(schedule: Schedule, instant: Date): boolean {
  const minute = Math.floor(checkDate(instant, 'instant') / MINUTE_MS) * MINUTE_MS;
  const day = wallClock(schedule.timeZone, minute).day;
  return isScheduleDay(schedule, day) && occurrenceOn(schedule, day) === minute;
}

/** The window that opens at `occurrence`: `windowMinutes` of elapsed time. */
export function windowFor(schedule: Schedule, occurrence: Date): ScheduleWindow {
  const start = checkDate(occurrence, 'occurrence');
  return {
    startAt: new Date(start),
    stopAt: new Date(start + schedule.windowMinutes * MINUTE_MS),
    stopAfterMinutes: schedule.windowMinutes,
  };
}

const localText = (schedule: Schedule, ms: number) => {
  const wall = wallClock(schedule.timeZone, ms);
  const hh = String(Math.floor(wall.minuteOfDay / 60)).padStart(2, '0');
  const mm = String(wall.minuteOfDay % 60).padStart(2, '0');
  return `${isoOfDay(wall.day)} ${hh}:${mm} ${schedule.timeZone}`;
};

/**
 * The guard of a triggered run. `scheduledTime` is when Scheduler was due to fire
 * (`<aws.scheduler.scheduled-time>`), `now` when the run starts (later, after retries). The run
 * goes ahead when `scheduledTime` is an occurrence ({@link isScheduledOccurrence}: not before
 * `startDate`, in the `intervalWeeks` cycle) and its window is still open at `now`.
 */
export function shouldRunAt(
  schedule: Schedule,
  scheduledTime: Date,
  now: Date = scheduledTime,
): RunDecision {
  const minute = Math.floor(checkDate(scheduledTime, 'scheduledTime') / MINUTE_MS) * MINUTE_MS;
  const nowMs = checkDate(now, 'now');
  const local = localText(schedule, minute);
  if (wallClock(schedule.timeZone, minute).day < startDayOf(schedule)) {
    return {
      run: false,
      reason: 'beforeStartDate',
      message: `${local} is before the schedule's startDate ${schedule.startDate}`,
    };
  }
  if (!isScheduledOccurrence(schedule, new Date(minute))) {
    const cycle =
      schedule.intervalWeeks > 1
        ? `: the schedule runs every ${schedule.intervalWeeks} weeks, counted from the week of ${isoOfDay(anchorDayOf(schedule))}`
        : '';
    return {
      run: false,
      reason: 'notAnOccurrence',
      message: `${local} is not an occurrence of the schedule (${describeSchedule(schedule)})${cycle}`,
    };
  }
  const window = windowFor(schedule, new Date(minute));
  if (nowMs >= window.stopAt.getTime()) {
    return {
      run: false,
      reason: 'windowClosed',
      message: `the window that opened at ${local} closed at ${window.stopAt.toISOString()} (${schedule.windowMinutes} minutes); now is ${new Date(nowMs).toISOString()}`,
    };
  }
  return { run: true, occurrence: window.startAt, window };
}

/**
 * The schedule days from local date `fromDate` (inclusive, `YYYY-MM-DD`) for `days` days whose
 * wall time does not exist (clocks go forward): Scheduler skips them, so they get no window.
 */
export function skippedDates(schedule: Schedule, fromDate: string, days: number): string[] {
  const first = dayOfIsoDate(fromDate);
  if (first === undefined) throw new RangeError(`fromDate (${fromDate}) is not a date YYYY-MM-DD`);
  const skipped: string[] = [];
  for (let day = first; day < first + days; day++) {
    if (isScheduleDay(schedule, day) && occurrenceOn(schedule, day) === undefined) {
      skipped.push(isoOfDay(day));
    }
  }
  return skipped;
}

// ---------------------------------------------------------------------------------------------
// EventBridge Scheduler

/** EventBridge cron day-of-week numbers: 1 = SUN ... 7 = SAT. */
const cronDay = (day: DayOfWeek) => DAYS_OF_WEEK.indexOf(day) + 1;
const cronDayName = (day: DayOfWeek) => day.slice(0, 3).toUpperCase();

/**
 * The EventBridge Scheduler cron expressions of a schedule, all in `schedule.timeZone`:
 * - weekly: one expression, `cron(0 3 ? * TUE,THU *)`;
 * - weeks of the month: one per weekday and week, as `#` takes one value per expression
 *   (`cron(0 3 ? * 3#2 *)`, the second Tuesday); the last week is `L` (`cron(0 3 ? * 6L *)`,
 *   the last Friday), or `#5` when week 4 is also listed, so that no two expressions fire on
 *   the same day in a month with four such weekdays;
 * - every n-th week: the weekly expression and an {@link IntervalWeeksGuard}, for the triggered
 *   run to check with {@link shouldRunAt}: cron has no week-of-year step.
 *
 * `startDate` is not in the expressions: Scheduler refuses a `StartDate` in the past, so a
 * redeploy after it would fail. The triggered run checks it with {@link shouldRunAt}.
 */
export function toSchedulerExpressions(schedule: Schedule): SchedulerExpressions {
  const minutes = minuteOfDayOf(schedule.time);
  const cron = (dayOfWeek: string) =>
    `cron(${minutes % 60} ${Math.floor(minutes / 60)} ? * ${dayOfWeek} *)`;
  const { timeZone, weeksOfMonth } = schedule;
  if (weeksOfMonth) {
    const expressions: string[] = [];
    for (const day of schedule.daysOfWeek) {
      for (const week of weeksOfMonth) {
        if (week !== LAST_WEEK) expressions.push(cron(`${cronDay(day)}#${week}`));
        else if (weeksOfMonth.includes(4)) expressions.push(cron(`${cronDay(day)}#5`));
        else expressions.push(cron(`${cronDay(day)}L`));
      }
    }
    return { expressions, timeZone };
  }
  const weekly = cron(schedule.daysOfWeek.map(cronDayName).join(','));
  if (schedule.intervalWeeks === 1) return { expressions: [weekly], timeZone };
  return {
    expressions: [weekly],
    timeZone,
    guard: {
      kind: 'intervalWeeks',
      every: schedule.intervalWeeks,
      anchorWeekStart: isoOfDay(anchorDayOf(schedule)),
    },
  };
}

/** Cron expressions that start staging ahead of each window (issue 13 item 5). */
export interface StagingExpressions {
  readonly expressions: readonly string[];
  /** The schedule's own time zone: the shift is in its wall-clock time. */
  readonly timeZone: string;
  /**
   * False when cron cannot say "n hours before" exactly and the expressions fire on a superset
   * of the needed days (every week): an every-n-th-week schedule, or weeks of the month moved
   * to another day (the day before "the second Tuesday" is not always "the second Monday").
   * A staging run that finds everything cached changes nothing, so a superset costs only runs.
   */
  readonly exact: boolean;
  /** Days the start moves back: 0 (same day) to 7. */
  readonly daysBefore: number;
}

/**
 * The EventBridge Scheduler expressions that fire `hoursBefore` hours (wall clock, in the
 * schedule's time zone) before each window of the schedule: the time moves back, and when it
 * crosses midnight, so does each weekday (a Tuesday 01:00 window with 3 hours is Monday 22:00).
 * @throws ScheduleError naming `staging.hoursBeforeWindow` when it is not 1 to 168 whole hours.
 */
export function toStagingExpressions(schedule: Schedule, hoursBefore: number): StagingExpressions {
  if (!Number.isInteger(hoursBefore) || hoursBefore < 1 || hoursBefore > 168) {
    throw new ScheduleError([
      {
        field: 'staging.hoursBeforeWindow',
        value: hoursBefore,
        message: 'expected a whole number of hours from 1 to 168',
      },
    ]);
  }
  const start = minuteOfDayOf(schedule.time) - hoursBefore * 60;
  const daysBefore = start >= 0 ? 0 : Math.ceil(-start / 1440);
  const minute = start + daysBefore * 1440;
  const at = `cron(${minute % 60} ${Math.floor(minute / 60)} `;
  const { timeZone } = schedule;
  if (schedule.weeksOfMonth && daysBefore === 0) {
    const { expressions } = toSchedulerExpressions(schedule);
    return {
      expressions: expressions.map((e) => e.replace(/^cron\(\d+ \d+ /, at)),
      timeZone,
      exact: true,
      daysBefore,
    };
  }
  const days = DAYS_OF_WEEK.filter((day) =>
    schedule.daysOfWeek.some(
      (d) => (DAYS_OF_WEEK.indexOf(d) - DAYS_OF_WEEK.indexOf(day) + 7) % 7 === daysBefore % 7,
    ),
  );
  return {
    expressions: [`${at}? * ${days.map(cronDayName).join(',')} *)`],
    timeZone,
    exact: !schedule.weeksOfMonth && schedule.intervalWeeks === 1,
    daysBefore,
  };
}

const ORDINALS = ['', 'first', 'second', 'third', 'fourth', 'last'] as const;

/** The schedule in words, e.g. "second Tuesday of the month at 03:00 Europe/Paris, 240 minutes". */
export function describeSchedule(schedule: Schedule): string {
  const list = (items: readonly string[]) =>
    items.length === 1
      ? (items[0] as string)
      : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
  let days: string;
  if (schedule.weeksOfMonth) {
    const weeks = list(schedule.weeksOfMonth.map((week) => ORDINALS[week]));
    days = `${weeks} ${list(schedule.daysOfWeek)} of the month`;
  } else if (schedule.intervalWeeks > 1) {
    days = `${list(schedule.daysOfWeek)} every ${schedule.intervalWeeks} weeks`;
  } else {
    days = `every ${list(schedule.daysOfWeek)}`;
  }
  return `${days} at ${schedule.time} ${schedule.timeZone} from ${schedule.startDate}, ${schedule.windowMinutes} minutes`;
}

// ---------------------------------------------------------------------------------------------
// The trigger a scheduled run carries

/**
 * What a scheduled run carries in the rollout input's `schedule` field: which schedule and
 * expression fired, when it was due (`scheduledTime`, filled in by Scheduler from
 * `<aws.scheduler.scheduled-time>`), the schedule itself (for {@link shouldRunAt}) and the
 * guard, when cron fires more often than the schedule runs.
 */
export const scheduleTriggerSchema = z
  .strictObject({
    name: z.string().min(1).max(64),
    expression: z.string().startsWith('cron('),
    scheduledTime: z.string().refine((v) => !Number.isNaN(Date.parse(v)), {
      error: 'expected an ISO 8601 date and time, e.g. 2026-01-13T02:00:00Z',
    }),
    definition: scheduleInputSchema,
    guard: z
      .strictObject({
        kind: z.literal('intervalWeeks'),
        every: z.number().int().min(2).max(MAX_INTERVAL_WEEKS),
        anchorWeekStart: z.string().regex(isoDate),
      })
      .optional(),
  })
  .describe('Set by a scheduled self-updating window; the run checks it first');

export type ScheduleTrigger = z.input<typeof scheduleTriggerSchema>;
