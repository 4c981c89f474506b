/**
 * The sandbox's simulated CloudWatch alarms (issue 13, item 1): the timeline in virtual time, the
 * DescribeAlarms and GetResources fakes as the real check-alarms handler calls them, and the
 * scenario checks of the alarms a rollout names.
 */
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { makeCheckAlarmsHandler } from '../../lambdas/handlers/check-alarms.js';
import { healthGateProblems, isoDurationMs, SimulatedAlarms } from '../../sandbox/alarms.js';
import { parseScenario, ScenarioError } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const START = new Date('2026-01-13T22:00:00Z');
const minutes = (m: number) => START.getTime() + m * 60_000;

const ALARMS = [
  {
    name: 'web-5xx-rate',
    tags: { 'rollout-gate': 'prod' },
    timeline: [
      { at: 'PT25M', state: 'ALARM' as const, reason: 'Threshold Crossed: 12.5 > 5.0' },
      { at: 'PT0S', state: 'OK' as const, reason: 'Threshold Crossed: 0.2 < 5.0' },
      { at: '2026-01-13T23:00:00Z', state: 'OK' as const, reason: 'recovered' },
    ],
  },
  { name: 'sql-latency', tags: { 'rollout-gate': 'prod' }, timeline: [] },
  { name: 'batch-lag', tags: { 'rollout-gate': 'batch' }, timeline: [] },
];

describe('isoDurationMs', () => {
  it.each([
    ['PT0S', 0],
    ['PT25M', 25 * 60_000],
    ['PT1H30M', 90 * 60_000],
    ['P1DT2H', 26 * 3_600_000],
    ['PT1.5S', 1500],
  ])('%s is %i ms', (value, ms) => {
    expect(isoDurationMs(value)).toBe(ms);
  });

  it.each(['P', 'PT', '25M', 'PT-5M', '2026-01-13T23:00:00Z'])('%s is not a duration', (value) => {
    expect(isoDurationMs(value)).toBeUndefined();
  });
});

describe('SimulatedAlarms', () => {
  const alarms = new SimulatedAlarms(ALARMS, START);

  it('orders the timeline by time, durations from the start and timestamps alike', () => {
    expect(alarms.stateAt('web-5xx-rate', minutes(-1))?.state).toBe('INSUFFICIENT_DATA');
    expect(alarms.stateAt('web-5xx-rate', minutes(0))?.state).toBe('OK');
    expect(alarms.stateAt('web-5xx-rate', minutes(24.9))?.state).toBe('OK');
    expect(alarms.stateAt('web-5xx-rate', minutes(25))).toEqual({
      state: 'ALARM',
      reason: 'Threshold Crossed: 12.5 > 5.0',
      since: minutes(25),
    });
    expect(alarms.stateAt('web-5xx-rate', minutes(60))?.reason).toBe('recovered');
    expect(alarms.stateAt('sql-latency', minutes(60))?.state).toBe('INSUFFICIENT_DATA');
    expect(alarms.stateAt('no-such-alarm', minutes(60))).toBeUndefined();
  });

  it('tells whether an alarm was in ALARM the whole of an interval', () => {
    expect(alarms.inAlarmThroughout('web-5xx-rate', minutes(25), minutes(59))).toBe(true);
    expect(alarms.inAlarmThroughout('web-5xx-rate', minutes(24), minutes(30))).toBe(false);
    expect(alarms.inAlarmThroughout('web-5xx-rate', minutes(30), minutes(60))).toBe(false);
  });

  it('refuses DescribeAlarms of more than 100 names, as CloudWatch does', async () => {
    const names = Array.from({ length: 101 }, (_, i) => `a${i}`);
    await expect(
      alarms.send(new DescribeAlarmsCommand({ AlarmNames: names }) as never),
    ).rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('answers the real check-alarms handler by the sandbox clock, names and tag alike', async () => {
    // Arrange
    let now = new Date(minutes(10));
    const clocked = alarms.withClock(() => now);
    // The copies share one call log with the original.
    const before = clocked.calls.length;
    const check = makeCheckAlarmsHandler({ cloudwatch: clocked, tagging: clocked } as never);
    const event = {
      runId: 'run-1',
      gates: { alarmTag: { key: 'rollout-gate', value: 'prod' }, onAlarm: 'stop' },
      checkpoint: 'beforeNode',
      node: 'NODE2',
    };
    // Act
    const quiet = await check(event);
    now = new Date(minutes(30));
    const firing = await check(event);
    const missing = await check({ ...event, gates: { alarmNames: ['web-5xx-rate', 'nope'] } });
    // Assert
    expect(quiet).toMatchObject({
      action: 'proceed',
      checked: ['sql-latency', 'web-5xx-rate'],
      insufficientData: ['sql-latency'],
    });
    expect(firing).toMatchObject({
      action: 'stop',
      firing: [{ name: 'web-5xx-rate', reason: 'Threshold Crossed: 12.5 > 5.0' }],
    });
    expect(missing).toMatchObject({ action: 'fail', missing: ['nope'] });
    expect(clocked.calls.slice(before).map((c) => c.api)).toEqual([
      'GetResources',
      'DescribeAlarms',
      'GetResources',
      'DescribeAlarms',
      'DescribeAlarms',
    ]);
  });
});

describe('scenario alarms', () => {
  const base = {
    name: 'alarms',
    nodes: [
      { name: 'NODE1', cluster: 'CLUSTER1' },
      { name: 'NODE2', cluster: 'CLUSTER1' },
    ],
    alarms: ALARMS,
  };

  it('a tag no alarm of the scenario has is refused, naming the field and the value', () => {
    const problems = healthGateProblems(
      ALARMS,
      [{ rollout: { healthGates: { alarmTag: { key: 'rollout-gate', value: 'dev' } } } }],
      () => 'rollout',
    );
    expect(problems).toEqual([
      {
        field: 'rollout.healthGates.alarmTag',
        value: { key: 'rollout-gate', value: 'dev' },
        message: 'no alarm of the scenario has the tag rollout-gate=dev',
      },
    ]);
  });

  it('a timeline time that is neither a duration nor a time is refused, naming it', () => {
    const bad = {
      ...base,
      alarms: [{ name: 'x', timeline: [{ at: 'in 5 minutes', state: 'ALARM', reason: '' }] }],
      rollout: { target: { kind: 'cluster', name: 'CLUSTER1' } },
    };
    let error: unknown;
    try {
      parseScenario(bad, 'bad');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).problems).toContainEqual(
      expect.objectContaining({ field: 'alarms[0].timeline[0].at', value: 'in 5 minutes' }),
    );
  });
});
