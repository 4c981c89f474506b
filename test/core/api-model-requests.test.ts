/**
 * api-model's error body, request reading and idempotency helpers, as a client meets them
 * (issue 14: mutation testing found them tested only through the handler's tests).
 */
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  cancelRequestSchema,
  canonicalJson,
  fillPath,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_TTL_SECONDS,
  MAX_APPROVAL_TIMEOUT_MINUTES,
  MAX_BODY_DEPTH,
  nestsDeeperThan,
  parseIdempotencyKey,
  parseJsonBody,
  parseNodeName,
  parseRequest,
  parseRunId,
  parseTargetName,
  reportFormat,
  rolloutIdempotencyKey,
  validationError,
} from '../../lambdas/core/api-model.js';
import { apiError } from '../helpers/api-error.js';

describe('limits', () => {
  it('an idempotency key holds a day; an approval waits at most a week', () => {
    expect(IDEMPOTENCY_TTL_SECONDS).toBe(86_400);
    expect(MAX_APPROVAL_TIMEOUT_MINUTES).toBe(10_080);
  });
});

describe('fillPath', () => {
  it('encodes each parameter, and a missing one is empty', () => {
    expect(fillPath('/rollouts/{id}/nodes/{node}', { id: 'a/b', node: 'N 1' })).toBe(
      '/rollouts/a%2Fb/nodes/N%201',
    );
    expect(fillPath('/rollouts/{id}/report', {})).toBe('/rollouts//report');
  });
});

describe('ApiError and its body', () => {
  it('takes its status from the code, and a bare error has only code and message', () => {
    const error = new ApiError('UnsupportedMediaType', 'no');
    expect(error.name).toBe('ApiError');
    expect(error.status).toBe(415);
    expect(error.headers).toEqual({});
    expect(error.cause).toBeUndefined();
    expect(error.toBody()).toStrictEqual({
      error: { code: 'UnsupportedMediaType', message: 'no' },
    });
  });

  it('carries field, value, problems, details, headers, cause and the request id', () => {
    const cause = new Error('root');
    const error = new ApiError('TargetBusy', 'busy', {
      field: 'target.name',
      value: 'web',
      problems: [
        { field: 'target.name', value: 'web', message: 'is busy' },
        { field: 'runId', message: 'is taken' },
      ],
      details: { runId: 'r-1' },
      headers: { 'Retry-After': '60' },
      cause,
    });
    expect(error.status).toBe(409);
    expect(error.cause).toBe(cause);
    expect(error.headers).toEqual({ 'Retry-After': '60' });
    expect(error.toBody('req-1')).toStrictEqual({
      error: {
        code: 'TargetBusy',
        message: 'busy',
        field: 'target.name',
        value: 'web',
        problems: [
          { field: 'target.name', value: 'web', message: 'is busy' },
          { field: 'runId', message: 'is taken' },
        ],
        details: { runId: 'r-1' },
        requestId: 'req-1',
      },
    });
  });

  it.each([
    { value: null, shown: null },
    { value: true, shown: true },
    { value: 1.5, shown: 1.5 },
    { value: Number.POSITIVE_INFINITY, shown: 'Infinity' },
    { value: 'x'.repeat(200), shown: 'x'.repeat(200) },
    { value: 'x'.repeat(201), shown: `${'x'.repeat(197)}...` },
    { value: { a: 1 }, shown: '{"a":1}' },
  ])('echoes the value $value as $shown', ({ value, shown }) => {
    const body = new ApiError('ValidationFailed', 'bad', {
      value,
      problems: [{ field: 'f', value, message: 'bad' }],
    }).toBody();
    expect(body.error.value).toEqual(shown);
    expect(body.error.problems?.[0]?.value).toEqual(shown);
  });

  it('shows at most 50 problems in the body', () => {
    const problems = Array.from({ length: 51 }, (_, i) => ({ field: `f${i}`, message: 'bad' }));
    const body = new ApiError('ValidationFailed', 'bad', { problems }).toBody();
    expect(body.error.problems).toHaveLength(50);
    expect(body.error.problems?.at(-1)?.field).toBe('f49');
  });
});

