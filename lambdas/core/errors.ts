/**
 * Error types of the rules engine. Every error a user can meet names the field, the bad value
 * and what would be accepted. Each area has one base class so callers can catch an area whole.
 */

/** Base of every error the rules engine raises on purpose. */
export class RolloutRuleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found while validating an input: where, what value, and why it is wrong. */
export interface ValidationProblem {
  /** Dotted path or XML element path of the offending field, e.g. `maxRetriesPerNode`. */
  readonly field: string;
  /** The offending value as the user wrote it (absent when the field is missing). */
  readonly value?: unknown;
  /** What is wrong and what would be accepted. */
  readonly message: string;
}

/** Renders a value for an error message: strings quoted, long values cut. */
export function showValue(value: unknown): string {
  let text: string;
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') text = JSON.stringify(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Formats a list of problems as one message, one problem a line. */
export function formatProblems(heading: string, problems: readonly ValidationProblem[]): string {
  const lines = problems.map((p) =>
    p.value === undefined
      ? `  - ${p.field}: ${p.message}`
      : `  - ${p.field} (${showValue(p.value)}): ${p.message}`,
  );
  return `${heading} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}
