import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_HOTFIX_CONFIG_FILE } from '../../lambdas/core/default-config.js';
import { PLUGIN_NAMES } from '../../lambdas/core/plugin-arguments.js';
import { parseRolloutInput, type RolloutInput } from '../../lambdas/core/rollout-input.js';
import { makeScanHandler, type ScanResult } from '../../lambdas/handlers/scan.js';
import { listHotfixRoot, loadHotfixConfig } from '../../lambdas/shared/hotfix-root.js';

const s3Mock = mockClient(S3Client);
const ssmMock = mockClient(SSMClient);

afterEach(() => {
  s3Mock.reset();
  ssmMock.reset();
});

const NOW = new Date('2025-05-13T22:00:00.000Z');
const BUCKET = 'my-hotfixes';
const PREFIX = '2025-05/';
const HOTFIX = {
  name: PLUGIN_NAMES.hotfix,
  arguments: `HotfixRootFolderPath="s3://${BUCKET}/2025-05"`,
};

const ARTIFACTS = 'artifacts-bucket';
const deps = () => ({
  s3: new S3Client({}),
  ssm: new SSMClient({}),
  now: () => NOW,
  artifactsBucket: ARTIFACTS,
});
const hex8 = (i: number) => i.toString(16).padStart(8, '0');
const nodes = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    name: `NODE${i + 1}`,
    instanceId: `i-${hex8(i + 1)}`,
  }));

function rolloutEvent(
  input: Partial<RolloutInput> & { nodeCount?: number; kind?: 'cluster' | 'group' },
) {
  const { nodeCount = 3, kind = 'cluster', ...rest } = input;
  return {
    rollout: parseRolloutInput(
      {
        target: { kind, name: kind === 'cluster' ? 'CLUSTER1' : 'web', nodes: nodes(nodeCount) },
        ...rest,
      },
      NOW,
      { defaultRunId: 'run-1' },
    ),
  };
}

/** A GetObject body as the SDK returns it. */
const body = (text: string) =>
  ({
    transformToString: async () => text,
    transformToByteArray: async () => new TextEncoder().encode(text),
  }) as unknown as GetObjectCommandOutput['Body'];
const noSuchKey = () =>
  new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
const listing = (...keys: string[]) => ({
  Contents: keys.map((Key) => ({ Key })),
  IsTruncated: false,
});
const online = (...ids: string[]) => ({
  InstanceInformationList: ids.map((InstanceId) => ({ InstanceId, PingStatus: 'Online' as const })),
});

describe('listHotfixRoot', () => {
  it('reads every page, strips the prefix and skips folder markers', async () => {
    // Arrange
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({
        Contents: [
          { Key: '2025-05/' },
          { Key: '2025-05/CAUHotfix_All/' },
          { Key: '2025-05/CAUHotfix_All/KB1.msu' },
        ],
        IsTruncated: true,
        NextContinuationToken: 'page-2',
      })
      .resolvesOnce({
        Contents: [{ Key: '2025-05/NODE1/KB2.msi' }, { Key: '2025-05/DefaultHotfixConfig.xml' }],
        IsTruncated: false,
      });

    // Act
    const files = await listHotfixRoot(new S3Client({}), BUCKET, '2025-05');

    // Assert
    expect(files).toEqual(['CAUHotfix_All/KB1.msu', 'NODE1/KB2.msi', 'DefaultHotfixConfig.xml']);
    expect(s3Mock).toHaveReceivedCommandTimes(ListObjectsV2Command, 2);
    expect(s3Mock).toHaveReceivedNthCommandWith(ListObjectsV2Command, 1, {
      Bucket: BUCKET,
      Prefix: '2025-05/',
      ContinuationToken: undefined,
    });
    expect(s3Mock).toHaveReceivedNthCommandWith(ListObjectsV2Command, 2, {
      Bucket: BUCKET,
      Prefix: '2025-05/',
      ContinuationToken: 'page-2',
    });
  });

  it('lists a root at the top of the bucket with no prefix', async () => {
    s3Mock.on(ListObjectsV2Command).resolves(listing('CAUHotfix_All/KB1.msu'));
    expect(await listHotfixRoot(new S3Client({}), BUCKET, '')).toEqual(['CAUHotfix_All/KB1.msu']);
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, { Prefix: '' });
  });

  it('refuses a truncated page without a continuation token instead of looping', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: true });
    await expect(listHotfixRoot(new S3Client({}), BUCKET, PREFIX)).rejects.toThrow(
      'no continuation token',
    );
  });
});

