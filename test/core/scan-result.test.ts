/**
 * The scan's per-node result (lambdas/core/scan-result.ts): the contract the scan workflow
 * writes and scheduled assessments read. One row per documented case.
 */
import { describe, expect, it } from 'vitest';
import type { ScanUpdatesResultLine } from '../../lambdas/core/contracts.js';
import {
  combineScanNode,
  parseScanNodeResult,
  SCAN_RESULT_VERSION,
  type ScanNodeInput,
  scanNodeResultKey,
  scanNodeResultSchema,
  scanResultPrefix,
} from '../../lambdas/core/scan-result.js';

type UpdateLine = Extract<ScanUpdatesResultLine, { kind: 'update' }>;

const update = (overrides: Partial<UpdateLine> = {}): UpdateLine => ({
  kind: 'update',
  updateId: 'u-1',
  kb: 'KB5034127',
  title: '2026-01 Cumulative Update (KB5034127)',
  classification: 'Security Updates',
  msrcSeverity: 'Critical',
  restartExpected: true,
  isInstalled: false,
  excludedBy: null,
  excludedReason: null,
  skipReason: null,
  ...overrides,
});
const nodeLine = (pendingRestart = false, found = 1, applicable = 1): ScanUpdatesResultLine => ({
  kind: 'node',
  pendingRestart,
  found,
  applicable,
});
const input = (overrides: Partial<ScanNodeInput> = {}): ScanNodeInput => ({
  scanId: 'scan-1',
  node: 'WEB01',
  instanceId: 'i-0123456789abcdef0',
  scannedAt: '2026-01-13T22:00:00.000Z',
  pingStatus: 'Online',
  hotfix: null,
  windowsUpdate: null,
  ...overrides,
});

describe('where the results are', () => {
  it('one object per node under scans/<scanId>/nodes/', () => {
    expect(scanResultPrefix('scan-1')).toBe('scans/scan-1/nodes/');
    expect(scanNodeResultKey('scan-1', 'WEB01')).toBe('scans/scan-1/nodes/WEB01.json');
    expect(SCAN_RESULT_VERSION).toBe(1);
  });
});

