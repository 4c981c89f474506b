import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { formatProblems, RolloutRuleError } from '../../lambdas/core/errors.js';
import {
  parseDurationMinutes,
  RunPolicyError,
  type RunPolicyInput,
  type RunTarget,
  resolveRunPolicy,
  runPolicyInputSchema,
} from '../../lambdas/core/run-policy.js';

const cluster = (count: number): RunTarget => ({
  kind: 'cluster',
  nodes: Array.from({ length: count }, (_, i) => `NODE${i + 1}`),
});
const group = (count: number): RunTarget => ({ ...cluster(count), kind: 'group' });
const FOUR = cluster(4);

/** Runs `fn` and returns the RunPolicyError it throws; fails the test if it does not. */
function policyError(fn: () => unknown): RunPolicyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RunPolicyError);
    return error as RunPolicyError;
  }
  throw new Error('expected a RunPolicyError, nothing was thrown');
}

describe('resolveRunPolicy: defaults', () => {
  const defaults = resolveRunPolicy({}, FOUR);

  it.each([
    {
      source: 'CAU options: MaxFailedNodes about a third (4 nodes -> 1)',
      field: 'maxFailedNodes',
      expected: 1,
    },
    {
      source: 'CAU Invoke-CauRun: MaxRetriesPerNode default 3',
      field: 'maxRetriesPerNode',
      expected: 3,
    },
    {
      source: 'brief: default node order is target.nodes as given',
      field: 'nodeOrder',
      expected: ['NODE1', 'NODE2', 'NODE3', 'NODE4'],
    },
    {
      source: 'CAU Invoke-CauRun: RequireAllNodesOnline is a switch, off by default',
      field: 'requireAllNodesOnline',
      expected: false,
    },
    {
      source: 'CAU options: PreUpdateScript default none',
      field: 'preUpdateScript',
      expected: undefined,
    },
    {
      source: 'CAU options: PostUpdateScript default none',
      field: 'postUpdateScript',
      expected: undefined,
    },
    {
      source: 'CAU options: RebootTimeoutMinutes default 15',
      field: 'rebootTimeoutMinutes',
      expected: 15,
    },
    {
      source: 'CAU options: WarnAfter default, no warning',
      field: 'warnAfterMinutes',
      expected: undefined,
    },
    {
      source: 'CAU options: StopAfter default, unlimited time',
      field: 'stopAfterMinutes',
      expected: undefined,
    },
    {
      source: 'CAU Invoke-CauRun: FailbackMode default Immediate',
      field: 'failbackMode',
      expected: 'Immediate',
    },
    {
      source: 'CAU Invoke-CauRun: RunPluginsSerially off (plug-ins scan in parallel)',
      field: 'runPluginsSerially',
      expected: false,
    },
    {
      source: 'CAU Invoke-CauRun: StopOnPluginFailure off',
      field: 'stopOnPluginFailure',
      expected: false,
    },
    {
      source: 'CAU Invoke-CauRun: SeparateReboots off (one restart after all plug-ins)',
      field: 'separateReboots',
      expected: false,
    },
    { source: 'brief: maxConcurrency default 1', field: 'maxConcurrency', expected: 1 },
  ])('$source', ({ field, expected }) => {
    expect(defaults[field as keyof typeof defaults]).toEqual(expected);
  });

  it('gives no keys for absent optional values, and the same policy for undefined input (brief)', () => {
    expect(Object.keys(defaults).sort()).toEqual(
      [
        'failbackMode',
        'maxConcurrency',
        'maxFailedNodes',
        'maxRetriesPerNode',
        'nodeOrder',
        'rebootTimeoutMinutes',
        'requireAllNodesOnline',
        'runPluginsSerially',
        'separateReboots',
        'stopOnPluginFailure',
        'suspendClusterNodeTimeoutMinutes',
      ].sort(),
    );
    expect(resolveRunPolicy(undefined, FOUR)).toEqual(defaults);
    expect(defaults.suspendClusterNodeTimeoutMinutes).toBe(30);
    // No storage repair wait unless asked (the field is absent, not 0).
    expect(defaults).not.toHaveProperty('waitForStorageRepairTimeoutMinutes');
    expect(
      resolveRunPolicy({ waitForStorageRepairTimeoutMinutes: 45 }, FOUR)
        .waitForStorageRepairTimeoutMinutes,
    ).toBe(45);
    // The failback wait: absent unless given (preflight applies its default).
    expect(defaults).not.toHaveProperty('failbackTimeoutMinutes');
    expect(resolveRunPolicy({ failbackTimeoutMinutes: 20 }, FOUR).failbackTimeoutMinutes).toBe(20);
  });

  it.each([
    { source: 'CAU: MaxFailedNodes range ends at nodes - 1 (1 node)', nodes: 1, expected: 0 },
    { source: 'CAU: about a third, rounded down (2 nodes)', nodes: 2, expected: 0 },
    { source: 'CAU: about a third (3 nodes)', nodes: 3, expected: 1 },
    { source: 'CAU: about a third, rounded down (5 nodes)', nodes: 5, expected: 1 },
    { source: 'CAU: about a third (6 nodes)', nodes: 6, expected: 2 },
    { source: 'CAU: about a third, rounded down (16 nodes)', nodes: 16, expected: 5 },
  ])('$source', ({ nodes, expected }) => {
    expect(resolveRunPolicy({}, cluster(nodes)).maxFailedNodes).toBe(expected);
    expect(resolveRunPolicy({}, group(nodes)).maxFailedNodes).toBe(expected);
  });
});

