import { createHash } from 'node:crypto';
import {
  GetObjectAttributesCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  NoSuchKey,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { PLUGIN_NAMES } from '../../lambdas/core/plugin-arguments.js';
import { parseRolloutInput } from '../../lambdas/core/rollout-input.js';
import {
  makePlanNodeHandler,
  WINDOWS_UPDATE_TIMEOUT_MINUTES,
} from '../../lambdas/handlers/plan-node.js';
import { checksumOf } from '../../lambdas/shared/hotfix-root.js';

const s3Mock = mockClient(S3Client);

afterEach(() => {
  s3Mock.reset();
});

const NOW = new Date('2025-05-13T22:00:00.000Z');
const BUCKET = 'my-hotfixes';
const NODE = { name: 'NODE1', instanceId: 'i-0123456789abcdef0' };

const sha256 = (text: string) => createHash('sha256').update(text).digest();
const base64Of = (text: string) => sha256(text).toString('base64');
const hexOf = (text: string) => sha256(text).toString('hex');

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

/** The resolved plug-ins of a rollout, as validate-input returns them. */
function plugins(...list: { name: string; arguments?: string }[]) {
  return pluginsSelecting(undefined, ...list);
}

/** The same, with the rollout's updateSelection. */
function pluginsSelecting(
  updateSelection: Record<string, unknown> | undefined,
  ...list: { name: string; arguments?: string }[]
) {
  return parseRolloutInput(
    {
      target: {
        kind: 'cluster',
        name: 'CLUSTER1',
        nodes: [NODE, { name: 'NODE2', instanceId: 'i-01234567' }],
      },
      plugins: list,
      ...(updateSelection ? { updateSelection } : {}),
    },
    NOW,
  ).plugins;
}
const HOTFIX = {
  name: PLUGIN_NAMES.hotfix,
  arguments: `HotfixRootFolderPath="s3://${BUCKET}/2025-05";HotfixInstallerTimeoutMinutes=45`,
};
const WINDOWS_UPDATE = {
  name: PLUGIN_NAMES.windowsUpdate,
  arguments: 'IncludeRecommendedUpdates=True',
};

const deps = () => ({ s3: new S3Client({}), now: () => NOW });

/** A hotfix root with two shared updates and one for NODE1; every object has its SHA-256. */
function arrangeRoot(manifest?: unknown) {
  s3Mock
    .on(ListObjectsV2Command)
    .resolves(
      listing(
        '2025-05/CAUHotfix_All/KB2.msu',
        '2025-05/CAUHotfix_All/KB1.msu',
        '2025-05/NODE1/agent.msi',
        '2025-05/NODE2/other.msi',
      ),
    );
  s3Mock.on(GetObjectCommand).rejects(noSuchKey());
  if (manifest !== undefined) {
    s3Mock
      .on(GetObjectCommand, { Key: '2025-05/hotpatch-manifest.json' })
      .resolves({ Body: body(JSON.stringify(manifest)) });
  }
  s3Mock.on(GetObjectAttributesCommand).callsFake((input: { Key: string }) => ({
    Checksum: { ChecksumSHA256: base64Of(input.Key), ChecksumType: 'FULL_OBJECT' },
  }));
}

describe('checksumOf', () => {
  it('turns the base64 ChecksumSHA256 into hex', async () => {
    // Arrange: the SHA-256 of the empty string, as S3 reports it.
    s3Mock.on(GetObjectAttributesCommand).resolves({
      Checksum: { ChecksumSHA256: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' },
    });

    // Act
    const hex = await checksumOf(new S3Client({}), BUCKET, '2025-05/CAUHotfix_All/KB1.msu');

    // Assert
    expect(hex).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectAttributesCommand, {
      Bucket: BUCKET,
      Key: '2025-05/CAUHotfix_All/KB1.msu',
      ObjectAttributes: ['Checksum'],
    });
  });

  it.each([
    { source: 'no checksum at all', attributes: {}, detail: 'has no SHA-256 checksum' },
    {
      source: 'only a CRC32',
      attributes: { Checksum: { ChecksumCRC32: 'AAAAAA==' } },
      detail: 'has no SHA-256 checksum',
    },
    {
      source: 'composite SHA-256 of a multipart upload',
      attributes: {
        Checksum: { ChecksumSHA256: base64Of('parts'), ChecksumType: 'COMPOSITE' as const },
      },
      detail: 'composite',
    },
    {
      source: 'not 32 bytes',
      attributes: { Checksum: { ChecksumSHA256: 'AAAA' } },
      detail: 'not 32 bytes',
    },
  ])('$source: ChecksumMissing naming the key and the fix', async ({ attributes, detail }) => {
    s3Mock.on(GetObjectAttributesCommand).resolves(attributes);
    const failure = checksumOf(new S3Client({}), BUCKET, '2025-05/NODE1/agent.msi');
    await expect(failure).rejects.toMatchObject({
      name: 'ChecksumMissing',
      key: '2025-05/NODE1/agent.msi',
    });
    await expect(failure).rejects.toThrow(detail);
    await expect(failure).rejects.toThrow('s3://my-hotfixes/2025-05/NODE1/agent.msi');
    await expect(failure).rejects.toThrow('--checksum-algorithm SHA256');
  });
});

describe('plan-node handler', () => {
  it("plans the node's hotfix updates with S3 keys, SHA-256s and commands, in install order", async () => {
    // Arrange
    arrangeRoot();

    // Act
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(HOTFIX),
    });

    // Assert
    expect(result.nothingToInstall).toBe(false);
    expect(result.windowsUpdate).toBeNull();
    expect(result.hotfixRoot).toEqual({ bucket: BUCKET, prefix: '2025-05/' });
    expect(result.hotfix?.bucket).toBe(BUCKET);
    expect(result.hotfix?.timeoutMinutes).toBe(45);
    expect(result.hotfix?.commandTimeoutSeconds).toBe(
      (result.hotfix?.updates.length ?? 0) * 45 * 60 + 900,
    );
    expect(result.hotfix?.updates.map((u) => [u.index, u.file, u.key, u.sha256])).toEqual([
      [
        0,
        'CAUHotfix_All/KB1.msu',
        '2025-05/CAUHotfix_All/KB1.msu',
        hexOf('2025-05/CAUHotfix_All/KB1.msu'),
      ],
      [
        1,
        'CAUHotfix_All/KB2.msu',
        '2025-05/CAUHotfix_All/KB2.msu',
        hexOf('2025-05/CAUHotfix_All/KB2.msu'),
      ],
      [2, 'NODE1/agent.msi', '2025-05/NODE1/agent.msi', hexOf('2025-05/NODE1/agent.msi')],
    ]);
    expect(result.hotfix?.updates[2]).toMatchObject({
      localPath: '%ProgramData%\\WindowsRollout\\Hotfixes\\NODE1\\agent.msi',
      path: '%systemroot%\\System32\\msiexec.exe',
      parameters: '/i "%ProgramData%\\WindowsRollout\\Hotfixes\\NODE1\\agent.msi" /qn /norestart',
      rule: { kind: 'extension', name: 'MSI' },
      alwaysReboot: false,
      exitConditions: expect.objectContaining({
        Success: [0],
        Success_RebootRequired: [3010, 1641],
      }),
    });
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectAttributesCommand, 3);
    expect(s3Mock).not.toHaveReceivedCommandWith(GetObjectAttributesCommand, {
      Key: '2025-05/NODE2/other.msi',
    });
  });

  it('updateSelection: the hotfix plan drops the files its KB lists exclude, naming the rule', async () => {
    // Arrange: KB1 and KB2 shared, agent.msi (no KB) for NODE1.
    arrangeRoot();

    // Act
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: pluginsSelecting({ excludeKbs: ['KB2000'] }, HOTFIX),
    });
    const onlyKb1 = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: pluginsSelecting({ includeKbs: ['KB1000'] }, HOTFIX),
    });

    // Assert: the file names carry KB1 / KB2, which are not valid KB ids, so nothing matches
    // excludeKbs and includeKbs keeps nothing.
    expect(result.hotfix?.updates.map((u) => u.file)).toEqual([
      'CAUHotfix_All/KB1.msu',
      'CAUHotfix_All/KB2.msu',
      'NODE1/agent.msi',
    ]);
    expect(result.excluded).toEqual([]);
    expect(onlyKb1.hotfix).toBeNull();
    expect(onlyKb1.nothingToInstall).toBe(true);
    expect(onlyKb1.excluded.map((e) => [e.file, e.rule])).toEqual([
      ['CAUHotfix_All/KB1.msu', 'includeKbs'],
      ['CAUHotfix_All/KB2.msu', 'includeKbs'],
      ['NODE1/agent.msi', 'includeKbs'],
    ]);
  });

  it('updateSelection: a KB in the file name, any case, is matched by both lists', async () => {
    // Arrange
    s3Mock
      .on(ListObjectsV2Command)
      .resolves(
        listing(
          '2025-05/CAUHotfix_All/windows10.0-kb5034441-x64.msu',
          '2025-05/CAUHotfix_All/Windows10.0-KB5034439-x64.msu',
          '2025-05/CAUHotfix_All/windows10.0-kb5035000-x64.msu',
        ),
      );
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    s3Mock.on(GetObjectAttributesCommand).callsFake((input: { Key: string }) => ({
      Checksum: { ChecksumSHA256: base64Of(input.Key), ChecksumType: 'FULL_OBJECT' },
    }));

    // Act
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: pluginsSelecting(
        { includeKbs: ['KB5034441', 'KB5034439'], excludeKbs: ['kb5034439'] },
        HOTFIX,
      ),
    });

    // Assert: only KB5034441 is planned, and only its SHA-256 is read.
    expect(result.hotfix?.updates.map((u) => [u.index, u.file])).toEqual([
      [0, 'CAUHotfix_All/windows10.0-kb5034441-x64.msu'],
    ]);
    expect(result.excluded).toEqual([
      {
        file: 'CAUHotfix_All/Windows10.0-KB5034439-x64.msu',
        rule: 'excludeKbs',
        reason: 'KB5034439 is in excludeKbs',
      },
      {
        file: 'CAUHotfix_All/windows10.0-kb5035000-x64.msu',
        rule: 'includeKbs',
        reason: 'KB5035000 is not in includeKbs',
      },
    ]);
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectAttributesCommand, 1);
  });

  it('updateSelection: the Windows Update payload carries it for the node', async () => {
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: pluginsSelecting(
        { classifications: ['Security Updates'], excludeRebootRequired: true },
        WINDOWS_UPDATE,
      ),
    });
    expect(result.windowsUpdate?.selection).toEqual({
      classifications: ['Security Updates'],
      excludeRebootRequired: true,
    });
  });

  it('an update without a SHA-256 is never planned: ChecksumMissing', async () => {
    arrangeRoot();
    s3Mock.on(GetObjectAttributesCommand, { Key: '2025-05/NODE1/agent.msi' }).resolves({});
    const failure = makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(HOTFIX),
    });
    await expect(failure).rejects.toMatchObject({ name: 'ChecksumMissing' });
    await expect(failure).rejects.toThrow(
      's3://my-hotfixes/2025-05/NODE1/agent.msi has no SHA-256 checksum',
    );
  });

  it('Windows Update: the query, recommended updates and a time limit', async () => {
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(WINDOWS_UPDATE),
    });
    expect(result).toEqual({
      hotfix: null,
      windowsUpdate: {
        queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
        includeRecommendedUpdates: true,
        timeoutMinutes: WINDOWS_UPDATE_TIMEOUT_MINUTES,
        commandTimeoutSeconds: WINDOWS_UPDATE_TIMEOUT_MINUTES * 60 + 900,
        selection: null,
      },
      nothingToInstall: false,
      hotfixRoot: null,
      inventoryBinaries: [],
      excluded: [],
      // The Verify inventory searches again the same way after the final restart.
      rescan: {
        windowsUpdate: {
          queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
          includeRecommendedUpdates: true,
          selection: null,
        },
        hotfixes: [],
      },
    });
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });

  it('nothing in the hotfix root for this node and no Windows Update: nothingToInstall', async () => {
    s3Mock.on(ListObjectsV2Command).resolves(listing('2025-05/NODE2/other.msi'));
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(HOTFIX),
    });
    expect(result.hotfix).toBeNull();
    expect(result.nothingToInstall).toBe(true);
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectAttributesCommand);
  });

  it('both plug-ins: both payloads', async () => {
    arrangeRoot();
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(HOTFIX, WINDOWS_UPDATE),
    });
    expect(result.hotfix?.updates).toHaveLength(3);
    expect(result.windowsUpdate).not.toBeNull();
    // The rescan after the final restart checks the planned hotfixes whose file names a KB:
    // KB1 and KB2 are not KB numbers (4 to 8 digits), agent.msi names none (the e2e rescan
    // test checks a real one, KB5034441).
    expect(result.rescan.windowsUpdate).not.toBeNull();
    expect(result.rescan.hotfixes).toEqual([]);
  });

  it('lists the binaries the hotpatch check needs, from the manifest', async () => {
    arrangeRoot({
      'CAUHotfix_All/KB1.msu': {
        policy: 'kb897341',
        update: { kb: 'KB901234', language: 'ENU', kind: 'securityGdr', article: 'supported' },
        binaries: ['%windir%\\system32\\Authz.dll', '%windir%\\system32\\ntdll.dll'],
      },
      'cauhotfix_all\\kb2.msu': {
        policy: 'kb897341',
        update: { kb: 'KB901235', language: 'ENU', kind: 'securityGdr', article: 'supported' },
        binaries: ['%WINDIR%\\System32\\authz.dll'],
      },
    });
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(HOTFIX),
    });
    expect(result.inventoryBinaries).toEqual([
      '%windir%\\system32\\Authz.dll',
      '%windir%\\system32\\ntdll.dll',
    ]);
    // Each planned update carries the files it replaces, for the install ledger.
    expect(result.hotfix?.updates.map((u) => u.replacesFiles)).toEqual(
      expect.arrayContaining([['%windir%\\system32\\Authz.dll', '%windir%\\system32\\ntdll.dll']]),
    );
  });

  it('an inventory from another computer stops the plan: NodeIdentityMismatch', async () => {
    const failure = makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(WINDOWS_UPDATE),
      inventory: { computerName: 'NODE7' },
    });
    await expect(failure).rejects.toMatchObject({ name: 'NodeIdentityMismatch' });
    await expect(failure).rejects.toThrow('NODE1 (i-0123456789abcdef0)');
  });

  it('an inventory of the same computer, any case or as an FQDN, is accepted', async () => {
    const result = await makePlanNodeHandler(deps())({
      runId: 'run-1',
      node: NODE,
      plugins: plugins(WINDOWS_UPDATE),
      inventory: { computerName: 'node1.corp.example.com' },
    });
    expect(result.windowsUpdate).not.toBeNull();
  });

  it('refuses a plan too big for a Step Functions payload: PlanTooLarge', async () => {
    const keys = Array.from(
      { length: 600 },
      (_, i) => `2025-05/CAUHotfix_All/Windows10.0-KB5${String(i).padStart(6, '0')}-x64.msu`,
    );
    s3Mock.on(ListObjectsV2Command).resolves(listing(...keys));
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    s3Mock.on(GetObjectAttributesCommand).resolves({ Checksum: { ChecksumSHA256: base64Of('x') } });
    await expect(
      makePlanNodeHandler(deps())({ runId: 'run-1', node: NODE, plugins: plugins(HOTFIX) }),
    ).rejects.toMatchObject({ name: 'PlanTooLarge' });
  });

  it.each([
    // 3 updates: (172800 - 900) / 60 / 3 = 955 minutes fit, 956 do not.
    [955, false],
    [956, true],
  ])(
    'HotfixInstallerTimeoutMinutes=%i with 3 updates: refused over the 48-hour command cap = %s',
    async (minutes, refused) => {
      // Arrange
      arrangeRoot();
      const plugin = {
        name: PLUGIN_NAMES.hotfix,
        arguments: `HotfixRootFolderPath="s3://${BUCKET}/2025-05";HotfixInstallerTimeoutMinutes=${minutes}`,
      };

      // Act
      const planned = makePlanNodeHandler(deps())({
        runId: 'run-1',
        node: NODE,
        plugins: plugins(plugin),
      });

      // Assert
      if (refused) {
        await expect(planned).rejects.toMatchObject({ name: 'CommandTimeoutTooLong' });
        await expect(planned).rejects.toThrow(
          /NODE1: 3 updates x HotfixInstallerTimeoutMinutes=956 minutes .* over SSM's 172800 s \(48 h\); lower HotfixInstallerTimeoutMinutes to at most 955/,
        );
      } else {
        expect((await planned).hotfix?.commandTimeoutSeconds).toBe(3 * 955 * 60 + 900);
      }
    },
  );

  it('S3 throttling on GetObjectAttributes propagates unchanged', async () => {
    arrangeRoot();
    s3Mock
      .on(GetObjectAttributesCommand)
      .rejects(Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' }));
    await expect(
      makePlanNodeHandler(deps())({ runId: 'run-1', node: NODE, plugins: plugins(HOTFIX) }),
    ).rejects.toMatchObject({ name: 'SlowDown' });
  });

  it.each([
    {
      event: { runId: 'run-1', node: { name: 'NODE1', instanceId: 'i-zz' }, plugins: [] },
      field: 'node.instanceId ("i-zz")',
    },
    {
      event: { runId: 'run-1', node: NODE, plugins: [{ name: 'Contoso.Plugin' }] },
      field: 'plugins[0].name',
    },
  ])('InvalidEvent names $field', async ({ event, field }) => {
    const failure = makePlanNodeHandler(deps())(event);
    await expect(failure).rejects.toMatchObject({ name: 'InvalidEvent' });
    await expect(failure).rejects.toThrow(field);
  });
});
