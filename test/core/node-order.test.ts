/**
 * The computed node order (issue 13, item 7): CAU updates the node hosting the fewest clustered
 * roles first when no NodeOrder is given (DOMAIN §5, "computed node order"); ties by name.
 */
import { describe, expect, it } from 'vitest';
import {
  COMPUTED_ORDER_RULE,
  computeNodeOrder,
  describeNodeOrder,
  roleCountsOf,
} from '../../lambdas/core/node-order.js';

const nodes = (...names: string[]) => names.map((name) => ({ name, instanceId: `i-${name}` }));
const inventory = (roleCounts: unknown) => ({
  cluster: { name: 'C1', nodeState: 'Up', roleCounts },
});

describe('computeNodeOrder', () => {
  it.each([
    {
      source: 'CAU: fewest clustered roles first',
      given: ['NODE1', 'NODE2', 'NODE3'],
      counts: { NODE1: 3, NODE2: 1, NODE3: 2 },
      expected: ['NODE2', 'NODE3', 'NODE1'],
    },
    {
      source: 'a node the counts do not name owns no role (Get-ClusterGroup lists owners only)',
      given: ['NODE1', 'NODE2', 'NODE3'],
      counts: { NODE1: 1, NODE3: 1 },
      expected: ['NODE2', 'NODE1', 'NODE3'],
    },
    {
      source: 'ours: ties by name, whatever the given order',
      given: ['NODE4', 'NODE2', 'NODE3', 'NODE1'],
      counts: { NODE1: 1, NODE2: 1, NODE3: 0, NODE4: 1 },
      expected: ['NODE3', 'NODE1', 'NODE2', 'NODE4'],
    },
    {
      source: 'NetBIOS names ignore case: the cluster spelling matches the target spelling',
      given: ['node1', 'NODE2'],
      counts: { NODE1: 0, node2: 4 },
      expected: ['node1', 'NODE2'],
    },
  ])('$source', ({ given, counts, expected }) => {
    // Arrange
    const read = roleCountsOf(inventory(counts));
    if (!(read instanceof Map)) throw new Error(read.problem);
    // Act
    const result = computeNodeOrder(nodes(...given), read, given[0] as string);
    // Assert
    expect(result.nodes.map((n) => n.name)).toEqual(expected);
    expect(result.nodes[0]).toHaveProperty('instanceId');
    expect(result.order).toMatchObject({ source: 'computed', rule: COMPUTED_ORDER_RULE });
  });

  it('states the order and the counts in the report line', () => {
    const read = roleCountsOf(inventory({ NODE1: 2 })) as Map<string, number>;
    const { order } = computeNodeOrder(nodes('NODE1', 'NODE2'), read, 'NODE1');
    expect(describeNodeOrder(order)).toBe(
      'order: computed, fewest roles first (NODE2 0, NODE1 2; ties by name; counts from NODE1)',
    );
    expect(
      describeNodeOrder({ source: 'given', reason: 'the inventory on NODE1 ended Failed' }),
    ).toBe('order: as given (not computed: the inventory on NODE1 ended Failed)');
  });
});

describe('computeNodeOrder: ties by name in every given order', () => {
  // Four nodes with one role each: the order is by name alone, whatever order they came in.
  const names = ['NODE3', 'node1', 'NODE4', 'Node2'];
  const permutations = (list: string[]): string[][] =>
    list.length <= 1
      ? [list]
      : list.flatMap((first, i) =>
          permutations([...list.slice(0, i), ...list.slice(i + 1)]).map((rest) => [first, ...rest]),
        );
  it.each(permutations(names).map((given) => [given.join(' ')]))('%s', (given) => {
    const counts = new Map(names.map((n) => [n.toUpperCase(), 1]));
    const { nodes: ordered } = computeNodeOrder(nodes(...given.split(' ')), counts, 'NODE3');
    expect(ordered.map((n) => n.name)).toEqual(['node1', 'Node2', 'NODE3', 'NODE4']);
  });

  it('records the rule by its words, as the run record and the report keep it', () => {
    const { order } = computeNodeOrder(nodes('NODE1'), new Map(), 'NODE1');
    expect(order).toEqual({
      source: 'computed',
      rule: 'fewest roles first, ties by name',
      counts: [{ node: 'NODE1', roles: 0 }],
      from: 'NODE1',
    });
  });
});

describe('roleCountsOf', () => {
  it.each([
    ['no cluster facts', {}, /no clustered role counts/],
    ['no inventory (null)', null, /no clustered role counts/],
    ['no inventory (undefined)', undefined, /no clustered role counts/],
    ['an inventory that is text', 'NODE1', /no clustered role counts/],
    ['role counts null', inventory(null), /no clustered role counts/],
    ['a standalone server', { cluster: null }, /no clustered role counts/],
    ['counts not an object', inventory([1, 2]), /no clustered role counts/],
    ['a count that is not a whole number', inventory({ NODE1: 1.5 }), /"NODE1" is 1\.5/],
    ['a negative count', inventory({ NODE1: -1 }), /"NODE1" is -1/],
  ])('%s: a problem, not an order', (_what, facts, problem) => {
    const read = roleCountsOf(facts);
    expect(read).not.toBeInstanceOf(Map);
    expect((read as { problem: string }).problem).toMatch(problem);
  });
});