describe('loadHotfixConfig', () => {
  it('falls back to our default configuration when the root has none (NoSuchKey)', async () => {
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    const loaded = await loadHotfixConfig(
      new S3Client({}),
      BUCKET,
      PREFIX,
      'DefaultHotfixConfig.xml',
    );
    expect(loaded.source).toBe(DEFAULT_HOTFIX_CONFIG_FILE);
    expect(loaded.fromRoot).toBe(false);
    expect(loaded.config.extensionRules.map((r) => r.name)).toEqual(['MSU', 'MSI', 'MSP']);
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: BUCKET,
      Key: '2025-05/DefaultHotfixConfig.xml',
    });
  });

  it('falls back on a bare 404 too', async () => {
    s3Mock.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'NotFound',
        $fault: 'client',
        $metadata: { httpStatusCode: 404 },
      }),
    );
    const loaded = await loadHotfixConfig(new S3Client({}), BUCKET, PREFIX, 'Custom.xml');
    expect(loaded.fromRoot).toBe(false);
  });

  it("reads the root's own configuration, under HotfixConfigFileName", async () => {
    // Arrange
    const xml = `<HotfixConfig><DefaultRules><ExtensionRules>
      <Extension name="MSU"><Template path="wusa.exe" parameters="$update$ /quiet"/>
        <ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Extension>
      </ExtensionRules></DefaultRules></HotfixConfig>`;
    s3Mock.on(GetObjectCommand, { Key: '2025-05/Custom.xml' }).resolves({ Body: body(xml) });

    // Act
    const loaded = await loadHotfixConfig(new S3Client({}), BUCKET, PREFIX, 'Custom.xml');

    // Assert
    expect(loaded.source).toBe('s3://my-hotfixes/2025-05/Custom.xml');
    expect(loaded.config.extensionRules.map((r) => r.name)).toEqual(['MSU']);
  });

  it('a malformed configuration fails with its S3 URI and line', async () => {
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: body('<DefaultRules>\n<ExtensionRules>\n</DefaultRules>') });
    const failure = loadHotfixConfig(new S3Client({}), BUCKET, PREFIX, 'DefaultHotfixConfig.xml');
    await expect(failure).rejects.toMatchObject({ name: 'HotfixConfigSyntaxError' });
    await expect(failure).rejects.toThrow(
      /^s3:\/\/my-hotfixes\/2025-05\/DefaultHotfixConfig\.xml: malformed XML at line 3/,
    );
  });

  it('access denied is not "no configuration": it propagates', async () => {
    s3Mock.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(loadHotfixConfig(new S3Client({}), BUCKET, PREFIX, 'x.xml')).rejects.toMatchObject(
      {
        name: 'AccessDenied',
      },
    );
  });

  it('refuses a configuration object over 1 MiB without reading it', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: body(''), ContentLength: 5 * 1024 * 1024 });
    await expect(loadHotfixConfig(new S3Client({}), BUCKET, PREFIX, 'x.xml')).rejects.toMatchObject(
      {
        name: 'HotfixRootObjectTooLarge',
      },
    );
  });
});

