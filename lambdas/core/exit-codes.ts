/**
 * Installer exit codes: normalising the forms codes arrive in, and classifying a code against a
 * hotfix rule's exit conditions into exactly CAU's outcomes.
 *
 * Sources: CAU plug-ins (seed 003) for the conditions and the "unlisted code is a failure, no
 * restart" rule; KB897341 (seeds 000-002) and the Windows Installer / WUA tables (DOMAIN.md §3)
 * for the named codes.
 */
import { RolloutRuleError } from './errors.js';

/** The exit-condition elements of a CAU hotfix rule, spelled as in the XML. */
export const EXIT_CONDITIONS = [
  'Success',
  'Success_RebootRequired',
  'Fail_RebootRequired',
  'AlreadyInstalled',
  'NotApplicable',
] as const;

/** One of CAU's exit-condition element names. */
export type ExitCondition = (typeof EXIT_CONDITIONS)[number];

/** The outcome of one installer run: a listed condition, or `Failed` for any unlisted code. */
export type ExitOutcome = ExitCondition | 'Failed';

/** All outcome names, in the order reports list them. */
export const EXIT_OUTCOMES: readonly ExitOutcome[] = [...EXIT_CONDITIONS, 'Failed'];

/**
 * The codes a rule lists under each condition, as signed 32-bit integers. Keys are the XML
 * element names so the word in the config, the code and the report is the same.
 */
export type ExitConditions = { readonly [C in ExitCondition]: readonly number[] };

/** Raised when an exit code cannot be read as a 32-bit integer. */
export class ExitCodeError extends RolloutRuleError {
  constructor(
    readonly input: unknown,
    message: string,
  ) {
    super(message);
  }
}

const INT32_MIN = -0x8000_0000;
const UINT32_MAX = 0xffff_ffff;
const ACCEPTED =
  'expected a 32-bit integer: signed or unsigned decimal (-2147483648 to 4294967295) or hex (0x0 to 0xFFFFFFFF)';

/**
 * Reads an exit code given as signed or unsigned 32-bit decimal or as `0x` hex, and returns it
 * as a signed 32-bit integer (the form `$LASTEXITCODE` and Win32 APIs print). `2149842967`,
 * `0x80240017` and `-2145124329` are the same code.
 *
 * @throws ExitCodeError for anything else, naming the value.
 */
export function normaliseExitCode(input: string | number, field = 'exit code'): number {
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < INT32_MIN || input > UINT32_MAX) {
      throw new ExitCodeError(input, `${field} ${String(input)}: ${ACCEPTED}`);
    }
    return input | 0;
  }
  if (typeof input !== 'string') {
    throw new ExitCodeError(input, `${field} ${typeof input}: ${ACCEPTED}`);
  }
  const text = input.trim();
  let value: number;
  if (/^0[xX][0-9a-fA-F]{1,8}$/.test(text)) {
    value = Number.parseInt(text.slice(2), 16);
  } else if (/^[+-]?[0-9]{1,10}$/.test(text)) {
    value = Number.parseInt(text, 10);
  } else {
    throw new ExitCodeError(input, `${field} ${JSON.stringify(input)}: ${ACCEPTED}`);
  }
  if (value < INT32_MIN || value > UINT32_MAX) {
    throw new ExitCodeError(input, `${field} ${JSON.stringify(input)}: ${ACCEPTED}`);
  }
  return value | 0;
}

/** The code as 8-digit unsigned hex, e.g. `0x80240017`; small codes print short (`0xBC2`). */
export function toHex(code: number): string {
  return `0x${(code >>> 0).toString(16).toUpperCase()}`;
}

/** A code documented in a Windows Installer / WUA / KB897341 table. */
export interface KnownExitCode {
  readonly code: number;
  readonly name: string;
  readonly meaning: string;
  /** Retrying later may succeed (another install was running). */
  readonly transient: boolean;
  /** The installer itself has started a restart; the workflow must wait, not restart again. */
  readonly rebootInitiated: boolean;
}

