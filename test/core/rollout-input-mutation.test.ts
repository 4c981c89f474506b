/**
 * The messages and paths of parseRolloutInput that a caller meets, pinned row by row (issue 14,
 * mutation testing): each row names the field, the value as written and the exact message.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  fieldPath,
  issueProblems,
  parseEvent,
  parseHotfixRootUri,
  parseRolloutInput,
  type RolloutInput,
  RolloutInputError,
  resolvedPluginSchema,
  rolloutNodeRefSchema,
} from '../../lambdas/core/rollout-input.js';

const NOW = new Date('2026-01-13T03:00:30.000Z');
const node = (name: string, instanceId: string) => ({ name, instanceId });
const BASE: RolloutInput = {
  target: {
    kind: 'cluster',
    name: 'CLUSTER1',
    nodes: [
      node('NODE1', 'i-0123456789abcdef0'),
      node('NODE2', 'i-01234567'),
      node('NODE3', 'mi-0123456789abcdef1'),
    ],
  },
};
const NODE1 = { name: 'NODE1', instanceId: 'i-0123456789abcdef0' };
const WU = 'Microsoft.WindowsUpdatePlugin';

function problemsOf(input: unknown, now = NOW) {
  try {
    parseRolloutInput(input, now);
  } catch (error) {
    expect(error).toBeInstanceOf(RolloutInputError);
    return (error as RolloutInputError).problems;
  }
  throw new Error('expected a RolloutInputError, nothing was thrown');
}

const INSTANCE_ID =
  'expected an EC2 instance id ("i-" and 8 or 17 lowercase hex digits) or a hybrid managed node id ("mi-" and 17 lowercase hex digits)';
const REMOVAL_ITEM =
  'expected a KB id, or { updateId, method: "wusa" } or { updateId, method: "dism", packageName } as the install ledger records it';
const GATE_AFTER = 'expected a whole number of pilot nodes, 1 or more';
const GATE_TIMEOUT = 'expected whole minutes from 1 to 10080 (a week)';
const REMOVAL_TIMEOUT = 'expected whole minutes from 1 to 1440';

describe('parseRolloutInput: the message of each bad field', () => {
  it.each([
    {
      source: 'instance id pattern',
      input: { target: { ...BASE.target, nodes: [{ ...NODE1, instanceId: 'i-XYZ' }] } },
      problem: { field: 'target.nodes[0].instanceId', value: 'i-XYZ', message: INSTANCE_ID },
    },
    {
      source: 'instance id not text',
      input: { target: { ...BASE.target, nodes: [{ ...NODE1, instanceId: 5 }] } },
      problem: { field: 'target.nodes[0].instanceId', value: 5, message: INSTANCE_ID },
    },
    {
      source: 'run id',
      input: { ...BASE, runId: 'a b' },
      problem: {
        field: 'runId',
        value: 'a b',
        message: 'expected 1 to 64 letters, digits, "-" or "_"',
      },
    },
    {
      source: 'group name',
      input: { target: { kind: 'group', name: '-web', nodes: [NODE1] } },
      problem: {
        field: 'target.name',
        value: '-web',
        message:
          'expected 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit',
      },
    },
    {
      source: 'node name not text',
      input: { target: { ...BASE.target, nodes: [{ ...NODE1, name: 5 }] } },
      problem: {
        field: 'target.nodes[0].name',
        value: 5,
        message: 'expected the node name: a NetBIOS computer name',
      },
    },
    {
      source: 'node name empty',
      input: { target: { ...BASE.target, nodes: [{ ...NODE1, name: '' }] } },
      problem: {
        field: 'target.nodes[0].name',
        value: '',
        message: 'expected the node name: a NetBIOS computer name',
      },
    },
    {
      source: 'node name of 16 characters',
      input: { target: { ...BASE.target, nodes: [{ ...NODE1, name: 'ABCDEFGHIJKLMNOP' }] } },
      problem: {
        field: 'target.nodes[0].name',
        value: 'ABCDEFGHIJKLMNOP',
        message: 'expected a NetBIOS name of at most 15 characters',
      },
    },
    {
      source: 'node name with a space',
      input: { target: { ...BASE.target, nodes: [{ ...NODE1, name: 'A B' }] } },
      problem: {
        field: 'target.nodes[0].name',
        value: 'A B',
        message:
          'expected a NetBIOS name without spaces or \\ / : * ? " < > | , ~ ! @ # $ % ^ & \' ( ) { }',
      },
    },
    {
      source: 'cluster name empty',
      input: { target: { ...BASE.target, name: '' } },
      problem: {
        field: 'target.name',
        value: '',
        message: 'expected the cluster name: a NetBIOS computer name',
      },
    },
    {
      source: 'a node that is a name only',
      input: { target: { ...BASE.target, nodes: ['NODE1'] } },
      problem: {
        field: 'target.nodes[0]',
        value: 'NODE1',
        message: 'expected a node: { name, instanceId }',
      },
    },
    {
      source: 'nodes not a list',
      input: { target: { ...BASE.target, nodes: 'NODE1' } },
      problem: {
        field: 'target.nodes',
        value: 'NODE1',
        message: 'expected a list of nodes: [{ name, instanceId }, ...]',
      },
    },
    {
      source: 'no nodes',
      input: { target: { ...BASE.target, nodes: [] } },
      problem: { field: 'target.nodes', value: [], message: 'expected at least one node' },
    },
    {
      source: 'unknown kind',
      input: { target: { ...BASE.target, kind: 'fleet' } },
      problem: { field: 'target.kind', value: 'fleet', message: 'expected "cluster" or "group"' },
    },
    {
      source: 'target not an object',
      input: { target: 'CLUSTER1' },
      problem: {
        field: 'target',
        value: 'CLUSTER1',
        message: 'expected a target: { kind: "cluster" | "group", name, nodes: [...] }',
      },
    },
    {
      source: 'target missing',
      input: {},
      problem: {
        field: 'target',
        message: 'missing; expected a target: { kind: "cluster" | "group", name, nodes: [...] }',
      },
    },
    {
      source: 'plug-in arguments not text',
      input: { ...BASE, plugins: [{ name: WU, arguments: 5 }] },
      problem: {
        field: 'plugins[0].arguments',
        value: 5,
        message:
          'expected the plug-in arguments as CAU text, e.g. HotfixRootFolderPath="s3://bucket/prefix";HotfixInstallerTimeoutMinutes=60',
      },
    },
    {
      source: 'plug-in arguments over 8192 characters',
      input: { ...BASE, plugins: [{ name: WU, arguments: `QueryString="${'x'.repeat(8200)}"` }] },
      problem: {
        field: 'plugins[0].arguments',
        value: `QueryString="${'x'.repeat(8200)}"`,
        message: 'expected at most 8192 characters of plug-in arguments',
      },
    },
    {
      source: 'unknown plug-in',
      input: { ...BASE, plugins: [{ name: 'Contoso.Plugin' }] },
      problem: {
        field: 'plugins[0].name',
        value: 'Contoso.Plugin',
        message: 'expected one of "Microsoft.HotfixPlugin", "Microsoft.WindowsUpdatePlugin"',
      },
    },
    {
      source: 'a plug-in given by name only',
      input: { ...BASE, plugins: [WU] },
      problem: {
        field: 'plugins[0]',
        value: WU,
        message: 'expected a plug-in: { name, arguments? }',
      },
    },
    {
      source: 'no plug-in',
      input: { ...BASE, plugins: [] },
      problem: { field: 'plugins', value: [], message: 'expected at least one plug-in' },
    },
    {
      source: 'change ticket system empty',
      input: { ...BASE, changeTicket: { system: '', id: 'CHG1' } },
      problem: {
        field: 'changeTicket.system',
        value: '',
        message:
          'expected the change-management system, e.g. "ServiceNow": text of 1 to 64 characters',
      },
    },
    {
      source: 'change ticket id not text',
      input: { ...BASE, changeTicket: { system: 'ServiceNow', id: 5 } },
      problem: {
        field: 'changeTicket.id',
        value: 5,
        message: 'expected the ticket id, e.g. "CHG0031337": text of 1 to 128 characters',
      },
    },
    ...['ftp://tickets.example/1', 'xhttp://tickets.example/1', 'httpsx://tickets.example/1'].map(
      (url) => ({
        source: `change ticket URL ${url}`,
        input: { ...BASE, changeTicket: { system: 'ServiceNow', id: 'CHG1', url } },
        problem: {
          field: 'changeTicket.url',
          value: url,
          message: 'expected an http(s) URL of the ticket',
        },
      }),
    ),
    {
      source: 'change ticket URL over 2048 characters',
      input: {
        ...BASE,
        changeTicket: {
          system: 'ServiceNow',
          id: 'CHG1',
          url: `https://t.example/${'a'.repeat(2040)}`,
        },
      },
      problem: {
        field: 'changeTicket.url',
        value: `https://t.example/${'a'.repeat(2040)}`,
        message: 'expected a URL of at most 2048 characters',
      },
    },
    {
      source: 'change ticket not an object',
      input: { ...BASE, changeTicket: 'CHG1' },
      problem: {
        field: 'changeTicket',
        value: 'CHG1',
        message: 'expected a change ticket: { system, id, url? }',
      },
    },
    {
      source: 'requestedBy of 257 characters',
      input: { ...BASE, requestedBy: 'x'.repeat(257) },
      problem: {
        field: 'requestedBy',
        value: 'x'.repeat(257),
        message: 'expected who asked for the run: text of 1 to 256 characters',
      },
    },
    {
      source: 'run id not text',
      input: { ...BASE, runId: 5 },
      problem: {
        field: 'runId',
        value: 5,
        message: 'expected 1 to 64 letters, digits, "-" or "_"',
      },
    },
    {
      source: 'group name not text',
      input: { target: { kind: 'group', name: 5, nodes: [NODE1] } },
      problem: {
        field: 'target.name',
        value: 5,
        message:
          'expected 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit',
      },
    },
    {
      source: 'reboot option',
      input: { ...BASE, rebootOption: 'Sometimes' },
      problem: {
        field: 'rebootOption',
        value: 'Sometimes',
        message: 'expected one of "IfRequired", "Never", "Always"',
      },
    },
    {
      source: 'requestedBy empty',
      input: { ...BASE, requestedBy: '' },
      problem: {
        field: 'requestedBy',
        value: '',
        message: 'expected who asked for the run: text of 1 to 256 characters',
      },
    },
    {
      source: 'drain mode',
      input: { ...BASE, drain: 'never' },
      problem: {
        field: 'drain',
        value: 'never',
        message: 'expected one of "whenRestartPossible", "always"',
      },
    },
    ...[0, 1.5, '1'].map((afterNodes) => ({
      source: `approvalGate.afterNodes ${JSON.stringify(afterNodes)}`,
      input: { ...BASE, approvalGate: { afterNodes } },
      problem: { field: 'approvalGate.afterNodes', value: afterNodes, message: GATE_AFTER },
    })),
    ...[0, 10081, 1.5, '60'].map((timeoutMinutes) => ({
      source: `approvalGate.timeoutMinutes ${JSON.stringify(timeoutMinutes)}`,
      input: { ...BASE, approvalGate: { afterNodes: 1, timeoutMinutes } },
      problem: {
        field: 'approvalGate.timeoutMinutes',
        value: timeoutMinutes,
        message: GATE_TIMEOUT,
      },
    })),
    ...[3, 4].map((afterNodes) => ({
      source: `approvalGate.afterNodes ${afterNodes} of 3 nodes`,
      input: { ...BASE, approvalGate: { afterNodes } },
      problem: {
        field: 'approvalGate.afterNodes',
        value: afterNodes,
        message:
          'expected fewer pilot nodes than the 3 nodes of the target, so some wait for the approval',
      },
    })),
    {
      source: 'removal KB id too short',
      input: { ...BASE, removal: { updates: ['KB123'] } },
      problem: {
        field: 'removal.updates[0]',
        value: 'KB123',
        message: 'expected a KB id: KB followed by 4 to 8 digits, e.g. KB5034439',
      },
    },
    {
      source: 'removal update a number',
      input: { ...BASE, removal: { updates: [5034439] } },
      problem: { field: 'removal.updates[0]', value: 5034439, message: REMOVAL_ITEM },
    },
    {
      source: 'removal method unknown',
      input: { ...BASE, removal: { updates: [{ updateId: 'KB5034439', method: 'msi' }] } },
      problem: {
        field: 'removal.updates[0]',
        value: { updateId: 'KB5034439', method: 'msi' },
        message: REMOVAL_ITEM,
      },
    },
    {
      source: 'removal with dism needs a package name',
      input: { ...BASE, removal: { updates: [{ updateId: 'KB5034439', method: 'dism' }] } },
      problem: {
        field: 'removal.updates[0].packageName',
        message: 'missing; expected packageName with method dism, and only with it',
      },
    },
    {
      source: 'removal package name with a space',
      input: {
        ...BASE,
        removal: { updates: [{ updateId: 'KB5034439', method: 'dism', packageName: 'a b' }] },
      },
      problem: {
        field: 'removal.updates[0].packageName',
        value: 'a b',
        message: 'expected a DISM package name: letters, digits, _ ~ . and -',
      },
    },
    {
      source: 'removal updates not a list',
      input: { ...BASE, removal: { updates: 'KB5034439' } },
      problem: {
        field: 'removal.updates',
        value: 'KB5034439',
        message: 'expected a list of KB ids',
      },
    },
    {
      source: 'removal of nothing',
      input: { ...BASE, removal: { updates: [] } },
      problem: {
        field: 'removal.updates',
        value: [],
        message: 'expected at least one update to remove',
      },
    },
    {
      source: 'removal of 51 updates',
      input: {
        ...BASE,
        removal: { updates: Array.from({ length: 51 }, (_, i) => `KB${5000000 + i}`) },
      },
      problem: {
        field: 'removal.updates',
        value: Array.from({ length: 51 }, (_, i) => `KB${5000000 + i}`),
        message: 'expected at most 50 updates to remove',
      },
    },
    ...[0, 1441, 2.5, '30'].map((timeoutMinutes) => ({
      source: `removal.timeoutMinutes ${JSON.stringify(timeoutMinutes)}`,
      input: { ...BASE, removal: { updates: ['KB5034439'], timeoutMinutes } },
      problem: { field: 'removal.timeoutMinutes', value: timeoutMinutes, message: REMOVAL_TIMEOUT },
    })),
    {
      source: 'removal not an object',
      input: { ...BASE, removal: 'KB5034439' },
      problem: {
        field: 'removal',
        value: 'KB5034439',
        message: 'expected a removal: { updates, timeoutMinutes? }',
      },
    },
    {
      source: 'the same update twice, case-insensitively',
      input: { ...BASE, removal: { updates: ['KB5034439', 'kb5034440', 'KB5034440'] } },
      problem: {
        field: 'removal.updates[2]',
        value: 'KB5034440',
        message: 'repeats removal.updates[1]; list each update once',
      },
    },
    ...[5, null].map((input) => ({
      source: `input ${JSON.stringify(input)}`,
      input,
      problem: {
        field: '(root)',
        value: input,
        message:
          'expected the rollout input: an object with target and, optionally, plugins, policy, ...',
      },
    })),
  ])('$source', ({ input, problem }) => {
    expect(problemsOf(input)).toEqual([problem]);
  });

  it('plug-ins that are not a list name the field and the value', () => {
    expect(problemsOf({ ...BASE, plugins: 5 })).toEqual([
      {
        field: 'plugins',
        value: 5,
        message: 'expected a list of plug-ins: [{ name, arguments? }]',
      },
    ]);
  });

  it.each([
    { kind: 'cluster', count: 65, message: 'expected at most 64 nodes in a cluster' },
    { kind: 'group', count: 2001, message: 'expected at most 2000 nodes in a group' },
  ])('a $kind of $count nodes is one too many', ({ kind, count, message }) => {
    const nodes = Array.from({ length: count }, (_, i) =>
      node(`N${i}`, `i-${(0x10000000 + i).toString(16)}`),
    );
    expect(problemsOf({ target: { kind, name: 'C1', nodes } })).toEqual([
      { field: 'target.nodes', value: nodes, message },
    ]);
    expect(
      parseRolloutInput({ target: { kind, name: 'C1', nodes: nodes.slice(1) } }, NOW).target.nodes,
    ).toHaveLength(count - 1);
  });

  it('a second plug-in of the same name, and too many plug-ins', () => {
    const plugins = [
      { name: WU },
      { name: 'Microsoft.HotfixPlugin', arguments: 'HotfixRootFolderPath="s3://my-hotfixes/a"' },
      { name: WU },
    ];
    expect(problemsOf({ ...BASE, plugins })).toEqual([
      { field: 'plugins', value: plugins, message: 'expected at most 2 plug-ins, each named once' },
      {
        field: 'plugins[2].name',
        value: WU,
        message:
          'same plug-in as plugins[0]; name each plug-in once and put all its arguments there',
      },
    ]);
  });

  it('names duplicate nodes and instances against the first', () => {
    const nodes = [
      node('NODE1', 'i-01234567'),
      node('node1', 'i-01234567'),
      node('NODE1', 'i-0123456a'),
    ];
    expect(problemsOf({ target: { ...BASE.target, nodes } })).toEqual([
      {
        field: 'target.nodes[1].name',
        value: 'node1',
        message: 'same node as target.nodes[0].name; node names compare case-insensitively',
      },
      {
        field: 'target.nodes[1].instanceId',
        value: 'i-01234567',
        message: 'same instance as target.nodes[0].instanceId; each node is one managed instance',
      },
      {
        field: 'target.nodes[2].name',
        value: 'NODE1',
        message: 'same node as target.nodes[0].name; node names compare case-insensitively',
      },
    ]);
  });

  it('a missing nested field says missing', () => {
    expect(problemsOf({ target: { kind: 'group', name: 'web' } })).toEqual([
      {
        field: 'target.nodes',
        message: 'missing; expected a list of nodes: [{ name, instanceId }, ...]',
      },
    ]);
  });

  it('refuses a removal command over 48 hours, naming both fields', () => {
    expect(
      problemsOf({
        ...BASE,
        removal: { updates: ['KB5034439', 'KB5034440'], timeoutMinutes: 1440 },
      }),
    ).toEqual([
      {
        field: 'removal.timeoutMinutes',
        value: 1440,
        message:
          "2 removal.updates x removal.timeoutMinutes=1440 minutes + 900 s is a command timeout of 173700 s, over SSM's 172800 s (48 h); lower removal.timeoutMinutes to at most 1432 or send at most 1 removal.updates per run",
      },
    ]);
  });
});

describe('parseRolloutInput: unknown fields name what is accepted there', () => {
  it.each([
    {
      input: { ...BASE, changeTicket: { system: 'a', id: 'b', extra: 1 } },
      problem: {
        field: 'changeTicket.extra',
        value: 1,
        message: 'unknown field; accepted here: system, id, url',
      },
    },
    {
      input: { target: { ...BASE.target, nodes: [{ ...NODE1, role: 'x' }] } },
      problem: {
        field: 'target.nodes[0].role',
        value: 'x',
        message: 'unknown field; accepted here: name, instanceId',
      },
    },
    {
      input: { target: { ...BASE.target, site: 'x' } },
      problem: {
        field: 'target.site',
        value: 'x',
        message: 'unknown field; accepted here: kind, name, nodes',
      },
    },
    {
      input: { ...BASE, plugins: [{ name: WU, arg: 'x' }] },
      problem: {
        field: 'plugins[0].arg',
        value: 'x',
        message: 'unknown field; accepted here: name, arguments',
      },
    },
    {
      input: { ...BASE, removal: { updates: ['KB5034439'], when: 'now' } },
      problem: {
        field: 'removal.when',
        value: 'now',
        message: 'unknown field; accepted here: updates, timeoutMinutes',
      },
    },
    {
      input: { ...BASE, updateSelection: { includeKbs: ['KB5034441'], kbs: ['KB1'] } },
      problem: {
        field: 'updateSelection.kbs',
        value: ['KB1'],
        message:
          'unknown field; accepted here: includeKbs, excludeKbs, classifications, msrcSeverities, maxPublishDate, approveAfterDays, excludeRebootRequired',
      },
    },
    {
      input: { ...BASE, approvalGate: { afterNodes: 1, who: 'x' } },
      problem: { field: 'approvalGate.who', value: 'x', message: 'unknown field' },
    },
  ])('$problem.field', ({ input, problem }) => {
    expect(problemsOf(input)).toEqual([problem]);
  });

  it('an unknown top-level field comes after the problems of the known ones', () => {
    const problems = problemsOf({ priority: 'high', ...BASE, drain: 'never', runId: 'a b' });
    expect(problems.map((p) => `${p.field} ${JSON.stringify(p.value)}`)).toEqual([
      'runId "a b"',
      'drain "never"',
      'priority "high"',
    ]);
  });

  it('at the top, lists every top-level field', () => {
    const [problem] = problemsOf({ ...BASE, priority: 'high' });
    expect(problem).toEqual({
      field: 'priority',
      value: 'high',
      message:
        'unknown field; accepted here: runId, target, plugins, policy, changeTicket, requestedBy, drain, staging, rebootOption, approvalGate, schedule, removal, phases, updateSelection, healthGates',
    });
  });
});

describe('parseRolloutInput: what cannot be read', () => {
  it('refuses an invalid now', () => {
    expect(() => parseRolloutInput(BASE, new Date('not a date'))).toThrow(
      new RangeError('parseRolloutInput: now is not a valid date'),
    );
  });

  it('reports an input whose fields throw when read, keeping the cause', () => {
    const boom = new Error('boom');
    const input = {
      get target(): unknown {
        throw boom;
      },
    };
    let caught: unknown;
    try {
      parseRolloutInput(input, NOW);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RolloutInputError);
    expect((caught as RolloutInputError).problems).toEqual([
      { field: '(root)', message: 'could not be read: Error: boom' },
    ]);
    expect((caught as RolloutInputError).cause).toBe(boom);
  });
});

describe('parseRolloutInput: approval gate, schedule and deadlines', () => {
  it('resolves the gate with its timeout in seconds (default 1440 minutes)', () => {
    expect(
      parseRolloutInput({ ...BASE, approvalGate: { afterNodes: 1 } }, NOW).approvalGate,
    ).toEqual({
      afterNodes: 1,
      timeoutMinutes: 1440,
      timeoutSeconds: 86_400,
    });
    expect(
      parseRolloutInput({ ...BASE, approvalGate: { afterNodes: 2, timeoutMinutes: 90 } }, NOW)
        .approvalGate,
    ).toEqual({ afterNodes: 2, timeoutMinutes: 90, timeoutSeconds: 5400 });
    expect(parseRolloutInput(BASE, NOW).approvalGate).toBeNull();
  });

  // Every other Tuesday at 03:00 UTC for 240 minutes, counted from the week of 2025-12-28.
  const definition = {
    startDate: '2026-01-01',
    daysOfWeek: ['Tuesday'],
    intervalWeeks: 2,
    time: '03:00',
    timeZone: 'UTC',
    windowMinutes: 240,
  };
  const trigger = (scheduledTime: string, extra: Record<string, unknown> = {}) => ({
    name: 'patch-tuesday',
    expression: 'cron(0 3 ? * TUE *)',
    scheduledTime,
    definition: { ...definition, ...extra },
  });

  it('a trigger in its window: the window is recorded and ends the run', () => {
    const rollout = parseRolloutInput({ ...BASE, schedule: trigger('2026-01-13T03:00:00Z') }, NOW);
    expect(rollout.skip).toBeNull();
    expect(rollout.schedule).toEqual({
      name: 'patch-tuesday',
      windowStart: '2026-01-13T03:00:00.000Z',
      windowStop: '2026-01-13T07:00:00.000Z',
    });
    expect(rollout.deadlines).toEqual({ stopAt: '2026-01-13T07:00:00.000Z' });
  });

  it.each([
    { stopAfter: 60, stopAt: '2026-01-13T04:00:30.000Z', source: 'StopAfter ends first' },
    { stopAfter: 600, stopAt: '2026-01-13T07:00:00.000Z', source: 'the window ends first' },
  ])('StopAfter and the window: the earlier ends the run ($source)', ({ stopAfter, stopAt }) => {
    const rollout = parseRolloutInput(
      { ...BASE, policy: { stopAfter }, schedule: trigger('2026-01-13T03:00:00Z') },
      NOW,
    );
    expect(rollout.deadlines).toEqual({ stopAt });
  });

  it('a trigger in an off-week: the run is skipped, with the reason', () => {
    const rollout = parseRolloutInput(
      { ...BASE, schedule: trigger('2026-01-06T03:00:00Z') },
      new Date('2026-01-06T03:00:30Z'),
    );
    expect(rollout.schedule).toBeNull();
    expect(rollout.skip).toEqual({
      reason: 'notAnOccurrence',
      message:
        '2026-01-06 03:00 UTC is not an occurrence of the schedule (Tuesday every 2 weeks at 03:00 UTC from 2026-01-01, 240 minutes): the schedule runs every 2 weeks, counted from the week of 2025-12-28',
    });
  });

  it('a schedule definition the schedule rules refuse is a problem of schedule, naming it', () => {
    expect(
      problemsOf({ ...BASE, schedule: trigger('2026-01-13T03:00:00Z', { weeksOfMonth: [2] }) }),
    ).toEqual([
      {
        field: 'schedule',
        value: 'patch-tuesday',
        message:
          'schedule is invalid (1 problem):\n  - intervalWeeks (2): cannot be combined with weeksOfMonth ([2]): CAU takes -WeeksOfMonth (monthly) or -IntervalWeeks (weekly), not both; give one',
      },
    ]);
  });
});

describe('issueProblems and the event schemas', () => {
  it('without a list of accepted fields, an unknown field says only that', () => {
    const result = z.strictObject({ a: z.string() }).safeParse({ a: 'x', b: 1 });
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(issueProblems(result.error.issues, { a: 'x', b: 1 })).toEqual([
        { field: 'b', value: 1, message: 'unknown field' },
      ]);
    }
  });

  it('a path through a value that is not an object has no value', () => {
    const schema = z.object({ a: z.object({ b: z.string() }) });
    const result = schema.safeParse({ a: 'text' });
    if (result.success) throw new Error('expected a failure');
    const issue = { ...result.error.issues[0], path: ['a', 'b'] } as z.core.$ZodIssue;
    expect(issueProblems([issue], { a: 'text' })).toEqual([
      { field: 'a.b', message: `missing; ${issue.message}` },
    ]);
  });

  it('a node list read back by reference may hold more nodes than a group in the input', () => {
    const nodes = Array.from({ length: 2001 }, (_, i) =>
      node(`N${i}`, `i-${(0x10000000 + i).toString(16)}`),
    );
    const input = { target: { kind: 'group', name: 'web', nodes } };
    expect(problemsOf(input).map((p) => p.message)).toEqual([
      'expected at most 2000 nodes in a group',
    ]);
    const rollout = parseRolloutInput(input, NOW, { nodesByReference: true });
    expect(rollout.target).toEqual({ kind: 'group', name: 'web', nodes });
  });

  it('a key that is a symbol is named in brackets', () => {
    expect(fieldPath(['a', Symbol('s'), 0])).toBe('a["Symbol(s)"][0]');
  });

  it('an invalid event keeps the zod error as its cause', () => {
    let caught: unknown;
    try {
      parseEvent('h', rolloutNodeRefSchema, { name: 'NODE1' });
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).name).toBe('InvalidEvent');
    expect((caught as Error).cause).toBeInstanceOf(z.ZodError);
  });

  it('a node reference in an event must have a NetBIOS name', () => {
    expect(() =>
      parseEvent('h', rolloutNodeRefSchema, { name: 'A B', instanceId: 'i-01234567' }),
    ).toThrow('name ("A B"): expected a NetBIOS computer name');
    expect(() =>
      parseEvent('h', rolloutNodeRefSchema, { name: 'NODE1', instanceId: 'i-1' }),
    ).toThrow('instanceId ("i-1"): expected an EC2 instance id');
    expect(
      parseEvent('h', rolloutNodeRefSchema, { name: 'NODE1', instanceId: 'i-01234567' }),
    ).toEqual({
      name: 'NODE1',
      instanceId: 'i-01234567',
    });
  });

  const hotfix = (prefix: string) => ({
    name: 'Microsoft.HotfixPlugin',
    arguments: {
      hotfixRootFolderPath: 's3://b/p',
      hotfixConfigFileName: 'DefaultHotfixConfig.xml',
      hotfixInstallerTimeoutMinutes: 30,
      disableAclChecks: false,
      requireSmbEncryption: false,
    },
    hotfixRoot: { bucket: 'b', prefix, uri: 's3://b/p' },
  });

  it.each([
    { prefix: '', ok: true },
    { prefix: 'p/', ok: true },
    { prefix: 'a/b/', ok: true },
    { prefix: 'p', ok: false },
    { prefix: '/p', ok: false },
  ])('a resolved hotfix plug-in takes the prefix $prefix: $ok', ({ prefix, ok }) => {
    const result = resolvedPluginSchema.safeParse(hotfix(prefix));
    expect(result.success).toBe(ok);
    if (!result.success) {
      expect(result.error.issues[0]?.message).toBe('expected an empty prefix or one ending in "/"');
    }
  });
});

describe('parseRolloutInput: problems from every check, in the order of the input', () => {
  it('sorts schema, duplicate and plug-in problems by field, then item number', () => {
    const nodes = Array.from({ length: 12 }, (_, i) => node(`N${i}`, `i-0123456${i.toString(16)}`));
    nodes[10] = node('N0', 'i-0123456f');
    nodes[11] = node('N11', 'bad');
    const problems = problemsOf({
      runId: 'a b',
      target: { kind: 'group', name: 'g', nodes },
      plugins: [{ name: WU, arguments: 'x' }],
      drain: 'never',
    });
    expect(problems.map((p) => p.field)).toEqual([
      'runId',
      'target.nodes[10].name',
      'target.nodes[11].instanceId',
      'plugins[0].arguments',
      'drain',
    ]);
  });

  it('does not count an invalid name or instance id as a duplicate', () => {
    const names = problemsOf({
      target: { ...BASE.target, nodes: [node('A B', 'i-01234567'), node('A B', 'i-0123456a')] },
    });
    expect(names.map((p) => p.field)).toEqual(['target.nodes[0].name', 'target.nodes[1].name']);
    const ids = problemsOf({
      target: { ...BASE.target, nodes: [node('N1', 'i-XYZ'), node('N2', 'i-XYZ')] },
    });
    expect(ids.map((p) => p.field)).toEqual([
      'target.nodes[0].instanceId',
      'target.nodes[1].instanceId',
    ]);
  });

  it.each([
    {
      source: 'a policy that is not an object is named policy',
      input: { ...BASE, policy: 5 },
      problem: { field: 'policy', value: 5, message: 'expected an object of run parameters' },
    },
    {
      source: 'run policy fields are prefixed policy.',
      input: { ...BASE, policy: { nodeOrder: ['NODE1', 'NODE9'] } },
      problem: {
        field: 'policy.nodeOrder[1]',
        value: 'NODE9',
        message: 'not a node of this run; its nodes are NODE1, NODE2, NODE3',
      },
    },
    {
      source: 'a hotfix root that is not S3',
      input: {
        ...BASE,
        plugins: [
          { name: 'Microsoft.HotfixPlugin', arguments: 'HotfixRootFolderPath="\\\\srv\\share"' },
        ],
      },
      problem: {
        field: 'plugins[0].arguments',
        value: 'HotfixRootFolderPath="\\\\srv\\share"',
        message:
          'HotfixRootFolderPath "\\\\\\\\srv\\\\share": our hotfix root is an S3 prefix; expected s3://bucket/prefix, e.g. HotfixRootFolderPath="s3://my-hotfixes/2025-05"',
      },
    },
    {
      source: 'the hotfix plug-in without a root',
      input: { ...BASE, plugins: [{ name: 'Microsoft.HotfixPlugin' }] },
      problem: {
        field: 'plugins[0].arguments',
        message:
          'Microsoft.HotfixPlugin needs HotfixRootFolderPath, the S3 URI of the hotfix root, e.g. HotfixRootFolderPath="s3://my-hotfixes/2025-05"',
      },
    },
  ])('$source', ({ input, problem }) => {
    expect(problemsOf(input)).toEqual([problem]);
  });

  it('spells out 50 problems in full, and caps the message past that', () => {
    const bad = (n: number) => Array.from({ length: n }, (_, i) => node(`N${i}`, 'bad'));
    const fifty = inputError(() =>
      parseRolloutInput({ target: { kind: 'group', name: 'g', nodes: bad(50) } }, NOW),
    );
    expect(fifty.message).toMatch(/^rollout input is invalid \(50 problems\):/);
    expect(fifty.message).not.toContain('more');
    expect(fifty.message.split('\n')).toHaveLength(51);
    const fiftyOne = inputError(() =>
      parseRolloutInput({ target: { kind: 'group', name: 'g', nodes: bad(51) } }, NOW),
    );
    expect(fiftyOne.message).toMatch(/^rollout input is invalid \(51 problems\):/);
    expect(fiftyOne.message.endsWith('\n  ... and 1 more')).toBe(true);
    // The heading, the first 50 problems and the "more" line: the 51st is not spelled out.
    expect(fiftyOne.message.split('\n')).toHaveLength(52);
    expect(fiftyOne.message).not.toContain('target.nodes[50]');
  });

  it('deadlines: only warnAt with only WarnAfter, none without either', () => {
    expect(parseRolloutInput({ ...BASE, policy: { warnAfter: 30 } }, NOW).deadlines).toEqual({
      warnAt: '2026-01-13T03:30:30.000Z',
    });
    // No `stopAt` key at all: the workflow tests whether it is present.
    expect(parseRolloutInput(BASE, NOW).deadlines).toStrictEqual({});
  });

  it('deadlines: StopAfter without a window ends the run StopAfter minutes from now', () => {
    expect(parseRolloutInput({ ...BASE, policy: { stopAfter: 60 } }, NOW).deadlines).toEqual({
      stopAt: '2026-01-13T04:00:30.000Z',
    });
  });

  it('staging defaults to 10 nodes at a time when the input gives none', () => {
    expect(parseRolloutInput(BASE, NOW).staging).toEqual({ maxConcurrency: 10 });
  });

  it('a change ticket URL may be http as well as https', () => {
    const url = 'http://tickets.example/CHG1';
    expect(
      parseRolloutInput({ ...BASE, changeTicket: { system: 'ServiceNow', id: 'CHG1', url } }, NOW)
        .changeTicket,
    ).toEqual({ system: 'ServiceNow', id: 'CHG1', url });
  });

  it('generates a run id when no default is given', () => {
    expect(parseRolloutInput(BASE, NOW, { random: () => 0.5 }).runId).toBe(
      '20260113T030030-iiiiii',
    );
  });
});

function inputError(fn: () => unknown): RolloutInputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RolloutInputError);
    return error as RolloutInputError;
  }
  throw new Error('expected a RolloutInputError, nothing was thrown');
}

describe('parseHotfixRootUri: the edges of an S3 URI', () => {
  it.each([
    { uri: ' s3://my-hotfixes/2025-05 ', prefix: '2025-05/', source: 'spaces around are trimmed' },
    { uri: 's3://my-hotfixes/p//', prefix: 'p/', source: 'trailing slashes collapse' },
    { uri: 'S3://my-hotfixes', prefix: '', source: 'the scheme in any case' },
  ])('$uri → prefix $prefix ($source)', ({ uri, prefix }) => {
    expect(parseHotfixRootUri(uri)).toMatchObject({ bucket: 'my-hotfixes', prefix });
  });

  it.each([
    { uri: 'xs3://my-hotfixes/p', problem: 'our hotfix root is an S3 prefix' },
    { uri: 's3://my-hotfixes/p\nx', problem: 'our hotfix root is an S3 prefix' },
    { uri: 's3://my-hotfixes-/p', problem: 'bucket "my-hotfixes-" is not an S3 bucket name' },
    { uri: 's3://my-hotfixes/a/./b', problem: 'without "\\", empty, "." or ".." segments' },
  ])('refuses $uri', ({ uri, problem }) => {
    const result = parseHotfixRootUri(uri);
    expect('problem' in result && result.problem).toContain(problem);
  });
});

describe('resolvedPluginSchema: the plug-ins the handlers receive', () => {
  const hotfix = (args: Record<string, unknown>, root: Record<string, unknown> = {}) => ({
    name: 'Microsoft.HotfixPlugin',
    arguments: {
      hotfixRootFolderPath: 's3://b/p',
      hotfixConfigFileName: 'DefaultHotfixConfig.xml',
      hotfixInstallerTimeoutMinutes: 30,
      disableAclChecks: false,
      requireSmbEncryption: false,
      ...args,
    },
    hotfixRoot: { bucket: 'b', prefix: 'p/', uri: 's3://b/p', ...root },
  });
  const wu = (args: Record<string, unknown>) => ({
    name: WU,
    arguments: {
      includeRecommendedUpdates: false,
      queryString: 'IsInstalled=0',
      queryStringGiven: false,
      ...args,
    },
  });

  it.each([
    { source: 'hotfix, as resolved', value: hotfix({}), ok: true },
    {
      source: 'installer timeout 1440',
      value: hotfix({ hotfixInstallerTimeoutMinutes: 1440 }),
      ok: true,
    },
    {
      source: 'installer timeout 1',
      value: hotfix({ hotfixInstallerTimeoutMinutes: 1 }),
      ok: true,
    },
    {
      source: 'installer timeout 0',
      value: hotfix({ hotfixInstallerTimeoutMinutes: 0 }),
      ok: false,
    },
    {
      source: 'installer timeout 1441',
      value: hotfix({ hotfixInstallerTimeoutMinutes: 1441 }),
      ok: false,
    },
    {
      source: 'installer timeout 1.5',
      value: hotfix({ hotfixInstallerTimeoutMinutes: 1.5 }),
      ok: false,
    },
    { source: 'an empty root path', value: hotfix({ hotfixRootFolderPath: '' }), ok: false },
    {
      source: 'a long config name',
      value: hotfix({ hotfixConfigFileName: 'Custom.xml' }),
      ok: true,
    },
    { source: 'an empty bucket', value: hotfix({}, { bucket: '' }), ok: false },
    { source: 'Windows Update, as resolved', value: wu({}), ok: true },
    { source: 'an empty query', value: wu({ queryString: '' }), ok: false },
    {
      source: 'recommended updates not a boolean',
      value: wu({ includeRecommendedUpdates: 'yes' }),
      ok: false,
    },
  ])('$source: $ok', ({ value, ok }) => {
    expect(resolvedPluginSchema.safeParse(value).success).toBe(ok);
  });
});

describe('parseRolloutInput: causes and odd random sources', () => {
  it('keeps zod error as the cause of a schema problem', () => {
    let caught: unknown;
    try {
      parseRolloutInput({ ...BASE, drain: 'never' }, NOW);
    } catch (error) {
      caught = error;
    }
    expect((caught as RolloutInputError).cause).toBeInstanceOf(z.ZodError);
  });

  it('keeps the schedule error as the cause of a schedule problem', () => {
    const definition = {
      startDate: '2026-01-01',
      daysOfWeek: ['Tuesday'],
      weeksOfMonth: [2],
      intervalWeeks: 2,
      time: '03:00',
      timeZone: 'UTC',
      windowMinutes: 240,
    };
    const schedule = {
      name: 'p',
      expression: 'cron(0 3 ? * TUE *)',
      scheduledTime: '2026-01-13T03:00:00Z',
      definition,
    };
    let caught: unknown;
    try {
      parseRolloutInput({ ...BASE, schedule }, NOW);
    } catch (error) {
      caught = error;
    }
    expect((caught as RolloutInputError).cause).toBeInstanceOf(Error);
    expect(((caught as RolloutInputError).cause as Error).name).toBe('ScheduleError');
  });

  it('a random source that gives NaN makes zeros, not "NaN"', () => {
    expect(parseRolloutInput(BASE, NOW, { random: () => Number.NaN }).runId).toBe(
      '20260113T030030-000000',
    );
  });
});
