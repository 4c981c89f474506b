/**
 * Small helpers for the `rollout` subcommands: strict flag parsing with clear errors, and the
 * error type the entry point prints without a stack trace.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A mistake in how the command was called, or in a file it was given. Printed as one line. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** The flags of a subcommand, as node:util parseArgs takes them. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** The description of one subcommand. */
export interface CommandSpec<O extends Options = Options> {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Lines that explain each option, shown by --help. */
  readonly details: readonly string[];
  readonly options: O;
}

/** Where a command writes; tests pass their own. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
}

/** Formats --help for a subcommand. */
export function helpText(spec: CommandSpec): string {
  return [
    `rollout ${spec.name}: ${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    ...spec.details,
  ].join('\n');
}

/**
 * Parses the subcommand's flags strictly: unknown flags, missing values and stray arguments are
 * a UsageError naming them.
 */
export function parseFlags<O extends Options>(spec: CommandSpec<O>, argv: readonly string[]) {
  // `--code -2145124329`: a negative number after a flag that takes a value is that value.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    const option = arg.startsWith('--') ? spec.options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && next !== undefined && /^-[0-9]/.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  try {
    return parseArgs({ args, options: spec.options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `rollout ${spec.name}: ${message.replace(/\. To specify a positional argument.*$/s, '')} (see rollout ${spec.name} --help)`,
    );
  }
}

/** Returns a required string flag or throws naming it. */
export function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value.trim() === '') {
    throw new UsageError(
      `rollout ${command}: --${flag} is required (see rollout ${command} --help)`,
    );
  }
  return value;
}
