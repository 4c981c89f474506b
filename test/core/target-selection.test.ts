/**
 * The rules of a selected target (issue 11 §1): what a selection may say, how a manifest
 * reads, how SSM's ComputerName becomes a NetBIOS name, and the size limits of a resolution.
 */
import { describe, expect, it } from 'vitest';
import {
  checkResolvedCount,
  describeSelection,
  MAX_RESOLVED_NODES,
  manifestLocation,
  netbiosNameOf,
  parseManifest,
  parseTargetSelection,
  TargetResolutionError,
  TargetSelectionError,
} from '../../lambdas/core/target-selection.js';

const problemsOf = (target: unknown) => {
  try {
    parseTargetSelection(target);
  } catch (error) {
    expect(error).toBeInstanceOf(TargetSelectionError);
    return (error as TargetSelectionError).problems;
  }
  throw new Error('expected a TargetSelectionError');
};

const group = (select: unknown, extra: Record<string, unknown> = {}) => ({
  kind: 'group',
  name: 'web',
  select,
  ...extra,
});

describe('parseTargetSelection', () => {
  it.each([
    { source: 'SSM Targets tag:<key>', select: { tags: { Env: 'prod' } } },
    {
      source: 'several tags ANDed',
      select: { tags: { Env: 'prod', Role: 'web', 'app/tier': 'a b' } },
    },
    { source: 'an empty tag value is a value (EC2)', select: { tags: { Patch: '' } } },
    { source: 'SSM Targets resource-groups:Name', select: { resourceGroup: 'wave-1.web_a' } },
    { source: 'a JSON manifest', select: { manifest: 's3://my-bucket/manifests/wave.json' } },
    { source: 'a CSV manifest', select: { manifest: 's3://my-bucket/a/b/c.csv' } },
  ])('accepts $source', ({ select }) => {
    expect(parseTargetSelection(group(select))).toEqual(select);
  });

  it.each([
    {
      source: 'both nodes and select',
      target: group({ tags: { Env: 'prod' } }, { nodes: [{ name: 'A', instanceId: 'i-1' }] }),
      field: 'target.nodes',
      message: 'give either nodes or select, not both',
    },
    {
      source: 'a cluster lists its nodes',
      target: { kind: 'cluster', name: 'C', select: { tags: { Env: 'prod' } } },
      field: 'target.kind',
      message: 'only a group is chosen by select; a cluster lists its nodes',
    },
    {
      source: 'an aws: tag key (EC2 reserves it)',
      target: group({ tags: { 'aws:autoscaling:groupName': 'x' } }),
      field: 'target.select.tags.aws:autoscaling:groupName',
      message:
        'expected a tag key of 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting with aws:',
    },
    {
      source: 'a tag key with a character EC2 refuses',
      target: group({ tags: { 'Env*': 'prod' } }),
      field: 'target.select.tags.Env*',
      message:
        'expected a tag key of 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting with aws:',
    },
    {
      source: 'a tag value that is not text',
      target: group({ tags: { Env: 3 } }),
      field: 'target.select.tags.Env',
      message: 'expected a tag value: text of 0 to 256 letters, digits, spaces and _ . : / = + - @',
    },
    {
      source: 'no tags',
      target: group({ tags: {} }),
      field: 'target.select.tags',
      message: 'expected 1 to 5 tags (all must match)',
    },
    {
      source: 'more than 5 tags (SSM Targets)',
      target: group({ tags: { a: '1', b: '1', c: '1', d: '1', e: '1', f: '1' } }),
      field: 'target.select.tags',
      message: 'expected 1 to 5 tags (all must match)',
    },
    {
      source: 'two kinds of selection',
      target: group({ tags: { Env: 'prod' }, resourceGroup: 'web' }),
      field: 'target.select',
      message:
        'expected exactly one of tags, resourceGroup, manifest; tags and resourceGroup given',
    },
    {
      source: 'a Resource Group name with a space',
      target: group({ resourceGroup: 'wave 1' }),
      field: 'target.select.resourceGroup',
      message: 'expected a Resource Group name: 1 to 300 letters, digits, _ . -',
    },
    {
      source: 'a manifest that is not an S3 JSON or CSV object',
      target: group({ manifest: 'https://example.com/nodes.json' }),
      field: 'target.select.manifest',
      message: 'expected an S3 object of the nodes: s3://bucket/key.json or s3://bucket/key.csv',
    },
  ])('refuses $source, naming $field', ({ target, field, message }) => {
    expect(problemsOf(target)).toContainEqual(expect.objectContaining({ field, message }));
  });

  it('names an unknown selection field and the value', () => {
    expect(problemsOf(group({ tags: { Env: 'prod' }, platform: 'Linux' }))).toEqual([
      {
        field: 'target.select.platform',
        value: 'Linux',
        message: 'unknown field; accepted: tags, resourceGroup, manifest',
      },
    ]);
  });
});

