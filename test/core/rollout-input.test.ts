import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RolloutRuleError } from '../../lambdas/core/errors.js';
import { DEFAULT_WINDOWS_UPDATE_QUERY, PLUGIN_NAMES } from '../../lambdas/core/plugin-arguments.js';
import {
  fieldPath,
  generateRunId,
  InvalidEventError,
  parseEvent,
  parseHotfixRootUri,
  parseRolloutInput,
  type RolloutInput,
  RolloutInputError,
  rolloutInputJsonSchema,
} from '../../lambdas/core/rollout-input.js';

const NOW = new Date('2025-05-13T22:05:01.123Z');
const HOTFIX_ARGS = 'HotfixRootFolderPath="s3://my-hotfixes/2025-05"';

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

/** BASE with the value at `path` replaced (`undefined` removes the field). */
function withField(path: readonly (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(BASE) as Record<string, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    parent[key] ??= typeof path[path.indexOf(key) + 1] === 'number' ? [] : {};
    parent = parent[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return copy;
}

/** Runs `fn` and returns the RolloutInputError it throws; fails the test if it does not. */
function inputError(fn: () => unknown): RolloutInputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RolloutInputError);
    return error as RolloutInputError;
  }
  throw new Error('expected a RolloutInputError, nothing was thrown');
}

describe('parseRolloutInput: defaults', () => {
  const rollout = parseRolloutInput(BASE, NOW, { random: () => 0 });

  it.each([
    {
      source: 'brief: generated run id <yyyymmddThhmmss>-<6 base36>',
      field: 'runId',
      expected: '20250513T220501-000000',
    },
    {
      source: 'seed 003: WindowsUpdatePlugin is the default plug-in',
      field: 'plugins',
      expected: [
        {
          name: PLUGIN_NAMES.windowsUpdate,
          arguments: {
            includeRecommendedUpdates: false,
            queryString: DEFAULT_WINDOWS_UPDATE_QUERY,
            queryStringGiven: false,
          },
        },
      ],
    },
    {
      source: 'brief: drain default whenRestartPossible',
      field: 'drain',
      expected: 'whenRestartPossible',
    },
    {
      source: 'issue 13 item 3: rebootOption default IfRequired (SSM RebootIfNeeded, CAU)',
      field: 'rebootOption',
      expected: 'IfRequired',
    },
    {
      source: 'brief: changeTicket optional (null when absent)',
      field: 'changeTicket',
      expected: null,
    },
    {
      source: 'brief: requestedBy optional (null when absent)',
      field: 'requestedBy',
      expected: null,
    },
    { source: 'brief: no WarnAfter/StopAfter, no deadlines', field: 'deadlines', expected: {} },
    { source: 'requestedAt is now', field: 'requestedAt', expected: '2025-05-13T22:05:01.123Z' },
  ])('$field ($source)', ({ field, expected }) => {
    expect((rollout as unknown as Record<string, unknown>)[field]).toEqual(expected);
  });

  it('resolves the run policy against the cluster (CAU defaults: a third of 3 nodes, 3 tries)', () => {
    expect(rollout.policy).toMatchObject({
      maxFailedNodes: 1,
      maxRetriesPerNode: 3,
      nodeOrder: ['NODE1', 'NODE2', 'NODE3'],
      maxConcurrency: 1,
      failbackMode: 'Immediate',
    });
    expect(rollout.target).toEqual(BASE.target);
  });
});

