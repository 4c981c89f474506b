/**
 * POST /scans over the deployed scan function (issue 11 §4): the API function invokes the same
 * `scan` Lambda the rollout workflow runs, instead of carrying the scan (and its XML parser for
 * the hotfix configuration) in its own bundle. The payload is the workflow's, `{ rollout }`; an
 * error the scan raised comes back with its name and message, so the API maps it as before.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { ResolvedRollout } from '../core/rollout-input.js';

/** An error the scan function raised, as Lambda returned it (its name is the error's type). */
export class ScanFunctionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** `scan(rollout)` over Lambda Invoke of `functionName`. */
export function invokeScanFunction(
  lambda: Pick<LambdaClient, 'send'>,
  functionName: string,
): (rollout: ResolvedRollout) => Promise<unknown> {
  return async (rollout) => {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify({ rollout })),
      }),
    );
    const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : '';
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new Error(
        `the scan function ${functionName} answered with a payload that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (answer.FunctionError !== undefined) {
      const error = (body ?? {}) as { errorType?: unknown; errorMessage?: unknown };
      throw new ScanFunctionError(
        typeof error.errorType === 'string' ? error.errorType : 'ScanFunctionError',
        typeof error.errorMessage === 'string'
          ? error.errorMessage
          : `the scan function ${functionName} failed (${answer.FunctionError}) without a message`,
      );
    }
    return body;
  };
}
