/**
 * Issue 11: each route's largest body is one figure, maxBodyBytes(operation): the API handler
 * refuses one byte more with 413, takes exactly that many, and the OpenAPI document's 413
 * response of the operation states the same number. POST /rollouts takes 6,000,000 bytes (a
 * 100,000-node list); the other routes 128 KB.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  API_ROUTES,
  MAX_BODY_BYTES,
  MAX_ROLLOUT_BODY_BYTES,
  maxBodyBytes,
  type OperationId,
} from '../../lambdas/core/api-model.js';
import { openApiDocument } from '../../lambdas/core/api-openapi.js';
import { makeApiHandler } from '../../lambdas/handlers/api.js';
import type { RunStore } from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';

/** Routes that read a body, with a path that reaches them. */
const WITH_BODY: { operation: OperationId; path: string }[] = API_ROUTES.filter(
  (route) => route.method === 'POST',
).map((route) => ({
  operation: route.operationId,
  path: route.path.replace('{id}', route.path.startsWith('/nodes') ? 'NODE1' : 'run-1'),
}));

// The body is read before anything is looked up: a store that fails on use shows it.
const store = new Proxy({} as RunStore, {
  get: () => () => Promise.reject(new Error('the store is not used in these tests')),
});

const handler = makeApiHandler({
  sfn: new SFNClient({ region: 'us-east-1' }),
  store,
  now: () => new Date('2026-01-01T00:00:00Z'),
  rolloutStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Rollout',
  stagingStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Staging',
});

const post = (path: string, body: string) =>
  handler({
    httpMethod: 'POST',
    path,
    resource: '/{proxy+}',
    pathParameters: { proxy: path.slice(1) },
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      requestId: 'req-1',
      identity: { userArn: 'arn:aws:iam::000000000000:user/a' },
    },
  } as never);

/** A JSON object of exactly `bytes` bytes (whitespace after it). */
const bodyOf = (bytes: number) => `{}${' '.repeat(bytes - 2)}`;

beforeAll(() => logger.setLogLevel('SILENT'));

describe('route body limits', () => {
  it('covers every POST route, POST /rollouts at 6,000,000 bytes and the others at 128 KB', () => {
    expect(WITH_BODY.map((r) => r.operation).sort()).toEqual(
      [
        'approveRollout',
        'cancelRollout',
        'forceRecovery',
        'rejectRollout',
        'requestRemoval',
        'scan',
        'startRollout',
        'startStaging',
      ].sort(),
    );
    expect(maxBodyBytes('startRollout')).toBe(MAX_ROLLOUT_BODY_BYTES);
    expect(MAX_ROLLOUT_BODY_BYTES).toBe(6_000_000);
    for (const { operation } of WITH_BODY.filter((r) => r.operation !== 'startRollout')) {
      expect(maxBodyBytes(operation)).toBe(131_072);
    }
    expect(MAX_BODY_BYTES).toBe(131_072);
  });

  it.each(WITH_BODY)(
    'the OpenAPI 413 of $operation states its own limit',
    ({ operation, path }) => {
      // Arrange
      const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
      const template = API_ROUTES.find((r) => r.operationId === operation)?.path ?? path;
      const post = paths[template]?.post as
        | { responses: Record<string, { description: string }> }
        | undefined;

      // Act
      const tooLarge = post?.responses['413'];

      // Assert
      expect(tooLarge?.description).toContain(`larger than ${maxBodyBytes(operation)} bytes`);
      expect(JSON.stringify(tooLarge)).not.toContain('#/components/responses/');
    },
  );

  it('no text of the OpenAPI document states another body limit', () => {
    const text = JSON.stringify(openApiDocument());
    const stated = [...text.matchAll(/larger than (\d+) bytes/g)].map((m) => Number(m[1]));
    expect(new Set(stated)).toEqual(new Set([MAX_BODY_BYTES, MAX_ROLLOUT_BODY_BYTES]));
  });

  it.each(WITH_BODY)(
    '$operation refuses one byte over its limit with 413 naming it',
    async ({ operation, path }) => {
      // Arrange
      const max = maxBodyBytes(operation);

      // Act
      const result = await post(path, bodyOf(max + 1));

      // Assert
      expect(result.statusCode).toBe(413);
      const error = (JSON.parse(result.body) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('PayloadTooLarge');
      expect(error.message).toContain(`larger than ${max} bytes`);
    },
  );

  it.each(WITH_BODY)(
    '$operation reads a body of exactly its limit',
    async ({ operation, path }) => {
      // Act
      const result = await post(path, bodyOf(maxBodyBytes(operation)));

      // Assert: read and judged on its content (400, 404, 500 from the unused store...), not its size.
      expect(result.statusCode).not.toBe(413);
      expect(result.body).not.toContain('PayloadTooLarge');
    },
  );
});