describe('validationError', () => {
  const problems = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ field: `f${i}`, value: i, message: 'is bad' }));

  it('is a 400 whose field and value are the first problem, with every problem', () => {
    const cause = new Error('zod');
    const error = validationError('request is invalid', problems(2), cause);
    expect(error.status).toBe(400);
    expect(error.code).toBe('ValidationFailed');
    expect(error.field).toBe('f0');
    expect(error.value).toBe(0);
    expect(error.problems).toHaveLength(2);
    expect(error.cause).toBe(cause);
    expect(error.message).toMatch(/^request is invalid \(2 problems\):/);
    expect(validationError('x', problems(1)).cause).toBeUndefined();
  });

  it('names the body when there is no problem to name', () => {
    expect(validationError('request is invalid', []).field).toBe('(body)');
  });

  it('lists 50 problems in the message and counts the rest', () => {
    const fifty = validationError('request is invalid', problems(50)).message;
    expect(fifty).not.toContain('more');
    const lines = validationError('request is invalid', problems(51)).message.split('\n');
    expect(lines).toHaveLength(52);
    expect(lines.at(-1)).toBe('  ... and 1 more');
  });
});

describe('parseJsonBody: size, media type and depth', () => {
  const max = 10;

  it.each([
    { body: '"12345678"', ok: true, source: 'exactly the limit' },
    { body: '"123456789"', ok: false, source: 'a byte over' },
  ])('a body of $source', ({ body, ok }) => {
    const read = () => parseJsonBody({ body, required: true, maxBytes: max });
    if (ok) expect(read()).toBe(JSON.parse(body));
    else expect(apiError(read).status).toBe(413);
  });

  it('measures a base64 body decoded, and a plain one as it is', () => {
    const limit = 60;
    const json = (bytes: number) => `"${'1'.repeat(bytes - 2)}"`;
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    const read = (body: string, isBase64Encoded: boolean) =>
      parseJsonBody({ body, isBase64Encoded, required: true, maxBytes: limit });
    // 60 bytes are 80 base64 characters, within 1.4 × 60: read, decoded.
    expect(read(base64(json(60)), true)).toBe('1'.repeat(58));
    // 61 bytes are 84 characters, still within 1.4 × 60, but over the limit once decoded.
    const decoded = apiError(() => read(base64(json(61)), true));
    expect(decoded).toMatchObject({ status: 413, field: '(body)' });
    expect(decoded.message).toContain('larger than 60 bytes');
    // Plain text gets no base64 allowance.
    expect(apiError(() => read(json(61), false)).status).toBe(413);
  });

  it.each([
    ' application/json ',
    'application/json; charset=utf-8',
    'application/problem+json',
    'Application/JSON',
    '',
  ])('takes the Content-Type %j', (contentType) => {
    expect(parseJsonBody({ body: '{"a":1}', contentType, required: true })).toEqual({ a: 1 });
  });

  it.each(['text/plain', 'xapplication/json', 'application/jsonx', 'application/+json'])(
    'refuses the Content-Type %j with a 415 naming it',
    (contentType) => {
      const error = apiError(() => parseJsonBody({ body: '{}', contentType, required: true }));
      expect(error).toMatchObject({ status: 415, field: 'Content-Type', value: contentType });
      expect(error.message).toBe(
        `Content-Type ${JSON.stringify(contentType)}: expected application/json`,
      );
    },
  );

  it('shows at most 100 characters of a long Content-Type', () => {
    const contentType = `text/${'x'.repeat(200)}`;
    const error = apiError(() => parseJsonBody({ body: '{}', contentType, required: true }));
    expect(error.message).toBe(
      `Content-Type ${JSON.stringify(contentType.slice(0, 100))}: expected application/json`,
    );
    expect(error.value).toBe(contentType);
  });

  it('nesting: up to the limit passes, one level more is refused', () => {
    const nest = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    expect(parseJsonBody({ body: nest(MAX_BODY_DEPTH), required: true })).toBeDefined();
    const error = apiError(() => parseJsonBody({ body: nest(MAX_BODY_DEPTH + 1), required: true }));
    expect(error).toMatchObject({ status: 400, field: '(body)' });
  });

  it('nestsDeeperThan counts arrays and objects only, not text, numbers or null', () => {
    expect(nestsDeeperThan([[]], 1)).toBe(true);
    expect(nestsDeeperThan([[]], 2)).toBe(false);
    expect(nestsDeeperThan({ a: 'text', b: null, c: 1, d: true }, 1)).toBe(false);
    expect(nestsDeeperThan('text', 0)).toBe(false);
  });
});

