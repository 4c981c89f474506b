import { describe, expect, it } from 'vitest';
import { formatProblems, RolloutRuleError, showValue } from '../../lambdas/core/errors.js';

describe('showValue: the value as an error message shows it', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  it.each([
    { value: undefined, shown: 'nothing', source: 'a missing field' },
    { value: 'NODE 1', shown: '"NODE 1"', source: 'strings are quoted' },
    { value: 'say "hi"', shown: '"say \\"hi\\""', source: 'quotes inside are escaped' },
    { value: 42, shown: '42', source: 'numbers as JSON' },
    { value: null, shown: 'null', source: 'null as JSON' },
    { value: { a: [1, 'x'] }, shown: '{"a":[1,"x"]}', source: 'objects as JSON' },
    { value: () => 1, shown: '() => 1', source: 'no JSON form: String()' },
    { value: 10n, shown: '10', source: 'JSON.stringify throws on a BigInt: String()' },
    { value: circular, shown: '[object Object]', source: 'a circular object: String()' },
    { value: 'x'.repeat(118), shown: `"${'x'.repeat(118)}"`, source: '120 characters are kept' },
    {
      value: 'x'.repeat(119),
      shown: `"${'x'.repeat(116)}...`,
      source: 'over 120 characters: the first 117 and ...',
    },
  ])('$source', ({ value, shown }) => {
    expect(showValue(value)).toBe(shown);
  });
});

describe('formatProblems', () => {
  it('writes one problem a line, with the value when there is one', () => {
    expect(
      formatProblems('rollout input is invalid', [
        { field: 'runId', value: 'a b', message: 'expected letters' },
        { field: 'target', message: 'missing' },
      ]),
    ).toBe(
      'rollout input is invalid (2 problems):\n  - runId ("a b"): expected letters\n  - target: missing',
    );
  });

  it('says "problem" for one', () => {
    expect(
      formatProblems('cannot plan', [{ field: 'nodes', message: 'expected at least one node' }]),
    ).toBe('cannot plan (1 problem):\n  - nodes: expected at least one node');
  });

  it('shows a null value (null is a value, not a missing field)', () => {
    expect(formatProblems('x', [{ field: 'a', value: null, message: 'm' }])).toBe(
      'x (1 problem):\n  - a (null): m',
    );
  });
});

describe('RolloutRuleError', () => {
  class ExampleError extends RolloutRuleError {}

  it('is named after the class raised, keeps the message and the cause', () => {
    const cause = new Error('inner');
    const error = new ExampleError('outer', { cause });
    expect(error).toBeInstanceOf(RolloutRuleError);
    expect(error.name).toBe('ExampleError');
    expect(error.message).toBe('outer');
    expect(error.cause).toBe(cause);
  });
});
