import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultHotfixConfig } from '../../lambdas/core/default-config.js';
import {
  classifyExitCode,
  EXIT_OUTCOMES,
  ExitCodeError,
  type ExitConditions,
  KNOWN_EXIT_CODES,
  normaliseExitCode,
  toHex,
} from '../../lambdas/core/exit-codes.js';
import { findExtensionRule } from '../../lambdas/core/hotfix-config.js';

describe('normaliseExitCode', () => {
  it.each([
    { input: '3010', expected: 3010, source: 'issue 2: decimal form' },
    { input: '0xBC2', expected: 3010, source: 'DOMAIN.md §3: 3010 is 0xBC2' },
    { input: '0xbc2', expected: 3010, source: 'hex is case-insensitive' },
    {
      input: '2149842967',
      expected: -2145124329,
      source: 'DOMAIN.md §3: WU_E_NOT_APPLICABLE unsigned',
    },
    {
      input: '-2145124329',
      expected: -2145124329,
      source: 'DOMAIN.md §3: WU_E_NOT_APPLICABLE signed',
    },
    { input: '0x80240017', expected: -2145124329, source: 'DOMAIN.md §3: WU_E_NOT_APPLICABLE hex' },
    { input: '0x240006', expected: 2359302, source: 'DOMAIN.md §3: WU_S_ALREADY_INSTALLED' },
    { input: '0x80070422', expected: -2147023838, source: 'DOMAIN.md §3: service disabled' },
    { input: ' 1603 ', expected: 1603, source: 'surrounding spaces from a log line' },
    { input: '+0', expected: 0, source: 'explicit sign' },
    { input: '4294967295', expected: -1, source: 'largest unsigned 32-bit value' },
    { input: '-2147483648', expected: -2147483648, source: 'smallest signed 32-bit value' },
    { input: '0xFFFFFFFF', expected: -1, source: 'largest hex value' },
    { input: 2149842967, expected: -2145124329, source: 'numbers arrive unsigned from some APIs' },
    {
      input: -2145124329,
      expected: -2145124329,
      source: 'numbers arrive signed from $LASTEXITCODE',
    },
  ])('$input → $expected ($source)', ({ input, expected }) => {
    expect(normaliseExitCode(input)).toBe(expected);
  });

  it.each([
    '',
    'abc',
    '3010.5',
    '4294967296',
    '-2147483649',
    '0x100000000',
    '0x',
    '-0x1',
    '1e3',
    '0xG1',
    '0x1G',
    '30 10',
  ])('rejects %j with an error naming the value', (input) => {
    expect(() => normaliseExitCode(input)).toThrow(ExitCodeError);
    expect(() => normaliseExitCode(input)).toThrow(JSON.stringify(input));
  });

  it.each([1.5, Number.NaN, 2 ** 32, -(2 ** 31) - 1, Number.POSITIVE_INFINITY])(
    'rejects the number %s',
    (input) => {
      expect(() => normaliseExitCode(input)).toThrow(ExitCodeError);
      expect(() => normaliseExitCode(input)).toThrow(
        `exit code ${String(input)}: expected a 32-bit integer`,
      );
    },
  );

  it.each([
    { input: -2147483648, expected: -2147483648, source: 'smallest signed 32-bit number' },
    { input: 4294967295, expected: -1, source: 'largest unsigned 32-bit number' },
    { input: 2147483647, expected: 2147483647, source: 'largest signed 32-bit number' },
  ])('accepts the number $input at the bound → $expected ($source)', ({ input, expected }) => {
    expect(normaliseExitCode(input)).toBe(expected);
  });

  it('names the field and says what is accepted (issue 14: messages are interface)', () => {
    expect(() => normaliseExitCode('abc')).toThrow(
      'exit code "abc": expected a 32-bit integer: signed or unsigned decimal (-2147483648 to 4294967295) or hex (0x0 to 0xFFFFFFFF)',
    );
    expect(() => normaliseExitCode('0x1G', 'results[2].exitCode')).toThrow(
      'results[2].exitCode "0x1G"',
    );
  });

  it.each([null, undefined, true, {}, []])(
    'rejects a %j that is neither string nor number with ExitCodeError, not a TypeError (issue 14)',
    (input) => {
      const read = () => normaliseExitCode(input as unknown as string);
      expect(read).toThrow(ExitCodeError);
      expect(read).toThrow(`exit code ${typeof input}: expected a 32-bit integer`);
    },
  );

  it('never throws anything but ExitCodeError, and always returns an int32 (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[-+0-9xXa-fA-F ]{0,12}$/)), (text) => {
        try {
          const code = normaliseExitCode(text);
          expect(Number.isInteger(code)).toBe(true);
          expect(code).toBe(code | 0);
        } catch (error) {
          expect(error).toBeInstanceOf(ExitCodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every 32-bit value through decimal and hex (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (code) => {
        expect(normaliseExitCode(String(code))).toBe(code);
        expect(normaliseExitCode(String(code >>> 0))).toBe(code);
        expect(normaliseExitCode(toHex(code))).toBe(code);
      }),
    );
  });
});

