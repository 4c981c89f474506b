/**
 * maxFailedNodes as a percentage (issue 11 §2), as SSM's MaxErrors takes "10%": resolved against
 * the run's node count (after a tag, Resource Group or manifest target is resolved), rounded
 * down, never above one less than the node count (CAU's range).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RunPolicyError,
  type RunTarget,
  resolveFailedNodesPercent,
  resolveRunPolicy,
} from '../../lambdas/core/run-policy.js';

const group = (count: number): RunTarget => ({
  kind: 'group',
  nodes: Array.from({ length: count }, (_, i) => `NODE${i + 1}`),
});
const cluster = (count: number): RunTarget => ({ ...group(count), kind: 'cluster' });

const ACCEPTED =
  'expected a whole number of nodes, 0 or more, or a percentage of the nodes from 0% to 99% (e.g. "10%")';

describe('maxFailedNodes as a percentage of the run nodes', () => {
  it.each([
    { source: 'SSM MaxErrors: 10% of 50 allows 5 failures', nodes: 50, value: '10%', expected: 5 },
    { source: 'ours: rounded down (10% of 15 is 1.5)', nodes: 15, value: '10%', expected: 1 },
    { source: 'ours: rounded down to 0 (10% of 9)', nodes: 9, value: '10%', expected: 0 },
    { source: 'SSM MaxErrors: 0% stops at the first failure', nodes: 10, value: '0%', expected: 0 },
    { source: 'AWS Config: 40% of 10 allows 4', nodes: 10, value: '40%', expected: 4 },
    { source: 'ours: whitespace around', nodes: 200, value: ' 5 % ', expected: 10 },
    { source: 'CAU range: 99% of 2 is 1', nodes: 2, value: '99%', expected: 1 },
    { source: 'CAU range: 99% of 1,000 is 990', nodes: 1000, value: '99%', expected: 990 },
    { source: 'the model fleet: 1% of 2,000', nodes: 2000, value: '1%', expected: 20 },
  ])('$source ($value of $nodes -> $expected)', ({ nodes, value, expected }) => {
    const policy = resolveRunPolicy({ maxFailedNodes: value }, group(nodes));
    expect(policy.maxFailedNodes).toBe(expected);
    expect(policy.maxFailedNodesPercent).toBe(Number.parseInt(value, 10));
  });

  it('a cluster takes a percentage too (3 of 16 nodes for 20%)', () => {
    expect(resolveRunPolicy({ maxFailedNodes: '20%' }, cluster(16)).maxFailedNodes).toBe(3);
  });

  it('a count stays a count and records no percentage', () => {
    const policy = resolveRunPolicy({ maxFailedNodes: 2 }, group(10));
    expect(policy.maxFailedNodes).toBe(2);
    expect(policy).not.toHaveProperty('maxFailedNodesPercent');
  });

  it.each([
    { source: '100% would exceed nodes - 1', value: '100%' },
    { source: 'whole percentages only', value: '12.5%' },
    { source: 'no negative percentage', value: '-5%' },
    { source: 'a number in text is not a count', value: '3' },
    { source: 'junk after the percentage', value: '10%x' },
    { source: 'a lone sign', value: '%' },
  ])('$source: $value refused, naming the field and the value', ({ value }) => {
    let error: unknown;
    try {
      resolveRunPolicy({ maxFailedNodes: value }, group(10));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RunPolicyError);
    expect((error as RunPolicyError).problems).toEqual([
      { field: 'maxFailedNodes', value, message: ACCEPTED },
    ]);
  });

  it('the budget invariant holds for every percentage and node count: 0 <= budget <= nodes - 1, and budget <= nodes * p / 100', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 1, max: 100_000 }), (p, n) => {
        const budget = resolveFailedNodesPercent(p, n);
        expect(Number.isInteger(budget)).toBe(true);
        expect(budget).toBeGreaterThanOrEqual(0);
        expect(budget).toBeLessThanOrEqual(n - 1);
        expect(budget * 100).toBeLessThanOrEqual(n * p);
        // Rounded down, not further: one more would exceed the percentage.
        expect((budget + 1) * 100).toBeGreaterThan(Math.min(n * p, (n - 1) * 100));
      }),
    );
  });
});
