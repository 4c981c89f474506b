/** Turning an invalid handler event into an error Step Functions can match by name. */
import type { z } from 'zod';

/** An error with a stable `name`, which Step Functions matches in Retry and Catch. */
export class NamedError extends Error {
  constructor(name: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

/** `InvalidEvent`, naming every field that is wrong and its value. */
export function invalidEvent(error: z.ZodError, input?: unknown): NamedError {
  const problems = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(event)';
    let value: unknown = input;
    for (const key of issue.path) {
      value =
        value !== null && typeof value === 'object'
          ? (value as Record<PropertyKey, unknown>)[key as PropertyKey]
          : undefined;
    }
    const shown = input === undefined ? '' : ` (${JSON.stringify(value) ?? 'undefined'})`;
    return `${field}${shown}: ${issue.message}`;
  });
  return new NamedError('InvalidEvent', `invalid event: ${problems.join('; ')}`, { cause: error });
}
