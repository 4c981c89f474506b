import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import type { InventoryResult } from '../../lambdas/core/contracts.js';
import {
  type HotpatchEligibilityEvent,
  makeHotpatchEligibilityHandler,
  mapInventoryOs,
  NO_FACTS_REASON,
} from '../../lambdas/handlers/hotpatch-eligibility.js';

const s3Mock = mockClient(S3Client);

afterEach(() => {
  s3Mock.reset();
});

const NOW = new Date('2025-05-13T22:00:00.000Z');
const BUCKET = 'my-hotfixes';
const MANIFEST_KEY = '2025-05/hotpatch-manifest.json';
const NODE = { name: 'NODE1', instanceId: 'i-0123456789abcdef0' };
const deps = () => ({ s3: new S3Client({}), now: () => NOW });

const body = (text: string) =>
  ({
    transformToString: async () => text,
    transformToByteArray: async () => new TextEncoder().encode(text),
  }) as unknown as GetObjectCommandOutput['Body'];
const noSuchKey = () =>
  new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
const arrangeManifest = (manifest: unknown) =>
  s3Mock
    .on(GetObjectCommand, { Bucket: BUCKET, Key: MANIFEST_KEY })
    .resolves({ Body: body(typeof manifest === 'string' ? manifest : JSON.stringify(manifest)) });

/** Windows Server 2003 SP1 Enterprise x86, the KB897341 example (examples/hotpatch-facts.json). */
const SERVER_2003: InventoryResult = {
  computerName: 'NODE1',
  os: {
    caption: 'Microsoft(R) Windows(R) Server 2003, Enterprise Edition',
    version: '5.2.3790',
    build: '3790',
    servicePack: 1,
    architecture: 'x86',
    editionId: '',
  },
  binaries: [
    {
      path: '%windir%\\system32\\Authz.dll',
      fileVersion: '5.2.3790.2453 (srv03_sp1_gdr.050623-1417)',
    },
    {
      path: '%windir%\\system32\\ntdll.dll',
      fileVersion: '5.2.3790.1830 (srv03_sp1_rtm.050324-1447)',
    },
    {
      path: '%windir%\\system32\\qfe.dll',
      fileVersion: '5.2.3790.2500 (srv03_sp1_qfe.050801-1200)',
    },
  ],
  pendingReboot: false,
  lastBootTime: '2025-05-01T00:00:00Z',
  cluster: { name: 'CLUSTER1', nodeState: 'Up' },
  hotpatch: { enrolled: false, vbsEnabled: false, secureBoot: false, azureArcConnected: false },
  installedUpdates: ['KB890046'],
};

/** Windows Server 2025 Datacenter on Azure Arc, enrolled in hotpatch. */
const SERVER_2025: InventoryResult = {
  ...SERVER_2003,
  os: {
    caption: 'Microsoft Windows Server 2025 Datacenter',
    version: '10.0.26100',
    build: '26100.3775',
    servicePack: 0,
    architecture: '64-bit',
    editionId: 'ServerDatacenter',
  },
  binaries: [],
  hotpatch: { enrolled: true, vbsEnabled: true, secureBoot: true, azureArcConnected: true },
};

const KB_ENTRY = {
  policy: 'kb897341',
  update: {
    kb: 'KB901234',
    language: 'ENU',
    kind: 'securityGdr',
    article: 'supported',
    cumulativeIncludesRestartRequiredUpdate: false,
  },
  binaries: ['%WINDIR%\\System32\\authz.dll', '%windir%/system32/ntdll.dll'],
};
const MODERN_ENTRY = { policy: 'modern', update: { releaseMonth: '2025-05', kind: 'security' } };

const event = (inventory: InventoryResult, files: string[]): HotpatchEligibilityEvent => ({
  node: NODE,
  inventory,
  updates: files.map((file, index) => ({ index, file, key: `2025-05/${file}`, sha256: '00' })),
  hotfixRoot: { bucket: BUCKET, prefix: '2025-05/' },
});