describe('parseRolloutInput: run id', () => {
  it('keeps a given run id', () => {
    expect(parseRolloutInput({ ...BASE, runId: 'chg-0031337_a' }, NOW).runId).toBe('chg-0031337_a');
  });

  it('uses defaultRunId (the execution name) when the input has none', () => {
    expect(parseRolloutInput(BASE, NOW, { defaultRunId: 'exec-42' }).runId).toBe('exec-42');
  });

  it('prefers the input run id to defaultRunId', () => {
    expect(
      parseRolloutInput({ ...BASE, runId: 'mine' }, NOW, { defaultRunId: 'exec-42' }).runId,
    ).toBe('mine');
  });

  it('generates one when defaultRunId is not a valid run id', () => {
    const rollout = parseRolloutInput(BASE, NOW, {
      defaultRunId: 'has:colon',
      random: () => 0.9999,
    });
    expect(rollout.runId).toBe('20250513T220501-zzzzzz');
  });

  it('generateRunId: UTC stamp and 6 base36 characters', () => {
    let i = 0;
    const digits = [1, 2, 10, 35, 0, 17].map((d) => (d + 0.5) / 36);
    const id = generateRunId(new Date('2024-01-02T03:04:05.999Z'), () => digits[i++] as number);
    expect(id).toBe('20240102T030405-12az0h');
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });
});

