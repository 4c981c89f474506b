import { describe, expect, it } from 'vitest';
import type {
  CommandOutcome,
  InstallResultLine,
  PlannedInstall,
  TerminalStatus,
  WindowsUpdateResultLine,
} from '../../lambdas/core/contracts.js';
import { defaultHotfixConfig } from '../../lambdas/core/default-config.js';
import type { ExitConditions } from '../../lambdas/core/exit-codes.js';
import { findExtensionRule } from '../../lambdas/core/hotfix-config.js';
import {
  InstallReportError,
  interpretHotfixInstall,
  interpretRemoval,
  interpretWindowsUpdate,
} from '../../lambdas/core/interpret.js';

/** The exit conditions of our default rule for an extension (default-hotfix-config.xml). */
function defaultConditions(extension: 'msu' | 'msi' | 'msp'): ExitConditions {
  const rule = findExtensionRule(defaultHotfixConfig(), `KB1.${extension}`);
  if (!rule) throw new Error(`the default configuration has no .${extension} rule`);
  return rule.exitConditions;
}

/** A folder rule that lists Fail_RebootRequired, which our defaults do not (seed 003). */
const WITH_FAIL_REBOOT: ExitConditions = {
  Success: [0],
  Success_RebootRequired: [3010],
  Fail_RebootRequired: [1],
  AlreadyInstalled: [],
  NotApplicable: [],
};

const planned = (
  index: number,
  overrides: Partial<PlannedInstall> & { extension?: 'msu' | 'msi' | 'msp' } = {},
): PlannedInstall => {
  const { extension = 'msu', ...rest } = overrides;
  const file = `CAUHotfix_All/KB500000${index}.${extension}`;
  return {
    index,
    file,
    key: `hotfix-root/${file}`,
    sha256: `${index}`.repeat(64),
    localPath: `C:\\ProgramData\\WindowsRollout\\Hotfixes\\KB500000${index}.${extension}`,
    path: '%systemroot%\\System32\\wusa.exe',
    parameters: `"C:\\ProgramData\\WindowsRollout\\Hotfixes\\KB500000${index}.${extension}" /quiet /norestart`,
    rule: { kind: 'extension', name: extension.toUpperCase() },
    exitConditions: defaultConditions(extension),
    alwaysReboot: false,
    ...rest,
  };
};

const line = (index: number, changes: Partial<InstallResultLine> = {}): InstallResultLine => ({
  index,
  file: `CAUHotfix_All/KB500000${index}.msu`,
  exitCode: 0,
  checksumOk: true,
  timedOut: false,
  durationSeconds: 42,
  logTail: `log of ${index}`,
  ...changes,
});

const command = (
  results: readonly unknown[],
  status: TerminalStatus = 'Success',
  outputTail = 'last lines of output',
): Pick<CommandOutcome, 'status' | 'results' | 'outputTail'> => ({ status, results, outputTail });

