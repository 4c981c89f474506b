/**
 * api-model's request schemas and path reading as a client meets them: each refused field names
 * itself, its value and what would be accepted (issue 14: mutation testing found these messages,
 * the path splitting and the staging key untested).
 */
import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import {
  ApiError,
  cancelRequestSchema,
  decisionRequestSchema,
  forceRecoveryRequestSchema,
  listQuerySchema,
  MAX_REMOVAL_UPDATES,
  parseJsonBody,
  parseRequest,
  removalRequestSchema,
  reportFormat,
  splitPath,
  stagingIdempotencyKey,
  validationError,
} from '../../lambdas/core/api-model.js';
import { nodeNameProblem } from '../../lambdas/core/node-names.js';
import { apiError } from '../helpers/api-error.js';

/** The problems the 400 lists for `input`, as the error body shows them. */
function problemsOf(schema: z.ZodObject, input: unknown) {
  const error = apiError(() => parseRequest('the request', schema, input));
  expect(error).toMatchObject({ status: 400, code: 'ValidationFailed' });
  return error.toBody().error.problems ?? [];
}

const KB_ACCEPTED = 'expected "KB" followed by 4 to 8 digits, e.g. "KB890923"';
const INSTANCE_ACCEPTED = 'expected the SSM managed node id: i-… or mi-…';

describe('splitPath', () => {
  it.each([
    { path: '/rollouts/r-1', segments: ['rollouts', 'r-1'], source: 'a plain path' },
    { path: '/rollouts/r-1/', segments: ['rollouts', 'r-1'], source: 'a trailing slash' },
    { path: 'rollouts/r-1', segments: ['rollouts', 'r-1'], source: 'no leading slash' },
    {
      path: '/rollouts//report',
      segments: ['rollouts', '', 'report'],
      source: 'an empty segment inside (an id left out)',
    },
    { path: '/', segments: [], source: 'the root' },
    { path: '', segments: [], source: 'nothing' },
  ])('$source: $path', ({ path, segments }) => {
    expect(splitPath(path)).toEqual(segments);
  });
});

describe('ApiError: what it carries', () => {
  it('has no cause unless given one', () => {
    expect(Object.hasOwn(new ApiError('NotFound', 'no'), 'cause')).toBe(false);
    expect(new ApiError('NotFound', 'no', { cause: 'why' }).cause).toBe('why');
  });

  it('shows a value that cannot be written as JSON or text as such, and still answers', () => {
    // Arrange: circular, and without toString.
    const odd: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    odd.self = odd;
    // Act
    const body = new ApiError('ValidationFailed', 'bad', {
      value: odd,
      problems: [{ field: 'f', value: odd, message: 'bad' }],
    }).toBody();
    // Assert
    expect(body.error.value).toBe('(a value that cannot be shown)');
    expect(body.error.problems?.[0]?.value).toBe('(a value that cannot be shown)');
  });

  it('validationError names the first problem in its message when the list cannot be written', () => {
    const odd: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    odd.self = odd;
    const error = validationError('the request is invalid', [
      { field: 'target.name', value: odd, message: 'expected a name' },
      { field: 'limit', message: 'expected a number' },
    ]);
    expect(error.message).toBe('the request is invalid: target.name: expected a name');
    expect(error).toMatchObject({ status: 400, field: 'target.name' });
    expect(error.problems).toHaveLength(2);
  });
});

describe('parseJsonBody: a base64 body', () => {
  it('is measured as sent as well as decoded, so padding cannot carry it past the limit', () => {
    // "{}" in base64 followed by line breaks, which decoding drops: 400 bytes sent, 2 decoded.
    const body = `e30=${'\n'.repeat(396)}`;
    const read = (maxBytes: number) =>
      parseJsonBody({ body, isBase64Encoded: true, required: true, maxBytes });
    expect(read(400)).toEqual({});
    const error = apiError(() => read(100));
    expect(error).toMatchObject({ status: 413, code: 'PayloadTooLarge', field: '(body)' });
    expect(error.message).toContain('larger than 100 bytes');
  });
});

