/**
 * What every handler shares: Powertools logger, the tracer, and reading configuration from the
 * environment with a clear error (metrics are in metrics.ts, for the handlers that emit them).
 * Handlers build their SDK clients once per container (in a `productionDeps()` function) and
 * take them as parameters, so tests pass fakes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { captureAWSv3Client } from './xray.js';

export const logger = new Logger({ serviceName: 'windows-rollout' });
/**
 * X-Ray subsegments for each SDK client's calls (lambdas/shared/xray.ts): what the handlers used
 * of Powertools' Tracer, without the X-Ray SDK in every bundle (issue 11 §4).
 */
export const tracer = { captureAWSv3Client };

/** Reads a required environment variable, naming it when it is missing. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is not set; the stack sets it on every function`);
  }
  return value;
}

/** Adds run id, cluster or group, and node to every log line of this invocation. */
export function logContext(context: { runId?: string; target?: string; node?: string }): void {
  const keys: Record<string, string> = {};
  if (context.runId) keys.runId = context.runId;
  if (context.target) keys.target = context.target;
  if (context.node) keys.node = context.node;
  logger.resetKeys();
  logger.appendKeys(keys);
}