describe('interpretHotfixInstall: one update, by exit code', () => {
  it.each([
    {
      ext: 'msu',
      code: 0,
      outcome: 'Success',
      reboot: false,
      initiated: false,
      transient: false,
      failed: false,
      source: 'default MSU rule: 0 ERROR_SUCCESS (KB897341)',
    },
    {
      ext: 'msu',
      code: 3010,
      outcome: 'Success_RebootRequired',
      reboot: true,
      initiated: false,
      transient: false,
      failed: false,
      source: 'default MSU rule: 3010 ERROR_SUCCESS_REBOOT_REQUIRED',
    },
    {
      ext: 'msu',
      code: 2359302,
      outcome: 'AlreadyInstalled',
      reboot: false,
      initiated: false,
      transient: false,
      failed: false,
      source: 'default MSU rule: 0x240006 WU_S_ALREADY_INSTALLED',
    },
    {
      ext: 'msu',
      code: -2145124329,
      outcome: 'NotApplicable',
      reboot: false,
      initiated: false,
      transient: false,
      failed: false,
      source: 'default MSU rule: 0x80240017 WU_E_NOT_APPLICABLE, signed',
    },
    {
      ext: 'msu',
      code: 2149842967,
      outcome: 'NotApplicable',
      reboot: false,
      initiated: false,
      transient: false,
      failed: false,
      source: 'WU_E_NOT_APPLICABLE reported unsigned',
    },
    {
      ext: 'msu',
      code: 1603,
      outcome: 'Failed',
      reboot: false,
      initiated: false,
      transient: false,
      failed: true,
      source: 'seed 003: an unlisted code fails, no restart (1603 ERROR_INSTALL_FAILURE)',
    },
    {
      ext: 'msu',
      code: 1618,
      outcome: 'Failed',
      reboot: false,
      initiated: false,
      transient: true,
      failed: true,
      source: 'Windows Installer: 1618 ERROR_INSTALL_ALREADY_RUNNING is transient',
    },
    {
      ext: 'msi',
      code: 1641,
      outcome: 'Success_RebootRequired',
      reboot: true,
      initiated: true,
      transient: false,
      failed: false,
      source: 'default MSI rule: 1641 ERROR_SUCCESS_REBOOT_INITIATED',
    },
    {
      ext: 'msu',
      code: 1641,
      outcome: 'Failed',
      reboot: false,
      initiated: true,
      transient: false,
      failed: true,
      source:
        'seed 003: 1641 is unlisted for MSU, so a failure CAU restarts nothing for; DOMAIN.md §5: the installer restarts the node anyway, so the workflow waits for it (issue 8)',
    },
    {
      ext: 'msp',
      code: 1642,
      outcome: 'NotApplicable',
      reboot: false,
      initiated: false,
      transient: false,
      failed: false,
      source: 'default MSP rule: 1642 ERROR_PATCH_TARGET_NOT_FOUND',
    },
  ] as const)('.$ext exit $code → $outcome ($source)', (row) => {
    // Arrange
    const plan = [planned(0, { extension: row.ext })];
    // Act
    const verdict = interpretHotfixInstall(plan, command([line(0, { exitCode: row.code })]));
    // Assert
    const [result] = verdict.results;
    expect(result).toMatchObject({
      index: 0,
      plugin: 'Microsoft.HotfixPlugin',
      update: plan[0]?.file,
      exitCode: row.code | 0,
      outcome: row.outcome,
      rebootRequired: row.reboot,
      rebootInitiated: row.initiated,
      transient: row.transient,
      durationSeconds: 42,
      logTail: 'log of 0',
    });
    expect(result?.detail).toMatch(/^0x[0-9A-F]+/);
    expect(verdict.failed).toBe(row.failed);
    expect(verdict.rebootRequired).toBe(row.reboot);
    expect(verdict.rebootInitiated).toBe(row.initiated);
    expect(verdict.transientOnly).toBe(row.failed && row.transient);
    expect(verdict.outcomes[row.outcome]).toBe(1);
  });

  it('names the documented code in the detail (1618 → ERROR_INSTALL_ALREADY_RUNNING)', () => {
    const verdict = interpretHotfixInstall([planned(0)], command([line(0, { exitCode: 1618 })]));
    expect(verdict.results[0]?.detail).toBe('0x652 ERROR_INSTALL_ALREADY_RUNNING');
  });

  it('records the command it ran: installer path and parameters', () => {
    const plan = planned(0);
    const verdict = interpretHotfixInstall([plan], command([line(0)]));
    expect(verdict.results[0]?.command).toBe(`${plan.path} ${plan.parameters}`);
  });

  it.each([
    {
      conditions: WITH_FAIL_REBOOT,
      code: 1,
      outcome: 'Fail_RebootRequired',
      reboot: true,
      failed: true,
      source: 'seed 003: Fail_RebootRequired fails and needs a restart',
    },
    {
      conditions: WITH_FAIL_REBOOT,
      code: 3010,
      outcome: 'Success_RebootRequired',
      reboot: true,
      failed: false,
      source: 'seed 003: Success_RebootRequired',
    },
  ] as const)('folder rule exit $code → $outcome ($source)', (row) => {
    // Act
    const verdict = interpretHotfixInstall(
      [planned(0, { exitConditions: row.conditions, rule: { kind: 'folder', name: 'Tools' } })],
      command([line(0, { exitCode: row.code })]),
    );
    // Assert
    expect(verdict.results[0]?.outcome).toBe(row.outcome);
    expect(verdict.results[0]?.rebootRequired).toBe(row.reboot);
    expect(verdict.rebootRequired).toBe(row.reboot);
    expect(verdict.failed).toBe(row.failed);
  });
});

describe('interpretHotfixInstall: alwaysReboot', () => {
  it.each([
    {
      code: 0,
      outcome: 'Success_RebootRequired',
      reboot: true,
      source: 'seed 003: Success → restart',
    },
    {
      code: 3010,
      outcome: 'Success_RebootRequired',
      reboot: true,
      source: 'already needs a restart',
    },
    {
      code: 2359302,
      outcome: 'AlreadyInstalled',
      reboot: false,
      source: 'only Success becomes Success_RebootRequired',
    },
    { code: 1603, outcome: 'Failed', reboot: false, source: 'a failure still does not restart' },
  ] as const)('exit $code → $outcome ($source)', ({ code, outcome, reboot }) => {
    // Act
    const verdict = interpretHotfixInstall(
      [planned(0, { alwaysReboot: true })],
      command([line(0, { exitCode: code })]),
    );
    // Assert
    expect(verdict.results[0]?.outcome).toBe(outcome);
    expect(verdict.results[0]?.rebootRequired).toBe(reboot);
    expect(verdict.rebootRequired).toBe(reboot);
  });
});

