/**
 * The `rollout` command's exit statuses, one table for every subcommand (README "Exit
 * statuses"), and how an error a command throws maps onto it and onto `--json`'s error object.
 */
import { RolloutRuleError, type ValidationProblem } from '../lambdas/core/errors.js';
import { UsageError } from './args.js';
import { BackendError } from './backend.js';

/** Exit statuses; scripts may rely on each number. */
export const EXIT = {
  /** The command did what was asked, and what it reports succeeded. */
  ok: 0,
  /** The command ran, and what it reports failed: a rollout ended Failed or Cancelled, a sandbox run missed its expectations. */
  failed: 1,
  /** The command line, or a file it names, is wrong: unknown flag, missing value, unreadable file, malformed JSON. */
  usage: 2,
  /** The input breaks a rule: the rollout input, a hotfix configuration, a removal (checked here or by the API: 400, 413, 415). */
  invalid: 3,
  /** The API refused because of the state of a rollout, node or target: 404 not found, 409 conflict, 422 key reused. */
  refused: 4,
  /** The API could not be reached, or would not serve the caller: no answer, 401, 403, 429, 5xx. */
  unavailable: 5,
  /** A bug: the message says so; ROLLOUT_DEBUG=1 prints the stack. */
  internal: 70,
} as const;

/** The table as the README and `rollout --help` print it. */
export const EXIT_TABLE: readonly (readonly [number, string])[] = [
  [EXIT.ok, 'done; what the command reports succeeded'],
  [EXIT.failed, 'done; what it reports failed (a rollout ended Failed or Cancelled)'],
  [EXIT.usage, 'bad command line or unreadable file (unknown flag, malformed JSON)'],
  [EXIT.invalid, 'the input breaks a rule (every problem listed, one per line)'],
  [EXIT.refused, "refused for a rollout's, node's or target's state (404, 409, 422)"],
  [EXIT.unavailable, 'the API was not reached or would not serve you (401, 403, 429, 5xx)'],
  [EXIT.internal, 'internal error (ROLLOUT_DEBUG=1 shows the stack)'],
];

/** The exit status for an error a command threw. */
export function exitStatusFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof RolloutRuleError) return EXIT.invalid;
  if (error instanceof BackendError) {
    if (error.status === 400 || error.status === 413 || error.status === 415) return EXIT.invalid;
    if ([404, 409, 412, 422].includes(error.status)) return EXIT.refused;
    return EXIT.unavailable;
  }
  return EXIT.internal;
}

/** What `--json` prints on stdout when a command fails. */
export interface ErrorObject {
  readonly error: {
    /** UsageError, a rule error's class name (RolloutInputError, …), the API's code, or InternalError. */
    readonly code: string;
    /** The whole message, every problem included, as the text output prints it. */
    readonly message: string;
    readonly exitStatus: number;
    readonly status?: number;
    readonly field?: string;
    readonly value?: unknown;
    readonly problems?: readonly ValidationProblem[];
    readonly requestId?: string;
  };
}

/** The machine-readable form of an error. */
export function errorObject(error: unknown, message: string): ErrorObject {
  const exitStatus = exitStatusFor(error);
  const problems = problemsOf(error);
  if (error instanceof BackendError) {
    return {
      error: {
        code: error.code,
        message,
        exitStatus,
        status: error.status,
        ...(error.field === undefined ? {} : { field: error.field }),
        ...(Object.hasOwn(error, 'value') ? { value: error.value } : {}),
        ...(problems ? { problems } : {}),
        ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      },
    };
  }
  const code =
    exitStatus === EXIT.internal ? 'InternalError' : error instanceof Error ? error.name : 'Error';
  return { error: { code, message, exitStatus, ...(problems ? { problems } : {}) } };
}

function problemsOf(error: unknown): readonly ValidationProblem[] | undefined {
  const problems = (error as { problems?: unknown } | null)?.problems;
  if (!Array.isArray(problems) || problems.length === 0) return undefined;
  return problems.filter(
    (p): p is ValidationProblem =>
      typeof p === 'object' &&
      p !== null &&
      typeof p.field === 'string' &&
      typeof p.message === 'string',
  );
}