describe('resolveRunPolicy: accepted values', () => {
  it.each([
    {
      source:
        'CAU Invoke-CauRun example 1: -MaxFailedNodes 1 -MaxRetriesPerNode 3 -RequireAllNodesOnline',
      input: { maxFailedNodes: 1, maxRetriesPerNode: 3, requireAllNodesOnline: true },
      expected: { maxFailedNodes: 1, maxRetriesPerNode: 3, requireAllNodesOnline: true },
    },
    {
      source: 'CAU: MaxFailedNodes 0 (stop at the first failure)',
      input: { maxFailedNodes: 0 },
      expected: { maxFailedNodes: 0 },
    },
    {
      source: 'CAU: MaxFailedNodes up to nodes - 1',
      input: { maxFailedNodes: 3 },
      expected: { maxFailedNodes: 3 },
    },
    {
      source: 'brief: MaxRetriesPerNode counts attempts, 1 = one try',
      input: { maxRetriesPerNode: 1 },
      expected: { maxRetriesPerNode: 1 },
    },
    {
      source: 'CAU Invoke-CauRun: MaxRetriesPerNode maximum 64',
      input: { maxRetriesPerNode: 64 },
      expected: { maxRetriesPerNode: 64 },
    },
    {
      source: 'CAU options: PreUpdateScript is a .ps1 path',
      input: { preUpdateScript: 'C:\\ClusterStorage\\Volume1\\pre.ps1' },
      expected: { preUpdateScript: 'C:\\ClusterStorage\\Volume1\\pre.ps1' },
    },
    {
      source: 'CAU Set-CauClusterRole example: PostUpdateScript G:\\verifyupdatesinstalled.ps1',
      input: { postUpdateScript: 'G:\\verifyupdatesinstalled.ps1' },
      expected: { postUpdateScript: 'G:\\verifyupdatesinstalled.ps1' },
    },
    {
      source: 'CAU: .ps1 extension in any case, UNC path',
      input: { preUpdateScript: '\\\\srv\\share\\Pre.PS1' },
      expected: { preUpdateScript: '\\\\srv\\share\\Pre.PS1' },
    },
    {
      source: 'CAU options: script path up to 260 characters',
      input: { preUpdateScript: `C:\\${'a'.repeat(253)}.ps1` },
      expected: { preUpdateScript: `C:\\${'a'.repeat(253)}.ps1` },
    },
    {
      source: 'CAU Set-CauClusterRole example: RebootTimeoutMinutes 10',
      input: { rebootTimeoutMinutes: 10 },
      expected: { rebootTimeoutMinutes: 10 },
    },
    {
      source: 'brief: rebootTimeoutMinutes bounds 1 and 1440',
      input: { rebootTimeoutMinutes: 1 },
      expected: { rebootTimeoutMinutes: 1 },
    },
    {
      source: 'brief: rebootTimeoutMinutes bounds 1 and 1440',
      input: { rebootTimeoutMinutes: 1440 },
      expected: { rebootTimeoutMinutes: 1440 },
    },
    {
      source: 'CAU Invoke-CauRun: StopAfter 01:30:00 is 90 minutes; WarnAfter in minutes',
      input: { warnAfter: 60, stopAfter: '01:30:00' },
      expected: { warnAfterMinutes: 60, stopAfterMinutes: 90 },
    },
    {
      source: 'brief: ISO 8601 durations',
      input: { warnAfter: 'PT2H30M', stopAfter: 'P1DT2H' },
      expected: { warnAfterMinutes: 150, stopAfterMinutes: 1560 },
    },
    {
      source: 'brief: TimeSpan d.hh:mm:ss',
      input: { stopAfter: '1.02:00:00' },
      expected: { stopAfterMinutes: 1560 },
    },
    {
      source: 'brief: warnAfter alone',
      input: { warnAfter: 'PT45M' },
      expected: { warnAfterMinutes: 45 },
    },
    ...(['NoFailback', 'Immediate', 'Policy'] as const).map((mode) => ({
      source: `CAU Invoke-CauRun: FailbackMode ${mode}`,
      input: { failbackMode: mode },
      expected: { failbackMode: mode },
    })),
    {
      source:
        'CAU Invoke-CauRun: RunPluginsSerially, StopOnPluginFailure, SeparateReboots together',
      input: { runPluginsSerially: true, stopOnPluginFailure: true, separateReboots: true },
      expected: { runPluginsSerially: true, stopOnPluginFailure: true, separateReboots: true },
    },
    {
      source:
        'CAU Invoke-CauRun example 2: -StopOnPluginFailure -SeparateReboots without -RunPluginsSerially',
      input: { stopOnPluginFailure: true, separateReboots: true },
      expected: { runPluginsSerially: false, stopOnPluginFailure: true, separateReboots: true },
    },
    {
      source: 'brief: a cluster accepts maxConcurrency 1',
      input: { maxConcurrency: 1 },
      expected: { maxConcurrency: 1 },
    },
    {
      source: 'brief: a cluster accepts maxConcurrency "1"',
      input: { maxConcurrency: '1' },
      expected: { maxConcurrency: 1 },
    },
  ])('$source', ({ input, expected }) => {
    expect(resolveRunPolicy(input, FOUR)).toMatchObject(expected);
  });

  it.each([
    {
      source: 'brief: listed nodes first, the rest in target order',
      nodeOrder: ['NODE3', 'NODE1'],
      expected: ['NODE3', 'NODE1', 'NODE2', 'NODE4'],
    },
    {
      source: 'brief: NetBIOS names compare case-insensitively; the target spelling is kept',
      nodeOrder: ['node4', 'Node2'],
      expected: ['NODE4', 'NODE2', 'NODE1', 'NODE3'],
    },
    {
      source: 'CAU Invoke-CauRun: NodeOrder naming every node',
      nodeOrder: ['NODE4', 'NODE3', 'NODE2', 'NODE1'],
      expected: ['NODE4', 'NODE3', 'NODE2', 'NODE1'],
    },
    {
      source: 'brief: an empty nodeOrder keeps the default order',
      nodeOrder: [],
      expected: ['NODE1', 'NODE2', 'NODE3', 'NODE4'],
    },
  ])('$source', ({ nodeOrder, expected }) => {
    expect(resolveRunPolicy({ nodeOrder }, FOUR).nodeOrder).toEqual(expected);
  });

  it.each([
    { source: 'SSM MaxConcurrency: a count', nodes: 10, value: 3, expected: 3 },
    { source: 'SSM MaxConcurrency: a count as text', nodes: 10, value: '3', expected: 3 },
    {
      source: 'brief: a count above the node count means all nodes',
      nodes: 4,
      value: 50,
      expected: 4,
    },
    { source: 'SSM MaxConcurrency: a percentage', nodes: 20, value: '10%', expected: 2 },
    { source: 'brief: a percentage rounds down', nodes: 15, value: '10%', expected: 1 },
    { source: 'brief: a percentage never gives fewer than 1', nodes: 4, value: '10%', expected: 1 },
    { source: 'SSM MaxConcurrency: 100%', nodes: 7, value: '100%', expected: 7 },
    { source: 'brief: whitespace around a percentage', nodes: 10, value: ' 50 % ', expected: 5 },
    { source: 'issue 14: 1% is the smallest percentage', nodes: 300, value: '1%', expected: 3 },
    { source: 'issue 14: a count of 1 as text', nodes: 10, value: '1', expected: 1 },
    { source: 'issue 14: a count of 1', nodes: 10, value: 1, expected: 1 },
    { source: 'issue 14: a count equal to the node count', nodes: 6, value: 6, expected: 6 },
  ])('$source ($value of $nodes nodes -> $expected)', ({ nodes, value, expected }) => {
    expect(resolveRunPolicy({ maxConcurrency: value }, group(nodes)).maxConcurrency).toBe(expected);
  });
});