describe('interpretHotfixInstall: updates that did not run', () => {
  it.each([
    { status: 'Success', transient: false, source: 'the script ended without a line for it' },
    { status: 'TimedOut', transient: true, source: 'the command timed out midway' },
    { status: 'ExecutionTimedOut', transient: true, source: 'SSM stopped the script' },
    { status: 'Failed', transient: true, source: 'the script died midway' },
  ] as const)(
    'an update the node did not report is Failed, command $status ($source)',
    ({ status, transient }) => {
      // Arrange
      const plan = [planned(0), planned(1)];
      // Act
      const verdict = interpretHotfixInstall(plan, command([line(0)], status, 'x'.repeat(5000)));
      // Assert
      expect(verdict.results).toHaveLength(2);
      expect(verdict.results[0]?.outcome).toBe('Success');
      expect(verdict.results[1]).toMatchObject({
        index: 1,
        update: plan[1]?.file,
        exitCode: null,
        outcome: 'Failed',
        rebootRequired: false,
        transient,
        detail: `the node reported no result for this update (command ${status})`,
      });
      expect(verdict.results[1]?.logTail).toHaveLength(2000);
      expect(verdict.failed).toBe(true);
      expect(verdict.transientOnly).toBe(transient);
    },
  );

  it('a checksum mismatch is Failed, not run and not transient, even with exit code 0', () => {
    // Arrange
    const plan = planned(0);
    // Act
    const verdict = interpretHotfixInstall(
      [plan],
      command([line(0, { checksumOk: false, exitCode: 0 })]),
    );
    // Assert
    expect(verdict.results[0]).toMatchObject({
      exitCode: null,
      outcome: 'Failed',
      transient: false,
      rebootRequired: false,
    });
    expect(verdict.results[0]?.detail).toContain('SHA-256');
    expect(verdict.results[0]?.detail).toContain(plan.sha256);
    expect(verdict.failed).toBe(true);
    expect(verdict.transientOnly).toBe(false);
  });

  it('an installer stopped at HotfixInstallerTimeoutMinutes is a transient failure', () => {
    // Act
    const verdict = interpretHotfixInstall(
      [planned(0)],
      command([line(0, { timedOut: true, exitCode: null })]),
    );
    // Assert
    expect(verdict.results[0]).toMatchObject({
      exitCode: null,
      outcome: 'Failed',
      transient: true,
    });
    expect(verdict.results[0]?.detail).toContain('HotfixInstallerTimeoutMinutes');
    expect(verdict.transientOnly).toBe(true);
  });

  it('a checksum mismatch names both digests and is never retried (issue 8, point 9)', () => {
    // Act
    const verdict = interpretHotfixInstall(
      [planned(0), planned(1)],
      command([
        line(0, {
          checksumOk: false,
          exitCode: null,
          expectedSha256: 'AA'.repeat(32),
          actualSha256: 'BB'.repeat(32),
        }),
        line(1, { exitCode: 1603 }),
      ]),
    );
    // Assert
    expect(verdict.results[0]?.detail).toBe(
      `SHA-256 mismatch: expected ${'AA'.repeat(32)}, actual ${'BB'.repeat(32)}; not run and not retried (a retry downloads the same file)`,
    );
    expect(verdict.neverRetry).toEqual([0]);
    expect(verdict.startedFailed).toBe(true);
  });

  it('after a 1641, the updates not started are named so, and are not started failures (point 2)', () => {
    // Arrange
    const plan = [planned(0, { extension: 'msi' }), planned(1), planned(2)];
    // Act: the script printed a notStarted line for 1; 2 has no line at all.
    const verdict = interpretHotfixInstall(
      plan,
      command([line(0, { exitCode: 1641 }), line(1, { exitCode: null, notStarted: true })]),
    );
    // Assert
    expect(verdict.rebootInitiated).toBe(true);
    expect(verdict.notStarted).toEqual([1, 2]);
    expect(verdict.results.map((r) => [r.outcome, r.transient])).toEqual([
      ['Success_RebootRequired', false],
      ['Failed', true],
      ['Failed', true],
    ]);
    expect(verdict.results[1]?.detail).toMatch(/^not started: an installer before it restarted/);
    expect(verdict.failed).toBe(true);
    expect(verdict.startedFailed).toBe(false);
  });

  it('names a 1641 whose rule does not list it an unplanned restart; a listed 1641 is planned', () => {
    // Act: the .msu rule lists no 1641 (the installer was run with /norestart); the .msi's does.
    const verdict = interpretHotfixInstall(
      [planned(0), planned(1, { extension: 'msi' })],
      command([line(0, { exitCode: 1641 }), line(1, { exitCode: 1641 })]),
    );
    // Assert
    expect(verdict.unplannedRestart).toEqual([0]);
    expect(verdict.rebootInitiated).toBe(true);
    expect(verdict.results[0]?.detail).toContain('UNPLANNED RESTART');
    expect(verdict.results[1]?.detail).not.toContain('UNPLANNED');
  });

  it('reads a notStarted line that carries only index, file and a null exit code', () => {
    // Act
    const verdict = interpretHotfixInstall(
      [planned(0, { extension: 'msi' }), planned(1)],
      command([
        line(0, { exitCode: 1641 }),
        { index: 1, file: 'x', exitCode: null, notStarted: true },
      ]),
    );
    // Assert
    expect(verdict.notStarted).toEqual([1]);
    expect(() =>
      interpretHotfixInstall([planned(0)], command([{ index: 0, file: 'x', notStarted: true }])),
    ).toThrow(/install result line 1/);
  });

  it('an installer stopped while servicing was busy says so (servicingBusy)', () => {
    // Act
    const busy = interpretHotfixInstall(
      [planned(0)],
      command([line(0, { timedOut: true, exitCode: null, servicingBusy: true })]),
    );
    const idle = interpretHotfixInstall(
      [planned(0)],
      command([line(0, { timedOut: true, exitCode: null, servicingBusy: false })]),
    );
    // Assert
    expect(busy.servicingBusy).toBe(true);
    expect(busy.results[0]?.detail).toContain('Windows servicing was still busy');
    expect(idle.servicingBusy).toBe(false);
  });

  it('issue 14: mixed results: one 1641 among others restarts the node, and only the unreported updates are not started', () => {
    // Arrange: 0 succeeded, 1 needs a restart, 2 restarted the node (unsigned form), 3 has no line.
    const plan = [planned(0), planned(1), planned(2, { extension: 'msi' }), planned(3)];
    // Act
    const verdict = interpretHotfixInstall(
      plan,
      command([line(0), line(1, { exitCode: 3010 }), line(2, { exitCode: 1641 })], 'Failed'),
    );
    // Assert
    expect(verdict.results.map((r) => [r.index, r.outcome, r.rebootInitiated])).toEqual([
      [0, 'Success', false],
      [1, 'Success_RebootRequired', false],
      [2, 'Success_RebootRequired', true],
      [3, 'Failed', false],
    ]);
    expect(verdict).toMatchObject({
      rebootInitiated: true,
      rebootRequired: true,
      notStarted: [3],
      startedFailed: false,
      transientOnly: true,
    });
    expect(verdict.results[3]).toMatchObject({ transient: true, durationSeconds: 0, logTail: '' });
  });

  it('issue 14: a 1641 the rule does not list still means the node is going down (rebootInitiated), and the rest wait', () => {
    // .msu rules do not list 1641: the outcome is Failed, but the node restarts all the same.
    const verdict = interpretHotfixInstall(
      [planned(0), planned(1)],
      command([line(0, { exitCode: 1641 })]),
    );
    expect(verdict.results[0]).toMatchObject({
      outcome: 'Failed',
      rebootInitiated: true,
      exitCode: 1641,
    });
    expect(verdict.results[0]?.detail).toBe(
      '0x669 ERROR_SUCCESS_REBOOT_INITIATED; UNPLANNED RESTART: the installer restarted the node although its rule does not list 1641, so the node was not drained for it',
    );
    expect(verdict.unplannedRestart).toEqual([0]);
    expect(verdict.notStarted).toEqual([1]);
    expect(verdict.startedFailed).toBe(true);
  });

  it('issue 14: without a 1641, an unreported update is a failure, transient only when the command did not succeed', () => {
    const ok = interpretHotfixInstall(
      [planned(0), planned(1)],
      command([line(0)], 'Success', 'out'),
    );
    expect(ok.notStarted).toEqual([]);
    expect(ok.results[1]).toMatchObject({
      outcome: 'Failed',
      transient: false,
      logTail: 'out',
      detail: 'the node reported no result for this update (command Success)',
    });
    const died = interpretHotfixInstall([planned(0), planned(1)], command([line(0)], 'Failed'));
    expect(died.results[1]?.transient).toBe(true);
  });

  it('issue 14: a result keeps the last 2,000 characters of a long log, and the duration reported', () => {
    const log = `${'a'.repeat(10)}${'b'.repeat(2000)}`;
    const verdict = interpretHotfixInstall([planned(0)], command([line(0, { logTail: log })]));
    expect(verdict.results[0]?.logTail).toBe('b'.repeat(2000));
    expect(verdict.results[0]?.durationSeconds).toBe(42);
    expect(verdict.results[0]?.command).toBe(
      '%systemroot%\\System32\\wusa.exe "C:\\ProgramData\\WindowsRollout\\Hotfixes\\KB5000000.msu" /quiet /norestart',
    );
  });

  it('an installer that did not start reports its error', () => {
    // Act
    const verdict = interpretHotfixInstall(
      [planned(0)],
      command([line(0, { exitCode: null, error: 'wusa.exe not found' })]),
    );
    // Assert
    expect(verdict.results[0]).toMatchObject({ outcome: 'Failed', detail: 'wusa.exe not found' });
  });
});