describe('approve, reject, cancel and force-recovery bodies', () => {
  it.each([
    {
      schema: decisionRequestSchema,
      input: { comment: '' },
      field: 'comment',
      message: 'expected a comment: text of 1 to 2000 characters',
    },
    {
      schema: decisionRequestSchema,
      input: { approvedBy: 'x'.repeat(257) },
      field: 'approvedBy',
      message: 'expected who decided: text of 1 to 256 characters',
    },
    {
      schema: decisionRequestSchema,
      input: ['approve'],
      field: '(root)',
      message: 'expected { comment?, approvedBy? }',
    },
    {
      schema: cancelRequestSchema,
      input: { reason: '' },
      field: 'reason',
      message: 'expected the reason: text of 1 to 2000 characters',
    },
    {
      schema: cancelRequestSchema,
      input: { requestedBy: 7 },
      field: 'requestedBy',
      message: 'expected who asks: text of 1 to 256 characters',
    },
    {
      schema: cancelRequestSchema,
      input: 'stop',
      field: '(root)',
      message: 'expected { reason?, requestedBy? }',
    },
    {
      schema: forceRecoveryRequestSchema,
      input: {},
      field: 'reason',
      message: 'missing; expected the reason: text of 1 to 2000 characters',
    },
    {
      schema: forceRecoveryRequestSchema,
      input: { reason: 'node rebuilt', requestedBy: '' },
      field: 'requestedBy',
      message: 'expected who asks: text of 1 to 256 characters',
    },
    {
      schema: forceRecoveryRequestSchema,
      input: null,
      field: '(root)',
      message: 'expected { reason, requestedBy? }',
    },
  ])('$input: $field, "$message"', ({ schema, input, field, message }) => {
    expect(problemsOf(schema, input)).toEqual([expect.objectContaining({ field, message })]);
  });
});

describe('removal request (POST /nodes/{id}/removals)', () => {
  const updates = ['KB890923'];

  it('reads a full request', () => {
    const request = {
      updates: ['KB890923', 'kb5034441'],
      includeDependents: true,
      force: false,
      requestedBy: 'ops',
      target: { kind: 'cluster', name: 'CLUSTER1' },
      instanceId: 'i-0123456789abcdef0',
    };
    expect(parseRequest('the removal request', removalRequestSchema, request)).toEqual(request);
  });

  it.each([
    { input: { updates: ['KB12'] }, field: 'updates[0]', value: 'KB12', message: KB_ACCEPTED },
    { input: { updates: [890923] }, field: 'updates[0]', value: 890923, message: KB_ACCEPTED },
    {
      input: { updates: 'KB890923' },
      field: 'updates',
      value: 'KB890923',
      message: 'expected a list of update ids, e.g. ["KB890923"]',
    },
    {
      input: { updates: [] },
      field: 'updates',
      value: '[]',
      message: 'expected at least one update id',
    },
    {
      input: { updates, includeDependents: 'yes' },
      field: 'includeDependents',
      value: 'yes',
      message: 'expected true or false',
    },
    { input: { updates, force: 1 }, field: 'force', value: 1, message: 'expected true or false' },
    {
      input: { updates, requestedBy: '' },
      field: 'requestedBy',
      value: '',
      message: 'expected who asks: text of 1 to 256 characters',
    },
    {
      input: { updates, target: { kind: 'node', name: 'NODE1' } },
      field: 'target.kind',
      value: 'node',
      message: 'expected cluster or group',
    },
    {
      input: { updates, target: { kind: 'cluster', name: '' } },
      field: 'target.name',
      value: '',
      message: 'expected the cluster or group name: text of 1 to 64 characters',
    },
    {
      input: { updates, target: 'CLUSTER1' },
      field: 'target',
      value: 'CLUSTER1',
      message: 'expected the target: { kind, name }',
    },
    {
      input: { updates, target: { kind: 'cluster', name: 'CLUSTER1', node: 'NODE1' } },
      field: 'target.node',
      value: 'NODE1',
      // Only the body's own fields are listed as accepted, not at a nested object.
      message: 'unknown field',
    },
    {
      input: { updates, instanceId: 5 },
      field: 'instanceId',
      value: 5,
      message: INSTANCE_ACCEPTED,
    },
    {
      input: { updates, instanceId: '' },
      field: 'instanceId',
      value: '',
      message: INSTANCE_ACCEPTED,
    },
    {
      input: { updates, instanceId: `i-${'0'.repeat(31)}` },
      field: 'instanceId',
      value: `i-${'0'.repeat(31)}`,
      message: INSTANCE_ACCEPTED,
    },
    {
      input: 7,
      field: '(root)',
      value: 7,
      message:
        'expected { updates, includeDependents?, force?, changeTicket?, requestedBy?, target?, instanceId? }',
    },
  ])('$input: $field, "$message"', ({ input, field, value, message }) => {
    expect(problemsOf(removalRequestSchema, input)).toEqual([{ field, value, message }]);
  });

  it(`takes at most ${MAX_REMOVAL_UPDATES} updates`, () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `KB${5_000_000 + i}`);
    expect(
      parseRequest('the removal request', removalRequestSchema, {
        updates: ids(MAX_REMOVAL_UPDATES),
      }).updates,
    ).toHaveLength(MAX_REMOVAL_UPDATES);
    expect(problemsOf(removalRequestSchema, { updates: ids(MAX_REMOVAL_UPDATES + 1) })).toEqual([
      expect.objectContaining({ field: 'updates', message: 'expected at most 100 update ids' }),
    ]);
  });
});