describe('parseRolloutInput: every field, accepted and refused', () => {
  type Row = {
    source: string;
    path: (string | number)[];
    value: unknown;
    /** For accepted rows: a check on the resolved rollout. */
    check?: (rollout: ReturnType<typeof parseRolloutInput>) => void;
    /** For refused rows: the problem's field. */
    field?: string;
  };
  const rows: Row[] = [
    ...(['IfRequired', 'Never', 'Always'] as const).map((option) => ({
      source: `issue 13 item 3: rebootOption ${option} (Azure rebootSetting)`,
      path: ['rebootOption'],
      value: option,
      check: (r: ReturnType<typeof parseRolloutInput>) => expect(r.rebootOption).toBe(option),
    })),
    {
      source: "rebootOption in Patch Manager's spelling",
      path: ['rebootOption'],
      value: 'NoReboot',
      field: 'rebootOption',
    },
    { source: 'rebootOption not text', path: ['rebootOption'], value: true, field: 'rebootOption' },
    {
      source: 'runId 1-64 [A-Za-z0-9-_]',
      path: ['runId'],
      value: 'A_b-9',
      check: (r) => expect(r.runId).toBe('A_b-9'),
    },
    { source: 'runId with a space', path: ['runId'], value: 'bad id', field: 'runId' },
    { source: 'runId of 65 characters', path: ['runId'], value: 'x'.repeat(65), field: 'runId' },
    { source: 'runId not text', path: ['runId'], value: 42, field: 'runId' },
    { source: 'target missing', path: ['target'], value: undefined, field: 'target' },
    {
      source: 'target.kind group',
      path: ['target', 'kind'],
      value: 'group',
      check: (r) => expect(r.target.kind).toBe('group'),
    },
    {
      source: 'target.kind unknown',
      path: ['target', 'kind'],
      value: 'fleet',
      field: 'target.kind',
    },
    {
      source: 'cluster name NetBIOS',
      path: ['target', 'name'],
      value: 'clu-east',
      check: (r) => expect(r.target.name).toBe('clu-east'),
    },
    {
      source: 'cluster name with a space',
      path: ['target', 'name'],
      value: 'CLU 1',
      field: 'target.name',
    },
    {
      source: 'cluster name of 16 characters',
      path: ['target', 'name'],
      value: 'C'.repeat(16),
      field: 'target.name',
    },
    {
      source: 'target unknown field',
      path: ['target', 'region'],
      value: 'eu-west-1',
      field: 'target.region',
    },
    { source: 'nodes empty', path: ['target', 'nodes'], value: [], field: 'target.nodes' },
    {
      source: 'node name all digits',
      path: ['target', 'nodes', 0, 'name'],
      value: '1234',
      field: 'target.nodes[0].name',
    },
    {
      source: 'node name missing',
      path: ['target', 'nodes', 1, 'name'],
      value: undefined,
      field: 'target.nodes[1].name',
    },
    {
      source: 'node name duplicate ignoring case',
      path: ['target', 'nodes', 2, 'name'],
      value: 'node1',
      field: 'target.nodes[2].name',
    },
    {
      source: 'instanceId i- 17 hex',
      path: ['target', 'nodes', 0, 'instanceId'],
      value: 'i-0fedcba9876543210',
      check: (r) => expect(r.target.nodes[0]?.instanceId).toBe('i-0fedcba9876543210'),
    },
    {
      source: 'instanceId upper-case hex',
      path: ['target', 'nodes', 0, 'instanceId'],
      value: 'i-0123456789ABCDEF0',
      field: 'target.nodes[0].instanceId',
    },
    {
      source: 'instanceId mi- with 8 hex',
      path: ['target', 'nodes', 2, 'instanceId'],
      value: 'mi-01234567',
      field: 'target.nodes[2].instanceId',
    },
    {
      source: 'instanceId duplicate',
      path: ['target', 'nodes', 1, 'instanceId'],
      value: 'i-0123456789abcdef0',
      field: 'target.nodes[1].instanceId',
    },
    {
      source: 'node unknown field',
      path: ['target', 'nodes', 0, 'ip'],
      value: '10.0.0.1',
      field: 'target.nodes[0].ip',
    },
    {
      source: 'hotfix plug-in with an S3 root',
      path: ['plugins'],
      value: [
        { name: PLUGIN_NAMES.hotfix, arguments: `${HOTFIX_ARGS};HotfixInstallerTimeoutMinutes=90` },
      ],
      check: (r) =>
        expect(r.plugins).toEqual([
          {
            name: PLUGIN_NAMES.hotfix,
            arguments: expect.objectContaining({
              hotfixInstallerTimeoutMinutes: 90,
              hotfixConfigFileName: 'DefaultHotfixConfig.xml',
            }),
            hotfixRoot: {
              bucket: 'my-hotfixes',
              prefix: '2025-05/',
              uri: 's3://my-hotfixes/2025-05',
            },
          },
        ]),
    },
    {
      source: 'hotfix root is a UNC path',
      path: ['plugins'],
      value: [{ name: PLUGIN_NAMES.hotfix, arguments: 'HotfixRootFolderPath=\\\\fs\\hotfixes' }],
      field: 'plugins[0].arguments',
    },
    {
      source: 'hotfix plug-in without arguments',
      path: ['plugins'],
      value: [{ name: PLUGIN_NAMES.hotfix }],
      field: 'plugins[0].arguments',
    },
    {
      source: 'plug-in argument syntax',
      path: ['plugins'],
      value: [{ name: PLUGIN_NAMES.windowsUpdate, arguments: 'QueryString=IsInstalled=0' }],
      field: 'plugins[0].arguments',
    },
    {
      source: 'Windows Update QueryString',
      path: ['plugins'],
      value: [
        {
          name: PLUGIN_NAMES.windowsUpdate,
          arguments:
            'QueryString="IsInstalled=0 and Type=\'Driver\'";IncludeRecommendedUpdates=True',
        },
      ],
      check: (r) =>
        expect(r.plugins[0]?.arguments).toMatchObject({
          queryString: "IsInstalled=0 and Type='Driver'",
          includeRecommendedUpdates: true,
        }),
    },
    {
      source: 'plug-in unknown',
      path: ['plugins'],
      value: [{ name: 'Contoso.Plugin' }],
      field: 'plugins[0].name',
    },
    {
      source: 'plug-in listed twice',
      path: ['plugins'],
      value: [{ name: PLUGIN_NAMES.windowsUpdate }, { name: PLUGIN_NAMES.windowsUpdate }],
      field: 'plugins[1].name',
    },
    { source: 'plugins empty', path: ['plugins'], value: [], field: 'plugins' },
    {
      source: 'policy field',
      path: ['policy'],
      value: { maxRetriesPerNode: 5 },
      check: (r) => expect(r.policy.maxRetriesPerNode).toBe(5),
    },
    {
      source: 'policy field out of range',
      path: ['policy'],
      value: { maxRetriesPerNode: 0 },
      field: 'policy.maxRetriesPerNode',
    },
    {
      source: 'policy nodeOrder names a stranger',
      path: ['policy'],
      value: { nodeOrder: ['NODE9'] },
      field: 'policy.nodeOrder[0]',
    },
    {
      source: 'policy maxConcurrency on a cluster',
      path: ['policy'],
      value: { maxConcurrency: 2 },
      field: 'policy.maxConcurrency',
    },
    { source: 'policy not an object', path: ['policy'], value: 'fast', field: 'policy' },
    {
      source: 'changeTicket',
      path: ['changeTicket'],
      value: { system: 'ServiceNow', id: 'CHG0031337', url: 'https://snow.example.com/CHG0031337' },
      check: (r) =>
        expect(r.changeTicket).toEqual({
          system: 'ServiceNow',
          id: 'CHG0031337',
          url: 'https://snow.example.com/CHG0031337',
        }),
    },
    {
      source: 'changeTicket without id',
      path: ['changeTicket'],
      value: { system: 'ServiceNow' },
      field: 'changeTicket.id',
    },
    {
      source: 'changeTicket url not http(s)',
      path: ['changeTicket'],
      value: { system: 'S', id: '1', url: 'javascript:alert(1)' },
      field: 'changeTicket.url',
    },
    {
      source: 'requestedBy',
      path: ['requestedBy'],
      value: 'alice@example.com',
      check: (r) => expect(r.requestedBy).toBe('alice@example.com'),
    },
    { source: 'requestedBy empty', path: ['requestedBy'], value: '', field: 'requestedBy' },
    {
      source: 'drain always',
      path: ['drain'],
      value: 'always',
      check: (r) => expect(r.drain).toBe('always'),
    },
    { source: 'drain unknown', path: ['drain'], value: 'never', field: 'drain' },
    { source: 'unknown top-level field', path: ['priority'], value: 'high', field: 'priority' },
  ];

  it.each(rows.filter((r) => r.check))('accepts $source', ({ path, value, check }) => {
    const rollout = parseRolloutInput(withField(path, value), NOW);
    check?.(rollout);
  });

  it.each(rows.filter((r) => r.field))(
    'refuses $source, naming $field',
    ({ path, value, field }) => {
      const error = inputError(() => parseRolloutInput(withField(path, value), NOW));
      const problem = error.problems.find((p) => p.field === field);
      expect(problem, error.message).toBeDefined();
      if (value !== undefined && !Array.isArray(value) && typeof value !== 'object') {
        expect(problem?.value).toEqual(value);
      }
      expect(error.message).toContain(`${field}`);
    },
  );

  it('the group target takes a group name and SSM-style concurrency', () => {
    const rollout = parseRolloutInput(
      {
        target: { kind: 'group', name: 'web-tier.prod', nodes: BASE.target.nodes },
        policy: { maxConcurrency: '50%' },
      },
      NOW,
    );
    expect(rollout.target.name).toBe('web-tier.prod');
    expect(rollout.policy.maxConcurrency).toBe(1);
  });
});