describe('interpretHotfixInstall: malformed report lines', () => {
  it.each([
    { bad: null, source: 'null' },
    { bad: 'ROLLOUT-RESULT garbage', source: 'a string' },
    { bad: { ...line(1), index: '1' }, source: 'index as text' },
    { bad: { ...line(1), exitCode: 1.5 }, source: 'a fractional exit code' },
    { bad: { ...line(1), exitCode: '0' }, source: 'exit code as text' },
    { bad: { index: 1, file: 'KB.msu', exitCode: 0, timedOut: false }, source: 'no checksumOk' },
    { bad: { ...line(1), timedOut: 'no' }, source: 'timedOut as text' },
    { bad: { ...line(1), index: 1.5 }, source: 'issue 14: a fractional index' },
    { bad: { ...line(1), file: 5 }, source: 'issue 14: file as a number' },
    { bad: { ...line(1), checksumOk: 'yes' }, source: 'issue 14: checksumOk as text' },
    { bad: { ...line(1), notStarted: 'yes' }, source: 'issue 14: notStarted as text' },
    { bad: { ...line(1), servicingBusy: 1 }, source: 'issue 14: servicingBusy as a number' },
    {
      bad: { index: 1, file: 'x', exitCode: 0, notStarted: true },
      source: 'issue 14: a notStarted line with an exit code',
    },
    {
      bad: { index: '1', file: 'x', exitCode: null, notStarted: true },
      source: 'issue 14: a notStarted line with a text index',
    },
    {
      bad: { index: 1, file: 5, exitCode: null, notStarted: true },
      source: 'issue 14: a notStarted line with a numeric file',
    },
  ])('rejects $source, naming the line', ({ bad }) => {
    // Act
    const act = () => interpretHotfixInstall([planned(0), planned(1)], command([line(0), bad]));
    // Assert
    expect(act).toThrow(InstallReportError);
    expect(act).toThrow(
      /^install result line 2 \(.*\): expected \{ index, file, exitCode, checksumOk, timedOut \}$/,
    );
    expect(act).toThrow(JSON.stringify(bad).slice(0, 20));
  });
});