describe('parseRequest', () => {
  it('names what is invalid, each field, and the fields accepted at the top', () => {
    const error = apiError(() =>
      parseRequest('cancel request', cancelRequestSchema, { reason: 5, bogus: 1 }),
    );
    expect(error.message).toMatch(/^cancel request is invalid \(2 problems\):/);
    expect(error.problems?.map((p) => p.field).sort()).toEqual(['bogus', 'reason']);
    const unknown = error.problems?.find((p) => p.field === 'bogus');
    expect(unknown?.message).toContain('reason, requestedBy');
  });
});

describe('idempotency keys', () => {
  it.each([
    { key: 'a', ok: true },
    { key: 'x'.repeat(255), ok: true },
    { key: '6f1c2b1e-0d7a-4c55-9a3e-2f0b8f5f9c11', ok: true },
    { key: '', ok: false },
    { key: 'x'.repeat(256), ok: false },
    { key: 'a b', ok: false },
    { key: ' ab', ok: false },
    { key: 'ab ', ok: false },
    { key: 'clé', ok: false },
  ])('the header $key: accepted $ok', ({ key, ok }) => {
    if (ok) {
      expect(parseIdempotencyKey(key)).toBe(key);
      return;
    }
    const error = apiError(() => parseIdempotencyKey(key));
    expect(error).toMatchObject({ status: 400, field: IDEMPOTENCY_KEY_HEADER, value: key });
    expect(error.message).toContain('expected 1 to 255 visible ASCII characters');
  });

  it('no header is no key', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  it('keys by the header first, then by the change ticket, else none', () => {
    const ticket = { system: 'ServiceNow', id: 'CHG1' };
    expect(rolloutIdempotencyKey('k1', ticket)).toBe('rollouts:key:k1');
    expect(rolloutIdempotencyKey(undefined, ticket)).toBe('rollouts:ticket:ServiceNow:CHG1');
    expect(rolloutIdempotencyKey(undefined, null)).toBeUndefined();
  });

  it('canonical JSON sorts keys at every depth and writes nothing as null', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 'x', c: null }] })).toBe(
      '{"a":[1,{"c":null,"d":"x"}],"b":1}',
    );
    expect(canonicalJson(undefined)).toBe('null');
  });
});

describe('path parameters', () => {
  it.each([
    { parse: parseRunId, id: 'r-1_A', what: 'rollout id' },
    { parse: parseTargetName, id: 'web.prod-1', what: 'target' },
    { parse: parseNodeName, id: 'NODE1', what: 'node' },
  ])('a $what reads $id as it is', ({ parse, id }) => {
    expect(parse(id)).toBe(id);
  });

  it.each([
    { parse: parseRunId, id: 'r 1', message: 'rollout id "r 1": expected 1 to 64 letters' },
    { parse: parseRunId, id: undefined, message: 'rollout id nothing: expected' },
    { parse: parseTargetName, id: '.web', message: 'target ".web": expected a cluster or group' },
    { parse: parseTargetName, id: undefined, message: 'target nothing: expected' },
    { parse: parseNodeName, id: 'A B', message: 'node "A B": ' },
    { parse: parseNodeName, id: undefined, message: 'node nothing' },
  ])('refuses $id with a 400 naming the id ($message)', ({ parse, id, message }) => {
    const error = apiError(() => parse(id));
    expect(error).toMatchObject({ status: 400, code: 'ValidationFailed', field: 'id' });
    expect(error.value).toBe(id);
    expect(error.message).toContain(message);
  });
});

describe('reportFormat: the Accept header (RFC 9110 §12.5.1)', () => {
  it.each([
    { accept: undefined, format: 'json', source: 'no header' },
    { accept: '   ', format: 'json', source: 'a blank header' },
    { accept: 'text/csv', format: 'csv', source: 'only CSV' },
    { accept: 'text/csv;q=0.5', format: 'csv', source: 'only CSV, at a lower quality' },
    { accept: 'text/*, text/csv;q=0', format: undefined, source: 'the exact range refuses CSV' },
    { accept: '*/*, text/csv', format: 'csv', source: 'CSV named exactly, JSON by */*' },
    { accept: 'text/*, application/json', format: 'json', source: 'JSON named exactly' },
    { accept: 'text/csv, application/json', format: 'csv', source: 'equal: the first named' },
    { accept: 'image/png', format: undefined, source: 'neither' },
  ])('$source ($accept): $format', ({ accept, format }) => {
    expect(reportFormat(accept)).toBe(format);
  });
});