describe('parseRolloutInput: one error lists every problem', () => {
  it('collects problems from the schema, the run policy and the plug-in arguments', () => {
    // Arrange
    const input = {
      runId: 'bad id',
      target: {
        kind: 'cluster',
        name: 'CLUSTER1',
        nodes: [
          node('NODE1', 'i-0123456789abcdef0'),
          node('NODE2', 'i-xyz'),
          node('node1', 'i-01234567'),
        ],
      },
      plugins: [{ name: PLUGIN_NAMES.hotfix, arguments: 'HotfixRootFolderPath=C:\\Hotfixes' }],
      policy: { rebootTimeoutMinutes: 0, failbackMode: 'Sometimes' },
      drain: 'never',
      extra: true,
    };

    // Act
    const error = inputError(() => parseRolloutInput(input, NOW));

    // Assert
    expect(error).toBeInstanceOf(RolloutRuleError);
    expect(error.name).toBe('RolloutInputError');
    expect(error.problems.map((p) => p.field)).toEqual([
      'runId',
      'target.nodes[1].instanceId',
      'target.nodes[2].name',
      'plugins[0].arguments',
      'policy.rebootTimeoutMinutes',
      'policy.failbackMode',
      'drain',
      'extra',
    ]);
    expect(error.message).toContain('target.nodes[1].instanceId ("i-xyz")');
    expect(error.message).toContain('(8 problems)');
  });

  it('problems of every plug-in, not only the first', () => {
    const error = inputError(() =>
      parseRolloutInput(
        {
          ...BASE,
          plugins: [
            { name: PLUGIN_NAMES.hotfix, arguments: 'HotfixRootFolderPath=s3://Bad_Bucket/x' },
            { name: PLUGIN_NAMES.windowsUpdate, arguments: 'Unknown=1' },
          ],
        },
        NOW,
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      'plugins[0].arguments',
      'plugins[1].arguments',
    ]);
    expect(error.problems[1]?.message).toContain('unknown argument');
  });

  it('names at most 50 problems in the message but keeps them all', () => {
    const nodes = Array.from({ length: 60 }, (_, i) => node(`N${i}`, 'bad'));
    const error = inputError(() =>
      parseRolloutInput({ target: { kind: 'group', name: 'g', nodes } }, NOW),
    );
    expect(error.problems).toHaveLength(60);
    expect(error.message).toContain('(60 problems)');
    expect(error.message).toContain('... and 10 more');
  });

  it.each([
    { source: 'not an object', input: 'deploy', field: '(root)' },
    { source: 'null', input: null, field: '(root)' },
    { source: 'empty object: target missing', input: {}, field: 'target' },
  ])('$source', ({ input, field }) => {
    const error = inputError(() => parseRolloutInput(input, NOW));
    expect(error.problems.map((p) => p.field)).toContain(field);
  });
});