describe('scan handler', () => {
  it("says where a restart is expected, from the packages' hotpatch facts", async () => {
    // Arrange: kb1 is a security update of a hotpatch month; KB2 is in a baseline month.
    s3Mock
      .on(ListObjectsV2Command)
      .resolves(listing('2025-05/CAUHotfix_All/kb1.msu', '2025-05/NODE2/KB2.msu'));
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    s3Mock.on(GetObjectCommand, { Key: '2025-05/hotpatch-manifest.json' }).resolves({
      Body: body(
        JSON.stringify({
          'CAUHotfix_All/kb1.msu': {
            policy: 'modern',
            update: { releaseMonth: '2025-05', kind: 'security' },
          },
          'NODE2/KB2.msu': {
            policy: 'modern',
            update: { releaseMonth: '2025-04', kind: 'security' },
          },
        }),
      ),
    });
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolves(online('i-00000001', 'i-00000002', 'i-00000003'));

    // Act
    const result = await makeScanHandler(deps())(rolloutEvent({ plugins: [HOTFIX] }));

    // Assert
    expect(result.nodes.map((n) => [n.name, n.hotpatchCandidates, n.restartExpected])).toEqual([
      ['NODE1', 1, false],
      ['NODE2', 1, true],
      ['NODE3', 1, false],
    ]);
  });

  it('plans the hotfix root for every node, in node order, with what is ignored', async () => {
    // Arrange
    s3Mock
      .on(ListObjectsV2Command)
      .resolves(
        listing(
          '2025-05/CAUHotfix_All/KB2.msu',
          '2025-05/CAUHotfix_All/kb1.msu',
          '2025-05/NODE2/agent.msi',
          '2025-05/OLDNODE/KB3.msu',
          '2025-05/readme.txt',
        ),
      );
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolves(online('i-00000001', 'i-00000002', 'i-00000003'));
    const event = rolloutEvent({ plugins: [HOTFIX], policy: { nodeOrder: ['NODE2'] } });

    // Act
    const result = await makeScanHandler(deps())(event);

    // Assert
    expect(result.runId).toBe('run-1');
    expect(result.scannedAt).toBe(NOW.toISOString());
    expect(result.nodeOrder).toEqual(['NODE2', 'NODE1', 'NODE3']);
    expect(result.nodes).toEqual([
      {
        name: 'NODE2',
        instanceId: 'i-00000002',
        online: true,
        pingStatus: 'Online',
        hotfixUpdates: 3,
        files: ['CAUHotfix_All/kb1.msu', 'CAUHotfix_All/KB2.msu', 'NODE2/agent.msi'],
        filesOmitted: 0,
        hotpatchCandidates: 0,
        restartExpected: true,
      },
      {
        name: 'NODE1',
        instanceId: 'i-00000001',
        online: true,
        pingStatus: 'Online',
        hotfixUpdates: 2,
        files: ['CAUHotfix_All/kb1.msu', 'CAUHotfix_All/KB2.msu'],
        filesOmitted: 0,
        hotpatchCandidates: 0,
        restartExpected: true,
      },
      {
        name: 'NODE3',
        instanceId: 'i-00000003',
        online: true,
        pingStatus: 'Online',
        hotfixUpdates: 2,
        files: ['CAUHotfix_All/kb1.msu', 'CAUHotfix_All/KB2.msu'],
        filesOmitted: 0,
        hotpatchCandidates: 0,
        restartExpected: true,
      },
    ]);
    expect(result.ignored.map((i) => i.file)).toEqual(['OLDNODE/KB3.msu', 'readme.txt']);
    expect(result.hotfix).toEqual({
      root: 's3://my-hotfixes/2025-05',
      config: DEFAULT_HOTFIX_CONFIG_FILE,
    });
    expect(result.windowsUpdate).toBeNull();
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: BUCKET,
      Prefix: PREFIX,
    });
  });

  it('for Windows Update, reports the query and that scanning happens on the node; no S3 call', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolves(online('i-00000001'));
    const result = await makeScanHandler(deps())(rolloutEvent({ nodeCount: 1 }));
    expect(result.windowsUpdate).toEqual({
      queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
      includeRecommendedUpdates: false,
      selection: null,
      note: expect.stringContaining('scans on each node'),
    });
    expect(result.hotfix).toBeNull();
    expect(result.nodes[0]).toMatchObject({ hotfixUpdates: 0, files: [] });
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });

  it('updateSelection: shows the Windows Update selection and the hotfix files its KB lists exclude, once each', async () => {
    // Arrange
    s3Mock
      .on(ListObjectsV2Command)
      .resolves(
        listing(
          '2025-05/CAUHotfix_All/windows10.0-kb5034441-x64.msu',
          '2025-05/CAUHotfix_All/windows10.0-kb5034439-x64.msu',
          '2025-05/NODE2/agent.msi',
        ),
      );
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    ssmMock.on(DescribeInstanceInformationCommand).resolves(online('i-00000001', 'i-00000002'));

    // Act
    const result = await makeScanHandler(deps())(
      rolloutEvent({
        nodeCount: 2,
        plugins: [HOTFIX, { name: 'Microsoft.WindowsUpdatePlugin' }],
        updateSelection: { excludeKbs: ['KB5034439'], classifications: ['Security Updates'] },
      }),
    );

    // Assert
    expect(result.nodes.map((n) => n.files)).toEqual([
      ['CAUHotfix_All/windows10.0-kb5034441-x64.msu'],
      ['CAUHotfix_All/windows10.0-kb5034441-x64.msu', 'NODE2/agent.msi'],
    ]);
    expect(result.excluded).toEqual([
      {
        file: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu',
        rule: 'excludeKbs',
        reason: 'KB5034439 is in excludeKbs',
      },
    ]);
    expect(result.excludedOmitted).toBe(0);
    expect(result.windowsUpdate?.selection).toEqual({
      excludeKbs: ['KB5034439'],
      classifications: ['Security Updates'],
    });
  });

  it('names at most 50 files per node and counts the rest', async () => {
    const keys = Array.from(
      { length: 60 },
      (_, i) => `2025-05/CAUHotfix_All/KB${String(i).padStart(3, '0')}.msu`,
    );
    s3Mock.on(ListObjectsV2Command).resolves(listing(...keys));
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    ssmMock.on(DescribeInstanceInformationCommand).resolves(online('i-00000001'));

    const result = await makeScanHandler(deps())(rolloutEvent({ nodeCount: 1, plugins: [HOTFIX] }));

    expect(result.nodes[0]?.hotfixUpdates).toBe(60);
    expect(result.nodes[0]?.files).toHaveLength(50);
    expect(result.nodes[0]?.filesOmitted).toBe(10);
  });

  it('keeps the output under the payload budget for many nodes and files', async () => {
    const keys = Array.from(
      { length: 200 },
      (_, i) => `2025-05/CAUHotfix_All/Windows10.0-KB50${String(i).padStart(5, '0')}-x64.msu`,
    );
    s3Mock.on(ListObjectsV2Command).resolves(listing(...keys));
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .callsFake((input) => online(...(input.Filters[0].Values as string[])));

    const result: ScanResult = await makeScanHandler(deps())(
      rolloutEvent({ kind: 'group', nodeCount: 300, plugins: [HOTFIX] }),
    );

    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThan(128 * 1024);
    expect(result.nodes).toHaveLength(300);
    expect(
      result.nodes.every((n) => n.hotfixUpdates === 200 && n.filesOmitted === 200 - n.files.length),
    ).toBe(true);
  });
});