describe('describeSelection and manifestLocation', () => {
  it.each([
    { select: { tags: { Env: 'prod', Role: 'web' } }, text: 'tag:Env=prod AND tag:Role=web' },
    { select: { resourceGroup: 'wave-1' }, text: 'resource-groups:Name=wave-1' },
    { select: { manifest: 's3://b/k.csv' }, text: 's3://b/k.csv' },
  ])('$text', ({ select, text }) => {
    expect(describeSelection(select)).toBe(text);
  });

  it('splits an S3 URI into bucket, key and format', () => {
    expect(manifestLocation('s3://my-bucket/manifests/w.csv')).toEqual({
      bucket: 'my-bucket',
      key: 'manifests/w.csv',
      format: 'csv',
    });
  });
});

describe('netbiosNameOf (SSM ComputerName -> node name)', () => {
  it.each([
    { computerName: 'web0001.corp.example.com', expected: 'WEB0001' },
    { computerName: 'EC2AMAZ-ABC1234', expected: 'EC2AMAZ-ABC1234' },
    { computerName: 'averyveryverylongname.corp', expected: undefined },
    { computerName: '12345.corp', expected: undefined },
    { computerName: undefined, expected: undefined },
  ])('$computerName -> $expected', ({ computerName, expected }) => {
    expect(netbiosNameOf(computerName)).toBe(expected);
  });
});

describe('parseManifest', () => {
  const A = { name: 'WEB01', instanceId: 'i-0123456789abcdef0' };
  const B = { name: 'WEB02', instanceId: 'mi-0123456789abcdef1' };

  it('reads JSON rows in order', () => {
    expect(parseManifest(JSON.stringify([B, A]), 'json')).toEqual([B, A]);
  });

  it('reads CSV with the header in either order, CRLF and blank lines', () => {
    const csv = `instanceId,name\r\n${A.instanceId},${A.name}\r\n\r\n${B.instanceId},${B.name}\r\n`;
    expect(parseManifest(csv, 'csv')).toEqual([A, B]);
  });

  it.each([
    { source: 'not JSON', text: '[{', format: 'json' as const, message: /not JSON/ },
    { source: 'no array', text: '{}', format: 'json' as const, message: /JSON array/ },
    {
      source: 'a bad CSV header',
      text: 'host,id\nA,i-1',
      format: 'csv' as const,
      message: /expected the CSV header "name,instanceId"; found "host,id"/,
    },
    {
      source: 'a bad instance id, by line',
      text: 'name,instanceId\nWEB01,i-zz',
      format: 'csv' as const,
      message: / line 2: "i-zz" is not a managed node id/,
    },
    {
      source: 'a duplicate name, case-insensitively',
      text: JSON.stringify([A, { ...B, name: 'web01' }]),
      format: 'json' as const,
      message: /same node as name\[0\]/,
    },
    {
      source: 'a duplicate instance id',
      text: JSON.stringify([A, { ...B, instanceId: A.instanceId }]),
      format: 'json' as const,
      message: /instanceId i-0123456789abcdef0 is listed twice/,
    },
  ])('refuses $source, naming target.select.manifest', ({ text, format, message }) => {
    let error: unknown;
    try {
      parseManifest(text, format);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TargetResolutionError);
    expect((error as TargetResolutionError).field).toBe('target.select.manifest');
    expect((error as Error).message).toMatch(message);
  });
});

describe('checkResolvedCount', () => {
  it('refuses no match, naming the selection', () => {
    expect(() => checkResolvedCount({ tags: { Env: 'x' } }, 0)).toThrow(
      'target.select.tags: no Windows managed node matches tag:Env=x; nothing was touched',
    );
  });

  it(`accepts ${MAX_RESOLVED_NODES} and refuses one more`, () => {
    expect(() => checkResolvedCount({ resourceGroup: 'g' }, MAX_RESOLVED_NODES)).not.toThrow();
    expect(() => checkResolvedCount({ resourceGroup: 'g' }, MAX_RESOLVED_NODES + 1)).toThrow(
      `target.select.resourceGroup: resource-groups:Name=g matches ${MAX_RESOLVED_NODES + 1} nodes, more than the ${MAX_RESOLVED_NODES} one run takes`,
    );
  });
});