describe('parseRolloutInput: node order and deadlines', () => {
  it('orders the nodes by policy.nodeOrder, spelled as in the target, the rest in target order', () => {
    const rollout = parseRolloutInput({ ...BASE, policy: { nodeOrder: ['node3'] } }, NOW);
    expect(rollout.target.nodes.map((n) => n.name)).toEqual(['NODE3', 'NODE1', 'NODE2']);
    expect(rollout.target.nodes[0]).toEqual(node('NODE3', 'mi-0123456789abcdef1'));
    expect(rollout.policy.nodeOrder).toEqual(['NODE3', 'NODE1', 'NODE2']);
  });

  it.each([
    {
      warnAfter: 'PT1H',
      stopAfter: '01:30:00',
      warnAt: '2025-05-13T23:05:01.123Z',
      stopAt: '2025-05-13T23:35:01.123Z',
    },
    {
      warnAfter: 90,
      stopAfter: 'P1D',
      warnAt: '2025-05-13T23:35:01.123Z',
      stopAt: '2025-05-14T22:05:01.123Z',
    },
  ])('warnAfter $warnAfter, stopAfter $stopAfter', ({ warnAfter, stopAfter, warnAt, stopAt }) => {
    const rollout = parseRolloutInput({ ...BASE, policy: { warnAfter, stopAfter } }, NOW);
    expect(rollout.deadlines).toEqual({ warnAt, stopAt });
  });

  it('only stopAfter: only stopAt', () => {
    const rollout = parseRolloutInput({ ...BASE, policy: { stopAfter: 60 } }, NOW);
    expect(rollout.deadlines).toEqual({ stopAt: '2025-05-13T23:05:01.123Z' });
  });
});

