/**
 * End to end, issue 8 (safety under faults), the node workflow's points: each case runs a small
 * scenario through the synthesized rollout and node workflows, the real handlers and the
 * simulated fleet, and checks what happened on the simulated nodes (their command records) as
 * well as the run's report.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../sandbox/report.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import {
  loadScenario,
  parseScenario,
  type ScenarioInput,
  sha256Hex,
} from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const MSU = 'CAUHotfix_All/windows10.0-kb5036001-x64.msu';
const MSI = 'CAUHotfix_All/app-kb5036002.msi';
const MSU2 = 'CAUHotfix_All/windows10.0-kb5036003-x64.msu';

/** A hotpatch month on Windows Server 2022 Azure Edition: predicted no restart, so no drain. */
const HOTPATCH_NODE = {
  os: {
    caption: 'Microsoft Windows Server 2022 Datacenter: Azure Edition',
    version: '10.0.20348',
    build: '20348.2849',
    editionId: 'ServerTurbine',
  },
  hotpatch: { enrolled: true, vbsEnabled: true, secureBoot: true },
};
const HOTPATCH_MANIFEST: NonNullable<ScenarioInput['hotfixRoot']>['manifest'] = {
  [MSU]: {
    policy: 'modern',
    update: { releaseMonth: '2025-11', kind: 'security', unplannedBaseline: false },
    binaries: ['%windir%\\system32\\ntoskrnl.exe'],
  },
};

const hotfixPlugin = (name: string) => ({
  name: 'Microsoft.HotfixPlugin',
  arguments: `HotfixRootFolderPath="s3://rollout-sandbox-hotfixes/${name}"`,
});

async function run(input: Omit<ScenarioInput, 'name'> & { name: string }) {
  const result = await runScenario(parseScenario(input, `${input.name} (test)`), {
    keepRunning: true,
  });
  const report = result.runs[0]?.report as RunReport;
  expect(report, 'the run is in the run store').toBeDefined();
  expect(report.lockReleased, 'the target lock was released').toBe(true);
  return { result, report };
}

const reportNode = (report: RunReport, name: string) => {
  const found = report.nodes.find((n) => n.name === name);
  expect(found, `${name} is in the report`).toBeDefined();
  return found as NonNullable<typeof found>;
};

/** The node's commands, document and status, in the order they were sent. */
const commandsOf = (result: ScenarioResult, name: string) =>
  result.fleet.node(name).commands.map((c) => `${c.document}:${c.status}`);

/** Checks that every restart of a cluster node came after a successful drain, with no resume between. */
function expectRestartsOnlyDrained(result: ScenarioResult, name: string) {
  let drained = false;
  for (const c of result.fleet.node(name).commands) {
    if (c.document === 'drain' && c.status === 'Success') drained = true;
    if (c.document === 'resume') drained = false;
    if (c.document === 'restart')
      expect(drained, `${name} drained before ${c.commandId}`).toBe(true);
  }
}