describe('resolveRunPolicy: each rejected value is one problem naming the field, the value and what is accepted', () => {
  it.each([
    {
      source: 'CAU: MaxFailedNodes is a whole number',
      input: { maxFailedNodes: 1.5 },
      field: 'maxFailedNodes',
      message:
        'expected a whole number of nodes, 0 or more, or a percentage of the nodes from 0% to 99% (e.g. "10%")',
    },
    {
      source: 'CAU: MaxFailedNodes is not negative',
      input: { maxFailedNodes: -1 },
      field: 'maxFailedNodes',
      message:
        'expected a whole number of nodes, 0 or more, or a percentage of the nodes from 0% to 99% (e.g. "10%")',
    },
    {
      source: 'CAU: MaxFailedNodes is a number',
      input: { maxFailedNodes: '1' },
      field: 'maxFailedNodes',
      message:
        'expected a whole number of nodes, 0 or more, or a percentage of the nodes from 0% to 99% (e.g. "10%")',
    },
    {
      source: 'CAU: MaxFailedNodes range ends at nodes - 1',
      input: { maxFailedNodes: 4 },
      field: 'maxFailedNodes',
      message: 'expected a whole number from 0 to 3 (one less than the 4 nodes of the run)',
    },
    {
      source: 'brief: MaxRetriesPerNode counts attempts, 0 refused',
      input: { maxRetriesPerNode: 0 },
      field: 'maxRetriesPerNode',
      message: 'expected a whole number of attempts from 1 to 64',
    },
    {
      source: 'CAU Invoke-CauRun: MaxRetriesPerNode maximum 64',
      input: { maxRetriesPerNode: 65 },
      field: 'maxRetriesPerNode',
      message: 'expected a whole number of attempts from 1 to 64',
    },
    {
      source: 'brief: nodeOrder is a list',
      input: { nodeOrder: 'NODE1' },
      field: 'nodeOrder',
      message: 'expected a list of node names',
    },
    {
      source: 'brief: nodeOrder holds names',
      input: { nodeOrder: ['NODE1', 2] },
      field: 'nodeOrder[1]',
      message: 'expected a node name',
    },
    {
      source: 'brief: nodeOrder names nodes of the run',
      input: { nodeOrder: ['NODE1', 'NODE2', 'NODE9'] },
      field: 'nodeOrder[2]',
      message: 'not a node of this run; its nodes are NODE1, NODE2, NODE3, NODE4',
    },
    {
      source: 'brief: nodeOrder has no duplicates, compared case-insensitively',
      input: { nodeOrder: ['NODE1', 'node1'] },
      field: 'nodeOrder[1]',
      message: 'same node as nodeOrder[0] ("NODE1"); node names compare case-insensitively',
    },
    {
      source: 'CAU: RequireAllNodesOnline is a switch',
      input: { requireAllNodesOnline: 'yes' },
      field: 'requireAllNodesOnline',
      message: 'expected true or false',
    },
    {
      source: 'CAU options: PreUpdateScript extension must be .ps1',
      input: { preUpdateScript: 'C:\\pre.cmd' },
      field: 'preUpdateScript',
      message: 'expected the path of a PowerShell script ending in .ps1, at most 260 characters',
    },
    {
      source: 'CAU options: PostUpdateScript extension must be .ps1',
      input: { postUpdateScript: 'C:\\post.ps1.txt' },
      field: 'postUpdateScript',
      message: 'expected the path of a PowerShell script ending in .ps1, at most 260 characters',
    },
    {
      source: 'CAU options: a script needs a file name before .ps1',
      input: { preUpdateScript: 'C:\\.ps1' },
      field: 'preUpdateScript',
      message: 'expected the path of a PowerShell script ending in .ps1, at most 260 characters',
    },
    {
      source: 'CAU options: script path at most 260 characters',
      input: { preUpdateScript: `C:\\${'a'.repeat(254)}.ps1` },
      field: 'preUpdateScript',
      message: 'expected the path of a PowerShell script ending in .ps1, at most 260 characters',
    },
    {
      source: 'brief: rebootTimeoutMinutes at least 1',
      input: { rebootTimeoutMinutes: 0 },
      field: 'rebootTimeoutMinutes',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'brief: rebootTimeoutMinutes at most 1440',
      input: { rebootTimeoutMinutes: 1441 },
      field: 'rebootTimeoutMinutes',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'brief: warnAfter less than stopAfter',
      input: { warnAfter: 'PT2H', stopAfter: 120 },
      field: 'warnAfter',
      message: 'must be less than stopAfter; warnAfter is 120 minutes, stopAfter 120',
    },
    {
      source: 'brief: warnAfter duration',
      input: { warnAfter: 'soon' },
      field: 'warnAfter',
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00)',
    },
    {
      source: 'brief: stopAfter duration type',
      input: { stopAfter: true },
      field: 'stopAfter',
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00)',
    },
    {
      source: 'CAU Invoke-CauRun: FailbackMode accepted values',
      input: { failbackMode: 'Later' },
      field: 'failbackMode',
      message: 'expected one of NoFailback, Immediate, Policy',
    },
    {
      source: 'CAU Invoke-CauRun: FailbackMode spelling as documented',
      input: { failbackMode: 'immediate' },
      field: 'failbackMode',
      message: 'expected one of NoFailback, Immediate, Policy',
    },
    {
      source: 'CAU: RunPluginsSerially is a switch',
      input: { runPluginsSerially: 1 },
      field: 'runPluginsSerially',
      message: 'expected true or false',
    },
    {
      source: 'CAU: StopOnPluginFailure is a switch',
      input: { stopOnPluginFailure: 'true' },
      field: 'stopOnPluginFailure',
      message: 'expected true or false',
    },
    {
      source: 'CAU: SeparateReboots is a switch',
      input: { separateReboots: null },
      field: 'separateReboots',
      message: 'expected true or false',
    },
    {
      source: 'brief: CAU updates one cluster node at a time',
      input: { maxConcurrency: 2 },
      field: 'maxConcurrency',
      message: 'CAU updates one cluster node at a time: expected 1, or leave it out',
    },
    {
      source: 'brief: a percentage is not 1 for a cluster either',
      input: { maxConcurrency: '100%' },
      field: 'maxConcurrency',
      message: 'CAU updates one cluster node at a time: expected 1, or leave it out',
    },
    {
      source: 'brief: strict schema, unknown keys are errors naming the key',
      input: { MaxFailedNodes: 1 },
      field: 'MaxFailedNodes',
      message:
        'unknown field; accepted fields: maxFailedNodes, maxRetriesPerNode, nodeOrder, requireAllNodesOnline, preUpdateScript, postUpdateScript, rebootTimeoutMinutes, waitForStorageRepairTimeoutMinutes, failbackTimeoutMinutes, warnAfter, stopAfter, failbackMode, suspendClusterNodeTimeoutMinutes, runPluginsSerially, stopOnPluginFailure, separateReboots, maxConcurrency',
    },
    {
      source: 'issue 13 item 6: the failback check waits 1 to 1440 minutes',
      input: { failbackTimeoutMinutes: 0 },
      field: 'failbackTimeoutMinutes',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'issue 13 item 6: SuspendClusterNodeTimeoutMinutes, 1 to 1440',
      input: { suspendClusterNodeTimeoutMinutes: 1441 },
      field: 'suspendClusterNodeTimeoutMinutes',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'issue 13 item 6: WaitForStorageRepairTimeoutMinutes, 1 to 1440',
      input: { waitForStorageRepairTimeoutMinutes: 0 },
      field: 'waitForStorageRepairTimeoutMinutes',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
  ])('$source', ({ input, field, message }) => {
    const error = policyError(() => resolveRunPolicy(input, FOUR));
    const [, name = '', index] = /^([^[]+)(?:\[(\d+)\])?$/.exec(field) ?? [];
    const given = (input as Record<string, unknown>)[name];
    const value = index === undefined ? given : (given as unknown[])[Number(index)];
    expect(error.problems).toEqual([{ field, value, message }]);
  });

  it.each([
    { source: 'SSM MaxConcurrency: a count is at least 1', value: 0 },
    { source: 'SSM MaxConcurrency: a whole count', value: 1.5 },
    { source: 'SSM MaxConcurrency: 0% is refused', value: '0%' },
    { source: 'SSM MaxConcurrency: at most 100%', value: '101%' },
    { source: 'SSM MaxConcurrency: whole percentages', value: '12.5%' },
    { source: 'SSM MaxConcurrency: a number or a percentage', value: 'all' },
    { source: 'issue 14: junk before a count', value: 'x5' },
    { source: 'issue 14: junk after a count', value: '5x' },
    { source: 'issue 14: junk after a percentage', value: '50%x' },
    { source: 'issue 14: junk before a percentage', value: 'x50%' },
    { source: 'issue 14: a count of 0 as text', value: '0' },
    { source: 'issue 14: a whole count past 2^53', value: 2 ** 53 },
    { source: 'SSM MaxConcurrency: a number or a percentage', value: false },
  ])('$source ($value, group)', ({ value }) => {
    const error = policyError(() => resolveRunPolicy({ maxConcurrency: value }, group(10)));
    expect(error.problems).toEqual([
      {
        field: 'maxConcurrency',
        value,
        message:
          'expected a whole number of nodes, 1 or more, or a percentage of the nodes from 1% to 100% (e.g. "10%")',
      },
    ]);
  });

  it('refuses input that is not an object (brief)', () => {
    for (const input of [null, 'maxFailedNodes=1', 3, []]) {
      expect(policyError(() => resolveRunPolicy(input, FOUR)).problems).toEqual([
        { field: '(run policy)', value: input, message: 'expected an object of run parameters' },
      ]);
    }
  });
});