describe('parseHotfixRootUri', () => {
  it.each([
    {
      uri: 's3://my-hotfixes/2025-05',
      expected: { bucket: 'my-hotfixes', prefix: '2025-05/', uri: 's3://my-hotfixes/2025-05' },
    },
    {
      uri: 's3://my-hotfixes/a/b/',
      expected: { bucket: 'my-hotfixes', prefix: 'a/b/', uri: 's3://my-hotfixes/a/b' },
    },
    {
      uri: 's3://my-hotfixes',
      expected: { bucket: 'my-hotfixes', prefix: '', uri: 's3://my-hotfixes' },
    },
  ])('accepts $uri', ({ uri, expected }) => {
    expect(parseHotfixRootUri(uri)).toEqual(expected);
  });

  it.each([
    { uri: '\\\\fs01\\Hotfixes\\Root', why: 'our hotfix root is an S3 prefix' },
    { uri: 'https://my-hotfixes.s3.amazonaws.com/x', why: 'expected s3://bucket/prefix' },
    { uri: 's3://My_Bucket/x', why: 'is not an S3 bucket name' },
    { uri: 's3://bucket/a//b', why: 'expected a key prefix' },
    { uri: 's3://bucket/a/../b', why: 'expected a key prefix' },
  ])('refuses $uri', ({ uri, why }) => {
    const result = parseHotfixRootUri(uri);
    expect('problem' in result && result.problem).toContain(why);
  });
});

describe('rolloutInputJsonSchema', () => {
  const schema = rolloutInputJsonSchema() as {
    $schema: string;
    required: string[];
    additionalProperties: boolean;
    properties: Record<string, Record<string, unknown>>;
  };
  const json = JSON.stringify(schema);

  it('is draft 2020-12 JSON with the required fields', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.required).toEqual(['target']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual([
      'runId',
      'target',
      'plugins',
      'policy',
      'changeTicket',
      'requestedBy',
      'drain',
      'staging',
      'rebootOption',
      'approvalGate',
      'schedule',
      'removal',
      'phases',
      'updateSelection',
      'healthGates',
    ]);
    expect(JSON.parse(json)).toEqual(schema);
  });

  it('describes the target union, the nodes, the plug-ins and the defaults', () => {
    const target = schema.properties.target as {
      anyOf: { required: string[]; properties: Record<string, unknown> }[];
    };
    // A cluster, a listed group, and a group chosen by target.select (issue 11).
    expect(target.anyOf.map((option) => option.required)).toEqual([
      ['kind', 'name', 'nodes'],
      ['kind', 'name', 'nodes'],
      ['kind', 'name', 'select'],
    ]);
    expect(json).toContain('"required":["name","instanceId"]');
    expect(json).toContain('"enum":["Microsoft.HotfixPlugin","Microsoft.WindowsUpdatePlugin"]');
    expect(json).toContain('"pattern":"^(?:i-(?:[0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$"');
    expect(schema.properties.drain).toMatchObject({ default: 'whenRestartPossible' });
    expect(schema.properties.plugins).toMatchObject({
      default: [{ name: PLUGIN_NAMES.windowsUpdate }],
    });
    expect(schema.properties.policy).toMatchObject({ type: 'object', additionalProperties: false });
    expect(Object.keys((schema.properties.policy as { properties: object }).properties)).toContain(
      'requireAllNodesOnline',
    );
  });
});

