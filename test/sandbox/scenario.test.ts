import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ValidationProblem } from '../../lambdas/core/errors.js';
import {
  DEFAULT_START_TIME,
  defaultFileSha256,
  defaultInstanceId,
  kbOfFile,
  loadScenario,
  parseScenario,
  ScenarioError,
  sha256Hex,
} from '../../sandbox/scenario.js';

const KB_FILE = 'CAUHotfix_All/windows10.0-kb5034439-x64.msu';
const HOTFIX = {
  name: 'Microsoft.HotfixPlugin',
  arguments: 'HotfixRootFolderPath="s3://rollout-sandbox-hotfixes/test"',
};

/** A small valid scenario, changed by `patch`. */
function scenario(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'test',
    hotfixRoot: { files: [{ path: KB_FILE }] },
    nodes: [
      { name: 'NODE1', cluster: 'CLUSTER1' },
      { name: 'NODE2', cluster: 'CLUSTER1' },
      { name: 'WEB01' },
    ],
    rollout: { target: { kind: 'cluster', name: 'CLUSTER1' }, plugins: [HOTFIX] },
    ...patch,
  };
}

function problemsOf(json: unknown): ValidationProblem[] {
  try {
    parseScenario(json, 'test.json');
  } catch (error) {
    if (error instanceof ScenarioError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ScenarioError, the scenario parsed');
}

const fields = (problems: readonly ValidationProblem[]) => problems.map((p) => p.field);

describe('parseScenario: defaults', () => {
  it('fills every default of a minimal scenario', () => {
    // Act
    const parsed = parseScenario(scenario(), 'test.json');
    // Assert
    expect(parsed.source).toBe('test.json');
    expect(parsed.startTime).toBe(DEFAULT_START_TIME);
    expect(parsed.hotfixRoot).toEqual({
      files: [
        {
          path: KB_FILE,
          sizeBytes: Buffer.byteLength(KB_FILE),
          sha256: sha256Hex(KB_FILE),
          deliveredSha256: sha256Hex(KB_FILE),
        },
      ],
    });
    expect(parsed.nodes[0]).toEqual({
      name: 'NODE1',
      instanceId: defaultInstanceId('NODE1'),
      cluster: 'CLUSTER1',
      os: {
        caption: 'Microsoft Windows Server 2022 Datacenter',
        version: '10.0.20348',
        build: '20348.2227',
        servicePack: 0,
        architecture: 'x64',
        editionId: 'ServerDatacenter',
      },
      binaries: {},
      installedUpdates: [],
      hotpatch: { enrolled: false, vbsEnabled: false, secureBoot: false, azureArcConnected: false },
      pendingReboot: false,
      lastBootTime: '2026-01-06T22:00:00.000Z',
      online: true,
      pingStatus: 'Online',
      restartMinutes: 4,
      neverReturnsFromRestart: false,
      pausedAtStart: false,
      roles: 1,
      drain: { fails: false, minutes: 2 },
      failbackMinutes: 0,
      staysDownAfterRestart: false,
      resumeFails: false,
      invocationDoesNotExistReads: 0,
      updates: {},
    });
    expect(parsed.nodes[0]?.instanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(defaultInstanceId('node1')).toBe(defaultInstanceId('NODE1'));
    expect(parsed.defaultUpdate).toEqual({
      exitCodes: [0],
      minutes: 3,
      hangs: false,
      replacesFiles: [],
      alreadyInstalled: false,
      notApplied: false,
      servicingBusy: false,
    });
    expect(parsed.updates).toEqual({});
    expect(parsed.windowsUpdate).toEqual({ available: [] });
  });

  it('resolves the rollout nodes: a cluster’s members, a group’s standalone servers', () => {
    const cluster = parseScenario(scenario(), 't');
    const group = parseScenario(
      scenario({ rollout: { target: { kind: 'group', name: 'web' }, plugins: [HOTFIX] } }),
      't',
    );
    expect(cluster.runs).toHaveLength(1);
    expect(cluster.runs[0]?.rollout.target).toEqual({
      kind: 'cluster',
      name: 'CLUSTER1',
      nodes: [
        { name: 'NODE1', instanceId: defaultInstanceId('NODE1') },
        { name: 'NODE2', instanceId: defaultInstanceId('NODE2') },
      ],
    });
    expect(cluster.runs[0]?.rollout.plugins).toEqual([HOTFIX]);
    expect(group.runs[0]?.rollout.target.nodes).toEqual([
      { name: 'WEB01', instanceId: defaultInstanceId('WEB01') },
    ]);
  });

  it('normalises exit codes, KB ids and defaults of Windows Update items and scripts', () => {
    const parsed = parseScenario(
      scenario({
        nodes: [
          {
            name: 'NODE1',
            cluster: 'CLUSTER1',
            installedUpdates: ['kb5032198'],
            online: false,
            preUpdateScript: { exitCode: '0xBC2' },
            updates: { kb5034439: { exitCodes: ['0x80240017', 2149842967, '1603'] } },
            lastBootTime: '2026-01-10T08:00:00+01:00',
          },
        ],
        windowsUpdate: { available: [{ kb: 'kb890830', title: 'MSRT' }] },
      }),
      't',
    );
    const node = parsed.nodes[0];
    expect(node?.updates.kb5034439?.exitCodes).toEqual([-2145124329, -2145124329, 1603]);
    expect(node?.installedUpdates).toEqual(['KB5032198']);
    expect(node?.preUpdateScript).toEqual({ exitCode: 3010, minutes: 0.5 });
    expect([node?.online, node?.pingStatus]).toEqual([false, 'ConnectionLost']);
    expect(node?.lastBootTime).toBe('2026-01-10T07:00:00.000Z');
    expect(parsed.windowsUpdate.available).toEqual([
      {
        kb: 'KB890830',
        title: 'MSRT',
        updateId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-/),
        resultCode: 2,
        hResult: 0,
        rebootRequired: false,
        recommended: false,
        minutes: 5,
        classification: 'Security Updates',
        msrcSeverity: 'Unspecified',
      },
    ]);
  });

  it('reads KB numbers from file names and computes the default checksum from the path', () => {
    expect(kbOfFile('CAUHotfix_All/windows10.0-KB5034439-x64.msu')).toBe('KB5034439');
    expect(kbOfFile('NODE1/contoso-agent.msi')).toBeUndefined();
    expect(kbOfFile('kb123/agent.msi')).toBeUndefined();
    expect(defaultFileSha256('a/b.msu')).toBe(sha256Hex('a/b.msu'));
  });
});

describe('parseScenario: problems', () => {
  it('names unknown fields with their path, value and the accepted fields', () => {
    const problems = problemsOf(
      scenario({
        nodes: [{ name: 'NODE1', cluster: 'CLUSTER1', reboots: 3, drain: { fail: true } }],
        colour: 'blue',
      }),
    );
    expect(problems).toContainEqual({
      field: 'nodes[0].reboots',
      value: 3,
      message: expect.stringMatching(/^unknown field; accepted here: name, instanceId, cluster/),
    });
    expect(problems).toContainEqual({
      field: 'nodes[0].drain.fail',
      value: true,
      message: 'unknown field; accepted here: fails, minutes, failsByAttempt',
    });
    expect(problems).toContainEqual(expect.objectContaining({ field: 'colour', value: 'blue' }));
  });

  it('lists every bad value with its field, in one error', () => {
    const problems = problemsOf(
      scenario({
        startTime: 'tomorrow',
        nodes: [
          {
            name: 'NODE 1',
            instanceId: 'i-xyz',
            restartMinutes: -1,
            updates: { [KB_FILE]: { exitCodes: ['0xZZ'], minutes: 'three' } },
          },
        ],
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'startTime', value: 'tomorrow' }),
        expect.objectContaining({ field: 'nodes[0].name', value: 'NODE 1' }),
        expect.objectContaining({ field: 'nodes[0].instanceId', value: 'i-xyz' }),
        expect.objectContaining({ field: 'nodes[0].restartMinutes', value: -1 }),
        expect.objectContaining({
          field: `nodes[0].updates["${KB_FILE}"].exitCodes[0]`,
          value: '0xZZ',
          message: expect.stringContaining('exit code "0xZZ"'),
        }),
        expect.objectContaining({
          field: `nodes[0].updates["${KB_FILE}"].minutes`,
          value: 'three',
        }),
      ]),
    );
    const error = (() => {
      try {
        parseScenario(scenario({ startTime: 'tomorrow' }), 'bad.json');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(
      /^bad\.json: invalid scenario \(1 problem\):\n {2}- startTime \("tomorrow"\)/,
    );
  });

  it('takes exactly one of rollout and rollouts', () => {
    const both = problemsOf(scenario({ rollouts: [{ target: { kind: 'group', name: 'g' } }] }));
    const neither = problemsOf(scenario({ rollout: undefined }));
    expect(both).toEqual([
      expect.objectContaining({
        field: 'rollouts',
        message: 'give either rollout (one run) or rollouts (runs in order), not both',
      }),
    ]);
    expect(neither).toEqual([
      {
        field: 'rollout',
        message: 'missing; expected rollout (one run) or rollouts (runs in order)',
      },
    ]);
  });

  it('runs rollouts in order, with one expect each', () => {
    const rollouts = [
      { target: { kind: 'cluster', name: 'CLUSTER1' }, plugins: [HOTFIX] },
      { target: { kind: 'group', name: 'web', nodes: [{ name: 'web01' }] }, plugins: [HOTFIX] },
    ];
    const parsed = parseScenario(
      scenario({
        rollout: undefined,
        rollouts,
        expect: [{ runStatus: 'Succeeded' }, { runStatus: 'Failed', nodes: { WEB01: 'Failed' } }],
      }),
      't',
    );
    expect(parsed.runs.map((r) => [r.rollout.target.name, r.expect?.runStatus])).toEqual([
      ['CLUSTER1', 'Succeeded'],
      ['web', 'Failed'],
    ]);
    expect(parsed.runs[1]?.rollout.target.nodes).toEqual([
      { name: 'web01', instanceId: defaultInstanceId('WEB01') },
    ]);
    expect(
      fields(
        problemsOf(
          scenario({ rollout: undefined, rollouts, expect: [{ runStatus: 'Succeeded' }] }),
        ),
      ),
    ).toEqual(['expect']);
    expect(
      fields(
        problemsOf(scenario({ rollout: undefined, rollouts, expect: { runStatus: 'Succeeded' } })),
      ),
    ).toEqual(['expect']);
  });

  it('checks the rollout as the workflow does, and its nodes against the scenario', () => {
    const problems = problemsOf(
      scenario({
        rollout: {
          target: {
            kind: 'cluster',
            name: 'CLUSTER1',
            nodes: [
              { name: 'NODE9' },
              { name: 'WEB01' },
              { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
            ],
          },
          plugins: [HOTFIX],
          policy: { maxRetriesPerNode: 0 },
          priority: 'high',
        },
        expect: { runStatus: 'Done', nodes: { NODE7: 'Succeeded' } },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'rollout.target.nodes[0].name', value: 'NODE9' }),
        expect.objectContaining({
          field: 'rollout.target.nodes[1].name',
          value: 'WEB01',
          message: expect.stringContaining('not a node of cluster CLUSTER1'),
        }),
        expect.objectContaining({
          field: 'rollout.target.nodes[2].instanceId',
          value: 'i-0123456789abcdef0',
        }),
        expect.objectContaining({ field: 'rollout.policy.maxRetriesPerNode', value: 0 }),
        expect.objectContaining({ field: 'rollout.priority', value: 'high' }),
        expect.objectContaining({ field: 'expect.runStatus', value: 'Done' }),
      ]),
    );
    expect(
      problemsOf(
        scenario({ rollout: { target: { kind: 'cluster', name: 'OTHER' }, plugins: [HOTFIX] } }),
      ),
    ).toEqual([expect.objectContaining({ field: 'rollout.target' })]);
    expect(
      problemsOf(scenario({ expect: { runStatus: 'Failed', nodes: { WEB01: 'Failed' } } })),
    ).toEqual([expect.objectContaining({ field: 'expect.nodes.WEB01', value: 'Failed' })]);
  });

  it('checks the hotfix root: configuration XML, manifest keys, update keys, duplicates', () => {
    const problems = problemsOf(
      scenario({
        hotfixRoot: {
          files: [{ path: KB_FILE }, { path: KB_FILE.toLowerCase() }, { path: '../x.msu' }],
          config: '<HotfixConfig><DefaultRules>',
          manifest: {
            'CAUHotfix_All/missing.msu': {
              policy: 'modern',
              update: { releaseMonth: '2025-11', kind: 'security' },
            },
          },
        },
      }),
    );
    expect(fields(problems)).toEqual(['hotfixRoot.files[2].path']);
    const later = problemsOf(
      scenario({
        hotfixRoot: {
          files: [{ path: KB_FILE }, { path: KB_FILE.toLowerCase() }],
          config: '<HotfixConfig><DefaultRules>',
          manifest: {
            'CAUHotfix_All/missing.msu': {
              policy: 'modern',
              update: { releaseMonth: '2025-11', kind: 'security' },
            },
          },
        },
        updates: { KB999: { exitCodes: [0] }, 'NODE1/agent.msi': {} },
        nodes: [
          { name: 'NODE1', cluster: 'CLUSTER1', online: true, pingStatus: 'ConnectionLost' },
          { name: 'node1', cluster: 'CLUSTER1' },
        ],
      }),
    );
    expect(fields(later)).toEqual([
      'nodes[0].pingStatus',
      'nodes[1].name',
      'nodes[1].instanceId',
      'hotfixRoot.files[1].path',
      'hotfixRoot.config',
      'hotfixRoot.manifest["CAUHotfix_All/missing.msu"]',
      'updates.KB999',
      'updates["NODE1/agent.msi"]',
    ]);
    expect(later.find((p) => p.field === 'hotfixRoot.config')?.message).toMatch(/malformed XML/);
  });

  it('reports a file that is not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scenario-'));
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ "name": ');
    await expect(loadScenario(path)).rejects.toMatchObject({
      name: 'ScenarioError',
      problems: [{ field: '(root)', message: expect.stringMatching(/^not valid JSON/) }],
    });
  });
});