describe('resolveRunPolicy: one error lists every problem', () => {
  it('three bad fields give three problems (brief)', () => {
    const error = policyError(() =>
      resolveRunPolicy({ maxRetriesPerNode: 0, failbackMode: 'Sometimes', extra: true }, FOUR),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      'maxRetriesPerNode',
      'failbackMode',
      'extra',
    ]);
  });

  it('lists schema, cross-field, node and target problems together, in field order (brief)', () => {
    const error = policyError(() =>
      resolveRunPolicy(
        {
          maxFailedNodes: 9,
          maxRetriesPerNode: 100,
          nodeOrder: ['NODE9', 'NODE1', 'node1'],
          preUpdateScript: 'pre.bat',
          warnAfter: '03:00',
          stopAfter: 'PT1H',
          maxConcurrency: 3,
          unknownA: 1,
        },
        { kind: 'cluster', nodes: ['NODE1', 'NODE2', 'NODE3', 'NODE4', 'bad:name'] },
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      'target.nodes[4]',
      'maxRetriesPerNode',
      'nodeOrder[2]',
      'preUpdateScript',
      'warnAfter',
      'maxConcurrency',
      'unknownA',
    ]);
  });

  it('checks nodes once the target is valid, and still reports every field problem', () => {
    const error = policyError(() =>
      resolveRunPolicy(
        { maxFailedNodes: 9, nodeOrder: ['NODE9', 'NODE1', 'node1'], rebootTimeoutMinutes: 0 },
        FOUR,
      ),
    );
    expect(error.problems.map((p) => `${p.field}: ${p.message}`)).toEqual([
      'maxFailedNodes: expected a whole number from 0 to 3 (one less than the 4 nodes of the run)',
      'nodeOrder[0]: not a node of this run; its nodes are NODE1, NODE2, NODE3, NODE4',
      'nodeOrder[2]: same node as nodeOrder[1] ("NODE1"); node names compare case-insensitively',
      'rebootTimeoutMinutes: expected a whole number of minutes from 1 to 1440',
    ]);
  });

  it('has the house message and error base (errors.ts conventions)', () => {
    const error = policyError(() => resolveRunPolicy({ rebootTimeoutMinutes: 0, x: 1 }, FOUR));
    expect(error).toBeInstanceOf(RolloutRuleError);
    expect(error.name).toBe('RunPolicyError');
    expect(error.message).toBe(formatProblems('run policy is invalid', error.problems));
    expect(error.message).toMatch(
      /^run policy is invalid \(2 problems\):\n {2}- rebootTimeoutMinutes \(0\): expected a whole number of minutes from 1 to 1440\n {2}- x \(1\): unknown field;/,
    );
  });
});

