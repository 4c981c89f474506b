/**
 * The staging invariant (issue 13 item 5): a staging run changes nothing; "from cache" only with
 * a staged copy whose SHA-256 is the plan's and a staging record listing it. Each row can fail.
 */
import { describe, expect, it } from 'vitest';
import type { StagingRecord } from '../../lambdas/shared/run-store.js';
import type { FleetLogEntry } from '../../sandbox/fleet.js';
import type { RunReport } from '../../sandbox/report.js';
import {
  checkStagingAmong,
  checkStagingRun,
  stagedInstallsVerified,
  withStagingRunProblems,
} from '../../sandbox/staging-invariants.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

const entry = (
  kind: FleetLogEntry['kind'],
  document?: FleetLogEntry['document'],
): FleetLogEntry => ({
  seq: 0,
  at: Date.parse('2026-03-29T00:00:00Z'),
  node: 'NODE1',
  kind,
  clusterState: 'Up',
  drainStatus: null,
  ...(document ? { document } : {}),
});

describe('checkStagingRun', () => {
  it('accepts StageUpdates commands only', () => {
    expect(checkStagingRun([entry('command', 'stageUpdates'), entry('clusterView')])).toEqual([]);
  });

  it.each([
    ['a drain', entry('drain'), 'NODE1: drain at 2026-03-29T00:00:00.000Z while staging ran'],
    ['a restart', entry('restart'), 'NODE1: restart'],
    ['a resume', entry('resume'), 'NODE1: resume'],
    ['an install', entry('command', 'installHotfixes'), 'NODE1: command installHotfixes'],
    ['a Windows Update install', entry('command', 'windowsUpdate'), 'command windowsUpdate'],
  ])('names %s', (_, found, named) => {
    const problems = checkStagingRun([entry('command', 'stageUpdates'), found]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(named);
  });
});

describe('checkStagingAmong (rollout local up: rollouts may run while a staging runs)', () => {
  const on = (node: string, kind: FleetLogEntry['kind'], document?: FleetLogEntry['document']) => ({
    ...entry(kind, document),
    node,
  });
  const log = [
    on('NODE1', 'command', 'stageUpdates'),
    on('NODE2', 'drain'),
    on('WEB01', 'restart'),
  ];

  it("names a change on one of the staging's nodes that no rollout running meanwhile targets", () => {
    const checked = checkStagingAmong(log, ['NODE1', 'NODE2'], []);
    expect(checked.problems).toEqual([
      'NODE2: drain at 2026-03-29T00:00:00.000Z while staging ran',
    ]);
    expect(checked.detail).toBe('its 2 node(s) checked');
  });

  it("leaves out the nodes of a rollout that ran meanwhile, naming them, and other targets' nodes", () => {
    const checked = checkStagingAmong(
      log,
      ['node1', 'node2'],
      [{ name: 'run-7', nodes: ['NODE2'] }],
    );
    expect(checked.problems).toEqual([]);
    expect(checked.detail).toBe('its 2 node(s) checked, except NODE2 (updated by run-7 meanwhile)');
  });

  it('checks every node when the staging names none', () => {
    expect(checkStagingAmong(log, undefined, []).problems).toHaveLength(2);
  });

  it('says it checked nothing when a rollout of a selection ran meanwhile', () => {
    const checked = checkStagingAmong(
      log,
      ['NODE1', 'NODE2'],
      [{ name: 'sel-1', nodes: undefined }],
    );
    expect(checked).toEqual({
      problems: [],
      detail: 'not checked: rollout sel-1 (a selection, nodes unknown here) ran at the same time',
    });
  });
});

describe('stagedInstallsVerified', () => {
  const report = (fromCache: boolean): RunReport => ({
    runId: 'r1',
    target: 'CLUSTER1',
    status: 'Succeeded',
    lockReleased: true,
    nodes: [
      {
        name: 'NODE1',
        status: 'Succeeded',
        drained: true,
        restarts: 0,
        attempts: 1,
        ledger: [],
        updates: [
          {
            plugin: 'Microsoft.HotfixPlugin',
            update: 'CAUHotfix_All/KB1.msu',
            attempt: 1,
            outcome: 'Success',
            exitCode: 0,
            rebootRequired: false,
            durationSeconds: 1,
            ...(fromCache ? { fromCache: true } : {}),
          },
        ],
      },
    ],
  });
  const record = (digests: string[]): StagingRecord => ({
    node: 'node1',
    status: 'Staged',
    files: digests.length,
    bytes: 1,
    digestsVerified: digests.length,
    cacheHits: 0,
    problems: [],
    windowsUpdates: 0,
    stagedDigests: digests,
    runId: 's1',
    stagedAt: '2026-03-28T00:00:00Z',
  });
  const store = (found?: StagingRecord) =>
    ({ getNodeStaging: async () => found }) as unknown as Parameters<
      typeof stagedInstallsVerified
    >[0]['store'];

  it.each([
    ['from cache, copy and record match', true, { plannedSha256: A, actualSha256: A }, [A], 0, ''],
    ['not from cache: nothing to check', false, undefined, [], 0, ''],
    ['from cache, nothing staged', true, undefined, [A], 1, 'no copy was staged'],
    [
      'from cache, copy corrupted',
      true,
      { plannedSha256: A, actualSha256: B },
      [A],
      1,
      `SHA-256 is ${B}`,
    ],
    [
      'from cache, no staging record of it',
      true,
      { plannedSha256: A, actualSha256: A },
      [B],
      1,
      `does not list ${A}`,
    ],
  ])('%s', async (_, fromCache, copy, digests, count, named) => {
    const { problems } = await stagedInstallsVerified({
      report: report(fromCache),
      store: store(record(digests)),
      stagedCopyOf: () => copy,
    });
    expect(problems).toHaveLength(count);
    if (count > 0) expect(problems[0]).toContain(named);
  });

  it('a missing staging record is a violation too', async () => {
    const { problems } = await stagedInstallsVerified({
      report: report(true),
      store: store(undefined),
      stagedCopyOf: () => ({ plannedSha256: A, actualSha256: A }),
    });
    expect(problems).toEqual([
      `NODE1: CAUHotfix_All/KB1.msu is reported from cache, but the node's staging record does not list ${A}`,
    ]);
  });
});

describe('withStagingRunProblems', () => {
  const invariants = [
    { name: 'restartOnlyWhenDrained', ok: true, detail: 'ok' },
    { name: 'stagingSafe', ok: true, detail: '0 update(s)' },
  ];
  it('leaves the verdicts as they are without problems', () => {
    expect(withStagingRunProblems(invariants, [])).toEqual(invariants);
  });
  it('fails stagingSafe only, with the staging run problems as evidence', () => {
    expect(withStagingRunProblems(invariants, ['NODE1: drain while staging ran'])).toEqual([
      invariants[0],
      { name: 'stagingSafe', ok: false, detail: 'NODE1: drain while staging ran' },
    ]);
  });
});