describe('interpretHotfixInstall: summary', () => {
  it('counts each outcome and combines the flags', () => {
    // Arrange
    const plan = [0, 1, 2, 3, 4, 5].map((i) => planned(i));
    const lines = [
      line(0, { exitCode: 0 }),
      line(1, { exitCode: 3010 }),
      line(2, { exitCode: 2359302 }),
      line(3, { exitCode: 1618 }),
      line(4, { exitCode: 1603 }),
    ];
    // Act
    const verdict = interpretHotfixInstall(plan, command(lines, 'Failed'));
    // Assert
    expect(verdict.outcomes).toEqual({
      Success: 1,
      Success_RebootRequired: 1,
      Fail_RebootRequired: 0,
      AlreadyInstalled: 1,
      NotApplicable: 0,
      Failed: 3,
    });
    expect(verdict.results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(verdict.failed).toBe(true);
    expect(verdict.rebootRequired).toBe(true);
    expect(verdict.transientOnly).toBe(false);
  });

  it('is transient only when every failure is', () => {
    const verdict = interpretHotfixInstall(
      [planned(0), planned(1), planned(2)],
      command([line(0, { exitCode: 1618 }), line(1, { timedOut: true, exitCode: null }), line(2)]),
    );
    expect(verdict.outcomes.Failed).toBe(2);
    expect(verdict.transientOnly).toBe(true);
  });

  it('nothing planned and nothing reported is no failure', () => {
    const verdict = interpretHotfixInstall([], command([]));
    expect(verdict.results).toEqual([]);
    expect(verdict.failed).toBe(false);
    expect(verdict.transientOnly).toBe(false);
    expect(Object.values(verdict.outcomes).every((n) => n === 0)).toBe(true);
  });
});

const wu = (changes: Partial<WindowsUpdateResultLine> = {}): WindowsUpdateResultLine => ({
  updateId: '0f1e2d3c-0000-4000-8000-000000000001',
  title: '2025-01 Cumulative Update for Windows Server 2022',
  kb: 'KB5050001',
  resultCode: 2,
  hResult: 0,
  rebootRequired: false,
  ...changes,
});

describe('interpretWindowsUpdate: WUA result codes', () => {
  it.each([
    { code: 2, reboot: false, outcome: 'Success', failed: false, source: 'orcSucceeded' },
    {
      code: 2,
      reboot: true,
      outcome: 'Success_RebootRequired',
      failed: false,
      source: 'orcSucceeded, RebootRequired',
    },
    { code: 3, reboot: false, outcome: 'Failed', failed: true, source: 'orcSucceededWithErrors' },
    {
      code: 3,
      reboot: true,
      outcome: 'Fail_RebootRequired',
      failed: true,
      source: 'orcSucceededWithErrors, RebootRequired',
    },
    { code: 4, reboot: false, outcome: 'Failed', failed: true, source: 'orcFailed' },
    {
      code: 4,
      reboot: true,
      outcome: 'Fail_RebootRequired',
      failed: true,
      source: 'orcFailed, RebootRequired',
    },
    { code: 5, reboot: false, outcome: 'Failed', failed: true, source: 'orcAborted' },
    { code: 0, reboot: false, outcome: 'Failed', failed: true, source: 'orcNotStarted' },
  ] as const)('result code $code, reboot $reboot → $outcome ($source)', (row) => {
    // Act
    const verdict = interpretWindowsUpdate(
      command([wu({ resultCode: row.code, rebootRequired: row.reboot, hResult: -2145124318 })]),
    );
    // Assert
    expect(verdict.results[0]).toMatchObject({
      index: 0,
      plugin: 'Microsoft.WindowsUpdatePlugin',
      outcome: row.outcome,
      rebootRequired: row.reboot,
      rebootInitiated: false,
      transient: false,
      exitCode: -2145124318,
      detail: `WUA result code ${row.code}, HRESULT 0x80240022`,
    });
    expect(verdict.failed).toBe(row.failed);
    expect(verdict.rebootRequired).toBe(row.reboot);
  });

  it('a command that ends TimedOut after reporting some updates still fails the plug-in', () => {
    // Act
    const verdict = interpretWindowsUpdate({ ...command([wu()]), status: 'TimedOut' });
    // Assert
    expect(verdict.results.map((r) => r.outcome)).toEqual(['Success', 'Failed']);
    expect(verdict.results[1]?.detail).toBe('the command ended TimedOut before it finished');
    expect(verdict.failed).toBe(true);
  });

  it('names an update by KB and title, or by title alone', () => {
    const verdict = interpretWindowsUpdate(command([wu(), wu({ kb: null, title: 'Defender' })]));
    expect(verdict.results.map((r) => r.update)).toEqual([
      'KB5050001 2025-01 Cumulative Update for Windows Server 2022',
      'Defender',
    ]);
    expect(verdict.results.map((r) => r.index)).toEqual([0, 1]);
  });

  it('counts outcomes across updates', () => {
    // Act
    const verdict = interpretWindowsUpdate(
      command([wu(), wu({ rebootRequired: true }), wu({ resultCode: 4 }), wu({ resultCode: 5 })]),
    );
    // Assert
    expect(verdict.outcomes).toEqual({
      Success: 1,
      Success_RebootRequired: 1,
      Fail_RebootRequired: 0,
      AlreadyInstalled: 0,
      NotApplicable: 0,
      Failed: 2,
    });
    expect(verdict.failed).toBe(true);
    expect(verdict.rebootRequired).toBe(true);
    expect(verdict.transientOnly).toBe(false);
  });
});

describe('interpretWindowsUpdate: a command that reported nothing', () => {
  it.each([
    { status: 'TimedOut', transient: true, source: 'timed out: a retry may finish' },
    { status: 'ExecutionTimedOut', transient: true, source: 'SSM stopped the script' },
    { status: 'Failed', transient: false, source: 'the script failed' },
    { status: 'Undeliverable', transient: false, source: 'the node never ran it' },
  ] as const)('status $status → one Failed result ($source)', ({ status, transient }) => {
    // Act
    const verdict = interpretWindowsUpdate(command([], status, 'WUA search failed'));
    // Assert
    expect(verdict.results).toEqual([
      expect.objectContaining({
        outcome: 'Failed',
        exitCode: null,
        transient,
        logTail: 'WUA search failed',
        detail: `the command ended ${status} without reporting results`,
      }),
    ]);
    expect(verdict.failed).toBe(true);
    expect(verdict.transientOnly).toBe(transient);
  });

  it('a successful search that found nothing to install is no failure', () => {
    const verdict = interpretWindowsUpdate(command([], 'Success'));
    expect(verdict.results).toEqual([]);
    expect(verdict.failed).toBe(false);
  });
});

describe('interpretWindowsUpdate: malformed report lines', () => {
  it.each([
    { bad: null, source: 'null' },
    { bad: { ...wu(), resultCode: '2' }, source: 'result code as text' },
    { bad: { ...wu(), rebootRequired: 'yes' }, source: 'reboot flag as text' },
    { bad: { title: 'x', resultCode: 2, rebootRequired: false }, source: 'no updateId' },
  ])('rejects $source, naming the line', ({ bad }) => {
    const act = () => interpretWindowsUpdate(command([wu(), wu(), bad]));
    expect(act).toThrow(InstallReportError);
    expect(act).toThrow(/^Windows Update result line 3 \(/);
  });
});

describe('interpretRemoval: wusa.exe /uninstall exit codes', () => {
  const planned = [
    { index: 0, updateId: 'KB5000004' },
    { index: 1, updateId: 'KB5000003' },
  ];
  const removal = (exitCode: number | null, timedOut = false) => ({
    index: 0,
    updateId: 'KB5000004',
    exitCode,
    timedOut,
    durationSeconds: 5,
    logTail: 'wusa',
  });
  const run = (lines: unknown[], status: TerminalStatus = 'Success') =>
    interpretRemoval(planned.slice(0, 1), { status, results: lines, outputTail: 'tail' });

  it.each([
    [0, 'Success_RebootRequired', true],
    [3010, 'Success_RebootRequired', true],
    [0x240007, 'NotApplicable', false],
    [-2145124329, 'NotApplicable', false],
    [0x80240017, 'NotApplicable', false],
    [1603, 'Failed', false],
    [87, 'Failed', false],
  ])('%i is %s', (code, outcome, reboot) => {
    const verdict = run([removal(code)]);
    expect(verdict.results[0]).toMatchObject({
      plugin: 'Rollout.Removal',
      update: 'KB5000004',
      command: 'wusa.exe /uninstall /kb:5000004 /quiet /norestart',
      exitCode: code,
      outcome,
      rebootRequired: reboot,
    });
    expect(verdict.failed).toBe(outcome === 'Failed');
  });

  it('a timed-out removal and an unreported one are Failed', () => {
    const verdict = interpretRemoval(planned, {
      status: 'Failed',
      results: [removal(null, true)],
      outputTail: 'died',
    });
    expect(verdict.results.map((r) => [r.outcome, r.transient])).toEqual([
      ['Failed', true],
      ['Failed', true],
    ]);
    expect(verdict.results[1]?.detail).toMatch(/no result/);
  });

  it('a malformed line is an InstallReportError', () => {
    expect(() => run([{ index: 0 }])).toThrow(InstallReportError);
  });

  it.each([
    { bad: null, source: 'null' },
    { bad: 'ROLLOUT-RESULT garbage', source: 'a string' },
    { bad: { ...removal(0), index: '0' }, source: 'index as text' },
    { bad: { ...removal(0), index: 0.5 }, source: 'a fractional index' },
    { bad: { ...removal(0), updateId: 5000004 }, source: 'updateId as a number' },
    { bad: { ...removal(0), exitCode: 1.5 }, source: 'a fractional exit code' },
    { bad: { ...removal(0), exitCode: '0' }, source: 'exit code as text' },
    { bad: { ...removal(0), timedOut: 'no' }, source: 'timedOut as text' },
    { bad: { index: 0, updateId: 'KB5000004', exitCode: 0 }, source: 'no timedOut' },
  ])(
    'issue 14: rejects a removal line with $source, naming the line and what is expected',
    ({ bad }) => {
      const act = () => run([removal(0), bad]);
      expect(act).toThrow(InstallReportError);
      expect(act).toThrow(
        /^removal result line 2 \(.*\): expected \{ index, updateId, exitCode, timedOut \}$/,
      );
      expect(act).toThrow(String(JSON.stringify(bad)).slice(0, 20));
    },
  );

  it('issue 14: a line saying the uninstaller did not run (exitCode null, not timed out) is a failure a retry will not fix', () => {
    const verdict = run([removal(null, false)]);
    expect(verdict.results[0]).toMatchObject({
      outcome: 'Failed',
      exitCode: null,
      rebootRequired: false,
      transient: false,
      detail: 'wusa.exe did not run',
    });
    expect(verdict.failed).toBe(true);
    expect(verdict.transientOnly).toBe(false);
    const withError = run([{ ...removal(null, false), error: 'wusa.exe not found' }]);
    expect(withError.results[0]?.detail).toBe('wusa.exe not found');
  });

  it('issue 14: a timed-out removal is transient and says so; the retry decision reads transientOnly', () => {
    const verdict = run([removal(null, true)]);
    expect(verdict.results[0]).toMatchObject({
      outcome: 'Failed',
      transient: true,
      detail: 'wusa.exe ran past the removal timeout and was stopped',
      durationSeconds: 5,
      logTail: 'wusa',
    });
    expect(verdict.transientOnly).toBe(true);
  });

  it.each([
    { code: 0, detail: '0x0 removed; a restart completes the removal (KB897341)' },
    { code: 3010, detail: '0xBC2 removed, restart required' },
    { code: 0x240007, detail: '0x240007 the update is not installed: nothing to remove' },
    { code: 1603, detail: '0x643 wusa.exe could not remove the update' },
  ])(
    'issue 14: exit code $code is not transient, and the detail says what happened',
    ({ code, detail }) => {
      const verdict = run([removal(code)]);
      expect(verdict.results[0]).toMatchObject({
        transient: false,
        detail,
        rebootInitiated: false,
      });
      expect(verdict.transientOnly).toBe(false);
    },
  );

  it('issue 14: an unreported removal is transient only when the command did not succeed', () => {
    const ok = interpretRemoval(planned.slice(0, 1), {
      status: 'Success',
      results: [],
      outputTail: 'out',
    });
    expect(ok.results[0]).toMatchObject({
      outcome: 'Failed',
      transient: false,
      durationSeconds: 0,
      logTail: 'out',
      detail: 'the node reported no result for this removal (command Success)',
    });
    const timedOut = interpretRemoval(planned.slice(0, 1), {
      status: 'TimedOut',
      results: [],
      outputTail: '',
    });
    expect(timedOut.results[0]?.transient).toBe(true);
  });

  it('issue 14: mixed results: removed, not installed and failed, counted and flagged together', () => {
    const verdict = interpretRemoval(
      [
        { index: 0, updateId: 'KB5000004' },
        { index: 1, updateId: 'KB5000003' },
        { index: 2, updateId: 'KB5000002' },
      ],
      {
        status: 'Failed',
        results: [
          { ...removal(3010), index: 0 },
          { ...removal(0x240007), index: 1, updateId: 'KB5000003' },
          { ...removal(1603), index: 2, updateId: 'KB5000002' },
        ],
        outputTail: '',
      },
    );
    expect(verdict.results.map((r) => r.outcome)).toEqual([
      'Success_RebootRequired',
      'NotApplicable',
      'Failed',
    ]);
    expect(verdict.outcomes).toMatchObject({
      Success_RebootRequired: 1,
      NotApplicable: 1,
      Failed: 1,
    });
    expect(verdict).toMatchObject({
      failed: true,
      rebootRequired: true,
      transientOnly: false,
      startedFailed: true,
    });
  });

  it('a DISM removal records the DISM command with its package name', () => {
    const verdict = interpretRemoval(
      [
        {
          index: 0,
          updateId: 'KB5000004',
          method: 'dism',
          packageName: 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.1',
        },
      ],
      { status: 'Success', results: [removal(0)], outputTail: '' },
    );
    expect(verdict.results[0]?.command).toBe(
      'DISM /Online /Remove-Package /PackageName:Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.1 /Quiet /NoRestart',
    );
  });
});

describe('issue 14: what a verdict says, to the last word a user reads', () => {
  it('a report line that is not JSON-able or is long is quoted, cut at 200 characters', () => {
    const long = { index: 'x'.repeat(300) };
    expect(() => interpretHotfixInstall([planned(0)], command([undefined]))).toThrow(
      'install result line 1 (undefined): expected',
    );
    expect(() => interpretHotfixInstall([planned(0)], command([long]))).toThrow(
      `install result line 1 (${JSON.stringify(long).slice(0, 200)}): expected`,
    );
    expect(() => interpretWindowsUpdate(command([undefined]))).toThrow(
      'Windows Update result line 1 (undefined): expected { updateId, title, resultCode, rebootRequired }',
    );
    expect(() => interpretWindowsUpdate(command([long]))).toThrow(
      `Windows Update result line 1 (${JSON.stringify(long).slice(0, 200)}): expected`,
    );
    expect(() => interpretRemoval([], command([undefined]))).toThrow(
      'removal result line 1 (undefined): expected',
    );
    expect(() => interpretRemoval([], command([long]))).toThrow(
      `removal result line 1 (${JSON.stringify(long).slice(0, 200)}): expected`,
    );
  });

  it('the command is the installer and its parameters, without a trailing space when there are none', () => {
    const verdict = interpretHotfixInstall([planned(0, { parameters: '' })], command([line(0)]));
    expect(verdict.results[0]?.command).toBe('%systemroot%\\System32\\wusa.exe');
  });

  it('a checksum mismatch the node reported without digests names the planned one and says the other is missing', () => {
    const verdict = interpretHotfixInstall([planned(0)], command([line(0, { checksumOk: false })]));
    expect(verdict.results[0]?.detail).toBe(
      `SHA-256 mismatch: expected ${'0'.repeat(64)}, actual not reported; not run and not retried (a retry downloads the same file)`,
    );
    expect(verdict.neverRetry).toEqual([0]);
  });

  it('details of an installer that timed out, and of one that did not run', () => {
    const idle = interpretHotfixInstall(
      [planned(0)],
      command([line(0, { timedOut: true, exitCode: null })]),
    );
    expect(idle.results[0]?.detail).toBe(
      'the installer ran past HotfixInstallerTimeoutMinutes and was stopped',
    );
    const busy = interpretHotfixInstall(
      [planned(0)],
      command([line(0, { timedOut: true, exitCode: null, servicingBusy: true })]),
    );
    expect(busy.results[0]?.detail).toBe(
      'the installer ran past HotfixInstallerTimeoutMinutes and was stopped; Windows servicing was still busy',
    );
    const notRun = interpretHotfixInstall([planned(0)], command([line(0, { exitCode: null })]));
    expect(notRun.results[0]).toMatchObject({
      detail: 'the installer did not run',
      transient: true,
    });
    expect(notRun.servicingBusy).toBe(false);
  });

  it('the detail of a code is its hex, and its name when it has one', () => {
    const verdict = interpretHotfixInstall(
      [planned(0), planned(1)],
      command([line(0, { exitCode: 12345 }), line(1, { exitCode: 1603 })]),
    );
    expect(verdict.results.map((r) => r.detail)).toEqual(['0x3039', '0x643 ERROR_INSTALL_FAILURE']);
  });

  it('Windows Update: details for skipped updates, and for a command that did not finish', () => {
    const eula = interpretWindowsUpdate(
      command([wu({ resultCode: 4, skipped: true, skipReason: 'eula' })]),
    );
    expect(eula.results[0]?.detail).toBe(
      'skipped, not installed: its licence (EULA) must be accepted; install it by hand or approve it in WSUS',
    );
    const input = interpretWindowsUpdate(
      command([wu({ resultCode: 4, skipped: true, skipReason: 'userInput' })]),
    );
    expect(input.results[0]?.detail).toBe(
      'skipped, not installed: it may ask for user input; install it by hand or approve it in WSUS',
    );
    const ok = interpretWindowsUpdate(command([wu({ hResult: 0x80240022 | 0 })]));
    expect(ok.results[0]?.detail).toBe('WUA result code 2, HRESULT 0x80240022');
    expect(ok).toMatchObject({ neverRetry: [], notStarted: [], servicingBusy: false });
    const none = interpretWindowsUpdate(command([], 'Failed', 'tail'));
    expect(none.results[0]).toMatchObject({
      update: 'Windows Update scan and install',
      transient: false,
      logTail: 'tail',
      detail: 'the command ended Failed without reporting results',
    });
    const partial = interpretWindowsUpdate(command([wu()], 'Cancelled'));
    expect(partial.results[1]?.detail).toBe('the command ended Cancelled before it finished');
    for (const status of ['TimedOut', 'ExecutionTimedOut'] as const) {
      expect(interpretWindowsUpdate(command([], status)).results[0]?.transient).toBe(true);
    }
  });

  it('removal: a DISM item without a package name, and a line without a log tail', () => {
    const verdict = interpretRemoval([{ index: 0, updateId: 'KB5000004', method: 'dism' }], {
      status: 'Success',
      results: [{ index: 0, updateId: 'KB5000004', exitCode: 0, timedOut: false }],
      outputTail: '',
    });
    expect(verdict.results[0]).toMatchObject({
      command: 'DISM /Online /Remove-Package /PackageName: /Quiet /NoRestart',
      logTail: '',
      durationSeconds: 0,
    });
    expect(verdict).toMatchObject({ neverRetry: [], notStarted: [], servicingBusy: false });
  });
});

describe('issue 14: the last interpret survivors, stated as behaviour', () => {
  it('an install line with notStarted false is an ordinary line, and one without a log tail has an empty one', () => {
    const verdict = interpretHotfixInstall(
      [planned(0)],
      command([
        { index: 0, file: 'x', exitCode: 0, checksumOk: true, timedOut: false, notStarted: false },
      ]),
    );
    expect(verdict.results[0]).toMatchObject({
      outcome: 'Success',
      logTail: '',
      durationSeconds: 0,
    });
    expect(verdict.notStarted).toEqual([]);
  });

  it('a Windows Update line needs a text title', () => {
    expect(() => interpretWindowsUpdate(command([wu({ title: 5 as never })]))).toThrow(
      InstallReportError,
    );
  });

  it('a Windows Update result has no log, and the row for an unfinished command is a plain failure', () => {
    const verdict = interpretWindowsUpdate(command([wu()], 'Failed', 'tail'));
    expect(verdict.results[0]?.logTail).toBe('');
    expect(verdict.results[1]).toEqual({
      index: 1,
      plugin: 'Microsoft.WindowsUpdatePlugin',
      update: 'Windows Update scan and install',
      exitCode: null,
      outcome: 'Failed',
      rebootRequired: false,
      rebootInitiated: false,
      transient: false,
      durationSeconds: 0,
      logTail: 'tail',
      detail: 'the command ended Failed before it finished',
    });
  });
});