describe('the API refuses a resolution it did not make', () => {
  it('POST /rollouts with target.resolution is a 400 naming target.resolution', async () => {
    const { parseRolloutRequest } = await import('../../lambdas/core/api-model.js');
    const body = {
      target: {
        kind: 'group',
        name: 'web',
        nodes: [{ name: 'WEB01', instanceId: 'i-0123456789abcdef0' }],
        resolution: {
          by: 'tags',
          selector: 'tag:Env=prod',
          count: 1,
          skipped: 0,
          resolvedAt: '2026-12-04T22:00:00.000Z',
        },
      },
    };
    expect(() => parseRolloutRequest(body, new Date('2026-12-04T22:00:00.000Z'))).toThrow(
      /target\.resolution .*set by the workflow when it resolves target\.select; leave it out/,
    );
  });
});

describe('parseTargetSelection: the edges', () => {
  it.each([
    {
      source: 'five tags, the most SSM Targets take',
      select: { tags: { a: '1', b: '2', c: '3', d: '4', e: '5' } },
    },
    {
      source: 'a key with aws: inside it, not at its start',
      select: { tags: { 'team/aws:x': 'v' } },
    },
    { source: 'tag values of digits', select: { tags: { Wave: '2026' } } },
  ])('accepts $source', ({ select }) => {
    expect(parseTargetSelection(group(select))).toEqual(select);
  });

  const SELECT_ACCEPTED =
    'expected one of { tags: { Key: "Value", ... } }, { resourceGroup }, { manifest }';
  const TAGS_ACCEPTED = 'expected { "TagKey": "value", ... }';
  const KEY =
    'expected a tag key of 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting with aws:';
  const VALUE =
    'expected a tag value: text of 0 to 256 letters, digits, spaces and _ . : / = + - @';
  const MANIFEST =
    'expected an S3 object of the nodes: s3://bucket/key.json or s3://bucket/key.csv';
  it.each([
    [undefined, 'target.select', undefined, SELECT_ACCEPTED],
    [null, 'target.select', null, SELECT_ACCEPTED],
    [['tags'], 'target.select', ['tags'], SELECT_ACCEPTED],
    ['tag:Env=prod', 'target.select', 'tag:Env=prod', SELECT_ACCEPTED],
    [{}, 'target.select', {}, 'expected exactly one of tags, resourceGroup, manifest; none given'],
    [{ tags: 'Env=prod' }, 'target.select.tags', 'Env=prod', TAGS_ACCEPTED],
    [{ tags: null }, 'target.select.tags', null, TAGS_ACCEPTED],
    [{ tags: ['Env'] }, 'target.select.tags', ['Env'], TAGS_ACCEPTED],
    [{ tags: { '*Env': 'prod' } }, 'target.select.tags.*Env', '*Env', KEY],
    [{ tags: { Env: '*prod' } }, 'target.select.tags.Env', '*prod', VALUE],
    [{ tags: { Env: 'prod*' } }, 'target.select.tags.Env', 'prod*', VALUE],
    [
      { resourceGroup: 5 },
      'target.select.resourceGroup',
      5,
      'expected a Resource Group name: 1 to 300 letters, digits, _ . -',
    ],
    [
      { manifest: ['s3://my-bucket/k.json'] },
      'target.select.manifest',
      ['s3://my-bucket/k.json'],
      MANIFEST,
    ],
    [
      { manifest: 'xs3://my-bucket/k.json' },
      'target.select.manifest',
      'xs3://my-bucket/k.json',
      MANIFEST,
    ],
    [
      { manifest: 's3://my-bucket/k.json.bak' },
      'target.select.manifest',
      's3://my-bucket/k.json.bak',
      MANIFEST,
    ],
  ])('select %j: one problem at %s', (select, field, value, message) => {
    expect(problemsOf(group(select))).toEqual([{ field, value, message }]);
  });

  it('names the listed nodes by their count, and the error heads its problems', () => {
    let error: unknown;
    try {
      parseTargetSelection(group({ tags: { Env: 'prod' } }, { nodes: [{}, {}] }));
    } catch (e) {
      error = e;
    }
    expect((error as TargetSelectionError).problems).toEqual([
      {
        field: 'target.nodes',
        value: '2 node(s)',
        message: 'give either nodes or select, not both',
      },
    ]);
    expect((error as Error).message).toBe(
      'target selection is invalid (1 problem):\n  - target.nodes ("2 node(s)"): give either nodes or select, not both',
    );
  });
});