describe('resolveRunPolicy: the target', () => {
  it.each([
    {
      source: 'brief: target.kind is cluster or group',
      target: { kind: 'fleet', nodes: ['A'] },
      problems: [
        { field: 'target.kind', value: 'fleet', message: 'expected "cluster" or "group"' },
      ],
    },
    {
      source: 'brief: target.nodes is non-empty',
      target: { kind: 'group', nodes: [] },
      problems: [
        { field: 'target.nodes', value: [], message: 'expected a non-empty list of node names' },
      ],
    },
    {
      source: 'issue 14: a null target is a RunPolicyError, not a TypeError',
      target: null,
      problems: [
        {
          field: 'target',
          value: null,
          message: 'expected { kind: "cluster" | "group", nodes: [...] }',
        },
      ],
    },
    {
      source: 'brief: target is an object',
      target: undefined,
      problems: [
        { field: 'target', message: 'expected { kind: "cluster" | "group", nodes: [...] }' },
      ],
    },
    {
      source: 'seed 003 / NetBIOS: at most 15 characters',
      target: { kind: 'cluster', nodes: ['A', 'B123456789012345'] },
      problems: [
        {
          field: 'target.nodes[1]',
          value: 'B123456789012345',
          message: 'expected a NetBIOS name of at most 15 characters',
        },
      ],
    },
    {
      source: 'NetBIOS: not empty',
      target: { kind: 'cluster', nodes: [''] },
      problems: [
        {
          field: 'target.nodes[0]',
          value: '',
          message: 'expected a computer name',
        },
      ],
    },
    ...['a\\b', 'a/b', 'a:b', 'a*b', 'a?b', 'a"b', 'a<b', 'a>b', 'a|b'].map((name) => ({
      source: `NetBIOS: no ${name.charAt(1)}`,
      target: { kind: 'group', nodes: [name] },
      problems: [
        {
          field: 'target.nodes[0]',
          value: name,
          message:
            'expected a NetBIOS name without spaces or \\ / : * ? " < > | , ~ ! @ # $ % ^ & \' ( ) { }',
        },
      ],
    })),
    {
      source: 'brief: no case-insensitive duplicates',
      target: { kind: 'cluster', nodes: ['Node1', 'NODE1'] },
      problems: [
        {
          field: 'target.nodes[1]',
          value: 'NODE1',
          message: 'is the same node as target.nodes[0] (names compare case-insensitively)',
        },
      ],
    },
  ])('$source', ({ target, problems }) => {
    expect(policyError(() => resolveRunPolicy({}, target as RunTarget)).problems).toEqual(problems);
  });

  it('accepts a 15-character NetBIOS name (NetBIOS limit)', () => {
    expect(resolveRunPolicy({}, { kind: 'group', nodes: ['ABCDEFGHIJKLMNO'] }).nodeOrder).toEqual([
      'ABCDEFGHIJKLMNO',
    ]);
  });
});

