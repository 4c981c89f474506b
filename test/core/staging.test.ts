/**
 * Staging before the window (issue 13 item 5): the StageUpdates payload, its result lines as the
 * real script prints them (fixtures captured by `npm run fixtures:ssm`), a node's staging summary,
 * the staging options, and the "from cache only when the staged digest matched" rule.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  DEFAULT_STAGING_CONCURRENCY,
  fromCacheViolations,
  type NodeStaging,
  parseStageLines,
  parseStagingOptions,
  type StageResultLine,
  StagingOptionsError,
  StagingReportError,
  stagePayload,
  stagingOptionsSchema,
  stagingStartFor,
  summarizeNodeStaging,
} from '../../lambdas/core/staging.js';
import { parseResultLines } from '../../lambdas/handlers/complete-command.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function fixtureLines(name: string): unknown[] {
  const text = readFileSync(
    fileURLToPath(new URL(`../fixtures/ssm-output/${name}.txt`, import.meta.url)),
    'utf8',
  );
  return parseResultLines(text.split('\n').slice(1).join('\n'));
}

const file = (
  outcome: StageResultLine['outcome'],
  sha256 = A,
  bytes = 100,
  name = 'CAUHotfix_All/KB1.msu',
): StageResultLine => ({ kind: 'file', index: 0, file: name, sha256, bytes, outcome });

describe('stagePayload', () => {
  it('keeps only index, file, key and sha256 of each planned file, and the WUA query', () => {
    const payload = stagePayload({
      hotfix: {
        bucket: 'root-bucket',
        updates: [
          {
            index: 0,
            file: 'CAUHotfix_All/KB1.msu',
            key: 'p/CAUHotfix_All/KB1.msu',
            sha256: A,
            localPath: 'C:\\x',
          } as never,
        ],
      },
      windowsUpdate: {
        queryString: 'IsInstalled=0',
        includeRecommendedUpdates: true,
        selection: null,
      },
    });
    expect(payload).toEqual({
      bucket: 'root-bucket',
      updates: [
        { index: 0, file: 'CAUHotfix_All/KB1.msu', key: 'p/CAUHotfix_All/KB1.msu', sha256: A },
      ],
      windowsUpdate: {
        queryString: 'IsInstalled=0',
        includeRecommendedUpdates: true,
        selection: null,
      },
    });
  });

  it('without either plug-in: no bucket, no files, no Windows Update', () => {
    expect(stagePayload({ hotfix: null, windowsUpdate: null })).toEqual({
      bucket: '',
      updates: [],
      windowsUpdate: null,
    });
  });
});

describe('parseStageLines: what ssm/stage-updates.ps1 prints', () => {
  it('reads the captured run that staged two files', () => {
    const lines = parseStageLines('NODE1', fixtureLines('stage-updates-ok'));
    expect(lines.map((l) => [l.kind, l.outcome])).toEqual([
      ['file', 'staged'],
      ['file', 'staged'],
    ]);
    expect(summarizeNodeStaging('NODE1', lines)).toMatchObject({
      status: 'Staged',
      files: 2,
      bytes: 46,
      cacheHits: 0,
    });
  });

  it('reads the captured cache hit and digest mismatch', () => {
    const hit = parseStageLines('NODE1', fixtureLines('stage-updates-cache-hit'));
    expect(summarizeNodeStaging('NODE1', hit)).toMatchObject({ status: 'Staged', cacheHits: 1 });
    const mismatch = parseStageLines('NODE1', fixtureLines('stage-updates-digest-mismatch'));
    const summary = summarizeNodeStaging('NODE1', mismatch);
    expect(summary.status).toBe('Failed');
    expect(summary.stagedDigests).toEqual([]);
    expect(summary.problems[0]).toMatch(/^CAUHotfix_All\/KB200000\.msu digestMismatch: SHA-256/);
  });

  it('reads the captured Windows Update staging', () => {
    const lines = parseStageLines('NODE1', fixtureLines('stage-updates-windows-update'));
    expect(summarizeNodeStaging('NODE1', lines)).toMatchObject({
      status: 'Staged',
      windowsUpdates: 2,
      files: 0,
    });
  });

  it.each([
    [
      'an unknown outcome',
      { ...file('staged'), outcome: 'installed' },
      'results[0].outcome ("installed")',
    ],
    ['a negative size', { ...file('staged'), bytes: -1 }, 'results[0].bytes (-1)'],
    ['a staged file without a digest', { ...file('staged'), sha256: '' }, 'results[0].sha256 ("")'],
    ['an unknown kind', { kind: 'other' }, 'results[0].kind ("other")'],
  ])('refuses %s, naming the line, the field and the value', (_, line, named) => {
    expect(() => parseStageLines('NODE1', [line])).toThrow(StagingReportError);
    expect(() => parseStageLines('NODE1', [line])).toThrow(named);
  });

  it('accepts a failed file without a digest (its plan item was malformed)', () => {
    expect(parseStageLines('NODE1', [{ ...file('failed'), sha256: '', error: 'x' }])).toHaveLength(
      1,
    );
  });
});

describe('summarizeNodeStaging', () => {
  // One row per documented case: status, files, bytes, cache hits.
  it.each<[string, StageResultLine[], string, NodeStaging['status'], number, number, number]>([
    ['nothing planned', [], 'Success', 'NothingToStage', 0, 0, 0],
    ['all staged', [file('staged', A, 10), file('staged', B, 5)], 'Success', 'Staged', 2, 15, 0],
    ['a cache hit', [file('alreadyStaged', A, 10)], 'Success', 'Staged', 1, 10, 1],
    [
      'one mismatch beside a staged file',
      [file('staged'), file('digestMismatch', B)],
      'Success',
      'Partial',
      1,
      100,
      0,
    ],
    ['only failures', [file('failed'), file('notStarted', B)], 'Success', 'Failed', 0, 0, 0],
    ['staged, but the command timed out', [file('staged')], 'TimedOut', 'Partial', 1, 100, 0],
    ['nothing, and the command failed', [], 'Failed', 'Failed', 0, 0, 0],
  ])('%s', (_, lines, commandStatus, status, files, bytes, cacheHits) => {
    const summary = summarizeNodeStaging('NODE1', lines, commandStatus);
    expect([summary.status, summary.files, summary.bytes, summary.cacheHits]).toEqual([
      status,
      files,
      bytes,
      cacheHits,
    ]);
    expect(summary.digestsVerified).toBe(files);
  });

  it('records each staged digest once, and not the ones that failed', () => {
    const summary = summarizeNodeStaging('NODE1', [
      file('staged', A),
      file('alreadyStaged', A, 1, 'NODE1/KB1.msu'),
      file('digestMismatch', B),
    ]);
    expect(summary.stagedDigests).toEqual([A]);
    expect(summary.problems).toEqual(['CAUHotfix_All/KB1.msu digestMismatch']);
  });

  it('names a Windows update by its KB, or its title without one', () => {
    const wu = (kb: string | null, outcome: StageResultLine['outcome']): StageResultLine => ({
      kind: 'windowsUpdate',
      updateId: 'u',
      kb,
      title: 'Cumulative',
      outcome,
      resultCode: 4,
      hResult: 0,
    });
    const summary = summarizeNodeStaging('NODE1', [
      wu('KB5034439', 'failed'),
      wu(null, 'failed'),
      wu('KB1', 'staged'),
    ]);
    expect(summary.problems).toEqual(['KB5034439 failed', 'Cumulative failed']);
    expect(summary.windowsUpdates).toBe(1);
    expect(summary.status).toBe('Partial');
  });
});

describe('parseStagingOptions', () => {
  it('defaults: 10 nodes at once, no scheduled staging', () => {
    expect(parseStagingOptions(undefined)).toEqual({ maxConcurrency: DEFAULT_STAGING_CONCURRENCY });
    expect(DEFAULT_STAGING_CONCURRENCY).toBe(10);
  });

  it('takes the bounds themselves', () => {
    expect(parseStagingOptions({ maxConcurrency: 1, hoursBeforeWindow: 1 })).toEqual({
      maxConcurrency: 1,
      hoursBeforeWindow: 1,
    });
    expect(parseStagingOptions({ maxConcurrency: 50, hoursBeforeWindow: 168 })).toEqual({
      maxConcurrency: 50,
      hoursBeforeWindow: 168,
    });
  });

  it.each([
    [
      { maxConcurrency: 0 },
      'staging.maxConcurrency (0): expected a whole number of nodes from 1 to 50',
    ],
    [{ maxConcurrency: 51 }, 'staging.maxConcurrency (51)'],
    [{ maxConcurrency: 2.5 }, 'staging.maxConcurrency (2.5)'],
    [
      { hoursBeforeWindow: 0 },
      'staging.hoursBeforeWindow (0): expected a whole number of hours from 1 to 168',
    ],
    [{ hoursBeforeWindow: 169 }, 'staging.hoursBeforeWindow (169)'],
    [{ hoursBeforeWindow: '12' }, 'staging.hoursBeforeWindow ("12")'],
    [{ install: true }, 'staging'],
  ])('refuses %j, naming the field and the value', (raw, named) => {
    expect(() => parseStagingOptions(raw)).toThrow(StagingOptionsError);
    expect(() => parseStagingOptions(raw)).toThrow(named);
  });
});

describe('stagingStartFor', () => {
  it('starts the given hours before the window', () => {
    expect(stagingStartFor(new Date('2026-03-29T02:00:00Z'), 12).toISOString()).toBe(
      '2026-03-28T14:00:00.000Z',
    );
  });
});

describe('fromCacheViolations: "from cache" only when the staged digest matched', () => {
  const staging = [summarizeNodeStaging('NODE1', [file('staged', A)])];
  it.each([
    ['from cache, digest staged on that node', 'NODE1', A, true, 0],
    ['from cache, node spelled in another case', 'node1', A, true, 0],
    ['from cache, another digest', 'NODE1', B, true, 1],
    ['from cache, another node', 'NODE2', A, true, 1],
    ['not from cache', 'NODE2', B, false, 0],
  ])('%s', (_, node, sha256, fromCache, count) => {
    const found = fromCacheViolations(staging, [{ node, file: 'KB1.msu', sha256, fromCache }]);
    expect(found).toHaveLength(count);
    if (count > 0)
      expect(found[0]).toContain(`${node}: KB1.msu was installed from the staging cache`);
  });
});

describe('staging: what the messages and the schema say (mutation testing, issue 14)', () => {
  it('keeps the Windows Update selection of the plan', () => {
    const selection = { includeKbs: ['KB5034439'] };
    const payload = stagePayload({
      hotfix: null,
      windowsUpdate: { queryString: 'IsInstalled=0', includeRecommendedUpdates: false, selection },
    });
    expect(payload.windowsUpdate?.selection).toEqual(selection);
  });

  it.each([
    ['staged', `x${A}`],
    ['staged', `${A}x`],
    ['alreadyStaged', ''],
  ] as const)('refuses a %s file with SHA-256 %j, naming what is accepted', (outcome, sha256) => {
    const run = () => parseStageLines('NODE1', [{ ...file(outcome), sha256 }]);
    expect(run).toThrow('NODE1: StageUpdates result lines are malformed');
    expect(run).toThrow(
      `results[0].sha256 (${JSON.stringify(sha256)}): expected 64 lower-case hexadecimal digits for a staged file`,
    );
  });

  it('refuses a line that is not an object, naming it', () => {
    expect(() => parseStageLines('NODE1', [null])).toThrow(StagingReportError);
    expect(() => parseStageLines('NODE1', ['text'])).toThrow('results[0]');
  });

  it('names the command status when the command did not succeed', () => {
    expect(summarizeNodeStaging('NODE1', [], 'TimedOut').problems).toEqual([
      'the StageUpdates command ended TimedOut',
    ]);
  });

  it('heads the options error and refuses a staging block that is not an object', () => {
    expect(() => parseStagingOptions(5)).toThrow('invalid staging options (1 problem)');
    expect(() => parseStagingOptions(5)).toThrow(
      'staging (5): expected { maxConcurrency?, hoursBeforeWindow? }',
    );
  });

  it('describes each option in the published schema', () => {
    const schema = z.toJSONSchema(stagingOptionsSchema, { io: 'input' }) as {
      description: string;
      properties: Record<string, { description: string }>;
    };
    expect(schema.description).toMatch(/^Staging before the window \(issue 13 item 5/);
    expect(schema.properties.maxConcurrency?.description).toBe(
      'Nodes staged at once (1 to 50, default 10).',
    );
    expect(schema.properties.hoursBeforeWindow?.description).toMatch(/^With a schedule: start/);
  });
});