describe('parseRolloutInput: property', () => {
  const expectOnlyRolloutInputError = (input: unknown) => {
    try {
      parseRolloutInput(input, NOW);
    } catch (error) {
      if (!(error instanceof RolloutInputError)) throw error;
    }
  };

  it('never throws anything but RolloutInputError on arbitrary JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), expectOnlyRolloutInputError), { numRuns: 500 });
  });

  it('never throws anything but RolloutInputError on inputs shaped like a rollout', () => {
    const anyJson = fc.jsonValue({ maxDepth: 2 });
    const nodeArb = fc.record(
      {
        name: fc.oneof(fc.string({ maxLength: 17 }), anyJson),
        instanceId: fc.oneof(fc.constantFrom('i-01234567', 'mi-0123456789abcdef0'), fc.string()),
      },
      { requiredKeys: [] },
    );
    const rollout = fc.record(
      {
        runId: fc.oneof(fc.string(), anyJson),
        target: fc.record(
          {
            kind: fc.oneof(fc.constantFrom('cluster', 'group'), anyJson),
            name: fc.oneof(fc.constantFrom('CLU1', 'web'), fc.string()),
            nodes: fc.oneof(fc.array(nodeArb, { maxLength: 5 }), anyJson),
          },
          { requiredKeys: [] },
        ),
        plugins: fc.oneof(
          fc.array(
            fc.record(
              {
                name: fc.oneof(
                  fc.constantFrom(PLUGIN_NAMES.hotfix, PLUGIN_NAMES.windowsUpdate),
                  anyJson,
                ),
                arguments: fc.oneof(fc.string(), fc.constant(HOTFIX_ARGS), anyJson),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          anyJson,
        ),
        policy: fc.oneof(
          fc.record(
            {
              nodeOrder: fc.oneof(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), anyJson),
              maxConcurrency: anyJson,
              warnAfter: anyJson,
              stopAfter: anyJson,
            },
            { requiredKeys: [] },
          ),
          anyJson,
        ),
        drain: anyJson,
        changeTicket: anyJson,
      },
      { requiredKeys: [] },
    );
    fc.assert(fc.property(rollout, expectOnlyRolloutInputError), { numRuns: 500 });
  });
});

describe('parseEvent and fieldPath', () => {
  const schema = z.object({
    node: z.object({ name: z.string(), instanceId: z.string().regex(/^i-/) }),
  });

  it('throws InvalidEvent naming the handler, field and value', () => {
    // Arrange
    const event = { node: { name: 'NODE1', instanceId: 'x-1' } };

    // Act
    let error: unknown;
    try {
      parseEvent('scan', schema, event);
    } catch (e) {
      error = e;
    }

    // Assert
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).name).toBe('InvalidEvent');
    expect((error as Error).message).toContain('scan: invalid event');
    expect((error as Error).message).toContain('node.instanceId ("x-1")');
  });

  it('returns the parsed event', () => {
    const event = { node: { name: 'NODE1', instanceId: 'i-1' } };
    expect(parseEvent('scan', schema, event)).toEqual(event);
  });

  it.each([
    { path: [], expected: '(root)' },
    { path: ['target', 'nodes', 2, 'instanceId'], expected: 'target.nodes[2].instanceId' },
    {
      path: ['CAUHotfix_All/KB1.msu', 'update', 'kb'],
      expected: '["CAUHotfix_All/KB1.msu"].update.kb',
    },
  ])('fieldPath($path) is $expected', ({ path, expected }) => {
    expect(fieldPath(path)).toBe(expected);
  });
});