describe('parseDurationMinutes', () => {
  it.each([
    { source: 'brief: minutes as a number', value: 90, expected: 90 },
    { source: 'brief: ISO 8601 PT2H30M', value: 'PT2H30M', expected: 150 },
    { source: 'ISO 8601: minutes only', value: 'PT90M', expected: 90 },
    { source: 'ISO 8601: days and hours', value: 'P1DT2H', expected: 1560 },
    { source: 'ISO 8601: weeks', value: 'P1W', expected: 10080 },
    { source: 'ISO 8601: seconds that make whole minutes', value: 'PT120S', expected: 2 },
    { source: 'ISO 8601: lower-case designators', value: 'pt1h', expected: 60 },
    { source: 'CAU Invoke-CauRun: 01:30:00 is one hour thirty', value: '01:30:00', expected: 90 },
    { source: '.NET TimeSpan hh:mm', value: '02:15', expected: 135 },
    { source: 'brief: .NET TimeSpan d.hh:mm:ss', value: '2.00:30:00', expected: 2910 },
    { source: '.NET TimeSpan with zero fraction', value: '00:05:00.0000000', expected: 5 },
    { source: 'brief: surrounding whitespace', value: ' PT5M ', expected: 5 },
    { source: 'issue 14: .NET TimeSpan: 23 is the last hour', value: '23:00', expected: 1380 },
    { source: 'issue 14: .NET TimeSpan: 59 is the last minute', value: '00:59', expected: 59 },
    { source: 'issue 14: exactly one minute (number)', value: 1, expected: 1 },
    { source: 'issue 14: exactly one minute (ISO)', value: 'PT1M', expected: 1 },
    { source: 'issue 14: exactly one minute (TimeSpan)', value: '00:01', expected: 1 },
    { source: 'issue 14: ISO 8601 days only', value: 'P10D', expected: 14400 },
    { source: 'issue 14: ISO 8601 every designator', value: 'P1W2DT3H4M60S', expected: 13145 },
    { source: 'issue 14: .NET TimeSpan days of two digits', value: '10.02:00:00', expected: 14520 },
  ])('$source: $value -> $expected', ({ value, expected }) => {
    expect(parseDurationMinutes(value, 'stopAfter')).toBe(expected);
  });

  it.each([
    {
      source: 'brief: whole minutes only (number)',
      value: 1.5,
      message: 'expected a whole number of minutes, 1 or more',
    },
    {
      source: 'brief: at least one minute (number)',
      value: 0,
      message: 'expected a whole number of minutes, 1 or more',
    },
    {
      source: 'brief: not negative',
      value: -5,
      message: 'expected a whole number of minutes, 1 or more',
    },
    {
      source: 'brief: whole minutes only (ISO seconds)',
      value: 'PT90S',
      message: 'not a whole number of minutes',
    },
    {
      source: 'brief: whole minutes only (TimeSpan seconds)',
      value: '00:01:30',
      message: 'not a whole number of minutes',
    },
    {
      source: 'brief: whole minutes only (TimeSpan fraction)',
      value: '00:01:00.5',
      message: 'not a whole number of minutes',
    },
    {
      source: 'brief: at least one minute (ISO)',
      value: 'PT0M',
      message: 'expected at least 1 minute',
    },
    {
      source: 'brief: at least one minute (TimeSpan)',
      value: '00:00:00',
      message: 'expected at least 1 minute',
    },
    {
      source: '.NET TimeSpan: hours go to 23',
      value: '24:00:00',
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00); hours go to 23, minutes and seconds to 59',
    },
    {
      source: 'issue 14: .NET TimeSpan: 59 seconds is in range, but not whole minutes',
      value: '00:01:59',
      message: 'not a whole number of minutes',
    },
    {
      source: 'issue 14: .NET TimeSpan: seconds go to 59',
      value: '00:01:60',
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00); hours go to 23, minutes and seconds to 59',
    },
    {
      source: '.NET TimeSpan: minutes go to 59',
      value: '00:60',
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00); hours go to 23, minutes and seconds to 59',
    },
    {
      source: '.NET: "90" in a string is 90 days to TimeSpan.Parse',
      value: '90',
      message:
        'a number in a string is ambiguous (a .NET TimeSpan reads "90" as 90 days): give minutes as a number (90) or as PT90M',
    },
    {
      source: 'ISO 8601: months have no fixed length',
      value: 'P1M',
      message: 'years and months have no fixed length: use weeks, days, hours, minutes (P1DT2H)',
    },
    {
      source: 'ISO 8601: years have no fixed length',
      value: 'P1Y',
      message: 'years and months have no fixed length: use weeks, days, hours, minutes (P1DT2H)',
    },
    ...['P', 'PT', 'P1DT', 'PT1.5H', '1h30m', '-01:00:00', ''].map((value) => ({
      source: 'brief: accepted forms only',
      value,
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00)',
    })),
    {
      source: 'brief: numbers or text only',
      value: null,
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00)',
    },
    {
      source: 'guard: too long to count in minutes',
      value: `PT${'9'.repeat(20)}H`,
      message:
        'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00); this is too long',
    },
  ])('$source: $value', ({ value, message }) => {
    const error = policyError(() => parseDurationMinutes(value, 'warnAfter'));
    expect(error.problems).toEqual([{ field: 'warnAfter', value, message }]);
  });
});

