import { describe, expect, it } from 'vitest';
import { checkAssessmentReadOnly } from '../../sandbox/compliance-invariants.js';
import type { FleetLogEntry } from '../../sandbox/fleet.js';

const entry = (over: Partial<FleetLogEntry>): FleetLogEntry => ({
  seq: 0,
  at: Date.parse('2026-01-13T22:00:00Z'),
  node: 'WEB01',
  kind: 'command',
  clusterState: null,
  drainStatus: null,
  document: 'scan',
  commandId: 'c-1',
  status: 'Success',
  ...over,
});

const check = (log: FleetLogEntry[], installs: Record<string, string[]> = {}) =>
  checkAssessmentReadOnly({
    assessmentId: 'a-1',
    log,
    nodes: ['WEB01', 'WEB02'],
    installsSince: (node) => (installs[node] ?? []).map((update) => ({ update })),
  });

describe('assessmentReadOnly', () => {
  it('accepts ScanUpdates commands only', () => {
    const { problems, detail } = check([entry({}), entry({ node: 'web02', status: 'InProgress' })]);
    expect(problems).toEqual([]);
    expect(detail).toMatch(/2 ScanUpdates command update\(s\) on 2 node\(s\)/);
  });

  it.each([
    [{ kind: 'drain' as const }, /WEB01: drain at 2026-01-13T22:00:00.000Z during assessment a-1/],
    [{ kind: 'resume' as const }, /WEB01: resume/],
    [{ kind: 'restart' as const }, /WEB01: restart/],
    [{ document: 'windowsUpdate' as const }, /command c-1 \(windowsUpdate\).*only ScanUpdates/],
    [{ document: 'removeUpdates' as const }, /\(removeUpdates\)/],
  ])('refuses %j', (over, message) => {
    const { problems } = check([entry(over)]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it("ignores other nodes' log and names an install", () => {
    const { problems } = check([entry({ node: 'DB01', kind: 'restart' })], {
      WEB02: ['windows10.0-kb5034441-x64.msu'],
    });
    expect(problems).toEqual([
      'WEB02: installed windows10.0-kb5034441-x64.msu during assessment a-1',
    ]);
  });
});