describe('parseRolloutInput: removal', () => {
  it('resolves the updates in order, with indexes and the command timeout; no plug-in by default', () => {
    const rollout = parseRolloutInput(
      { ...BASE, removal: { updates: ['KB5000003', 'kb5000001'] } },
      NOW,
    );
    expect(rollout.plugins).toEqual([]);
    expect(rollout.removal).toEqual({
      updates: [
        { index: 0, updateId: 'KB5000003' },
        { index: 1, updateId: 'KB5000001' },
      ],
      timeoutMinutes: 30,
      commandTimeoutSeconds: 2 * 30 * 60 + 900,
    });
  });

  it('takes each update with how the ledger says to remove it (wusa, or DISM by package name)', () => {
    const packageName = 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2849.1.8';
    const rollout = parseRolloutInput(
      {
        ...BASE,
        removal: {
          updates: [
            { updateId: 'KB5000003', method: 'dism', packageName },
            { updateId: 'kb5000002', method: 'wusa' },
            'KB5000001',
          ],
        },
      },
      NOW,
    );
    expect(rollout.removal?.updates).toEqual([
      { index: 0, updateId: 'KB5000003', method: 'dism', packageName },
      { index: 1, updateId: 'KB5000002', method: 'wusa' },
      { index: 2, updateId: 'KB5000001' },
    ]);
  });

  it("refuses a removal command over SSM's 48 hours, naming the fields and what would fit", () => {
    // 50 updates x 60 minutes + 900 s = 180,900 s, over 172,800.
    const updates = Array.from({ length: 50 }, (_, i) => `KB${5000001 + i}`);
    const error = inputError(() =>
      parseRolloutInput({ ...BASE, removal: { updates, timeoutMinutes: 60 } }, NOW),
    );
    expect(error.problems).toEqual([
      expect.objectContaining({ field: 'removal.timeoutMinutes', value: 60 }),
    ]);
    expect(error.problems[0]?.message).toMatch(
      /50 removal\.updates x removal\.timeoutMinutes=60 minutes \+ 900 s is a command timeout of 180900 s, over SSM's 172800 s \(48 h\); lower removal\.timeoutMinutes to at most 57/,
    );
  });

  it('is null without removal, and a rollout without removal still needs a plug-in', () => {
    expect(parseRolloutInput(BASE, NOW).removal).toBeNull();
    const error = inputError(() => parseRolloutInput({ ...BASE, plugins: [] }, NOW));
    expect(error.problems.map((p) => p.field)).toEqual(['plugins']);
  });

  it.each([
    [{ updates: [] }, 'removal.updates'],
    [{ updates: ['5000001'] }, 'removal.updates[0]'],
    [{ updates: ['KB5000001', 'kb5000001'] }, 'removal.updates[1]'],
    [{ updates: ['KB5000001'], timeoutMinutes: 0 }, 'removal.timeoutMinutes'],
    [{ updates: ['KB5000001'], restart: false }, 'removal.restart'],
    [{ updates: [{ updateId: 'KB5000001', method: 'dism' }] }, 'removal.updates[0].packageName'],
    [{ updates: [{ updateId: 'KB5000001', method: 'msiexec' }] }, 'removal.updates[0]'],
  ])('refuses %j, naming %s', (removal, field) => {
    const error = inputError(() => parseRolloutInput({ ...BASE, removal } as never, NOW));
    expect(error.problems.map((p) => p.field)).toContain(field);
  });
});

describe('computeNodeOrder and targetResolution (mutation testing, issue 14)', () => {
  const GROUP = { kind: 'group', name: 'web-tier.prod', nodes: BASE.target.nodes } as const;
  const RESOLUTION = {
    by: 'tags',
    selector: 'Patch=Tuesday',
    count: 3,
    skipped: 0,
    resolvedAt: '2025-05-13T22:00:00Z',
  } as const;

  it.each([
    { source: 'a cluster of three, no nodeOrder: computed', input: BASE, computed: true },
    {
      source: 'a cluster of one: nothing to order',
      input: { target: { ...BASE.target, nodes: [node('NODE1', 'i-0123456789abcdef0')] } },
      computed: false,
    },
    {
      source: 'a group: updated by maxConcurrency, not in order',
      input: { target: GROUP },
      computed: false,
    },
    {
      source: 'the policy names the order',
      input: { ...BASE, policy: { nodeOrder: ['NODE3', 'NODE1', 'NODE2'] } },
      computed: false,
    },
    {
      source: 'a policy without nodeOrder: computed',
      input: { ...BASE, policy: { maxFailedNodes: 0 } },
      computed: true,
    },
    {
      source: 'phases give the order',
      input: {
        ...BASE,
        phases: [
          { nodeCount: 1, bakeMinutes: 30 },
          { nodeCount: 2, bakeMinutes: 30 },
        ],
      },
      computed: false,
    },
  ])('$source', ({ input, computed }) => {
    expect(parseRolloutInput(input, NOW).computeNodeOrder).toBe(computed);
  });

  it('targetResolution: the group resolution as given, else null', () => {
    expect(
      parseRolloutInput({ target: { ...GROUP, resolution: RESOLUTION } }, NOW).targetResolution,
    ).toEqual(RESOLUTION);
    expect(parseRolloutInput({ target: GROUP }, NOW).targetResolution).toBeNull();
    expect(parseRolloutInput(BASE, NOW).targetResolution).toBeNull();
  });
});