describe('examples/scenarios', () => {
  it('every example is valid, small, and states what it expects', async () => {
    const files = (await readdir('examples/scenarios')).filter((f) => f.endsWith('.json'));
    expect(files).toEqual(
      expect.arrayContaining([
        'default.json',
        'no-restart.json',
        'restart-one-node.json',
        'fail-reboot-required.json',
        'already-installed.json',
        'retry-1603.json',
        'max-failed-nodes.json',
        'require-all-online.json',
        'never-returns.json',
        'installer-hangs.json',
        'pre-script-fails.json',
        'drain-fails.json',
        'stop-after.json',
        'invocation-does-not-exist.json',
      ]),
    );
    for (const file of files) {
      const parsed = await loadScenario(join('examples/scenarios', file));
      for (const run of parsed.runs) {
        expect(run.expect, `${file}: expect`).toBeDefined();
        for (const node of run.rollout.target.nodes) {
          expect(
            run.expect?.nodes?.[node.name],
            `${file}: expect.nodes.${node.name}`,
          ).toBeDefined();
        }
      }
      if (file !== 'default.json') {
        expect(parsed.nodes.length, file).toBeGreaterThanOrEqual(2);
        expect(parsed.nodes.length, file).toBeLessThanOrEqual(4);
        expect(parsed.runs, file).toHaveLength(1);
      }
    }
  });

  it('default.json updates the cluster, then the group, with updates of every kind', async () => {
    const parsed = await loadScenario('examples/scenarios/default.json');
    expect(parsed.runs.map((r) => [r.rollout.target.kind, r.rollout.target.nodes.length])).toEqual([
      ['cluster', 4],
      ['group', 6],
    ]);
    expect(parsed.runs.map((r) => r.expect)).toEqual([
      {
        runStatus: 'Succeeded',
        nodes: { NODE1: 'Succeeded', NODE2: 'Succeeded', NODE3: 'Succeeded', NODE4: 'Succeeded' },
      },
      {
        runStatus: 'Failed',
        nodes: {
          WEB01: 'Succeeded',
          WEB02: 'Succeeded',
          WEB03: 'Succeeded',
          WEB04: 'Succeeded',
          WEB05: 'Succeeded',
          WEB06: 'Failed',
        },
      },
    ]);
    expect(parsed.updates.KB5034439?.exitCodes).toEqual([3010]);
    expect(parsed.updates.KB5032198?.alreadyInstalled).toBe(true);
    expect(parsed.updates.KB5029244?.exitCodes).toEqual([0x80240017 | 0]);
    expect(parsed.nodes.find((n) => n.name === 'NODE3')?.updates.KB5034439?.exitCodes).toEqual([
      1603, 3010,
    ]);
    expect(parsed.nodes.find((n) => n.name === 'WEB06')?.updates.KB5034439?.exitCodes).toEqual([
      1603,
    ]);
    expect(parsed.runs[1]?.rollout.policy).toMatchObject({
      maxRetriesPerNode: 2,
      maxFailedNodes: 1,
    });
    expect(Object.keys(parsed.hotfixRoot.manifest ?? {})).toEqual([
      'CAUHotfix_All/windows10.0-kb5036001-x64.msu',
    ]);
  });
});