describe('runPolicyInputSchema', () => {
  it('is the input type of RunPolicyInput (one schema, one interface)', () => {
    expectTypeOf<RunPolicyInput>().toExtend<z.input<typeof runPolicyInputSchema>>();
    expectTypeOf<z.input<typeof runPolicyInputSchema>>().toExtend<RunPolicyInput>();
  });

  it('parses on its own: durations to minutes, maxConcurrency to a count or a percentage (brief)', () => {
    expect(
      runPolicyInputSchema.parse({
        warnAfter: 'PT1H',
        stopAfter: '02:00:00',
        maxConcurrency: '25%',
      }),
    ).toEqual({ warnAfter: 60, stopAfter: 120, maxConcurrency: { percent: 25 } });
    expect(runPolicyInputSchema.safeParse({ maxConcurrency: 2 }).data).toEqual({
      maxConcurrency: { nodes: 2 },
    });
    expect(runPolicyInputSchema.safeParse({ bogus: 1 }).success).toBe(false);
  });
});

describe('properties', () => {
  it('resolveRunPolicy throws nothing but RunPolicyError on any input (brief)', () => {
    const fieldValues = fc.record(
      {
        maxFailedNodes: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.double(), fc.string()),
        maxRetriesPerNode: fc.oneof(fc.integer({ min: -1, max: 70 }), fc.anything()),
        nodeOrder: fc.oneof(
          fc.array(fc.constantFrom('NODE1', 'node2', 'NODE9', '')),
          fc.anything(),
        ),
        warnAfter: fc.oneof(
          fc.constantFrom('PT1H', '01:00', '90', 'P1M'),
          fc.integer(),
          fc.anything(),
        ),
        stopAfter: fc.oneof(fc.constantFrom('PT2H', '1.00:00:00'), fc.integer(), fc.string()),
        maxConcurrency: fc.oneof(fc.constantFrom('10%', '1', '0%'), fc.integer(), fc.anything()),
        failbackMode: fc.oneof(fc.constantFrom('Policy', 'x'), fc.anything()),
      },
      { requiredKeys: [] },
    );
    const inputs = fc.oneof(fieldValues, fc.anything(), fc.object());
    const targets = fc.oneof(
      fc.constantFrom(cluster(3), group(5)),
      fc.record({ kind: fc.constantFrom('cluster', 'group', 'x'), nodes: fc.array(fc.string()) }),
    );
    let resolved = 0;
    let rejected = 0;
    fc.assert(
      fc.property(inputs, targets, (input, target) => {
        try {
          resolveRunPolicy(input, target as RunTarget);
          resolved++;
        } catch (error) {
          if (!(error instanceof RunPolicyError)) throw error;
          expect(error.problems.length).toBeGreaterThan(0);
          rejected++;
        }
      }),
      { numRuns: 1000 },
    );
    expect(resolved).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });

  it('a resolved node order is always a permutation of the target nodes', () => {
    const target = group(6);
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...target.nodes)), (order) => {
        const resolved = resolveRunPolicy({ nodeOrder: order.map((n) => n.toLowerCase()) }, target);
        expect([...resolved.nodeOrder].sort()).toEqual([...target.nodes].sort());
        expect(resolved.nodeOrder.slice(0, order.length)).toEqual(order);
      }),
    );
  });
});

