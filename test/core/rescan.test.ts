/**
 * Why an update is still applicable after the final restart (issue 13 item 6, ConfigMgr's
 * post-reboot scan): one row per documented reason.
 */
import { describe, expect, it } from 'vitest';
import type { StillApplicableUpdate, UpdateResult } from '../../lambdas/core/contracts.js';
import {
  explainStillApplicable,
  kbOfResult,
  type StillApplicable,
  stillApplicableLines,
} from '../../lambdas/core/rescan.js';

const HOTFIX = 'CAUHotfix_All/windows10.0-kb5034441-x64.msu';
const WU_TITLE = '2026-01 Cumulative Update for Windows Server 2022 (KB5035002)';

const found = (over: Partial<StillApplicableUpdate> = {}): StillApplicableUpdate => ({
  kb: 'KB5034441',
  title: HOTFIX,
  source: 'Hotfix',
  restartPending: false,
  ...over,
});

const result = (
  over: Partial<UpdateResult> & { attempt?: number } = {},
): UpdateResult & { attempt: number } => ({
  index: 0,
  plugin: 'Microsoft.HotfixPlugin',
  update: HOTFIX,
  exitCode: 0,
  outcome: 'Success',
  rebootRequired: false,
  rebootInitiated: false,
  transient: false,
  durationSeconds: 60,
  logTail: '',
  attempt: 1,
  ...over,
});

describe('explainStillApplicable', () => {
  it.each([
    {
      row: 'installed, a restart still pending (the node reports it)',
      update: found({ restartPending: true }),
      results: [result({ outcome: 'Success_RebootRequired', exitCode: 3010 })],
      reason: 'restartPending',
      detail: 'installed, waiting for another restart',
    },
    {
      row: 'the installer reported Success, yet the node lacks it',
      update: found(),
      results: [result()],
      reason: 'installedButNotPresent',
      detail: 'the installer reported Success, but the node does not have it',
    },
    {
      row: 'AlreadyInstalled counts as installed too',
      update: found(),
      results: [result({ outcome: 'AlreadyInstalled', exitCode: 2359302 })],
      reason: 'installedButNotPresent',
      detail: 'the installer reported AlreadyInstalled, but the node does not have it',
    },
    {
      row: 'Success_RebootRequired without a pending restart',
      update: found(),
      results: [result({ outcome: 'Success_RebootRequired', exitCode: 3010 })],
      reason: 'installedButNotPresent',
      detail: 'the installer reported Success_RebootRequired, but the node does not have it',
    },
    {
      row: 'the install failed: the last attempt counts, whatever the results order',
      update: found(),
      results: [
        result({ attempt: 2, outcome: 'Failed', exitCode: 1603 }),
        result({ attempt: 1, outcome: 'Success' }),
      ],
      reason: 'installFailed',
      detail: 'its install failed (Failed, exit code 1603)',
    },
    {
      row: 'a failure with no exit code (the installer never ran)',
      update: found(),
      results: [result({ outcome: 'Fail_RebootRequired', exitCode: null })],
      reason: 'installFailed',
      detail: 'its install failed (Fail_RebootRequired, exit code none)',
    },
    {
      row: 'a Windows Update offered only after the run installed (second update after the first)',
      update: found({ kb: 'KB5035002', title: WU_TITLE, source: 'WindowsUpdate' }),
      results: [
        result({
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: 'KB5035001 2026-01 Servicing Stack Update (KB5035001)',
        }),
      ],
      reason: 'newlyOffered',
      detail: 'not tried by this run: offered only after its installs',
    },
    {
      row: 'the same KB by the other plug-in is not this update',
      update: found({ kb: 'KB5034441', title: 'KB5034441 title', source: 'WindowsUpdate' }),
      results: [result()],
      reason: 'newlyOffered',
      detail: 'not tried by this run: offered only after its installs',
    },
    {
      row: 'a Windows Update result names its KB first (`KB… title`), matched case-insensitively',
      update: found({ kb: 'kb5035002', title: WU_TITLE, source: 'WindowsUpdate' }),
      results: [
        result({
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: `KB5035002 ${WU_TITLE}`,
          outcome: 'Failed',
          exitCode: -2145124329,
        }),
      ],
      reason: 'installFailed',
      detail: 'its install failed (Failed, exit code -2145124329)',
    },
    {
      row: 'an update with no KB is matched by its title',
      update: found({ kb: null, title: 'Contoso driver', source: 'WindowsUpdate' }),
      results: [
        result({
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: 'Contoso driver',
          outcome: 'Failed',
          exitCode: 1,
        }),
      ],
      reason: 'installFailed',
      detail: 'its install failed (Failed, exit code 1)',
    },
    {
      row: 'matched by KB, not by title: WUA may list the update under a revised title',
      update: found({
        kb: 'KB5035002',
        title: 'Cumulative Update (KB5035002) v2',
        source: 'WindowsUpdate',
      }),
      results: [
        result({
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: 'KB5035002 Cumulative Update (KB5035002)',
          outcome: 'Failed',
          exitCode: 1,
        }),
      ],
      reason: 'installFailed',
      detail: 'its install failed (Failed, exit code 1)',
    },
    {
      row: 'an update with no KB is not another update with no KB',
      update: found({ kb: null, title: 'Contoso driver', source: 'WindowsUpdate' }),
      results: [
        result({
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: 'Fabrikam tool',
          outcome: 'Failed',
          exitCode: 1,
        }),
      ],
      reason: 'newlyOffered',
      detail: 'not tried by this run: offered only after its installs',
    },
  ])('$row', ({ update, results, reason, detail }) => {
    expect(explainStillApplicable([update], results)).toEqual([
      { kb: update.kb, title: update.title, source: update.source, reason, detail },
    ]);
  });

  it('leaves out an update whose last install said NotApplicable: it does not apply to the node', () => {
    const list = explainStillApplicable(
      [found(), found({ kb: 'KB5035002', title: WU_TITLE, source: 'WindowsUpdate' })],
      [result({ outcome: 'NotApplicable', exitCode: -2145124329 })],
    );
    expect(list.map((u) => u.kb)).toEqual(['KB5035002']);
  });

  it('keeps the order the node reported, and nothing for nothing found', () => {
    const list = explainStillApplicable(
      [found({ kb: 'KB2', title: 'b' }), found({ kb: 'KB1', title: 'a' })],
      [],
    );
    expect(list.map((u) => u.title)).toEqual(['b', 'a']);
    expect(explainStillApplicable([], [result()])).toEqual([]);
  });
});