const known = (
  code: number,
  name: string,
  meaning: string,
  flags: { transient?: boolean; rebootInitiated?: boolean } = {},
): KnownExitCode => ({
  code,
  name,
  meaning,
  transient: flags.transient ?? false,
  rebootInitiated: flags.rebootInitiated ?? false,
});

/** Codes named in DOMAIN.md §3 (Windows Installer and WUA error tables, KB897341). */
export const KNOWN_EXIT_CODES: ReadonlyMap<number, KnownExitCode> = new Map(
  [
    known(0, 'ERROR_SUCCESS', 'installed, no restart needed'),
    known(3010, 'ERROR_SUCCESS_REBOOT_REQUIRED', 'installed, the node must restart'),
    known(
      1641,
      'ERROR_SUCCESS_REBOOT_INITIATED',
      'installed, the installer is restarting the node',
      {
        rebootInitiated: true,
      },
    ),
    known(1603, 'ERROR_INSTALL_FAILURE', 'not installed; retry the install'),
    known(1618, 'ERROR_INSTALL_ALREADY_RUNNING', 'another installation is running; retry later', {
      transient: true,
    }),
    known(1642, 'ERROR_PATCH_TARGET_NOT_FOUND', 'the patch does not apply to anything installed'),
    known(0x240006, 'WU_S_ALREADY_INSTALLED', 'the update is already installed'),
    known(0x80240017 | 0, 'WU_E_NOT_APPLICABLE', 'the update does not apply to this computer'),
    known(0x80070422 | 0, 'ERROR_SERVICE_DISABLED', 'a service the installer needs is disabled'),
  ].map((k) => [k.code, k]),
);

/** The result of classifying one installer exit code. */
export interface ExitCodeClassification {
  /** The code as a signed 32-bit integer. */
  readonly code: number;
  /** The code as unsigned hex. */
  readonly hex: string;
  /** The documented name, when the code is a known one. */
  readonly name?: string;
  readonly outcome: ExitOutcome;
  /** The node must restart for the update to take effect (Success_ or Fail_RebootRequired). */
  readonly rebootRequired: boolean;
  /** The installer started the restart itself (1641): wait for the node, do not restart it. */
  readonly rebootInitiated: boolean;
  /** A retry may succeed (1618, another install was running). Flag only: the outcome stands. */
  readonly transient: boolean;
  /** The condition element the code was found under, if any. */
  readonly matchedCondition?: ExitCondition;
}

/** Options of {@link classifyExitCode}. */
export interface ClassifyOptions {
  /** The rule's `alwaysReboot`: a `Success` code becomes `Success_RebootRequired`. */
  readonly alwaysReboot?: boolean;
}

/**
 * Classifies a code against a rule's exit conditions. A code no condition lists is `Failed`,
 * and the node is not restarted for it (seed 003).
 */
export function classifyExitCode(
  input: string | number,
  conditions: ExitConditions,
  options: ClassifyOptions = {},
): ExitCodeClassification {
  const code = normaliseExitCode(input);
  const matched = EXIT_CONDITIONS.find((condition) => conditions[condition].includes(code));
  let outcome: ExitOutcome = matched ?? 'Failed';
  if (outcome === 'Success' && options.alwaysReboot) outcome = 'Success_RebootRequired';
  const info = KNOWN_EXIT_CODES.get(code);
  return {
    code,
    hex: toHex(code),
    ...(info ? { name: info.name } : {}),
    outcome,
    rebootRequired: outcome === 'Success_RebootRequired' || outcome === 'Fail_RebootRequired',
    rebootInitiated: (info?.rebootInitiated ?? false) && matched !== undefined,
    transient: info?.transient ?? false,
    ...(matched ? { matchedCondition: matched } : {}),
  };
}

/** True when an outcome means the update is now on the node (or already was). */
export function isSuccessfulOutcome(outcome: ExitOutcome): boolean {
  return (
    outcome === 'Success' ||
    outcome === 'Success_RebootRequired' ||
    outcome === 'AlreadyInstalled' ||
    outcome === 'NotApplicable'
  );
}