describe('scan handler: nodes online', () => {
  it('asks SSM for 50 instance ids at a time and follows NextToken', async () => {
    // Arrange: 120 nodes, so batches of 50, 50 and 20; the first batch has two pages.
    const all = nodes(120).map((n) => n.instanceId);
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ ...online(...all.slice(0, 25)), NextToken: 'more' })
      .resolvesOnce(online(...all.slice(25, 50)))
      .resolvesOnce(online(...all.slice(50, 100)))
      .resolvesOnce(online(...all.slice(100)));

    // Act
    const result = await makeScanHandler(deps())(rolloutEvent({ kind: 'group', nodeCount: 120 }));

    // Assert
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 4);
    const calls = ssmMock
      .commandCalls(DescribeInstanceInformationCommand)
      .map((c) => c.args[0].input);
    expect(calls.map((c) => c.Filters?.[0]?.Values?.length)).toEqual([50, 50, 50, 20]);
    expect(calls.map((c) => c.NextToken)).toEqual([undefined, 'more', undefined, undefined]);
    expect(calls.every((c) => c.Filters?.[0]?.Key === 'InstanceIds' && c.MaxResults === 50)).toBe(
      true,
    );
    expect(calls[3]?.Filters?.[0]?.Values).toEqual(all.slice(100));
    expect(result.nodes.every((n) => n.online)).toBe(true);
    // A group's node list goes to the artifacts bucket for the fleet's Distributed Map.
    expect(result.nodeListKey).toBe(`runs/${result.runId}/nodes.json`);
    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Bucket).toBe(ARTIFACTS);
    expect(put?.Key).toBe(result.nodeListKey);
    expect(JSON.parse(String(put?.Body))).toEqual(
      all.map((instanceId, i) => ({ name: `NODE${i + 1}`, instanceId })),
    );
  });

  it('requireAllNodesOnline: throws NodesOffline naming every node not Online', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [
        { InstanceId: 'i-00000001', PingStatus: 'Online' },
        { InstanceId: 'i-00000002', PingStatus: 'ConnectionLost' },
      ],
    });
    const failure = makeScanHandler(deps())(
      rolloutEvent({ policy: { requireAllNodesOnline: true } }),
    );
    await expect(failure).rejects.toMatchObject({ name: 'NodesOffline' });
    await expect(failure).rejects.toThrow(
      'NODE2 (i-00000002): PingStatus ConnectionLost; NODE3 (i-00000003): not registered with SSM',
    );
  });

  it('without requireAllNodesOnline: offline nodes are reported and warned about', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolves(online('i-00000001', 'i-00000003'));
    const result = await makeScanHandler(deps())(rolloutEvent({}));
    expect(result.nodes.map((n) => [n.name, n.online, n.pingStatus])).toEqual([
      ['NODE1', true, 'Online'],
      ['NODE2', false, null],
      ['NODE3', true, 'Online'],
    ]);
    expect(result.warnings).toEqual([
      expect.stringContaining('NODE2 (i-00000002): not registered with SSM'),
    ]);
  });
});

