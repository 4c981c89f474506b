import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RESOLVED_NODES } from '../../lambdas/core/target-selection.js';
import {
  makeResolveTargetHandler,
  type ResourceGroupsPort,
} from '../../lambdas/handlers/resolve-target.js';
import { simulatedResourceGroups } from '../../sandbox/resource-groups.js';

const ssmMock = mockClient(SSMClient);
const s3Mock = mockClient(S3Client);
afterEach(() => {
  ssmMock.reset();
  s3Mock.reset();
});

const NOW = new Date('2026-12-04T22:00:00.000Z');
const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const info = (n: number) => ({ InstanceId: id(n), ComputerName: `web${n}.corp.example.com` });
const noGroups: ResourceGroupsPort = {
  listGroupResources: () => Promise.reject(new Error('not called')),
};
const handler = (resourceGroups: ResourceGroupsPort = noGroups) =>
  makeResolveTargetHandler({
    ssm: new SSMClient({}),
    s3: new S3Client({}),
    resourceGroups,
    now: () => NOW,
    artifactsBucket: 'artifacts',
  });
/** The node list the handler wrote to S3 (issue 11: never into the state), and its key. */
const written = () => {
  const calls = s3Mock.commandCalls(PutObjectCommand);
  expect(calls).toHaveLength(1);
  const put = calls[0]?.args[0].input as { Bucket: string; Key: string; Body: string };
  return { ...put, nodes: JSON.parse(put.Body) as unknown[] };
};
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const input = (select: unknown) => ({
  executionName: 'exec-1',
  input: {
    target: { kind: 'group', name: 'web', select },
    plugins: [{ name: 'Microsoft.WindowsUpdatePlugin' }],
  },
});

describe('resolve-target: tags', () => {
  it('pages DescribeInstanceInformation with every tag ANDed and Windows only, and records how', async () => {
    // Arrange: two pages, the second out of name order.
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [info(3), info(1)], NextToken: 'p2' })
      .resolvesOnce({ InstanceInformationList: [info(2), { InstanceId: id(9) }] });
    // Act
    const out = (await handler()(input({ tags: { Env: 'prod', Role: 'web' } }))) as {
      target: Record<string, unknown>;
      plugins: unknown;
    };
    // Assert
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 2);
    expect(ssmMock).toHaveReceivedNthCommandWith(DescribeInstanceInformationCommand, 1, {
      Filters: [
        { Key: 'tag:Env', Values: ['prod'] },
        { Key: 'tag:Role', Values: ['web'] },
        { Key: 'PlatformTypes', Values: ['Windows'] },
      ],
      MaxResults: 50,
    });
    expect(ssmMock).toHaveReceivedNthCommandWith(DescribeInstanceInformationCommand, 2, {
      NextToken: 'p2',
    });
    // Sorted by name, so a retry resolves the same order; the node without a name is skipped.
    const list = written();
    expect(list).toMatchObject({ Bucket: 'artifacts', Key: 'targets/exec-1/nodes.json' });
    expect(list.nodes).toEqual([
      { name: 'WEB1', instanceId: id(1) },
      { name: 'WEB2', instanceId: id(2) },
      { name: 'WEB3', instanceId: id(3) },
    ]);
    // The state carries the reference, the digest and the first names; not the list.
    expect(out.target).toEqual({
      kind: 'group',
      name: 'web',
      resolution: {
        by: 'tags',
        selector: 'tag:Env=prod AND tag:Role=web',
        count: 3,
        skipped: 1,
        resolvedAt: NOW.toISOString(),
        nodeList: {
          bucket: 'artifacts',
          key: 'targets/exec-1/nodes.json',
          sha256: sha256(list.Body),
        },
        firstNodes: ['WEB1', 'WEB2', 'WEB3'],
      },
    });
    expect(out.plugins).toEqual([{ name: 'Microsoft.WindowsUpdatePlugin' }]);
  });

  it('no match ends as TargetNotResolved naming target.select.tags', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    await expect(handler()(input({ tags: { Env: 'none' } }))).rejects.toMatchObject({
      name: 'TargetNotResolved',
      message:
        'target.select.tags: no Windows managed node matches tag:Env=none; nothing was touched',
    });
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });

  it('stops paging once past the limit and refuses the resolution', async () => {
    let n = 0;
    ssmMock.on(DescribeInstanceInformationCommand).callsFake(() => ({
      InstanceInformationList: Array.from({ length: 50 }, () => info(++n)),
      NextToken: 'more',
    }));
    await expect(handler()(input({ tags: { Env: 'prod' } }))).rejects.toMatchObject({
      name: 'TargetNotResolved',
      message: expect.stringContaining(`more than the ${MAX_RESOLVED_NODES} one run takes`),
    });
    // 2,001 pages of 50 pass 100,000; no more are read, and nothing is written.
    expect(ssmMock).toHaveReceivedCommandTimes(
      DescribeInstanceInformationCommand,
      MAX_RESOLVED_NODES / 50 + 1,
    );
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });

  it('a malformed selection is InvalidRolloutInput, before any call', async () => {
    await expect(handler()(input({ tags: { 'aws:x': 'y' } }))).rejects.toMatchObject({
      name: 'InvalidRolloutInput',
    });
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 0);
  });
});