describe('issue 8: safety of the node workflow', () => {
  it('point 1: a 3010 on a node predicted not to restart drains it first, restarts it, resumes it', async () => {
    const { result, report } = await run({
      name: 'late-drain',
      hotfixRoot: { files: [{ path: MSU }], manifest: HOTPATCH_MANIFEST },
      nodes: [{ name: 'NODE1', cluster: 'CLUSTER1', ...HOTPATCH_NODE }],
      updates: { KB5036001: { exitCodes: [3010] } },
      rollout: { target: { kind: 'cluster', name: 'CLUSTER1' }, plugins: [hotfixPlugin('late')] },
    });
    expect(report.status).toBe('Succeeded');
    expect(commandsOf(result, 'NODE1')).toEqual([
      'inventory:Success',
      'installHotfixes:Success',
      'drain:Success',
      'restart:Success',
      'inventory:Success',
      'resume:Success',
    ]);
    expectRestartsOnlyDrained(result, 'NODE1');
    expect(result.fleet.node('NODE1')).toMatchObject({ nodeState: 'Up', restarts: 1 });
    expect(reportNode(report, 'NODE1')).toMatchObject({ restarts: 1, drained: true });
    await result.sandbox.stop();
  });

  it('point 1: when that late drain fails the node is not restarted, is resumed, and fails with the restart pending', async () => {
    const { result, report } = await run({
      name: 'late-drain-fails',
      hotfixRoot: { files: [{ path: MSU }], manifest: HOTPATCH_MANIFEST },
      nodes: [{ name: 'NODE1', cluster: 'CLUSTER1', ...HOTPATCH_NODE, drain: { fails: true } }],
      updates: { KB5036001: { exitCodes: [3010] } },
      rollout: { target: { kind: 'cluster', name: 'CLUSTER1' }, plugins: [hotfixPlugin('late2')] },
    });
    const node = result.fleet.node('NODE1');
    expect(commandsOf(result, 'NODE1')).toEqual([
      'inventory:Success',
      'installHotfixes:Success',
      'drain:Failed',
      'resume:Success',
    ]);
    expect(node).toMatchObject({ restarts: 0, pendingReboot: true, nodeState: 'Up' });
    expect(reportNode(report, 'NODE1')).toMatchObject({
      status: 'Failed',
      detail: 'RestartPendingDrainFailed',
    });
    const event = result.sandbox.events.received.find(
      (e) => e.detailType === 'Rollout Node Updated',
    );
    expect(event?.detail).toMatchObject({
      node: 'NODE1',
      status: 'Failed',
      detail: 'RestartPendingDrainFailed',
    });
    await result.sandbox.stop();
  });

  it('point 2: a 1641 waits for the node, counts the restart and installs the rest without spending a retry', async () => {
    const { result, report } = await run({
      name: 'installer-restarts',
      hotfixRoot: { files: [{ path: MSI }, { path: MSU2 }] },
      nodes: [{ name: 'NODE1', cluster: 'CLUSTER1' }],
      updates: { KB5036002: { exitCodes: [1641] } },
      rollout: {
        target: { kind: 'cluster', name: 'CLUSTER1' },
        plugins: [hotfixPlugin('installer-restarts')],
        // One attempt only: going on after the 1641 must not need a retry.
        policy: { maxRetriesPerNode: 1 },
      },
    });
    const node = result.fleet.node('NODE1');
    expect(report.status).toBe('Succeeded');
    expect(node.installs.map((i) => i.kb)).toEqual(['KB5036002', 'KB5036003']);
    expect(node.attempts).toEqual({ [MSI]: 1, [MSU2]: 1 });
    expect(node.restarts).toBe(1);
    expectRestartsOnlyDrained(result, 'NODE1');
    const n = reportNode(report, 'NODE1');
    expect(n).toMatchObject({ status: 'Succeeded', restarts: 1 });
    expect(n.updates.map((u) => [u.update, u.attempt, u.outcome])).toEqual([
      [MSI, 1, 'Success_RebootRequired'],
      [MSU2, 1, 'Failed'],
      [MSU2, 2, 'Success'],
    ]);
    expect(n.updates[1]?.detail).toMatch(
      /^not started: an installer before it restarted the node \(1641\)/,
    );
    // The node was drained before the .msi ran: its rule lists 1641, so it may restart itself.
    expect(commandsOf(result, 'NODE1').slice(0, 2)).toEqual(['inventory:Success', 'drain:Success']);
    expect(n.ledger.map((e) => e.updateId)).toEqual(['KB5036002', 'KB5036003']);
    await result.sandbox.stop();
  });

  it('point 2: a 1641 restart longer than SSM delivers a command for is still waited out', async () => {
    const { result, report } = await run({
      name: 'installer-restarts-slowly',
      hotfixRoot: { files: [{ path: MSI }, { path: MSU2 }] },
      // SSM gives up delivering after 10 minutes; this node is away for 25.
      nodes: [{ name: 'WEB01', restartMinutes: 25 }],
      updates: { KB5036002: { exitCodes: [1641] } },
      rollout: {
        target: { kind: 'group', name: 'web' },
        plugins: [hotfixPlugin('slow-restart')],
        policy: { maxRetriesPerNode: 1, rebootTimeoutMinutes: 40 },
      },
    });
    expect(reportNode(report, 'WEB01')).toMatchObject({ status: 'Succeeded', restarts: 1 });
    const checks = commandsOf(result, 'WEB01').filter((c) => c.startsWith('inventory'));
    // Checks SSM could not deliver while the node was away end TimedOut; the next one answers.
    expect(checks).toEqual([
      'inventory:Success',
      'inventory:Success',
      'inventory:TimedOut',
      'inventory:TimedOut',
      'inventory:Success',
      'inventory:Success',
    ]);
    expect(result.fleet.node('WEB01').installs.map((i) => i.kb)).toEqual([
      'KB5036002',
      'KB5036003',
    ]);
    await result.sandbox.stop();
  });

  it('point 5: a KB897341-eligible update installs with /hotpatch:enable and the ledger says hotpatched', async () => {
    const exe = 'CAUHotfix_All/WindowsServer2003-KB901234-x86-ENU.exe';
    const { result, report } = await run({
      name: 'hotpatch-2003',
      hotfixRoot: {
        files: [{ path: exe }],
        config: `<?xml version="1.0" encoding="utf-8"?>
<HotfixConfig><DefaultRules><ExtensionRules>
  <Extension name="EXE"><Template path="$update$" parameters="/quiet /norestart"/>
    <ExitConditions><Success><ExitCode Code="0"/></Success>
      <Success_RebootRequired><ExitCode Code="3010"/></Success_RebootRequired></ExitConditions>
  </Extension>
</ExtensionRules></DefaultRules></HotfixConfig>`,
        manifest: {
          [exe]: {
            policy: 'kb897341',
            update: {
              kb: 'KB901234',
              language: 'ENU',
              kind: 'securityGdr',
              article: 'supported',
              cumulativeIncludesRestartRequiredUpdate: false,
            },
            binaries: ['%windir%\\system32\\Authz.dll'],
          },
        },
      },
      nodes: [
        {
          name: 'OLD01',
          os: {
            caption: 'Microsoft(R) Windows(R) Server 2003, Enterprise Edition',
            version: '5.2.3790',
            build: '3790',
            servicePack: 1,
            architecture: 'x86',
            editionId: '',
          },
          binaries: {
            '%windir%\\system32\\Authz.dll': '5.2.3790.2453 (srv03_sp1_gdr.050623-1417)',
          },
        },
      ],
      rollout: { target: { kind: 'group', name: 'old' }, plugins: [hotfixPlugin('hp2003')] },
    });
    const install = result.fleet.commands.find((c) => c.document === 'installHotfixes');
    const payload = install?.payload as { updates: { parameters: string }[] } | undefined;
    expect(payload?.updates[0]?.parameters).toBe('/quiet /norestart /hotpatch:enable');
    expect(report.status).toBe('Succeeded');
    expect(reportNode(report, 'OLD01').ledger).toEqual([
      expect.objectContaining({ updateId: 'KB901234', hotpatched: true }),
    ]);
    await result.sandbox.stop();
  });

  it('point 6: Fail_RebootRequired with retries left restarts the drained node, then retries', async () => {
    const { result, report } = await run({
      name: 'fail-reboot-retry',
      hotfixRoot: {
        files: [{ path: MSU }],
        config: `<?xml version="1.0" encoding="utf-8"?>
<HotfixConfig><DefaultRules><ExtensionRules>
  <Extension name="MSU"><Template path="%systemroot%\\System32\\wusa.exe" parameters="&quot;$update$&quot; /quiet /norestart"/>
    <ExitConditions><Success><ExitCode Code="0"/></Success>
      <Fail_RebootRequired><ExitCode Code="3017"/></Fail_RebootRequired></ExitConditions>
  </Extension>
</ExtensionRules></DefaultRules></HotfixConfig>`,
      },
      nodes: [{ name: 'NODE1', cluster: 'CLUSTER1' }],
      updates: { KB5036001: { exitCodes: [3017, 0] } },
      rollout: {
        target: { kind: 'cluster', name: 'CLUSTER1' },
        plugins: [hotfixPlugin('fail-reboot-retry')],
        policy: { maxRetriesPerNode: 2 },
      },
    });
    expect(report.status).toBe('Succeeded');
    expect(commandsOf(result, 'NODE1')).toEqual([
      'inventory:Success',
      'drain:Success',
      'installHotfixes:Success',
      'restart:Success',
      'installHotfixes:Success',
      'inventory:Success',
      'resume:Success',
    ]);
    expectRestartsOnlyDrained(result, 'NODE1');
    expect(reportNode(report, 'NODE1')).toMatchObject({ status: 'Succeeded', restarts: 1 });
    await result.sandbox.stop();
  });

  it('point 7: a restart pending before the run is done first, drained, then the node installs', async () => {
    const { result, report } = await run({
      name: 'pending-at-start',
      hotfixRoot: { files: [{ path: MSU }], manifest: HOTPATCH_MANIFEST },
      nodes: [{ name: 'NODE1', cluster: 'CLUSTER1', ...HOTPATCH_NODE, pendingReboot: true }],
      rollout: {
        target: { kind: 'cluster', name: 'CLUSTER1' },
        plugins: [hotfixPlugin('pending')],
      },
    });
    expect(report.status).toBe('Succeeded');
    expect(commandsOf(result, 'NODE1')).toEqual([
      'inventory:Success',
      'drain:Success',
      'restart:Success',
      'installHotfixes:Success',
      'inventory:Success',
      'resume:Success',
    ]);
    expectRestartsOnlyDrained(result, 'NODE1');
    expect(result.fleet.node('NODE1')).toMatchObject({ pendingReboot: false, restarts: 1 });
    await result.sandbox.stop();
  });

  it('point 9: a SHA-256 mismatch fails the update at once, never retried, both digests reported', async () => {
    const delivered = sha256Hex('tampered');
    const { result, report } = await run({
      name: 'sha-mismatch',
      hotfixRoot: { files: [{ path: MSU, deliveredSha256: delivered }] },
      nodes: [{ name: 'WEB01' }],
      rollout: {
        target: { kind: 'group', name: 'web' },
        plugins: [hotfixPlugin('sha')],
        policy: { maxRetriesPerNode: 3 },
      },
    });
    const n = reportNode(report, 'WEB01');
    expect(n.status).toBe('Failed');
    expect(commandsOf(result, 'WEB01').filter((c) => c.startsWith('installHotfixes'))).toEqual([
      'installHotfixes:Success',
    ]);
    expect(n.updates).toHaveLength(1);
    // In lower case, as install-hotfixes.ps1 prints them.
    expect(n.updates[0]?.detail).toContain(`expected ${sha256Hex(MSU).toLowerCase()}`);
    expect(n.updates[0]?.detail).toContain(`actual ${delivered.toLowerCase()}`);
    expect(result.fleet.node('WEB01').installs).toEqual([]);
    await result.sandbox.stop();
  });

  it('point 12: a wait that times out cancels the command; once the node is back it ends Cancelled and the installer stops', async () => {
    const { result, report } = await run({
      name: 'offline-mid-install',
      hotfixRoot: { files: [{ path: MSU }] },
      nodes: [{ name: 'WEB01', offlineDuringInstall: { afterMinutes: 1, minutes: 300 } }],
      updates: { KB5036001: { minutes: 20 } },
      rollout: { target: { kind: 'group', name: 'web' }, plugins: [hotfixPlugin('offline')] },
    });
    const { clock } = result.sandbox;
    const timedOutAt = clock.now().getTime();
    // Let the node come back after the run: its agent then acts on the cancel.
    await clock.run(clock.sleep(6 * 3_600_000));
    const install = result.fleet.commands.find((c) => c.document === 'installHotfixes');
    const n = reportNode(report, 'WEB01');
    expect(Date.parse(install?.endedAt ?? '')).toBeGreaterThan(timedOutAt);
    expect(n.status).toBe('Failed');
    expect(n.detail).toBe(
      `InstallTimedOut: cancelled installHotfixes command ${install?.commandId}`,
    );
    expect(install?.status).toBe('Cancelled');
    expect(install?.stdout).toContain('the command was cancelled');
    expect(result.fleet.node('WEB01').installs).toEqual([]);
    await result.sandbox.stop();
  });

  it('point 12: a restart that never returns is cancelled too, and the reason says so', async () => {
    const { result, report } = await run({
      name: 'never-back',
      hotfixRoot: { files: [{ path: MSU }] },
      nodes: [{ name: 'WEB01', neverReturnsFromRestart: true }],
      updates: { KB5036001: { exitCodes: [3010] } },
      rollout: { target: { kind: 'group', name: 'web' }, plugins: [hotfixPlugin('never')] },
    });
    const restart = result.fleet.commands.find((c) => c.document === 'restart');
    expect(reportNode(report, 'WEB01').detail).toBe(
      `RebootTimeout: cancelled restart command ${restart?.commandId}`,
    );
    // The node never comes back, so the agent never acts on the cancel.
    expect(restart?.status).toBe('Cancelling');
    await result.sandbox.stop();
  });

  it('servicing still busy after an installer timeout: no restart, resumed with NoFailback, reason recorded', async () => {
    const { result, report } = await run({
      name: 'servicing-busy',
      hotfixRoot: { files: [{ path: MSU }, { path: MSU2 }] },
      nodes: [{ name: 'NODE1', cluster: 'CLUSTER1' }],
      updates: {
        KB5036001: { exitCodes: [3010] },
        KB5036003: { hangs: true, servicingBusy: true },
      },
      rollout: {
        target: { kind: 'cluster', name: 'CLUSTER1' },
        plugins: [hotfixPlugin('busy')],
        policy: { failbackMode: 'Immediate' },
      },
    });
    const node = result.fleet.node('NODE1');
    expect(commandsOf(result, 'NODE1')).toEqual([
      'inventory:Success',
      'drain:Success',
      'installHotfixes:Success',
      'resume:Success',
    ]);
    const resume = result.fleet.commands.find((c) => c.document === 'resume');
    expect(resume?.payload).toMatchObject({ failbackMode: 'NoFailback' });
    expect(node).toMatchObject({ restarts: 0, pendingReboot: true, nodeState: 'Up' });
    expect(reportNode(report, 'NODE1')).toMatchObject({
      status: 'Failed',
      detail: 'ServicingBusyNotRestarted',
    });
    await result.sandbox.stop();
  });

  it.each([
    'late-drain',
    'installer-restarts',
    'pending-restart',
    'checksum-mismatch',
    'offline-mid-install',
    'servicing-busy',
  ])('the shipped scenario %s ends as it expects, drained before every restart', async (name) => {
    // Arrange
    const path = fileURLToPath(new URL(`../../examples/scenarios/${name}.json`, import.meta.url));
    // Act
    const result = await runScenario(await loadScenario(path), { keepRunning: true });
    // Assert
    expect(result.runs.flatMap((r) => r.mismatches)).toEqual([]);
    expect(result.expectationsMet).toBe(true);
    for (const node of result.fleet.nodes()) {
      if (node.cluster) expectRestartsOnlyDrained(result, node.name);
      expect(node.nodeState === null || node.nodeState === 'Up', `${node.name} ends Up`).toBe(true);
    }
    await result.sandbox.stop();
  });
});