describe('kbOfResult', () => {
  it.each([
    ['CAUHotfix_All/windows10.0-kb5034441-x64.msu', 'KB5034441'],
    ['KB5035002 2026-01 Cumulative Update (KB5035002)', 'KB5035002'],
    ['KB5035002 Contoso tool', 'KB5035002'],
    ['Contoso driver', null],
    ['xKB5034441', null],
    ['KB50344411234', null],
  ])('%s → %s', (update, kb) => {
    expect(kbOfResult(update)).toBe(kb);
  });
});

describe('stillApplicableLines', () => {
  const one: StillApplicable = {
    kb: 'KB5035002',
    title: WU_TITLE,
    source: 'WindowsUpdate',
    reason: 'newlyOffered',
    detail: 'not tried by this run: offered only after its installs',
  };
  it.each([
    { row: 'not rescanned: no line', node: {}, lines: [] },
    {
      row: 'rescanned, nothing left',
      node: { stillApplicable: [] },
      lines: ['    still applicable after the restart: none'],
    },
    {
      row: 'one update, and a failed search',
      node: {
        stillApplicable: [one, { ...one, kb: null }],
        rescanError: 'Windows Update search failed: x',
      },
      lines: [
        '    still applicable after the restart (2):',
        `      KB5035002 ${WU_TITLE}: not tried by this run: offered only after its installs`,
        `      (no KB) ${WU_TITLE}: not tried by this run: offered only after its installs`,
        '      Windows Update search failed: x',
      ],
    },
    {
      row: 'none left, but the search failed',
      node: { stillApplicable: [], rescanError: 'Windows Update search failed: y' },
      lines: [
        '    still applicable after the restart: none',
        '      Windows Update search failed: y',
      ],
    },
  ])('$row', ({ node, lines }) => {
    expect(stillApplicableLines(node)).toEqual(lines);
  });
});
