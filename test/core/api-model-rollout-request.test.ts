/**
 * api-model's rollout request (POST /rollouts, /scans and /stagings), its text and whole-number
 * fields and the approval gate schema, as a client meets them (issue 14: mutation testing found
 * them tested only by their happy path).
 */
import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import {
  cancelRequestSchema,
  decisionRequestSchema,
  forceRecoveryRequestSchema,
  parseRequest,
  parseRolloutRequest,
} from '../../lambdas/core/api-model.js';
import { parseRolloutInput } from '../../lambdas/core/rollout-input.js';
import { apiError } from '../helpers/api-error.js';

const NOW = new Date('2025-05-13T22:00:00.000Z');

const cluster = (nodes = 3) => ({
  kind: 'cluster',
  name: 'CLUSTER1',
  nodes: Array.from({ length: nodes }, (_, i) => ({
    name: `NODE${i + 1}`,
    instanceId: `i-0123456789abcdef${i}`,
  })),
});

describe('parseRolloutRequest: what is not a rollout input', () => {
  it('no body at all is a 400 naming the body, and says what to send', () => {
    // Act
    const error = apiError(() => parseRolloutRequest(undefined, NOW));
    // Assert
    expect(error.status).toBe(400);
    expect(error.code).toBe('ValidationFailed');
    expect(error.field).toBe('(body)');
    expect(error.message).toMatch(/^the request needs a JSON body: the rollout input \{ target/);
  });

  it.each([
    { case: 'a JSON null body', body: null, field: '(root)', value: null },
    { case: 'a target of null', body: { target: null }, field: 'target', value: null },
    { case: 'a target that is a list', body: { target: [] }, field: 'target', value: [] },
  ])('$case → 400 naming $field', ({ body, field, value }) => {
    // Act
    const error = apiError(() => parseRolloutRequest(body, NOW));
    // Assert
    expect(error.code).toBe('ValidationFailed');
    expect(error.message).toMatch(/^rollout request is invalid/);
    expect(error.problems).toContainEqual(expect.objectContaining({ field, value }));
  });

  it('refuses a target.resolution the client set, with the rollout input problems', () => {
    // Arrange: resolution is the workflow's to set (issue 11), and a second problem elsewhere.
    const resolution = { selectedBy: 'client' };
    const body = { target: { ...cluster(2), resolution }, colour: 'blue' };
    // Act
    const error = apiError(() => parseRolloutRequest(body, NOW));
    // Assert
    expect(error.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'colour', value: 'blue' }),
        {
          field: 'target.resolution',
          value: resolution,
          message: 'set by the workflow when it resolves target.select; leave it out',
        },
      ]),
    );
  });

  it('an invalid clock is the caller’s bug, thrown as it is, not a 400', () => {
    expect(() => parseRolloutRequest({ target: cluster(2) }, new Date(Number.NaN))).toThrow(
      RangeError,
    );
  });
});

describe('parseRolloutRequest: a valid request', () => {
  it('makes the run id from the random source it is given', () => {
    // Arrange
    const random = () => 0.999;
    // Act
    const first = parseRolloutRequest({ target: cluster(2) }, NOW, { random });
    const second = parseRolloutRequest({ target: cluster(2) }, NOW, { random });
    // Assert: 0.999 picks the last base36 digit every time.
    expect(first.rollout.runId).toBe('20250513T220000-zzzzzz');
    expect(second.input.runId).toBe(first.rollout.runId);
  });

  it('resolves the approval gate as the rollout input does, timeout in seconds included', () => {
    // Arrange
    const body = { target: cluster(3), approvalGate: { afterNodes: 2 } };
    // Act
    const request = parseRolloutRequest(body, NOW, { random: () => 0 });
    // Assert: the rollout input gives the default timeout; the execution input is the body.
    expect(request.approvalGate).toEqual({
      afterNodes: 2,
      timeoutMinutes: 1440,
      timeoutSeconds: 86_400,
    });
    expect(request.approvalGate).toEqual(
      parseRolloutInput(body, NOW, { random: () => 0 }).approvalGate,
    );
    expect(request.input).toEqual({ ...body, runId: '20250513T220000-000000' });
  });

  it('no gate is null', () => {
    expect(parseRolloutRequest({ target: cluster(2) }, NOW).approvalGate).toBeNull();
  });
});

describe('text fields of the small request bodies', () => {
  it.each([
    {
      source: 'decision comment, empty',
      schema: decisionRequestSchema,
      body: { comment: '' },
      field: 'comment',
      message: 'expected a comment: text of 1 to 2000 characters',
    },
    {
      source: 'decision comment, 2001 characters',
      schema: decisionRequestSchema,
      body: { comment: 'x'.repeat(2001) },
      field: 'comment',
      message: 'expected a comment: text of 1 to 2000 characters',
    },
    {
      source: 'decision approvedBy, a number',
      schema: decisionRequestSchema,
      body: { approvedBy: 42 },
      field: 'approvedBy',
      message: 'expected who decided: text of 1 to 256 characters',
    },
    {
      source: 'cancel requestedBy, 257 characters',
      schema: cancelRequestSchema,
      body: { requestedBy: 'x'.repeat(257) },
      field: 'requestedBy',
      message: 'expected who asks: text of 1 to 256 characters',
    },
    {
      source: 'force-recovery reason, missing',
      schema: forceRecoveryRequestSchema,
      body: {},
      field: 'reason',
      message: 'missing; expected the reason: text of 1 to 2000 characters',
    },
  ])('$source → $field: $message', ({ schema, body, field, message }) => {
    // Act
    const error = apiError(() => parseRequest('request', schema as z.ZodObject, body));
    // Assert
    expect(error.problems).toHaveLength(1);
    expect(error.problems?.[0]).toMatchObject({ field, message });
  });

  it.each([
    ['1 character', 'x'],
    ['2000 characters', 'x'.repeat(2000)],
  ])('a comment of %s is accepted', (_, comment) => {
    expect(parseRequest('decision', decisionRequestSchema, { comment })).toEqual({ comment });
  });
});