describe('combineScanNode', () => {
  it('a node with neither plug-in: scanned, nothing to install, no restart', () => {
    expect(combineScanNode(input())).toEqual({
      schemaVersion: 1,
      scanId: 'scan-1',
      node: 'WEB01',
      instanceId: 'i-0123456789abcdef0',
      scannedAt: '2026-01-13T22:00:00.000Z',
      status: 'Scanned',
      error: null,
      pingStatus: 'Online',
      pendingRestart: null,
      windowsUpdate: null,
      updates: [],
      excluded: [],
      restartExpected: false,
      restartReasons: [],
      hotpatchCandidates: 0,
    });
  });

  it('Windows Update: what installs, and each update left out with its rule (selection, licence, input, installed)', () => {
    const result = combineScanNode(
      input({
        windowsUpdate: {
          lines: [
            update(),
            update({
              updateId: 'u-2',
              kb: 'KB5036001',
              title: '2026-02 Security Hotpatch Update (KB5036001)',
              restartExpected: false,
              msrcSeverity: null,
              classification: null,
            }),
            update({
              updateId: 'u-3',
              kb: 'KB1',
              title: 'Excluded',
              excludedBy: 'excludeKbs',
              excludedReason: 'KB1 is in excludeKbs',
            }),
            update({ updateId: 'u-4', kb: 'KB2', title: 'Eula', skipReason: 'eula' }),
            update({ updateId: 'u-5', kb: 'KB3', title: 'Input', skipReason: 'userInput' }),
            update({ updateId: 'u-6', kb: 'KB4', title: 'Installed', isInstalled: true }),
            update({ updateId: 'u-7', kb: null, title: 'No reason', excludedBy: 'maxPublishDate' }),
            nodeLine(true, 7, 2),
          ],
        },
      }),
    );
    expect(result.updates).toEqual([
      {
        source: 'windowsUpdate',
        updateId: 'u-1',
        file: null,
        kb: 'KB5034127',
        title: '2026-01 Cumulative Update (KB5034127)',
        classification: 'Security Updates',
        msrcSeverity: 'Critical',
        restartExpected: true,
        restartReason:
          'Windows Update says it requires or may request a restart (RebootBehavior is not 0)',
        hotpatchCandidate: false,
        hotpatchReason:
          'Windows Update offers it as a regular update (its title names no hotpatch)',
      },
      {
        source: 'windowsUpdate',
        updateId: 'u-2',
        file: null,
        kb: 'KB5036001',
        title: '2026-02 Security Hotpatch Update (KB5036001)',
        classification: null,
        msrcSeverity: null,
        restartExpected: false,
        restartReason: 'Windows Update says it never restarts (RebootBehavior 0)',
        hotpatchCandidate: true,
        hotpatchReason:
          'Windows Update offers it as a hotpatch (its title names one): it installs without a restart on a hotpatch-enrolled node',
      },
    ]);
    expect(result.excluded).toEqual([
      {
        source: 'windowsUpdate',
        updateId: 'u-3',
        file: null,
        kb: 'KB1',
        title: 'Excluded',
        rule: 'excludeKbs',
        reason: 'KB1 is in excludeKbs',
      },
      {
        source: 'windowsUpdate',
        updateId: 'u-4',
        file: null,
        kb: 'KB2',
        title: 'Eula',
        rule: 'eula',
        reason: 'its licence terms must be accepted first; the plug-in leaves it out, as CAU does',
      },
      {
        source: 'windowsUpdate',
        updateId: 'u-5',
        file: null,
        kb: 'KB3',
        title: 'Input',
        rule: 'userInput',
        reason: 'it may ask for user input; the plug-in leaves it out, as CAU does',
      },
      {
        source: 'windowsUpdate',
        updateId: 'u-6',
        file: null,
        kb: 'KB4',
        title: 'Installed',
        rule: 'installed',
        reason: 'already installed on the node',
      },
      {
        source: 'windowsUpdate',
        updateId: 'u-7',
        file: null,
        kb: null,
        title: 'No reason',
        rule: 'maxPublishDate',
        reason: 'maxPublishDate',
      },
    ]);
    expect(result.status).toBe('Scanned');
    expect(result.error).toBeNull();
    expect(result.pendingRestart).toBe(true);
    expect(result.windowsUpdate).toEqual({ found: 7, applicable: 2 });
    expect(result.hotpatchCandidates).toBe(1);
    expect(result.restartExpected).toBe(true);
    expect(result.restartReasons).toEqual([
      'a restart is pending on the node: the run restarts it before installing',
      'KB5034127: Windows Update says it requires or may request a restart (RebootBehavior is not 0)',
    ]);
  });

  it('an installed update is "installed" even when a rule would also exclude it', () => {
    const result = combineScanNode(
      input({
        windowsUpdate: {
          lines: [
            update({ isInstalled: true, excludedBy: 'excludeKbs', skipReason: 'eula' }),
            nodeLine(),
          ],
        },
      }),
    );
    expect(result.excluded.map((e) => e.rule)).toEqual(['installed']);
  });

  it('a selection rule wins over a skip reason; an unknown skip reason is named as it is', () => {
    const result = combineScanNode(
      input({
        windowsUpdate: {
          lines: [
            update({
              excludedBy: 'classifications',
              excludedReason: 'a driver',
              skipReason: 'eula',
            }),
            update({ updateId: 'u-9', skipReason: 'other' as never }),
            nodeLine(),
          ],
        },
      }),
    );
    expect(result.excluded.map((e) => [e.rule, e.reason])).toEqual([
      ['classifications', 'a driver'],
      ['other', 'other'],
    ]);
  });

  it('hotfix files: hotpatch by the manifest, AlwaysReboot, no manifest entry, and the excluded', () => {
    const result = combineScanNode(
      input({
        hotfix: {
          planned: [
            {
              file: 'CAUHotfix_All/windows10.0-kb5036001-x64.msu',
              alwaysReboot: false,
              hotpatch: { allows: true, reason: 'a GDR security update that hotpatches' },
            },
            {
              file: 'WEB01/windows10.0-kb5036002-x64.msu',
              alwaysReboot: true,
              hotpatch: { allows: true, reason: 'hotpatches' },
            },
            { file: 'CAUHotfix_All/tool.msi', alwaysReboot: false, hotpatch: null },
            {
              file: 'CAUHotfix_All/windows10.0-kb5036003-x64.msu',
              alwaysReboot: false,
              hotpatch: { allows: false, reason: 'nonSecurity update' },
            },
          ],
          excluded: [
            {
              file: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu',
              rule: 'excludeKbs',
              reason: 'KB5034439 is in excludeKbs',
            },
          ],
        },
      }),
    );
    expect(result.updates).toEqual([
      {
        source: 'hotfix',
        updateId: null,
        file: 'CAUHotfix_All/windows10.0-kb5036001-x64.msu',
        kb: 'KB5036001',
        title: 'windows10.0-kb5036001-x64.msu',
        classification: null,
        msrcSeverity: null,
        restartExpected: false,
        restartReason:
          'none expected: the package can hotpatch (the node confirms it from its inventory when it runs)',
        hotpatchCandidate: true,
        hotpatchReason: 'a GDR security update that hotpatches',
      },
      {
        source: 'hotfix',
        updateId: null,
        file: 'WEB01/windows10.0-kb5036002-x64.msu',
        kb: 'KB5036002',
        title: 'windows10.0-kb5036002-x64.msu',
        classification: null,
        msrcSeverity: null,
        restartExpected: true,
        restartReason: "the hotfix configuration's rule sets AlwaysReboot",
        hotpatchCandidate: true,
        hotpatchReason: 'hotpatches',
      },
      {
        source: 'hotfix',
        updateId: null,
        file: 'CAUHotfix_All/tool.msi',
        kb: null,
        title: 'tool.msi',
        classification: null,
        msrcSeverity: null,
        restartExpected: true,
        restartReason:
          'not a hotpatch: hotpatch-manifest.json has no entry for it: it installs with a restart',
        hotpatchCandidate: false,
        hotpatchReason: 'hotpatch-manifest.json has no entry for it: it installs with a restart',
      },
      {
        source: 'hotfix',
        updateId: null,
        file: 'CAUHotfix_All/windows10.0-kb5036003-x64.msu',
        kb: 'KB5036003',
        title: 'windows10.0-kb5036003-x64.msu',
        classification: null,
        msrcSeverity: null,
        restartExpected: true,
        restartReason: 'not a hotpatch: nonSecurity update',
        hotpatchCandidate: false,
        hotpatchReason: 'nonSecurity update',
      },
    ]);
    expect(result.excluded).toEqual([
      {
        source: 'hotfix',
        updateId: null,
        file: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu',
        kb: 'KB5034439',
        title: 'windows10.0-kb5034439-x64.msu',
        rule: 'excludeKbs',
        reason: 'KB5034439 is in excludeKbs',
      },
    ]);
    expect(result.hotpatchCandidates).toBe(2);
    expect(result.restartReasons).toEqual([
      "KB5036002: the hotfix configuration's rule sets AlwaysReboot",
      'tool.msi: not a hotpatch: hotpatch-manifest.json has no entry for it: it installs with a restart',
      'KB5036003: not a hotpatch: nonSecurity update',
    ]);
    expect(result.pendingRestart).toBeNull();
  });

  it('only hotpatch candidates and no pending restart: no restart expected', () => {
    const result = combineScanNode(
      input({
        hotfix: {
          planned: [
            {
              file: 'CAUHotfix_All/windows10.0-kb5036001-x64.msu',
              alwaysReboot: false,
              hotpatch: { allows: true, reason: 'ok' },
            },
          ],
          excluded: [],
        },
        windowsUpdate: { lines: [nodeLine(false, 0, 0)] },
      }),
    );
    expect(result.restartExpected).toBe(false);
    expect(result.restartReasons).toEqual([]);
    expect(result.pendingRestart).toBe(false);
    expect(result.windowsUpdate).toEqual({ found: 0, applicable: 0 });
  });

  it('a failed search: Failed with its error, the hotfix plan still listed', () => {
    const result = combineScanNode(
      input({
        hotfix: {
          planned: [{ file: 'CAUHotfix_All/a-kb5036001.msu', alwaysReboot: false, hotpatch: null }],
          excluded: [],
        },
        windowsUpdate: { error: { code: 'States.Timeout', message: 'no answer' } },
      }),
    );
    expect(result.status).toBe('Failed');
    expect(result.error).toEqual({ code: 'States.Timeout', message: 'no answer' });
    expect(result.windowsUpdate).toBeNull();
    expect(result.updates.map((u) => u.kb)).toEqual(['KB5036001']);
  });

  it('a search whose output has no node line is Failed: its output is incomplete', () => {
    const result = combineScanNode(input({ windowsUpdate: { lines: [update()] } }));
    expect(result.status).toBe('Failed');
    expect(result.error).toEqual({
      code: 'ScanOutputIncomplete',
      message: 'the Windows Update search printed no node line: its output is incomplete',
    });
    expect(result.windowsUpdate).toBeNull();
    expect(result.pendingRestart).toBeNull();
  });

  it('what it builds passes the contract', () => {
    const built = combineScanNode(
      input({ windowsUpdate: { lines: [update(), nodeLine()] }, pingStatus: null }),
    );
    expect(scanNodeResultSchema.parse(built)).toEqual(built);
  });
});

describe('parseScanNodeResult', () => {
  const good = combineScanNode(input());

  it('returns a valid result', () => {
    expect(parseScanNodeResult(good, 's3://b/k')).toEqual(good);
  });

  it.each([
    [{ ...good, schemaVersion: 2 }, 's3://b/k: not a scan node result: schemaVersion: '],
    [{ ...good, status: 'Done' }, 's3://b/k: not a scan node result: status: '],
    [
      { ...good, updates: [{ source: 'x' }] },
      's3://b/k: not a scan node result: updates.0.source: ',
    ],
    ['text', 's3://b/k: not a scan node result: (the object): '],
    [
      { ...good, windowsUpdate: { found: -1, applicable: 0 } },
      's3://b/k: not a scan node result: windowsUpdate.found: ',
    ],
    [
      {
        ...good,
        excluded: [
          {
            source: 'hotfix',
            updateId: null,
            file: 'a',
            kb: null,
            title: 'a',
            rule: '',
            reason: 'r',
          },
        ],
      },
      's3://b/k: not a scan node result: excluded.0.rule: ',
    ],
  ])('refuses %j naming the field', (value, message) => {
    expect(() => parseScanNodeResult(value, 's3://b/k')).toThrow(message);
  });
});
