import { describe, expect, it } from 'vitest';
import {
  KEYS,
  keys,
  LEDGER_SORT_PREFIX,
  nodeResultPrefix,
} from '../../lambdas/core/run-store-model.js';

// The key strings are the stored data's layout: a deployed table holds items under them, so a
// change here orphans every item already written. Each row spells the key in full.
describe('run store keys', () => {
  it('names the table attributes a deployed table already has', () => {
    // Renaming a key attribute replaces the table; the TTL attribute is the items' expiresAt.
    expect(KEYS).toEqual({
      partition: 'pk',
      sort: 'sk',
      gsi1Name: 'gsi1',
      gsi1Partition: 'gsi1pk',
      gsi1Sort: 'gsi1sk',
      ttl: 'expiresAt',
    });
  });

  it.each([
    { name: 'run', key: keys.run('r-1'), expected: { pk: 'RUN#r-1', sk: 'RUN' } },
    {
      name: 'nodeResult (node name upper-cased)',
      key: keys.nodeResult('r-1', 'sql-01'),
      expected: { pk: 'RUN#r-1', sk: 'NODE#SQL-01' },
    },
    {
      name: 'updateResult, hotfix plug-in',
      key: keys.updateResult('r-1', 'node1', 2, 'Microsoft.HotfixPlugin', 7),
      expected: { pk: 'RUN#r-1', sk: 'NODE#NODE1#ATTEMPT#02#HOTFIX#UPDATE#0007' },
    },
    {
      name: 'updateResult, Windows Update plug-in',
      key: keys.updateResult('r-1', 'NODE1', 1, 'Microsoft.WindowsUpdatePlugin', 0),
      expected: { pk: 'RUN#r-1', sk: 'NODE#NODE1#ATTEMPT#01#WU#UPDATE#0000' },
    },
    {
      name: 'updateResult, removal',
      key: keys.updateResult('r-1', 'NODE1', 1, 'Rollout.Removal', 12),
      expected: { pk: 'RUN#r-1', sk: 'NODE#NODE1#ATTEMPT#01#REMOVAL#UPDATE#0012' },
    },
    {
      name: 'updateResult, a plug-in without a short name keeps its own',
      key: keys.updateResult('r-1', 'NODE1', 10, 'Contoso.Plugin', 1234),
      expected: { pk: 'RUN#r-1', sk: 'NODE#NODE1#ATTEMPT#10#Contoso.Plugin#UPDATE#1234' },
    },
    {
      name: 'ledgerEntry (8-digit sequence)',
      key: keys.ledgerEntry('node1', 42),
      expected: { pk: 'LEDGER#NODE1', sk: 'SEQ#00000042' },
    },
    {
      name: 'lock (target upper-cased)',
      key: keys.lock('cluster-a'),
      expected: { pk: 'LOCK#CLUSTER-A', sk: 'LOCK' },
    },
    {
      name: 'taskToken',
      key: keys.taskToken('cmd-1', 'i-0abc'),
      expected: { pk: 'TASK#cmd-1#i-0abc', sk: 'TOKEN' },
    },
    {
      name: 'idempotency',
      key: keys.idempotency('req-9'),
      expected: { pk: 'IDEMPOTENCY#req-9', sk: 'REQUEST' },
    },
    { name: 'approval', key: keys.approval('r-1'), expected: { pk: 'RUN#r-1', sk: 'APPROVAL' } },
    {
      name: 'runByTarget (target upper-cased)',
      key: keys.runByTarget('web-servers', '2026-12-04T10:00:00.000Z', 'r-1'),
      expected: { gsi1pk: 'TARGET#WEB-SERVERS', gsi1sk: '2026-12-04T10:00:00.000Z#r-1' },
    },
    {
      name: 'nodeHistory (node upper-cased)',
      key: keys.nodeHistory('node1', '2026-12-04T10:00:00.000Z', 'r-1'),
      expected: { gsi1pk: 'NODE#NODE1', gsi1sk: '2026-12-04T10:00:00.000Z#r-1' },
    },
  ])('$name', ({ key, expected }) => {
    expect(key).toEqual(expected);
  });

  it('builds keys with the attribute names of the table', () => {
    expect(Object.keys(keys.run('r'))).toEqual([KEYS.partition, KEYS.sort]);
    expect(Object.keys(keys.runByTarget('t', 's', 'r'))).toEqual([
      KEYS.gsi1Partition,
      KEYS.gsi1Sort,
    ]);
  });

  it('finds a node under any spelling of its name', () => {
    expect(keys.nodeResult('r', 'Node1')).toEqual(keys.nodeResult('r', 'NODE1'));
    expect(keys.ledgerEntry('node1', 1)).toEqual(keys.ledgerEntry('NODE1', 1));
    expect(keys.lock('Cluster')).toEqual(keys.lock('CLUSTER'));
  });

  it('sorts ledger entries and update results in sequence order as strings', () => {
    const ledger = [3, 10, 200, 1].map((n) => keys.ledgerEntry('N', n).sk);
    expect([...ledger].sort()).toEqual([1, 3, 10, 200].map((n) => keys.ledgerEntry('N', n).sk));
    const updates = [9, 10, 100].map(
      (i) => keys.updateResult('r', 'N', 1, 'Rollout.Removal', i).sk,
    );
    expect([...updates].sort()).toEqual(updates);
  });

  it('gives begins_with prefixes that match the keys', () => {
    expect(nodeResultPrefix('node1')).toBe('NODE#NODE1');
    expect(
      keys
        .updateResult('r', 'node1', 1, 'Rollout.Removal', 1)
        .sk.startsWith(nodeResultPrefix('Node1')),
    ).toBe(true);
    expect(LEDGER_SORT_PREFIX).toBe('SEQ#');
    expect(keys.ledgerEntry('N', 5).sk.startsWith(LEDGER_SORT_PREFIX)).toBe(true);
  });
});