describe('resolve-target: Resource Group', () => {
  it('pages the members, looks their ids up 50 at a time, and counts the non-Windows ones as skipped', async () => {
    // Arrange: 120 members; SSM knows 118 of them as Windows managed nodes.
    const members = Array.from({ length: 120 }, (_, i) => ({
      instanceId: id(i + 1),
      resourceGroups: ['wave-1'],
    }));
    const groups = simulatedResourceGroups(members);
    ssmMock.on(DescribeInstanceInformationCommand).callsFake((cmd) => {
      const ids = (cmd.Filters?.[0]?.Values ?? []) as string[];
      return {
        InstanceInformationList: ids
          .filter((i) => i !== id(7) && i !== id(101))
          .map((i) => info(Number.parseInt(i.slice(2), 16))),
      };
    });
    // Act
    const out = (await handler(groups)(input({ resourceGroup: 'wave-1' }))) as {
      target: { resolution: Record<string, unknown> };
    };
    // Assert
    expect(groups.calls).toBe(3);
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 3);
    expect(ssmMock).toHaveReceivedNthCommandWith(DescribeInstanceInformationCommand, 3, {
      Filters: [
        { Key: 'InstanceIds', Values: members.slice(100).map((m) => m.instanceId) },
        { Key: 'PlatformTypes', Values: ['Windows'] },
      ],
    });
    expect(written().nodes).toHaveLength(118);
    expect(out.target.resolution).toMatchObject({ by: 'resourceGroup', count: 118, skipped: 2 });
  });

  it('an unknown group is TargetNotResolved naming target.select.resourceGroup', async () => {
    await expect(
      handler(simulatedResourceGroups([]))(input({ resourceGroup: 'nope' })),
    ).rejects.toMatchObject({
      name: 'TargetNotResolved',
      message:
        'target.select.resourceGroup: no Resource Group named "nope" in this account and Region',
    });
  });
});

describe('resolve-target: manifest', () => {
  it('reads the JSON object and keeps its order', async () => {
    const nodes = [
      { name: 'WEB2', instanceId: id(2) },
      { name: 'WEB1', instanceId: id(1) },
    ];
    s3Mock.on(GetObjectCommand, { Bucket: 'bkt', Key: 'manifests/w.json' }).resolves({
      Body: { transformToString: async () => JSON.stringify(nodes) } as never,
    });
    const out = (await handler()(input({ manifest: 's3://bkt/manifests/w.json' }))) as {
      target: { resolution: { by: string } };
    };
    expect(written().nodes).toEqual(nodes);
    expect(out.target.resolution.by).toBe('manifest');
  });
});
