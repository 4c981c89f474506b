/**
 * Issue 12 §6: schemas/rollout-input.schema.json is a valid draft 2020-12 JSON Schema, and a
 * standard validator (Ajv) agrees with the workflow's own validator on the same inputs.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parseRolloutInput } from '../../lambdas/core/rollout-input.js';

const SCHEMA = JSON.parse(
  readFileSync(new URL('../../schemas/rollout-input.schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const NOW = new Date('2026-03-02T10:00:00Z');

const ajv = new Ajv2020({ strict: true, allErrors: true, strictTypes: false });
addFormats.default(ajv);

const BASE = {
  target: {
    kind: 'cluster',
    name: 'CLUSTER1',
    nodes: [
      { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
      { name: 'NODE2', instanceId: 'i-01234567' },
    ],
  },
};
const withPolicy = (policy: Record<string, unknown>) => ({ ...BASE, policy });

function validatorAccepts(input: unknown): boolean {
  try {
    parseRolloutInput(input, NOW, { random: () => 0 });
    return true;
  } catch {
    return false;
  }
}

describe('schemas/rollout-input.schema.json', () => {
  it('compiles under Ajv strict mode (no unknown keywords or formats)', () => {
    expect(() => ajv.compile(SCHEMA)).not.toThrow();
    expect(JSON.stringify(SCHEMA)).not.toContain('starts_with');
  });

  const validate = ajv.compile(SCHEMA);

  // One row per case; both validators must give `accepted`.
  it.each<{ name: string; input: unknown; accepted: boolean }>([
    { name: 'the minimal input', input: BASE, accepted: true },
    { name: 'no target', input: {}, accepted: false },
    { name: 'an unknown top-level field', input: { ...BASE, bogus: 1 }, accepted: false },
    { name: 'stopAfter 90 (minutes)', input: withPolicy({ stopAfter: 90 }), accepted: true },
    { name: 'stopAfter "PT1H30M"', input: withPolicy({ stopAfter: 'PT1H30M' }), accepted: true },
    {
      name: 'stopAfter "p1dt2h" (any case)',
      input: withPolicy({ stopAfter: 'p1dt2h' }),
      accepted: true,
    },
    { name: 'stopAfter "01:30:00"', input: withPolicy({ stopAfter: '01:30:00' }), accepted: true },
    {
      name: 'stopAfter "1.02:00:00"',
      input: withPolicy({ stopAfter: '1.02:00:00' }),
      accepted: true,
    },
    { name: 'stopAfter "soon"', input: withPolicy({ stopAfter: 'soon' }), accepted: false },
    { name: 'stopAfter "90" (ambiguous)', input: withPolicy({ stopAfter: '90' }), accepted: false },
    { name: 'stopAfter "P1M" (months)', input: withPolicy({ stopAfter: 'P1M' }), accepted: false },
    { name: 'stopAfter "P1DT"', input: withPolicy({ stopAfter: 'P1DT' }), accepted: false },
    { name: 'stopAfter "24:00"', input: withPolicy({ stopAfter: '24:00' }), accepted: false },
    { name: 'stopAfter "00:01:30"', input: withPolicy({ stopAfter: '00:01:30' }), accepted: false },
    { name: 'stopAfter 1.5', input: withPolicy({ stopAfter: 1.5 }), accepted: false },
    { name: 'stopAfter 0', input: withPolicy({ stopAfter: 0 }), accepted: false },
    { name: 'warnAfter "PT10M"', input: withPolicy({ warnAfter: 'PT10M' }), accepted: true },
    { name: 'maxFailedNodes 0', input: withPolicy({ maxFailedNodes: 0 }), accepted: true },
    { name: 'maxFailedNodes -1', input: withPolicy({ maxFailedNodes: -1 }), accepted: false },
    { name: 'maxRetriesPerNode 64', input: withPolicy({ maxRetriesPerNode: 64 }), accepted: true },
    { name: 'maxRetriesPerNode 65', input: withPolicy({ maxRetriesPerNode: 65 }), accepted: false },
    {
      name: 'maxRetriesPerNode 1.5',
      input: withPolicy({ maxRetriesPerNode: 1.5 }),
      accepted: false,
    },
    {
      name: 'rebootTimeoutMinutes 1441',
      input: withPolicy({ rebootTimeoutMinutes: 1441 }),
      accepted: false,
    },
    {
      name: 'failbackMode "Sometimes"',
      input: withPolicy({ failbackMode: 'Sometimes' }),
      accepted: false,
    },
    {
      name: 'approvalGate afterNodes 1',
      input: { ...BASE, approvalGate: { afterNodes: 1 } },
      accepted: true,
    },
    {
      name: 'approvalGate afterNodes 0',
      input: { ...BASE, approvalGate: { afterNodes: 0 } },
      accepted: false,
    },
    {
      name: 'approvalGate timeoutMinutes 10081',
      input: { ...BASE, approvalGate: { afterNodes: 1, timeoutMinutes: 10081 } },
      accepted: false,
    },
    // Issue 13 item 2: updateSelection.
    {
      name: 'updateSelection with every rule',
      input: {
        ...BASE,
        updateSelection: {
          includeKbs: ['KB5034441'],
          excludeKbs: ['kb5034439'],
          classifications: ['Security Updates', 'Update Rollups'],
          msrcSeverities: ['Critical', 'Unspecified'],
          maxPublishDate: '2026-11-30',
          approveAfterDays: 7,
          excludeRebootRequired: true,
        },
      },
      accepted: true,
    },
    {
      name: 'healthGates by name',
      input: { ...BASE, healthGates: { alarmNames: ['web-5xx'] } },
      accepted: true,
    },
    {
      name: 'healthGates by tag, onAlarm approve',
      input: {
        ...BASE,
        healthGates: { alarmTag: { key: 'rollout', value: 'prod' }, onAlarm: 'approve' },
      },
      accepted: true,
    },
    {
      name: 'updateSelection: an unknown classification',
      input: { ...BASE, updateSelection: { classifications: ['Security'] } },
      accepted: false,
    },
    {
      name: 'updateSelection: a KB without the KB prefix',
      input: { ...BASE, updateSelection: { excludeKbs: ['5034439'] } },
      accepted: false,
    },
    {
      name: 'updateSelection: a date not YYYY-MM-DD',
      input: { ...BASE, updateSelection: { maxPublishDate: '2026-11-30T00:00:00Z' } },
      accepted: false,
    },
    {
      name: 'updateSelection: approveAfterDays 361',
      input: { ...BASE, updateSelection: { approveAfterDays: 361 } },
      accepted: false,
    },
    {
      name: 'healthGates onAlarm "ignore"',
      input: { ...BASE, healthGates: { alarmNames: ['web-5xx'], onAlarm: 'ignore' } },
      accepted: false,
    },
    {
      name: 'healthGates empty alarmNames',
      input: { ...BASE, healthGates: { alarmNames: [] } },
      accepted: false,
    },
    {
      name: 'healthGates alarm name of 256 characters',
      input: { ...BASE, healthGates: { alarmNames: ['a'.repeat(256)] } },
      accepted: false,
    },
    {
      name: 'healthGates unknown field',
      input: { ...BASE, healthGates: { alarmNames: ['web-5xx'], alarms: ['x'] } },
      accepted: false,
    },
  ])('$name: accepted=$accepted by both', ({ input, accepted }) => {
    expect(validatorAccepts(input)).toBe(accepted);
    expect(validate(input)).toBe(accepted);
  });

  // Where the schema is looser on purpose: checks a JSON Schema cannot express. Kept as a table
  // so a change to either side shows here.
  it.each<{ name: string; input: unknown }>([
    {
      name: 'warnAfter not less than stopAfter',
      input: withPolicy({ warnAfter: 90, stopAfter: 60 }),
    },
    { name: 'ISO seconds that are not whole minutes', input: withPolicy({ stopAfter: 'PT30S' }) },
    {
      name: 'updateSelection.maxPublishDate not a calendar date',
      input: { ...BASE, updateSelection: { maxPublishDate: '2026-02-30' } },
    },
    {
      name: 'healthGates with neither alarmNames nor alarmTag',
      input: { ...BASE, healthGates: {} },
    },
  ])('schema accepts, validator refuses: $name', ({ input }) => {
    expect(validate(input)).toBe(true);
    expect(validatorAccepts(input)).toBe(false);
  });
});