const conditions: ExitConditions = {
  Success: [0],
  Success_RebootRequired: [3010],
  Fail_RebootRequired: [1641 + 1000],
  AlreadyInstalled: [2359302],
  NotApplicable: [-2145124329],
};

describe('classifyExitCode', () => {
  it.each([
    { code: '0', outcome: 'Success', reboot: false, source: 'seed 003: <Success>' },
    {
      code: '3010',
      outcome: 'Success_RebootRequired',
      reboot: true,
      source: 'seed 003: <Success_RebootRequired>',
    },
    {
      code: '2641',
      outcome: 'Fail_RebootRequired',
      reboot: true,
      source: 'seed 003: <Fail_RebootRequired>',
    },
    {
      code: '0x240006',
      outcome: 'AlreadyInstalled',
      reboot: false,
      source: 'seed 003: <AlreadyInstalled>',
    },
    {
      code: '2149842967',
      outcome: 'NotApplicable',
      reboot: false,
      source: 'seed 003: <NotApplicable>, unsigned form',
    },
    {
      code: '1603',
      outcome: 'Failed',
      reboot: false,
      source: 'seed 003: any code not listed is a failure, no restart',
    },
    { code: '-1', outcome: 'Failed', reboot: false, source: 'seed 003: unlisted code' },
  ] as const)('$code → $outcome ($source)', ({ code, outcome, reboot }) => {
    const result = classifyExitCode(code, conditions);
    expect(result.outcome).toBe(outcome);
    expect(result.rebootRequired).toBe(reboot);
  });

  it('alwaysReboot turns Success into Success_RebootRequired (seed 003, <Folder alwaysReboot>)', () => {
    expect(classifyExitCode(0, conditions, { alwaysReboot: true })).toMatchObject({
      outcome: 'Success_RebootRequired',
      rebootRequired: true,
      matchedCondition: 'Success',
    });
  });

  it.each([
    { code: 2359302, outcome: 'AlreadyInstalled' },
    { code: -2145124329, outcome: 'NotApplicable' },
    { code: 1603, outcome: 'Failed' },
  ] as const)(
    'alwaysReboot leaves $outcome alone (seed 003: it converts <Success> only)',
    ({ code, outcome }) => {
      const result = classifyExitCode(code, conditions, { alwaysReboot: true });
      expect(result.outcome).toBe(outcome);
      expect(result.rebootRequired).toBe(false);
    },
  );

  it('flags 1618 as transient while it stays Failed (DOMAIN.md §3)', () => {
    expect(classifyExitCode('0x652', conditions)).toMatchObject({
      code: 1618,
      outcome: 'Failed',
      transient: true,
      name: 'ERROR_INSTALL_ALREADY_RUNNING',
      rebootRequired: false,
    });
    expect(classifyExitCode(1603, conditions).transient).toBe(false);
  });

  it.each([
    {
      code: 2641,
      source: 'listed by the rule (Fail_RebootRequired), absent from the known-codes table',
    },
    { code: 12345, source: 'listed nowhere' },
  ])(
    'a code the known-codes table lacks is neither transient nor reboot-initiated: $code ($source)',
    ({ code }) => {
      const result = classifyExitCode(code, conditions);
      expect(result.transient).toBe(false);
      expect(result.rebootInitiated).toBe(false);
      expect(result.name).toBeUndefined();
    },
  );

  it('1641 the rule does not list is Failed, and not a restart the workflow waits for (seed 003)', () => {
    expect(classifyExitCode(1641, conditions)).toMatchObject({
      outcome: 'Failed',
      rebootInitiated: false,
      rebootRequired: false,
      name: 'ERROR_SUCCESS_REBOOT_INITIATED',
    });
  });

  it('reports the code signed, in hex and with its documented name', () => {
    expect(classifyExitCode('2149842967', conditions)).toMatchObject({
      code: -2145124329,
      hex: '0x80240017',
      name: 'WU_E_NOT_APPLICABLE',
    });
  });
});