describe('hotpatch-eligibility handler', () => {
  it('KB897341: eligible from the manifest and the inventory, but a restart may be required (unknown node facts)', async () => {
    // Arrange
    arrangeManifest({
      'CAUHotfix_All/HotpatchExe/WindowsServer2003-KB901234-x86-ENU.exe': KB_ENTRY,
    });

    // Act
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2003, ['CAUHotfix_All/HotpatchExe/WindowsServer2003-KB901234-x86-ENU.exe']),
    );

    // Assert
    const [decision] = result.decisions;
    expect(decision).toMatchObject({ index: 0, eligible: true, restartMayBeRequired: true });
    expect(decision?.reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^package: the KB article says/),
        expect.stringContaining(
          '%WINDIR%\\System32\\authz.dll "5.2.3790.2453 (srv03_sp1_gdr.050623-1417)"',
        ),
        expect.stringMatching(
          /^node: .* not in the inventory; taken as unknown, at the conservative value/,
        ),
        expect.stringMatching(/^restart: Rights Management/),
      ]),
    );
    expect(result.restartPossible).toBe(true);
    expect(result.pendingReboot).toBe(false);
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: BUCKET,
      Key: MANIFEST_KEY,
    });
  });

  it('KB897341: the eligible update is returned with /hotpatch:enable and marked hotpatch (issue 8, point 5)', async () => {
    // Arrange
    const file = 'CAUHotfix_All/HotpatchExe/WindowsServer2003-KB901234-x86-ENU.exe';
    arrangeManifest({ [file]: KB_ENTRY });
    const input = event(SERVER_2003, [file]);
    const withParameters = {
      ...input,
      updates: input.updates.map((u) => ({ ...u, parameters: '/quiet /norestart' })),
    };

    // Act
    const result = await makeHotpatchEligibilityHandler(deps())(withParameters);

    // Assert
    expect(result.decisions[0]?.installCommand).toBe(
      'WindowsServer2003-KB901234-x86-ENU.exe /hotpatch:enable',
    );
    expect(result.updates).toEqual([
      {
        ...withParameters.updates[0],
        parameters: '/quiet /norestart /hotpatch:enable',
        hotpatch: true,
      },
    ]);
  });

  it('a modern hotpatch is marked hotpatch without a switch; a not eligible one is returned as given', async () => {
    // Arrange
    arrangeManifest({ 'CAUHotfix_All/KB5058411.msu': MODERN_ENTRY });
    const input = event(SERVER_2025, ['CAUHotfix_All/KB5058411.msu', 'CAUHotfix_All/KB1.msu']);

    // Act
    const result = await makeHotpatchEligibilityHandler(deps())(input);

    // Assert
    expect(result.updates).toEqual([{ ...input.updates[0], hotpatch: true }, input.updates[1]]);
  });

  it('an update whose rule lists 1641 makes a restart possible even when it is a hotpatch', async () => {
    // Arrange
    arrangeManifest({ 'CAUHotfix_All/KB5058411.msu': MODERN_ENTRY });
    const input = event(SERVER_2025, ['CAUHotfix_All/KB5058411.msu']);
    const quiet = await makeHotpatchEligibilityHandler(deps())(input);
    const mayRestart = {
      ...input,
      updates: input.updates.map((u) => ({
        ...u,
        exitConditions: { Success: [0], Success_RebootRequired: [3010, 1641] },
      })),
    };

    // Act
    const result = await makeHotpatchEligibilityHandler(deps())(mayRestart);

    // Assert
    expect(quiet.restartPossible).toBe(false);
    expect(result.restartPossible).toBe(true);
  });

  it('KB897341: a QFE-branch binary makes the update not eligible', async () => {
    arrangeManifest({
      'NODE1/KB901234.exe': { ...KB_ENTRY, binaries: ['%windir%\\system32\\qfe.dll'] },
    });
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2003, ['NODE1/KB901234.exe']),
    );
    expect(result.decisions[0]?.eligible).toBe(false);
    expect(result.decisions[0]?.reasons[0]).toMatch(/^binary: .*QFE/);
  });

  it('KB897341: a binary the inventory did not report is named, and not eligible', async () => {
    arrangeManifest({
      'NODE1/KB901234.exe': { ...KB_ENTRY, binaries: ['%windir%\\system32\\rpcrt4.dll'] },
    });
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2003, ['NODE1/KB901234.exe']),
    );
    expect(result.decisions[0]?.eligible).toBe(false);
    expect(result.decisions[0]?.reasons).toContain(
      "binary: %windir%\\system32\\rpcrt4.dll has no file version in the node's inventory",
    );
  });

  it('modern: a hotpatch month on an enrolled Arc node installs without a restart', async () => {
    arrangeManifest({ 'CAUHotfix_All/KB5058411.msu': MODERN_ENTRY });
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2025, ['CAUHotfix_All/KB5058411.msu']),
    );
    expect(result.decisions).toEqual([
      {
        index: 0,
        file: 'CAUHotfix_All/KB5058411.msu',
        eligible: true,
        reasons: expect.any(Array),
        restartMayBeRequired: false,
      },
    ]);
    expect(result.restartPossible).toBe(false);
  });

  it('a pending reboot makes restartPossible true even when every update is a hotpatch', async () => {
    arrangeManifest({ 'CAUHotfix_All/KB5058411.msu': MODERN_ENTRY });
    const result = await makeHotpatchEligibilityHandler(deps())(
      event({ ...SERVER_2025, pendingReboot: true }, ['CAUHotfix_All/KB5058411.msu']),
    );
    expect(result.decisions[0]?.eligible).toBe(true);
    expect(result.pendingReboot).toBe(true);
    expect(result.restartPossible).toBe(true);
  });

  it('modern: a baseline month needs a restart', async () => {
    arrangeManifest({
      'CAUHotfix_All/KB1.msu': {
        ...MODERN_ENTRY,
        update: { releaseMonth: '2025-04', kind: 'security' },
      },
    });
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2025, ['CAUHotfix_All/KB1.msu']),
    );
    expect(result.decisions[0]).toMatchObject({ eligible: false, restartMayBeRequired: true });
    expect(result.restartPossible).toBe(true);
  });

  it('an update without a manifest entry is not eligible, with the reason', async () => {
    arrangeManifest({ 'CAUHotfix_All/KB5058411.msu': MODERN_ENTRY });
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2025, ['cauhotfix_all/kb5058411.msu', 'NODE1/agent.msi']),
    );
    expect(result.decisions.map((d) => [d.file, d.eligible])).toEqual([
      ['cauhotfix_all/kb5058411.msu', true],
      ['NODE1/agent.msi', false],
    ]);
    expect(result.decisions[1]).toEqual({
      index: 1,
      file: 'NODE1/agent.msi',
      eligible: false,
      reasons: [NO_FACTS_REASON],
      restartMayBeRequired: true,
    });
    expect(result.restartPossible).toBe(true);
  });

  it('no manifest in the root (NoSuchKey): no update has facts', async () => {
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2025, ['CAUHotfix_All/KB1.msu']),
    );
    expect(result.decisions[0]?.reasons).toEqual([
      'no hotpatch facts for this update in hotpatch-manifest.json',
    ]);
    expect(result.restartPossible).toBe(true);
  });

  it('no updates: no S3 call, and only a pending reboot makes a restart possible', async () => {
    const result = await makeHotpatchEligibilityHandler(deps())(event(SERVER_2025, []));
    expect(result).toEqual({
      decisions: [],
      restartPossible: false,
      pendingReboot: false,
      updates: [],
    });
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });

  it('an OS the rules cannot name is not eligible, saying what was not recognised', async () => {
    arrangeManifest({ 'CAUHotfix_All/KB1.msu': MODERN_ENTRY });
    const inventory = {
      ...SERVER_2025,
      os: { ...SERVER_2025.os, caption: 'Contoso OS', editionId: 'Mystery', build: '1.2' },
    };
    const result = await makeHotpatchEligibilityHandler(deps())(
      event(inventory, ['CAUHotfix_All/KB1.msu']),
    );
    expect(result.decisions[0]?.eligible).toBe(false);
    expect(result.decisions[0]?.reasons.join('\n')).toContain(
      'no Windows Server release recognised',
    );
  });
});