describe('parseManifest: the edges', () => {
  const A = { name: 'WEB01', instanceId: 'i-01234567' };
  const B = { name: 'WEB02', instanceId: 'mi-0123456789abcdef1' };
  const refusal = (text: string, format: 'json' | 'csv') => {
    try {
      parseManifest(text, format);
    } catch (error) {
      expect(error).toBeInstanceOf(TargetResolutionError);
      return (error as Error).message;
    }
    throw new Error('expected a TargetResolutionError');
  };

  it('reads an 8-digit instance id, spaces around cells and a line of spaces', () => {
    const csv = ` name , instanceId \n  \n ${A.name} , ${A.instanceId} \n${B.name},${B.instanceId}`;
    expect(parseManifest(csv, 'csv')).toEqual([A, B]);
  });

  it.each([
    ['host,instanceId', 'expected the CSV header "name,instanceId"; found "host,instanceId"'],
    ['name,host', 'expected the CSV header "name,instanceId"; found "name,host"'],
    [
      'name,instanceId,zone',
      'expected the CSV header "name,instanceId"; found "name,instanceId,zone"',
    ],
  ])('refuses the CSV header %s', (header, message) => {
    expect(refusal(`${header}\nWEB01,i-01234567`, 'csv')).toBe(
      `target.select.manifest: ${message}`,
    );
  });

  it.each([
    [
      'a CSV line of three cells',
      'name,instanceId\nWEB02,mi-0123456789abcdef1\nWEB01,i-01234567,eu-west-1',
      'csv' as const,
      '1 problem(s):  line 3: expected { name, instanceId }, found "WEB01,i-01234567,eu-west-1"',
    ],
    [
      'a JSON row that is not an object, by index',
      JSON.stringify([A, 5]),
      'json' as const,
      '1 problem(s): [1]: expected { name, instanceId }, found 5',
    ],
    [
      'instance ids with junk around them',
      JSON.stringify([
        { name: 'WEB01', instanceId: 'xi-01234567' },
        { name: 'WEB02', instanceId: 'i-0123456789abcdef0x' },
      ]),
      'json' as const,
      '2 problem(s): [0]: "xi-01234567" is not a managed node id (i-… or mi-…); [1]: "i-0123456789abcdef0x" is not a managed node id (i-… or mi-…)',
    ],
  ])('refuses %s', (_what, text, format, message) => {
    expect(refusal(text, format)).toBe(`target.select.manifest: ${message}`);
  });

  const badRows = (n: number) =>
    JSON.stringify(Array.from({ length: n }, (_, i) => ({ name: `WEB${i}`, instanceId: `x${i}` })));
  it('shows ten problems; more are counted and cut with "..."', () => {
    const ten = refusal(badRows(10), 'json');
    expect(ten).toMatch(/^target\.select\.manifest: 10 problem\(s\): \[0\]: "x0" is not/);
    expect(ten.split('; ')).toHaveLength(10);
    expect(ten.endsWith('(i-… or mi-…)')).toBe(true);
    const twelve = refusal(badRows(12), 'json');
    expect(twelve).toMatch(/^target\.select\.manifest: 12 problem\(s\): /);
    expect(twelve.split('; ')).toHaveLength(11);
    expect(twelve).toContain('[9]: "x9"');
    expect(twelve).not.toContain('[10]');
    expect(twelve.endsWith('; ...')).toBe(true);
  });

  it('an empty CSV manifest names the header it lacks', () => {
    expect(refusal('\r\n  \n', 'csv')).toBe(
      'target.select.manifest: expected the CSV header "name,instanceId"; found ""',
    );
  });

  it('a manifest that matched no node names the manifest field', () => {
    expect(() => checkResolvedCount({ manifest: 's3://b/k.json' }, 0)).toThrow(
      'target.select.manifest: no Windows managed node matches s3://b/k.json; nothing was touched',
    );
  });
});
