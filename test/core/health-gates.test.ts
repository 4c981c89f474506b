/**
 * Health gates (issue 13, item 1): the verdict at one gate. Sources: CodeDeploy and Argo
 * Rollouts stop on an alarm in ALARM; the issue: stop or hold for approval per onAlarm, a
 * missing alarm is a clear error naming it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  type AlarmReading,
  alarmNameFromArn,
  evaluateGates,
  healthGatesInputSchema,
} from '../../lambdas/core/health-gates.js';
import { approvalRequired } from '../../lambdas/core/lifecycle-events.js';
import { parseRolloutInput, RolloutInputError } from '../../lambdas/core/rollout-input.js';

const gates = (input: unknown) => healthGatesInputSchema.parse(input);
const reading = (name: string, state: AlarmReading['state'], reason = `${name} reason`) => ({
  name,
  state,
  reason,
});

describe('healthGatesInputSchema', () => {
  it.each([
    ['names only, onAlarm defaults to stop', { alarmNames: ['cpu-high'] }, { onAlarm: 'stop' }],
    ['a tag only', { alarmTag: { key: 'rollout', value: 'CLUSTER1' } }, { onAlarm: 'stop' }],
    ['approve', { alarmNames: ['a'], onAlarm: 'approve' }, { onAlarm: 'approve' }],
  ])('accepts %s', (_what, input, expected) => {
    expect(gates(input)).toMatchObject(expected);
  });

  it.each([
    ['neither names nor tag', {}, /alarmNames, alarmTag or both/],
    ['an empty name list', { alarmNames: [] }, /at least one alarm name/],
    ['a name with a newline', { alarmNames: ['a\nb'] }, /CloudWatch alarm name/],
    ['101 names', { alarmNames: Array.from({ length: 101 }, (_, i) => `a${i}`) }, /at most 100/],
    [
      'onAlarm pause',
      { alarmNames: ['a'], onAlarm: 'pause' },
      /expected .{0,2}stop.{0,2} or .{0,2}approve/,
    ],
    ['an unknown field', { alarmNames: ['a'], alarms: ['b'] }, /alarms/],
    ['alarmNames a text', { alarmNames: 'cpu-high' }, /expected a list of CloudWatch alarm names/],
    ['an alarm name a number', { alarmNames: [5] }, /expected a CloudWatch alarm name: 1 to 255/],
    ['alarmTag a text', { alarmTag: 'rollout=C1' }, /expected a tag: \{ key, value \}/],
    ['a tag key a number', { alarmTag: { key: 5, value: 'C1' } }, /expected a tag key of 1 to 128/],
    ['a tag value null', { alarmTag: { key: 'k', value: null } }, /and a value of 0 to 256/],
    ['gates a list', [{ alarmNames: ['a'] }], /expected health gates: \{ alarmNames\?/],
  ])('refuses %s', (_what, input, message) => {
    const result = healthGatesInputSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toMatch(message);
  });
});

describe('healthGatesInputSchema: the published JSON Schema says what the module says', () => {
  // schemas/rollout-input.schema.json is generated from the rollout input (npm run schema):
  // its healthGates descriptions are the ones this schema carries.
  const published = JSON.parse(readFileSync('schemas/rollout-input.schema.json', 'utf8')).properties
    .healthGates;
  const live = z.toJSONSchema(healthGatesInputSchema, { io: 'input' }) as typeof published;
  it.each([
    ['healthGates', (s: typeof published) => s.description],
    ['alarmNames', (s: typeof published) => s.properties.alarmNames.description],
    ['alarmTag', (s: typeof published) => s.properties.alarmTag.description],
    ['onAlarm', (s: typeof published) => s.properties.onAlarm.description],
  ])('%s', (_field, describe) => {
    expect(describe(published)).toMatch(/^[A-Z].{20,}/);
    expect(describe(live)).toBe(describe(published));
  });
});

describe('evaluateGates', () => {
  it.each([
    {
      source: 'every alarm OK: go on',
      input: { alarmNames: ['a', 'b'] },
      readings: [reading('b', 'OK'), reading('a', 'OK')],
      action: 'proceed',
      message: /2 alarm\(s\) quiet/,
    },
    {
      source: 'CodeDeploy: an alarm in ALARM stops the deployment',
      input: { alarmNames: ['a', 'b'] },
      readings: [reading('a', 'OK'), reading('b', 'ALARM', 'Threshold Crossed: 1 datapoint')],
      action: 'stop',
      message: /b is in ALARM \(Threshold Crossed: 1 datapoint\); onAlarm stop/,
    },
    {
      source: 'issue 13: onAlarm approve holds the run',
      input: { alarmNames: ['a'], onAlarm: 'approve' },
      readings: [reading('a', 'ALARM')],
      action: 'approve',
      message: /onAlarm approve/,
    },
    {
      source: 'INSUFFICIENT_DATA is not firing, and is listed',
      input: { alarmNames: ['a'] },
      readings: [reading('a', 'INSUFFICIENT_DATA')],
      action: 'proceed',
      message: /without enough data: a/,
    },
    {
      source: 'issue 13: a missing alarm is an error naming it, even when others fire',
      input: { alarmNames: ['a', 'gone'], onAlarm: 'approve' },
      readings: [reading('a', 'ALARM')],
      action: 'fail',
      message: /CloudWatch alarm "gone" does not exist/,
    },
  ])('$source', ({ input, readings, action, message }) => {
    const verdict = evaluateGates(gates(input), readings, {
      checkpoint: 'beforeNode',
      node: 'NODE2',
    });
    expect(verdict.action).toBe(action);
    expect(verdict.message).toMatch(message);
    expect(verdict.message).toMatch(/^health gate before node NODE2: /);
  });

  it('a tag that matches no alarm fails, naming the tag', () => {
    const verdict = evaluateGates(
      gates({ alarmTag: { key: 'rollout', value: 'C1' } }),
      [],
      { checkpoint: 'beforeWave' },
      [],
    );
    expect(verdict).toMatchObject({ action: 'fail', missing: ['tag:rollout=C1'] });
    expect(verdict.message).toBe('health gate beforeWave: no CloudWatch alarm has tag:rollout=C1');
  });

  it('lists the firing alarms in name order with their StateReason', () => {
    const verdict = evaluateGates(
      gates({ alarmNames: ['z', 'a', 'm'] }),
      [reading('z', 'ALARM', 'zr'), reading('m', 'OK'), reading('a', 'ALARM', 'ar')],
      { checkpoint: 'bake' },
    );
    expect(verdict.firing).toEqual([
      { name: 'a', reason: 'ar' },
      { name: 'z', reason: 'zr' },
    ]);
    expect(verdict.checked).toEqual(['a', 'm', 'z']);
  });
});

describe('evaluateGates: where, what and how it reads', () => {
  const quiet = gates({ alarmNames: ['a', 'b'] });
  it.each([
    [{ checkpoint: 'beforeNode', node: 'NODE2' }, 'health gate before node NODE2: ', 'NODE2'],
    [{ checkpoint: 'beforeNode' }, 'health gate beforeNode: ', null],
    [{ checkpoint: 'bake', node: 'NODE2' }, 'health gate bake: ', 'NODE2'],
    [{ checkpoint: 'beforeWave', node: null }, 'health gate beforeWave: ', null],
  ] as const)('at %j the message starts %j', (at, start, node) => {
    const verdict = evaluateGates(quiet, [reading('a', 'OK'), reading('b', 'OK')], at);
    expect(verdict.message.startsWith(start)).toBe(true);
    expect(verdict.node).toBe(node);
  });

  it.each([
    {
      what: 'every alarm quiet',
      readings: [reading('b', 'OK'), reading('a', 'OK')],
      message: 'health gate bake: 2 alarm(s) quiet',
      insufficientData: [],
    },
    {
      what: 'two without enough data, listed by name',
      readings: [
        reading('b', 'INSUFFICIENT_DATA'),
        reading('c', 'OK'),
        reading('a', 'INSUFFICIENT_DATA'),
      ],
      message: 'health gate bake: 3 alarm(s) quiet (2 without enough data: a, b)',
      insufficientData: ['a', 'b'],
    },
    {
      what: 'two firing, each with its reason',
      readings: [reading('b', 'ALARM', 'rb'), reading('a', 'ALARM', 'ra')],
      message: 'health gate bake: a is in ALARM (ra); b is in ALARM (rb); onAlarm stop',
      insufficientData: [],
    },
    {
      what: 'two missing, each named',
      readings: [],
      message:
        'health gate bake: CloudWatch alarm "a" does not exist; CloudWatch alarm "b" does not exist',
      insufficientData: [],
    },
  ])('$what', ({ readings, message, insufficientData }) => {
    const verdict = evaluateGates(quiet, readings, { checkpoint: 'bake' });
    expect(verdict.message).toBe(message);
    expect(verdict.insufficientData).toEqual(insufficientData);
  });

  it.each([
    ['names only, the handler read no tag', { alarmNames: ['a'] }, undefined, 'proceed'],
    ['names only, an empty tag listing is not read', { alarmNames: ['a'] }, [], 'proceed'],
    ['a tag not listed yet', { alarmTag: { key: 'k', value: 'v' } }, undefined, 'proceed'],
    ['a tag that matched alarm a', { alarmTag: { key: 'k', value: 'v' } }, ['a'], 'proceed'],
    ['a tag that matched none', { alarmTag: { key: 'k', value: 'v' } }, [], 'fail'],
  ] as const)('%s: %s', (_what, input, tagged, action) => {
    const verdict = evaluateGates(
      gates(input),
      [reading('a', 'OK')],
      { checkpoint: 'bake' },
      tagged,
    );
    expect(verdict.action).toBe(action);
  });

  // Every order of four alarms read: checked, firing and without data come out in name order.
  const permutations = (list: string[]): string[][] =>
    list.length <= 1
      ? [list]
      : list.flatMap((first, i) =>
          permutations([...list.slice(0, i), ...list.slice(i + 1)]).map((rest) => [first, ...rest]),
        );
  it.each(permutations(['d', 'b', 'a', 'c']).map((p) => [p.join('')]))(
    'read in order %s',
    (order) => {
      const verdict = evaluateGates(
        gates({ alarmNames: ['a', 'b', 'c', 'd'] }),
        [...order].map((name) => reading(name, 'ALARM', `r${name}`)),
        { checkpoint: 'bake' },
      );
      expect(verdict.checked).toEqual(['a', 'b', 'c', 'd']);
      expect(verdict.firing.map((f) => f.name)).toEqual(['a', 'b', 'c', 'd']);
    },
  );
});

describe('alarmNameFromArn', () => {
  it.each([
    ['arn:aws:cloudwatch:eu-west-1:111122223333:alarm:cpu-high', 'cpu-high'],
    ['arn:aws:cloudwatch:eu-west-1:111122223333:alarm:name:with:colons', 'name:with:colons'],
    ['arn:aws:sns:eu-west-1:111122223333:topic', undefined],
    ['xarn:aws:cloudwatch:eu-west-1:111122223333:alarm:cpu-high', undefined],
    ['arn:aws:cloudwatch:eu-west-1:111122223333:alarm:cpu\nhigh', undefined],
  ])('%s', (arn, name) => {
    expect(alarmNameFromArn(arn)).toBe(name);
  });
});

describe('a hold at a health gate', () => {
  it('has its own Rollout Approval Required id, apart from a pilot gate after as many nodes', () => {
    const run = {
      runId: 'run-1',
      target: 'CLUSTER1',
      nodes: ['NODE1', 'NODE2', 'NODE3'],
      maxFailedNodes: 1,
      startedAt: '2026-01-13T22:00:00.000Z',
    };
    const meta = { sequence: 4, occurredAt: '2026-01-13T22:30:00.000Z' };
    const pilot = approvalRequired(run as never, { afterNodes: 1, timeoutMinutes: 60 }, meta);
    const held = approvalRequired(
      run as never,
      { afterNodes: 1, timeoutMinutes: 60, heldBy: 'HealthGateBeforeNode' },
      meta,
    );
    expect(pilot.detail.eventId).toBe('run-1:approval:1');
    expect(held.detail.eventId).toBe('run-1:approval:HealthGateBeforeNode:1');
    expect(held.detail).toMatchObject({ gate: { afterNodes: 1, timeoutMinutes: 60 } });
  });
});

describe('the rollout input carries healthGates to the workflows', () => {
  const NOW = new Date('2026-03-02T10:00:00Z');
  const target = {
    kind: 'cluster',
    name: 'CLUSTER1',
    nodes: [
      { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
      { name: 'NODE2', instanceId: 'i-0123456789abcdef1' },
    ],
  };

  it('resolved with onAlarm stop by default', () => {
    const resolved = parseRolloutInput({ target, healthGates: { alarmNames: ['web-5xx'] } }, NOW);
    expect(resolved.healthGates).toEqual({ alarmNames: ['web-5xx'], onAlarm: 'stop' });
  });

  it('absent (not null) without gates, so the workflows test it with IsPresent', () => {
    const resolved = parseRolloutInput({ target }, NOW);
    expect('healthGates' in resolved).toBe(false);
  });

  it('refuses a bad onAlarm naming the field and the value', () => {
    let error: unknown;
    try {
      parseRolloutInput({ target, healthGates: { alarmNames: ['a'], onAlarm: 'ignore' } }, NOW);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RolloutInputError);
    expect((error as RolloutInputError).problems).toContainEqual(
      expect.objectContaining({ field: 'healthGates.onAlarm', value: 'ignore' }),
    );
  });
});
