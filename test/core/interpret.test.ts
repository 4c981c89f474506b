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
  ])('rejects $source, naming the line', ({ bad }) => {
    // Act
    const act = () => interpretHotfixInstall([planned(0), planned(1)], command([line(0), bad]));
    // Assert
    expect(act).toThrow(InstallReportError);
    expect(act).toThrow(/^install result line 2 \(/);
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
});
