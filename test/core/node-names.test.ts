import { describe, expect, it } from 'vitest';
import {
  NETBIOS_MAX_LENGTH,
  nodeKey,
  nodeListProblems,
  nodeNameProblem,
  sameNode,
} from '../../lambdas/core/node-names.js';

const NOT_A_NAME = 'expected a computer name';
const TOO_LONG = `expected a NetBIOS name of at most ${NETBIOS_MAX_LENGTH} characters`;
const BAD_CHARACTER =
  'expected a NetBIOS name without spaces or \\ / : * ? " < > | , ~ ! @ # $ % ^ & \' ( ) { }';
const DOT_OR_DIGITS =
  'expected a NetBIOS name that does not start with a dot and is not all digits';

describe('nodeKey and sameNode', () => {
  it.each([
    { a: 'node1', b: 'NODE1', same: true, source: 'NetBIOS names ignore case' },
    { a: 'Sql-Prod-01', b: 'sql-prod-01', same: true, source: 'mixed case' },
    { a: 'NODE1', b: 'NODE2', same: false, source: 'different names' },
    { a: 'NODE1', b: 'NODE1.', same: false, source: 'no trimming: a trailing dot differs' },
  ])('$a vs $b → $same ($source)', ({ a, b, same }) => {
    expect(sameNode(a, b)).toBe(same);
  });

  it('stores names under their upper-case form', () => {
    expect(nodeKey('sql-prod-01')).toBe('SQL-PROD-01');
  });
});

describe('nodeNameProblem', () => {
  it.each([
    { name: 'NODE1', source: 'a plain name' },
    { name: 'sql-prod_01', source: 'hyphen and underscore are allowed' },
    { name: 'A', source: 'one character' },
    { name: 'ABCDEFGHIJKLMNO', source: 'exactly 15 characters (NetBIOS limit)' },
    { name: 'SRV01', source: 'ends in digits' },
    { name: '1SRV', source: 'starts with a digit but is not all digits' },
    { name: 'NODE.1', source: 'a dot inside the name' },
  ])('accepts $name ($source)', ({ name }) => {
    expect(nodeNameProblem(name)).toBeUndefined();
  });

  it.each([
    { name: '', message: NOT_A_NAME, source: 'empty' },
    { name: undefined, message: NOT_A_NAME, source: 'missing' },
    { name: 42, message: NOT_A_NAME, source: 'a number, not a string' },
    { name: 'ABCDEFGHIJKLMNOP', message: TOO_LONG, source: '16 characters' },
    { name: '.NODE', message: DOT_OR_DIGITS, source: 'starts with a dot' },
    { name: '12345', message: DOT_OR_DIGITS, source: 'all digits' },
    { name: '7', message: DOT_OR_DIGITS, source: 'one digit' },
  ])('rejects $name: $message ($source)', ({ name, message }) => {
    expect(nodeNameProblem(name)).toBe(message);
  });

  it.each([...'\\/:*?"<>|,~!@#$%^&\'(){}'.split(''), ' ', '\t'])(
    'rejects a name with %j (Windows does not allow it)',
    (ch) => {
      expect(nodeNameProblem(`NO${ch}DE`)).toBe(BAD_CHARACTER);
      expect(nodeNameProblem(`${ch}NODE`)).toBe(BAD_CHARACTER);
      expect(nodeNameProblem(`NODE${ch}`)).toBe(BAD_CHARACTER);
    },
  );
});

describe('nodeListProblems', () => {
  it('accepts distinct valid names', () => {
    expect(nodeListProblems(['NODE1', 'NODE2', 'node3'], 'nodes')).toEqual([]);
  });

  it('rejects an empty list, naming the field', () => {
    expect(nodeListProblems([], 'target.nodes')).toEqual([
      { field: 'target.nodes', message: 'expected at least one node' },
    ]);
  });

  it('names each invalid item with its index and value', () => {
    expect(nodeListProblems(['NODE1', 'BAD NAME', 7], 'nodes')).toEqual([
      { field: 'nodes[1]', value: 'BAD NAME', message: BAD_CHARACTER },
      { field: 'nodes[2]', value: 7, message: NOT_A_NAME },
    ]);
  });

  it('reports case-insensitive duplicates against the first spelling', () => {
    expect(nodeListProblems(['node1', 'NODE2', 'NODE1', 'Node1'], 'nodes')).toEqual([
      {
        field: 'nodes[2]',
        value: 'NODE1',
        message: 'is the same node as nodes[0] (names compare case-insensitively)',
      },
      {
        field: 'nodes[3]',
        value: 'Node1',
        message: 'is the same node as nodes[0] (names compare case-insensitively)',
      },
    ]);
  });

  it('does not count an invalid name as seen', () => {
    expect(nodeListProblems(['BAD NAME', 'BAD NAME'], 'nodes').map((p) => p.message)).toEqual([
      BAD_CHARACTER,
      BAD_CHARACTER,
    ]);
  });
});