describe('issue 14: node lists in messages', () => {
  it('names at most 10 nodes of a large run, and counts the rest', () => {
    const error = policyError(() => resolveRunPolicy({ nodeOrder: ['OTHER'] }, group(12)));
    expect(error.problems).toEqual([
      {
        field: 'nodeOrder[0]',
        value: 'OTHER',
        message:
          'not a node of this run; its nodes are NODE1, NODE2, NODE3, NODE4, NODE5, NODE6, NODE7, NODE8, NODE9, NODE10 and 2 more',
      },
    ]);
  });

  it('names all 10 nodes of a 10-node run', () => {
    const error = policyError(() => resolveRunPolicy({ nodeOrder: ['OTHER'] }, group(10)));
    expect(error.problems[0]?.message).toBe(
      'not a node of this run; its nodes are NODE1, NODE2, NODE3, NODE4, NODE5, NODE6, NODE7, NODE8, NODE9, NODE10',
    );
  });

  it('maxFailedNodes may be one less than the node count, not equal to it', () => {
    expect(resolveRunPolicy({ maxFailedNodes: 3 }, FOUR).maxFailedNodes).toBe(3);
    expect(policyError(() => resolveRunPolicy({ maxFailedNodes: 4 }, FOUR)).problems).toEqual([
      {
        field: 'maxFailedNodes',
        value: 4,
        message: 'expected a whole number from 0 to 3 (one less than the 4 nodes of the run)',
      },
    ]);
  });
});

describe('issue 14: survivors of mutation testing, stated as behaviour', () => {
  const DURATION =
    'expected a duration of whole minutes: minutes as a number (90), ISO 8601 (PT1H30M) or a TimeSpan (01:30:00, 1.02:00:00)';

  it.each([
    { value: 'P10W', expected: 100800, source: 'ISO 8601: weeks of two digits' },
    { value: 'P1W', expected: 10080, source: 'ISO 8601: weeks' },
  ])('$source: $value -> $expected', ({ value, expected }) => {
    expect(parseDurationMinutes(value, 'stopAfter')).toBe(expected);
  });

  it.each([
    { value: 'xPT5M', message: DURATION },
    { value: '01:30:00x', message: DURATION },
    { value: 'xP1M', message: DURATION },
    {
      value: 'P12M',
      message: 'years and months have no fixed length: use weeks, days, hours, minutes (P1DT2H)',
    },
  ])('refuses $value: $message', ({ value, message }) => {
    expect(policyError(() => parseDurationMinutes(value, 'stopAfter')).problems).toEqual([
      { field: 'stopAfter', value, message },
    ]);
  });

  it('a duration problem found by resolveRunPolicy has the same message as parseDurationMinutes', () => {
    expect(policyError(() => resolveRunPolicy({ stopAfter: 'PT90S' }, FOUR)).problems).toEqual([
      { field: 'stopAfter', value: 'PT90S', message: 'not a whole number of minutes' },
    ]);
  });

  it('a warnAfter not less than stopAfter names both', () => {
    expect(
      policyError(() => resolveRunPolicy({ warnAfter: 60, stopAfter: 'PT1H' }, FOUR)).problems,
    ).toEqual([
      {
        field: 'warnAfter',
        value: 60,
        message: 'must be less than stopAfter; warnAfter is 60 minutes, stopAfter 60',
      },
    ]);
  });

  it('a script path that is not a string gets the script message', () => {
    expect(policyError(() => resolveRunPolicy({ preUpdateScript: 5 }, FOUR)).problems).toEqual([
      {
        field: 'preUpdateScript',
        value: 5,
        message: 'expected the path of a PowerShell script ending in .ps1, at most 260 characters',
      },
    ]);
  });

  it('a count of two digits as text', () => {
    expect(resolveRunPolicy({ maxConcurrency: '12' }, group(20)).maxConcurrency).toBe(12);
  });

  it('nodeOrder: a bad entry does not hide a duplicate, and a duplicate is not also "not a node"', () => {
    const error = policyError(() => resolveRunPolicy({ nodeOrder: ['X', 5, 'x'] }, FOUR));
    expect(error.problems.map((p) => [p.field, p.message])).toEqual([
      ['nodeOrder[0]', 'not a node of this run; its nodes are NODE1, NODE2, NODE3, NODE4'],
      ['nodeOrder[1]', 'expected a node name'],
      ['nodeOrder[2]', 'same node as nodeOrder[0] ("X"); node names compare case-insensitively'],
    ]);
  });

  it('problems come in schema field order, unknown fields last, items by number, ties as found', () => {
    const error = policyError(() =>
      resolveRunPolicy({ zzz: 1, maxRetriesPerNode: 0, maxFailedNodes: -1 }, {
        kind: 'x',
        nodes: [],
      } as never),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      'target.kind',
      'target.nodes',
      'maxFailedNodes',
      'maxRetriesPerNode',
      'zzz',
    ]);
    const order = policyError(() =>
      resolveRunPolicy(
        {
          nodeOrder: [
            'NODE1',
            'NODE2',
            'X2',
            'NODE3',
            'NODE4',
            'NODE5',
            'NODE6',
            'NODE7',
            'NODE8',
            'NODE9',
            'X10',
          ],
        },
        group(12),
      ),
    );
    expect(order.problems.map((p) => p.field)).toEqual(['nodeOrder[2]', 'nodeOrder[10]']);
  });
});

describe('issue 14: the warnAfter check runs even when another field failed', () => {
  it('one error lists a bad field and warnAfter not less than stopAfter', () => {
    const error = policyError(() =>
      resolveRunPolicy({ maxRetriesPerNode: 0, warnAfter: 60, stopAfter: 30 }, FOUR),
    );
    expect(error.problems.map((p) => p.field)).toEqual(['maxRetriesPerNode', 'warnAfter']);
  });
});