describe('hotpatch manifest errors', () => {
  it('names the field and value, and the manifest by its S3 URI', async () => {
    // Arrange
    arrangeManifest({
      'CAUHotfix_All/KB1.msu': { ...KB_ENTRY, update: { ...KB_ENTRY.update, kb: '12345' } },
    });

    // Act
    const failure = makeHotpatchEligibilityHandler(deps())(
      event(SERVER_2003, ['CAUHotfix_All/KB1.msu']),
    );

    // Assert
    await expect(failure).rejects.toMatchObject({ name: 'HotpatchManifestInvalid' });
    await expect(failure).rejects.toThrow(
      's3://my-hotfixes/2025-05/hotpatch-manifest.json: not a valid hotpatch manifest',
    );
    await expect(failure).rejects.toThrow(
      '["CAUHotfix_All/KB1.msu"].update.kb ("12345"): expected "KB" and 6 or 7 digits',
    );
  });

  it.each([
    {
      source: 'unknown policy',
      manifest: { 'a.msu': { policy: 'legacy' } },
      message: '["a.msu"].policy ("legacy"): expected "kb897341" or "modern"',
    },
    {
      source: 'unknown field',
      manifest: { 'a.msu': { ...MODERN_ENTRY, note: 'x' } },
      message: '["a.msu"].note ("x"): unknown field',
    },
    {
      source: 'kb897341 without binaries',
      manifest: { 'a.msu': { policy: 'kb897341', update: KB_ENTRY.update } },
      message: '["a.msu"].binaries: missing',
    },
    { source: 'not JSON', manifest: '{ "a.msu": ', message: '(root): not valid JSON' },
    { source: 'an array', manifest: [], message: '(root) ([]): expected an object' },
    {
      source: 'the same file twice',
      manifest: { 'A/KB1.msu': MODERN_ENTRY, 'a\\kb1.msu': MODERN_ENTRY },
      message: 'the same file as "A/KB1.msu"',
    },
  ])('$source', async ({ manifest, message }) => {
    arrangeManifest(manifest);
    const failure = makeHotpatchEligibilityHandler(deps())(event(SERVER_2025, ['a.msu']));
    await expect(failure).rejects.toMatchObject({ name: 'HotpatchManifestInvalid' });
    await expect(failure).rejects.toThrow(message);
  });

  it('S3 throttling propagates unchanged', async () => {
    s3Mock
      .on(GetObjectCommand)
      .rejects(Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' }));
    await expect(
      makeHotpatchEligibilityHandler(deps())(event(SERVER_2025, ['a.msu'])),
    ).rejects.toMatchObject({ name: 'SlowDown' });
  });

  it('an event without the inventory is InvalidEvent', async () => {
    const failure = makeHotpatchEligibilityHandler(deps())({
      node: NODE,
      updates: [],
      hotfixRoot: { bucket: BUCKET, prefix: '' },
    });
    await expect(failure).rejects.toMatchObject({ name: 'InvalidEvent' });
    await expect(failure).rejects.toThrow('inventory: missing');
  });
});

describe('mapInventoryOs', () => {
  it.each([
    {
      source: 'Windows Server 2003 SP1: caption only, no EditionID before 2008',
      os: {
        caption: 'Microsoft(R) Windows(R) Server 2003, Enterprise Edition',
        build: '3790',
        architecture: 'x86',
        editionId: '',
      },
      expected: { product: 'windowsServer2003', edition: 'enterprise', architecture: 'x86' },
    },
    {
      source: 'Windows Server 2003 R2 Standard x64',
      os: {
        caption: 'Microsoft(R) Windows(R) Server 2003 R2, Standard x64 Edition',
        build: '3790',
        architecture: 'AMD64',
        editionId: '',
      },
      expected: { product: 'windowsServer2003R2', edition: 'standard', architecture: 'x64' },
    },
    {
      source: 'Windows Server 2003 Web Edition',
      os: {
        caption: 'Microsoft(R) Windows(R) Server 2003, Web Edition',
        build: '3790',
        architecture: '32-bit',
        editionId: '',
      },
      expected: { product: 'windowsServer2003', edition: 'web', architecture: 'x86' },
    },
    {
      source: 'Windows Server 2022 Datacenter: Azure Edition (EditionID ServerTurbine)',
      os: {
        caption: 'Microsoft Windows Server 2022 Datacenter: Azure Edition',
        build: '20348.3561',
        architecture: '64-bit',
        editionId: 'ServerTurbine',
      },
      expected: {
        product: 'windowsServer2022',
        edition: 'datacenterAzureEdition',
        architecture: 'x64',
        build: '20348.3561',
      },
    },
    {
      source: 'Windows Server 2025 Standard, build without revision',
      os: { caption: '', build: '26100', architecture: '64-bit', editionId: 'ServerStandard' },
      expected: {
        product: 'windowsServer2025',
        edition: 'standard',
        architecture: 'x64',
        build: '26100.0',
      },
    },
  ])('$source', ({ os, expected }) => {
    const mapped = mapInventoryOs({ ...os, version: '', servicePack: 0 });
    expect(mapped).toMatchObject(expected);
  });
});