describe('our default hotfix configuration (DOMAIN.md §3 codes)', () => {
  const config = defaultHotfixConfig();
  it.each([
    { ext: 'msu', code: '0', outcome: 'Success', source: 'KB897341: 0 ERROR_SUCCESS' },
    { ext: 'msu', code: '3010', outcome: 'Success_RebootRequired', source: 'KB897341: 3010' },
    {
      ext: 'msu',
      code: '0x240006',
      outcome: 'AlreadyInstalled',
      source: 'WUA: WU_S_ALREADY_INSTALLED',
    },
    {
      ext: 'msu',
      code: '0x80240017',
      outcome: 'NotApplicable',
      source: 'WUA: WU_E_NOT_APPLICABLE',
    },
    {
      ext: 'msu',
      code: '2149842967',
      outcome: 'NotApplicable',
      source: 'DOMAIN.md §3: also seen unsigned',
    },
    { ext: 'msu', code: '1603', outcome: 'Failed', source: 'KB897341: 1603 not installed' },
    { ext: 'msu', code: '0x80070422', outcome: 'Failed', source: 'DOMAIN.md §3: service disabled' },
    { ext: 'msi', code: '0', outcome: 'Success', source: 'Windows Installer: ERROR_SUCCESS' },
    {
      ext: 'msi',
      code: '3010',
      outcome: 'Success_RebootRequired',
      source: 'Windows Installer: 3010',
    },
    {
      ext: 'msi',
      code: '1641',
      outcome: 'Success_RebootRequired',
      source: 'Windows Installer: 1641 reboot initiated',
    },
    {
      ext: 'msi',
      code: '1618',
      outcome: 'Failed',
      source: 'Windows Installer: 1618 already running',
    },
    {
      ext: 'msi',
      code: '1642',
      outcome: 'Failed',
      source: 'Windows Installer: 1642 is a patch code, not for .msi',
    },
    {
      ext: 'msp',
      code: '1642',
      outcome: 'NotApplicable',
      source: 'Windows Installer: ERROR_PATCH_TARGET_NOT_FOUND',
    },
    {
      ext: 'msp',
      code: '0xBC2',
      outcome: 'Success_RebootRequired',
      source: 'Windows Installer: 3010 as hex',
    },
    {
      ext: 'msp',
      code: '1641',
      outcome: 'Success_RebootRequired',
      source: 'Windows Installer: 1641',
    },
    {
      ext: 'msp',
      code: '1603',
      outcome: 'Failed',
      source: 'Windows Installer: ERROR_INSTALL_FAILURE',
    },
  ])('.$ext $code → $outcome ($source)', ({ ext, code, outcome }) => {
    const rule = findExtensionRule(config, `KB1.${ext}`);
    expect(rule).toBeDefined();
    expect(classifyExitCode(code, rule?.exitConditions as ExitConditions).outcome).toBe(outcome);
  });

  it('marks 1641 as a restart the installer started itself', () => {
    const rule = findExtensionRule(config, 'x.msi');
    expect(classifyExitCode(1641, rule?.exitConditions as ExitConditions).rebootInitiated).toBe(
      true,
    );
    expect(classifyExitCode(3010, rule?.exitConditions as ExitConditions).rebootInitiated).toBe(
      false,
    );
  });
});

describe('EXIT_OUTCOMES', () => {
  it('lists the five CAU conditions, then Failed, in report order (seed 003)', () => {
    expect(EXIT_OUTCOMES).toEqual([
      'Success',
      'Success_RebootRequired',
      'Fail_RebootRequired',
      'AlreadyInstalled',
      'NotApplicable',
      'Failed',
    ]);
  });
});

describe('KNOWN_EXIT_CODES (the names and meanings `rollout exit-code` prints)', () => {
  it.each([
    { code: 0, name: 'ERROR_SUCCESS', meaning: 'no restart', source: 'KB897341' },
    {
      code: 3010,
      name: 'ERROR_SUCCESS_REBOOT_REQUIRED',
      meaning: 'must restart',
      source: 'KB897341',
    },
    {
      code: 1641,
      name: 'ERROR_SUCCESS_REBOOT_INITIATED',
      meaning: 'installer is restarting',
      source: 'Windows Installer',
    },
    { code: 1603, name: 'ERROR_INSTALL_FAILURE', meaning: 'not installed', source: 'KB897341' },
    {
      code: 1618,
      name: 'ERROR_INSTALL_ALREADY_RUNNING',
      meaning: 'retry later',
      source: 'Windows Installer',
    },
    {
      code: 1642,
      name: 'ERROR_PATCH_TARGET_NOT_FOUND',
      meaning: 'does not apply',
      source: 'Windows Installer',
    },
    { code: 0x240006, name: 'WU_S_ALREADY_INSTALLED', meaning: 'already installed', source: 'WUA' },
    { code: 0x80240017 | 0, name: 'WU_E_NOT_APPLICABLE', meaning: 'does not apply', source: 'WUA' },
    {
      code: 0x80070422 | 0,
      name: 'ERROR_SERVICE_DISABLED',
      meaning: 'disabled',
      source: 'DOMAIN.md §3',
    },
  ])('$code is $name ($source)', ({ code, name, meaning }) => {
    const known = KNOWN_EXIT_CODES.get(code);
    expect(known?.name).toBe(name);
    expect(known?.meaning).toContain(meaning);
  });

  it('holds exactly the DOMAIN.md §3 codes', () => {
    expect(KNOWN_EXIT_CODES.size).toBe(9);
  });
});