describe('scan handler: errors', () => {
  it('SSM throttling propagates unchanged, for the Retry of the state machine', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    ssmMock.on(DescribeInstanceInformationCommand).rejects(throttled);
    await expect(makeScanHandler(deps())(rolloutEvent({}))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });

  it('S3 throttling propagates unchanged', async () => {
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolves(online('i-00000001', 'i-00000002', 'i-00000003'));
    s3Mock
      .on(ListObjectsV2Command)
      .rejects(Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' }));
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    await expect(
      makeScanHandler(deps())(rolloutEvent({ plugins: [HOTFIX] })),
    ).rejects.toMatchObject({
      name: 'SlowDown',
    });
  });

  it.each([
    { event: {}, field: 'rollout' },
    {
      event: {
        rollout: {
          runId: 'r',
          target: { kind: 'cluster', name: 'C', nodes: [] },
          plugins: [],
          policy: {},
        },
      },
      field: 'rollout.target.nodes',
    },
  ])('an event without $field is InvalidEvent', async ({ event, field }) => {
    const failure = makeScanHandler(deps())(event);
    await expect(failure).rejects.toMatchObject({ name: 'InvalidEvent' });
    await expect(failure).rejects.toThrow(field);
    expect(ssmMock).not.toHaveReceivedAnyCommand();
  });
});

describe('scan module', () => {
  it('creates no client on import', async () => {
    const module = await import('../../lambdas/handlers/scan.js');
    expect(typeof module.handler).toBe('function');
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });
});