describe('the query of GET /rollouts', () => {
  const LIMIT = 'expected a whole number from 1 to 100';
  const CURSOR = 'expected the cursor of the previous page';

  it.each([
    { query: { cluster: 'CLUSTER1' }, read: { cluster: 'CLUSTER1' } },
    { query: { group: 'web-1', limit: '20' }, read: { group: 'web-1', limit: 20 } },
    { query: { group: 'web-1', limit: '100' }, read: { group: 'web-1', limit: 100 } },
    {
      query: { cluster: 'C1', cursor: 'x'.repeat(4096) },
      read: { cluster: 'C1', cursor: 'x'.repeat(4096) },
    },
  ])('reads $query', ({ query, read }) => {
    expect(parseRequest('the query', listQuerySchema, query)).toEqual(read);
  });

  it.each([
    {
      query: {},
      field: 'cluster',
      message:
        'missing; expected ?cluster=NAME (a failover cluster) or ?group=NAME (a group of servers)',
    },
    {
      query: { cluster: 'C1', group: 'web-1' },
      field: 'cluster',
      value: 'C1',
      message: 'expected cluster or group, not both',
    },
    {
      query: { cluster: 'NODE 1' },
      field: 'cluster',
      value: 'NODE 1',
      message: `cluster name: ${nodeNameProblem('NODE 1')}`,
    },
    {
      query: { group: '-web' },
      field: 'group',
      value: '-web',
      message: 'expected 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit',
    },
    { query: { group: 'g', limit: 'ten' }, field: 'limit', value: 'ten', message: LIMIT },
    { query: { group: 'g', limit: 'x5' }, field: 'limit', value: 'x5', message: LIMIT },
    { query: { group: 'g', limit: '5x' }, field: 'limit', value: '5x', message: LIMIT },
    { query: { group: 'g', limit: '0' }, field: 'limit', value: '0', message: LIMIT },
    { query: { group: 'g', limit: '101' }, field: 'limit', value: '101', message: LIMIT },
    { query: { group: 'g', cursor: '' }, field: 'cursor', value: '', message: CURSOR },
    {
      query: { group: 'g', cursor: 'x'.repeat(4097) },
      field: 'cursor',
      value: `${'x'.repeat(197)}...`,
      message: CURSOR,
    },
    {
      query: 'cluster=C1',
      field: '(root)',
      value: 'cluster=C1',
      message: 'expected query parameters cluster (or group), limit, cursor',
    },
  ])('$query: $field, "$message"', ({ query, field, message, ...value }) => {
    const problems = problemsOf(listQuerySchema, query);
    expect(problems).toHaveLength(1);
    const [problem] = problems;
    expect(problem?.field).toBe(field);
    expect(problem?.message).toBe(message);
    if ('value' in value) expect(problem?.value).toBe(value.value);
    else expect(problem).not.toHaveProperty('value');
  });
});

describe('reportFormat: the most specific range decides, then the first named', () => {
  it.each([
    {
      accept: '*/*;q=0.9, text/*;q=0.5, application/json;q=0.8',
      format: 'json',
      source: 'text/* (0.5) is more specific than */* (0.9) for CSV',
    },
    {
      accept: 'text/*;q=0.5, */*;q=0.9, application/json;q=0.8',
      format: 'json',
      source: 'the same, text/* named first',
    },
    { accept: 'text/csv;q=0, text/csv', format: undefined, source: 'CSV named twice: the first' },
    { accept: 'text/csv;q=0.5, application/json', format: 'json', source: 'JSON ranks higher' },
    { accept: 'application/json;q=0.5, text/csv', format: 'csv', source: 'CSV ranks higher' },
    { accept: 'application/json, text/csv', format: 'json', source: 'equal: JSON named first' },
    { accept: '*/*', format: 'json', source: 'anything: JSON by default' },
    { accept: 'text/*, */*', format: 'csv', source: 'CSV by text/*, JSON by */*' },
  ])('$source ($accept): $format', ({ accept, format }) => {
    expect(reportFormat(accept)).toBe(format);
  });
});

describe('stagingIdempotencyKey', () => {
  it('keys a staging by the header, then the ticket, apart from rollouts', () => {
    const ticket = { system: 'ServiceNow', id: 'CHG1' };
    expect(stagingIdempotencyKey('k1', ticket)).toBe('stagings:key:k1');
    expect(stagingIdempotencyKey(undefined, ticket)).toBe('stagings:ticket:ServiceNow:CHG1');
    expect(stagingIdempotencyKey(undefined, null)).toBeUndefined();
  });
});
