import { readFileSync } from 'node:fs';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  type DescribeInstanceInformationCommandInput,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type {
  InstallResultLine,
  InventoryResult,
  PlannedInstall,
  ScanUpdatesResultLine,
  WindowsUpdateResultLine,
} from '../../lambdas/core/contracts.js';
import {
  END_LINE_PREFIX,
  NODE_CONTRACT,
  RESULT_LINE_PREFIX,
} from '../../lambdas/core/contracts.js';
import { ordinalIgnoreCase } from '../../lambdas/core/hotfix-plan.js';
import { interpretHotfixInstall } from '../../lambdas/core/interpret.js';
import { parseResultLines } from '../../lambdas/handlers/complete-command.js';
import { decideUpdate } from '../../lambdas/handlers/hotpatch-eligibility.js';
import { pingStatuses } from '../../lambdas/handlers/scan.js';
import { makeSendCommandHandler } from '../../lambdas/handlers/send-command.js';
import { findManifestEntry } from '../../lambdas/shared/hotfix-root.js';
import type { RunStore } from '../../lambdas/shared/run-store.js';
import { VirtualClock } from '../../sandbox/clock.js';
import {
  type CommandStatusEvent,
  powershellJson,
  SimulatedFleet,
  SIMULATED_TIMINGS as T,
} from '../../sandbox/fleet.js';
import { loadScenario, parseScenario, type Scenario } from '../../sandbox/scenario.js';

const PREFIX = 'WindowsRollout';
const START = Date.parse('2026-01-13T22:00:00Z');
const MIN = 60_000;
const KB_FILE = 'CAUHotfix_All/windows10.0-kb5034439-x64.msu';
const MSI_A = 'CAUHotfix_All/contoso-agent-kb5040001.msi';
const MSI_B = 'CAUHotfix_All/contoso-tools-kb5040002.msi';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
const TERMINAL = ['Success', 'Failed', 'TimedOut', 'Cancelled'];

/** A target of the first node: its cluster, or a group (which refuses a cluster member). */
function firstNodeTarget(input: Record<string, unknown>) {
  const first = (input.nodes as { name: string; cluster?: string }[])[0];
  return first?.cluster === undefined
    ? { kind: 'group', name: 'g', nodes: [{ name: first?.name }] }
    : { kind: 'cluster', name: first.cluster, nodes: [{ name: first.name }] };
}

/** A fleet on a virtual clock, with helpers to send our documents and wait for them. */
function harness(input: Record<string, unknown>, scenario?: Scenario) {
  const parsed =
    scenario ??
    parseScenario(
      {
        name: 'test',
        rollout: {
          target: firstNodeTarget(input),
        },
        ...input,
      },
      'test',
    );
  const clock = new VirtualClock(new Date(parsed.startTime));
  const events: CommandStatusEvent[] = [];
  const waiters: ((event: CommandStatusEvent) => void)[] = [];
  const fleet = new SimulatedFleet(parsed, clock, {
    documentPrefix: PREFIX,
    onEvent: (event) => {
      events.push(event);
      for (const waiter of [...waiters]) waiter(event);
    },
  });
  const idOf = (name: string) => fleet.node(name).instanceId;

  async function send(
    name: string,
    document: string,
    payload: unknown,
    extra: { raw?: string; timeoutSeconds?: number } = {},
  ) {
    const out = await fleet.send(
      new SendCommandCommand({
        DocumentName: `${PREFIX}-${document}`,
        InstanceIds: [idOf(name)],
        Parameters: { Payload: [extra.raw ?? b64(payload)] },
        TimeoutSeconds: extra.timeoutSeconds ?? 600,
        Comment: `run-1 ${name} ${document}`,
      }),
    );
    return out.Command?.CommandId as string;
  }

  /** Drives the clock until the command's terminal event; returns it. */
  function finish(commandId: string): Promise<CommandStatusEvent> {
    const done = new Promise<CommandStatusEvent>((resolve) => {
      const existing = events.find(
        (e) => e.detail['command-id'] === commandId && TERMINAL.includes(e.detail.status),
      );
      if (existing) return resolve(existing);
      const waiter = (event: CommandStatusEvent) => {
        if (event.detail['command-id'] === commandId && TERMINAL.includes(event.detail.status)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          resolve(event);
        }
      };
      waiters.push(waiter);
    });
    return clock.run(done);
  }

  const invocation = (name: string, commandId: string) =>
    fleet.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: idOf(name) }));

  async function runDocument(name: string, document: string, payload: unknown) {
    const commandId = await send(name, document, payload);
    const event = await finish(commandId);
    const out = await invocation(name, commandId);
    return { commandId, event, out, results: parseResultLines(out.StandardOutputContent ?? '') };
  }

  /** Advances virtual time by `ms` (firing everything due). */
  const advance = (ms: number) => clock.run(clock.sleep(ms));

  return {
    scenario: parsed,
    fleet,
    clock,
    events,
    send,
    finish,
    invocation,
    runDocument,
    advance,
    idOf,
  };
}

function planned(
  file: string,
  index: number,
  sha256: string,
  conditions: Partial<PlannedInstall['exitConditions']> = {},
): PlannedInstall {
  const msu = file.endsWith('.msu');
  return {
    index,
    file,
    key: `root/${file}`,
    sha256,
    localPath: `%ProgramData%\\WindowsRollout\\Hotfixes\\${file.replace(/\//g, '\\')}`,
    path: msu ? '%systemroot%\\System32\\wusa.exe' : '%systemroot%\\System32\\msiexec.exe',
    parameters: msu ? '"$update$" /quiet /norestart' : '/i "$update$" /qn /norestart',
    rule: { kind: 'extension', name: msu ? 'MSU' : 'MSI' },
    exitConditions: {
      Success: [0],
      Success_RebootRequired: msu ? [3010] : [3010, 1641],
      Fail_RebootRequired: [],
      AlreadyInstalled: msu ? [2359302] : [],
      NotApplicable: msu ? [-2145124329] : [],
      ...conditions,
    },
    alwaysReboot: false,
  };
}

const sha = (
  scenario: { hotfixRoot: { files: readonly { path: string; sha256: string }[] } },
  path: string,
) => scenario.hotfixRoot.files.find((f) => f.path === path)?.sha256 as string;

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

describe('SimulatedFleet: the command life cycle', () => {
  it('publishes Pending, InProgress and Success at their virtual times, shaped as AWS does', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'NODE1', cluster: 'CLUSTER1' }] });
    // Act
    const { commandId, out, results } = await h.runDocument('NODE1', 'Inventory', {
      binaries: [],
      deadline: '2026-01-13T22:15:00.000Z',
    });
    // Assert
    const mine = h.events.filter((e) => e.detail['command-id'] === commandId);
    expect(mine.map((e) => [e.detail.status, e.time])).toEqual([
      ['Pending', '2026-01-13T22:00:00Z'],
      ['InProgress', '2026-01-13T22:00:01Z'],
      ['Success', '2026-01-13T22:00:21Z'],
    ]);
    expect(mine[2]).toEqual({
      version: '0',
      id: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      'detail-type': 'EC2 Command Invocation Status-change Notification',
      source: 'aws.ssm',
      account: '000000000000',
      time: '2026-01-13T22:00:21Z',
      region: 'us-east-1',
      resources: [`arn:aws:ec2:us-east-1:000000000000:instance/${h.idOf('NODE1')}`],
      detail: {
        'command-id': commandId,
        'document-name': `${PREFIX}-Inventory`,
        'instance-id': h.idOf('NODE1'),
        'requested-date-time': '2026-01-13T22:00:00.000Z',
        status: 'Success',
        'status-details': 'Success',
      },
    });
    expect(out).toMatchObject({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      Comment: 'run-1 NODE1 Inventory',
      DocumentName: `${PREFIX}-Inventory`,
      ExecutionStartDateTime: '2026-01-13T22:00:01.000Z',
      ExecutionEndDateTime: '2026-01-13T22:00:21.000Z',
      StandardErrorContent: '',
    });
    expect(results).toHaveLength(1);
    expect(out.StandardOutputContent).toMatch(/^\[rollout\] inventory of NODE1/m);
  });

  it('accepts exactly what the send-command handler sends, and runs it', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'NODE1' }] });
    const stored: string[] = [];
    const store = {
      putTaskToken: async (commandId: string) => {
        stored.push(commandId);
      },
    } as unknown as RunStore;
    const handler = makeSendCommandHandler({
      ssm: h.fleet as unknown as SSMClient,
      store,
      documentPrefix: PREFIX,
      now: () => h.clock.now(),
    });
    // Act
    const { commandId } = await handler({
      taskToken: 'token',
      runId: 'run-1',
      node: 'NODE1',
      instanceId: h.idOf('NODE1'),
      document: 'inventory',
      payload: { binaries: ['%windir%\\system32\\ntoskrnl.exe'] },
      timeoutSeconds: 1800,
    });
    const event = await h.finish(commandId);
    // Assert
    expect(stored).toEqual([commandId]);
    expect(event.detail.status).toBe('Success');
    expect(h.fleet.commands[0]).toMatchObject({
      document: 'inventory',
      comment: 'run-1 NODE1 inventory',
      payload: {
        binaries: ['%windir%\\system32\\ntoskrnl.exe'],
        deadline: '2026-01-13T22:30:00.000Z',
      },
    });
  });

  it('reports the inventory as inventory.ps1 does, and the hotpatch rules read it (default.json)', async () => {
    // Arrange
    const scenario = await loadScenario('examples/scenarios/default.json');
    const h = harness({}, scenario);
    const ntoskrnl = '%WINDIR%\\System32\\ntoskrnl.exe';
    // Act
    const { results, out } = await h.runDocument('NODE1', 'Inventory', {
      binaries: [ntoskrnl, '%windir%\\system32\\authz.dll'],
    });
    // Assert
    const inventory = results[0] as InventoryResult;
    expect(inventory).toEqual({
      computerName: 'NODE1',
      os: {
        caption: 'Microsoft Windows Server 2022 Datacenter: Azure Edition',
        version: '10.0.20348',
        build: '20348.2849',
        servicePack: 0,
        architecture: 'x64',
        editionId: 'ServerTurbine',
      },
      binaries: [
        { path: ntoskrnl, fileVersion: '10.0.20348.2849 (WinBuild.160101.0800)' },
        { path: '%windir%\\system32\\authz.dll', fileVersion: null },
      ],
      pendingReboot: false,
      lastBootTime: '2026-01-06T22:00:00.0000000Z',
      cluster: {
        name: 'CLUSTER1',
        nodeState: 'Up',
        nodes: [
          { name: 'NODE1', state: 'Up' },
          { name: 'NODE2', state: 'Up' },
          { name: 'NODE3', state: 'Up' },
          { name: 'NODE4', state: 'Up' },
        ],
        notUp: '',
        // Every node of CLUSTER1 hosts one role by default (the scenario's roles).
        roleCounts: { NODE1: 1, NODE2: 1, NODE3: 1, NODE4: 1 },
      },
      hotpatch: { enrolled: true, vbsEnabled: true, secureBoot: true, azureArcConnected: false },
      installedUpdates: ['KB5032198'],
      // Not asked (the Inventory before the install): no rescan.
      rescan: null,
    });
    const hotpatchFile = 'CAUHotfix_All/windows10.0-kb5036001-x64.msu';
    const entry = findManifestEntry(scenario.hotfixRoot.manifest ?? {}, hotpatchFile);
    expect(decideUpdate({ index: 0, file: hotpatchFile }, entry, inventory).eligible).toBe(true);
    // Result lines are ASCII and escape as Windows PowerShell 5.1 does.
    expect(out.StandardOutputContent).toContain(`${RESULT_LINE_PREFIX} {"computerName":"NODE1"`);
    // Write-RolloutEnd: the last line counts the one result line.
    expect(out.StandardOutputContent?.endsWith(`\r\n${END_LINE_PREFIX} {"results":1}\r\n`)).toBe(
      true,
    );
    expect(powershellJson({ a: "<b>&'é" })).toBe('{"a":"\\u003cb\\u003e\\u0026\\u0027\\u00e9"}');
    expect(JSON.parse(powershellJson({ a: "<b>&'é" }))).toEqual({ a: "<b>&'é" });
  });
});

describe('SimulatedFleet: the installed updates inventory lists', () => {
  it('sorts them with the rules engine’s ordinalIgnoreCase, not a copy of its own', async () => {
    // Arrange: "KB10" < "KB5034127" < "KB890830" ordinally, not by number.
    const h = harness({
      nodes: [{ name: 'WEB01', installedUpdates: ['KB890830', 'kb10', 'KB5034127', 'KB10'] }],
    });
    // Act
    const { results } = await h.runDocument('WEB01', 'Inventory', { binaries: [] });
    // Assert
    const listed = (results[0] as InventoryResult).installedUpdates;
    expect(listed).toEqual(['KB10', 'KB5034127', 'KB890830']);
    expect([...listed].reverse().sort(ordinalIgnoreCase)).toEqual(listed);
    // The sandbox once had its own copy, with JavaScript's full case mapping (ß → SS), which
    // hotfix-plan fixed; scenario KB ids cannot show the difference, so guard the source.
    const source = readFileSync('sandbox/fleet.ts', 'utf8');
    expect(source).not.toMatch(/function ordinalIgnoreCase\b/);
    expect(source).toContain("import { ordinalIgnoreCase } from '../lambdas/core/hotfix-plan.js';");
  });
});

describe('SimulatedFleet: InstallHotfixes', () => {
  it('fails with 1603 on the first attempt and succeeds on the retry in a later command', async () => {
    // Arrange
    const input = {
      nodes: [{ name: 'NODE1', updates: { KB5034439: { exitCodes: [1603, 3010], minutes: 6 } } }],
      hotfixRoot: { files: [{ path: KB_FILE }] },
    };
    const h = harness(input);
    const { scenario } = h;
    const item = planned(KB_FILE, 0, sha(scenario, KB_FILE));
    const payload = { bucket: 'hotfixes', timeoutMinutes: 30, updates: [item] };
    // Act
    const first = await h.runDocument('NODE1', 'InstallHotfixes', payload);
    const second = await h.runDocument('NODE1', 'InstallHotfixes', payload);
    // Assert
    const firstLine = first.results[0] as InstallResultLine;
    expect(firstLine).toEqual({
      index: 0,
      file: KB_FILE,
      exitCode: 1603,
      checksumOk: true,
      timedOut: false,
      durationSeconds: (T.downloadMs + 6 * MIN) / 1000,
      logTail: '',
    });
    expect((second.results[0] as InstallResultLine).exitCode).toBe(3010);
    // The file was kept from the first try: no second download.
    expect((second.results[0] as InstallResultLine).durationSeconds).toBe(360);
    const verdicts = [first, second].map((r) =>
      interpretHotfixInstall([item], {
        status: 'Success',
        results: r.results,
        outputTail: '',
      }),
    );
    expect(verdicts.map((v) => v.results[0]?.outcome)).toEqual([
      'Failed',
      'Success_RebootRequired',
    ]);
    const node = h.fleet.node('NODE1');
    expect(node.attempts).toEqual({ [KB_FILE]: 2 });
    expect(node.installedUpdates).toEqual(['KB5034439']);
    expect(node.pendingReboot).toBe(true);
  });

  it('answers AlreadyInstalled for a KB the node has and NotApplicable for a hex code', async () => {
    // Arrange
    const other = 'CAUHotfix_All/windows10.0-kb5029244-x64.msu';
    const input = {
      nodes: [{ name: 'WEB01', installedUpdates: ['kb5034439'] }],
      hotfixRoot: { files: [{ path: KB_FILE }, { path: other }] },
      updates: { [other]: { exitCodes: ['0x80240017'] } },
    };
    const h = harness(input);
    const { scenario } = h;
    const items = [
      planned(KB_FILE, 0, sha(scenario, KB_FILE)),
      planned(other, 1, sha(scenario, other)),
    ];
    // Act
    const { results } = await h.runDocument('WEB01', 'InstallHotfixes', {
      bucket: 'hotfixes',
      timeoutMinutes: 30,
      updates: items,
    });
    // Assert
    expect(results.map((r) => (r as InstallResultLine).exitCode)).toEqual([0x240006, -2145124329]);
    const verdict = interpretHotfixInstall(items, { status: 'Success', results, outputTail: '' });
    expect(verdict.results.map((r) => r.outcome)).toEqual(['AlreadyInstalled', 'NotApplicable']);
    expect(h.fleet.node('WEB01').pendingReboot).toBe(false);
  });

  it('stops a hanging installer at HotfixInstallerTimeoutMinutes and reports it timed out', async () => {
    // Arrange
    const input = {
      nodes: [{ name: 'WEB01', updates: { [KB_FILE]: { hangs: true } } }],
      hotfixRoot: { files: [{ path: KB_FILE }] },
    };
    const h = harness(input);
    const { scenario } = h;
    // Act
    const { results, out } = await h.runDocument('WEB01', 'InstallHotfixes', {
      bucket: 'hotfixes',
      timeoutMinutes: 10,
      updates: [planned(KB_FILE, 0, sha(scenario, KB_FILE))],
      deadline: '2026-01-13T22:25:00.000Z',
    });
    // Assert
    expect(results[0]).toMatchObject({
      exitCode: null,
      checksumOk: true,
      timedOut: true,
      durationSeconds: (T.downloadMs + 10 * MIN) / 1000,
      error:
        'the installer ran longer than 10 minutes (HotfixInstallerTimeoutMinutes) and was stopped',
    });
    expect(out.Status).toBe('Success');
    expect(Date.parse(out.ExecutionEndDateTime as string)).toBe(
      START + T.deliveryMs + T.downloadMs + 10 * MIN,
    );
  });

  it('refuses to run a file whose SHA-256 is not the plan’s', async () => {
    // Arrange
    const input = {
      nodes: [{ name: 'WEB01' }],
      hotfixRoot: { files: [{ path: KB_FILE, deliveredSha256: 'ab'.repeat(32) }] },
    };
    const h = harness(input);
    const { scenario } = h;
    // Act
    const { results } = await h.runDocument('WEB01', 'InstallHotfixes', {
      bucket: 'hotfixes',
      timeoutMinutes: 30,
      updates: [planned(KB_FILE, 0, sha(scenario, KB_FILE))],
    });
    // Assert
    expect(results[0]).toMatchObject({ exitCode: null, checksumOk: false, timedOut: false });
    // Lower case, as install-hotfixes.ps1 prints both digests.
    expect(results[0]).toMatchObject({
      expectedSha256: sha(scenario, KB_FILE).toLowerCase(),
      actualSha256: 'ab'.repeat(32),
    });
    expect((results[0] as { error: string }).error).toMatch(
      /^SHA-256 of the downloaded file is (ab){32}, the plan says [0-9a-f]{64}: not run$/,
    );
    expect(h.fleet.node('WEB01').attempts).toEqual({});
  });

  it('ends the loop at 1641, then the installer restarts the node by itself', async () => {
    // Arrange
    const input = {
      nodes: [{ name: 'WEB01', restartMinutes: 5, updates: { KB5040001: { exitCodes: [1641] } } }],
      hotfixRoot: { files: [{ path: MSI_A }, { path: MSI_B }] },
    };
    const h = harness(input);
    const { scenario } = h;
    // Act
    const { out, results } = await h.runDocument('WEB01', 'InstallHotfixes', {
      bucket: 'hotfixes',
      timeoutMinutes: 30,
      updates: [planned(MSI_A, 0, sha(scenario, MSI_A)), planned(MSI_B, 1, sha(scenario, MSI_B))],
    });
    const ended = Date.parse(out.ExecutionEndDateTime as string);
    await h.advance(T.installerRestartDelayMs + MIN);
    const during = h.fleet.node('WEB01');
    await h.advance(5 * MIN);
    // Assert
    expect(results).toHaveLength(2);
    expect((results[0] as InstallResultLine).exitCode).toBe(1641);
    // The update after it: a line of its own, notStarted, no exit code (install-hotfixes.ps1).
    expect(results[1]).toMatchObject({ index: 1, exitCode: null, notStarted: true });
    expect(out.StandardOutputContent).toContain(
      'the installer started a restart (1641): the remaining 1 updates were not started',
    );
    expect(during).toMatchObject({ down: true, pingStatus: 'ConnectionLost', restarts: 1 });
    const after = h.fleet.node('WEB01');
    expect(after).toMatchObject({ down: false, pendingReboot: false });
    expect(Date.parse(after.lastBootTime)).toBe(ended + T.installerRestartDelayMs + 5 * MIN);
    const commandMs = ended - (START + T.deliveryMs);
    expect(h.fleet.busyMs('WEB01')).toBe(commandMs + 5 * MIN);
  });

  it('makes one restart of a 1641 and a RestartNode sent right after it', async () => {
    // Arrange
    const input = {
      nodes: [{ name: 'NODE1', cluster: 'C1', updates: { KB5040001: { exitCodes: [1641] } } }],
      hotfixRoot: { files: [{ path: MSI_A }] },
    };
    const h = harness(input);
    const { scenario } = h;
    await h.runDocument('NODE1', 'DrainNode', { timeoutMinutes: 30 });
    await h.runDocument('NODE1', 'InstallHotfixes', {
      bucket: 'hotfixes',
      timeoutMinutes: 30,
      updates: [planned(MSI_A, 0, sha(scenario, MSI_A))],
    });
    // Act
    const restart = await h.runDocument('NODE1', 'RestartNode', {
      runId: 'run-1-restart-0',
      reason: 'updates need a restart',
    });
    await h.advance(10 * MIN);
    // Assert
    expect(restart.out.Status).toBe('Success');
    expect(restart.results[0]).toMatchObject({ restarted: true });
    expect(h.fleet.node('NODE1')).toMatchObject({
      restarts: 1,
      down: false,
      nodeState: 'Paused',
      pendingReboot: false,
    });
  });
});

describe('SimulatedFleet: RestartNode', () => {
  it('restarts for restartMinutes, ConnectionLost meanwhile, and reports the new boot time', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'NODE1', cluster: 'C1', pendingReboot: true }] });
    const describe1 = () =>
      h.fleet.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: [h.idOf('NODE1')] }],
        }),
      );
    // Act
    const commandId = await h.send('NODE1', 'RestartNode', {
      runId: 'run-1-restart-0',
      reason: 'updates need a restart',
      deadline: '2026-01-13T22:15:00.000Z',
    });
    await h.advance(T.deliveryMs + T.rebootRequestMs + MIN);
    const whileDown = await describe1();
    const nodeWhileDown = h.fleet.node('NODE1');
    await h.finish(commandId);
    const out = await h.invocation('NODE1', commandId);
    const after = await describe1();
    // Assert
    expect(whileDown.InstanceInformationList?.[0]?.PingStatus).toBe('ConnectionLost');
    expect(nodeWhileDown.nodeState).toBe('Down');
    expect(after.InstanceInformationList?.[0]?.PingStatus).toBe('Online');
    const started = START + T.deliveryMs;
    const back = started + T.rebootRequestMs + 4 * MIN;
    expect(Date.parse(out.ExecutionEndDateTime as string)).toBe(
      back + T.agentStartMs + T.restartReportMs,
    );
    const results = parseResultLines(out.StandardOutputContent ?? '');
    expect(results).toEqual([
      {
        restarted: true,
        runId: 'run-1-restart-0',
        lastBootTime: new Date(back).toISOString().replace('.000Z', '.0000000Z'),
        previousBootTime: '2026-01-06T22:00:00.0000000Z',
        requestedAt: new Date(started).toISOString().replace('.000Z', '.0000000Z'),
        reason: 'updates need a restart',
      },
    ]);
    const node = h.fleet.node('NODE1');
    expect(node).toMatchObject({ restarts: 1, pendingReboot: false, nodeState: 'Up' });
    expect(Date.parse(node.lastBootTime)).toBe(back);
    expect(h.fleet.busyMs('NODE1')).toBe(back + T.agentStartMs + T.restartReportMs - started);
  });

  it('never completes when the node never returns from the restart', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'NODE1', neverReturnsFromRestart: true }] });
    // Act
    const commandId = await h.send('NODE1', 'RestartNode', {
      runId: 'run-1-restart-0',
      reason: 'updates need a restart',
      deadline: '2026-01-13T22:15:00.000Z',
    });
    await h.advance(48 * 60 * MIN);
    // Assert
    const statuses = h.events
      .filter((e) => e.detail['command-id'] === commandId)
      .map((e) => e.detail.status);
    expect(statuses).toEqual(['Pending', 'InProgress']);
    expect(h.fleet.node('NODE1')).toMatchObject({ down: true, pingStatus: 'ConnectionLost' });
    expect((await h.invocation('NODE1', commandId)).Status).toBe('InProgress');
    // A command sent meanwhile is never delivered.
    const later = await h.send('NODE1', 'Inventory', { binaries: [] });
    const event = await h.finish(later);
    expect([event.detail.status, event.detail['status-details']]).toEqual([
      'TimedOut',
      'DeliveryTimedOut',
    ]);
  });
});

describe('SimulatedFleet: timeouts, delivery and errors', () => {
  it('removes a combined package with DISM by its package name, as remove-updates.ps1 does', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'NODE1', installedUpdates: ['KB5034439'] }] });
    const packageName = 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2849.1.8';
    // Act
    const { event, out, results } = await h.runDocument('NODE1', 'RemoveUpdates', {
      timeoutMinutes: 30,
      updates: [
        { index: 0, updateId: 'KB5034439', method: 'dism', packageName },
        { index: 1, updateId: 'KB5034440', method: 'dism', packageName: 'bad name;' },
      ],
    });
    // Assert
    expect(event.detail.status).toBe('Success');
    expect(results[0]).toMatchObject({
      updateId: 'KB5034439',
      method: 'dism',
      packageName,
      exitCode: 3010,
    });
    expect(results[1]).toMatchObject({ exitCode: null });
    expect(String((results[1] as { error?: string } | undefined)?.error)).toContain(
      'payload.updates[1].packageName ("bad name;")',
    );
    expect(out.StandardOutputContent).toContain(
      `Dism.exe /Online /Remove-Package /PackageName:${packageName}`,
    );
    expect(h.fleet.node('NODE1')).toMatchObject({ pendingReboot: true });
    expect(h.fleet.node('NODE1').installedUpdates).not.toContain('KB5034439');
  });

  it('obeys the payload deadline (less the contract margin): the script is stopped, the command fails', async () => {
    // Arrange: a 10-minute script, a deadline 3 minutes after the send.
    const h = harness({
      nodes: [{ name: 'NODE1', preUpdateScript: { exitCode: 0, minutes: 10 } }],
    });
    // Act
    const { event, out, results } = await h.runDocument('NODE1', 'RunUpdateScript', {
      phase: 'pre',
      script: 'C:\\Scripts\\PreUpdate.ps1',
      deadline: '2026-01-13T22:03:00.000Z',
    });
    // Assert: stopped at 22:03 less deadlineMarginSeconds, as run-script.ps1 stops it.
    const stoppedAt =
      Date.parse('2026-01-13T22:03:00Z') - NODE_CONTRACT.deadlineMarginSeconds * 1000;
    expect(event.detail.status).toBe('Failed');
    expect(Date.parse(out.ExecutionEndDateTime as string)).toBe(stoppedAt);
    expect(results).toEqual([
      expect.objectContaining({ phase: 'pre', exitCode: null, timedOut: true }),
    ]);
    expect(out.StandardErrorContent).toContain('was still running at the command deadline');
  });

  it('refuses a deadline that is not an ISO 8601 UTC instant, naming the field', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'NODE1' }] });
    // Act
    const { event, out } = await h.runDocument('NODE1', 'RunUpdateScript', {
      phase: 'pre',
      script: 'C:\\Scripts\\PreUpdate.ps1',
      deadline: '2026-01-13 22:03',
    });
    // Assert
    expect(event.detail.status).toBe('Failed');
    expect(out.StandardErrorContent).toContain('payload.deadline ("2026-01-13 22:03")');
  });

  it('stops a command at the document step timeout: TimedOut, ExecutionTimedOut, partial output', async () => {
    // Arrange: a pre-script longer than RunUpdateScript's 24-hour step, and no deadline.
    const h = harness({
      nodes: [{ name: 'NODE1', preUpdateScript: { exitCode: 0, minutes: 25 * 60 } }],
    });
    // Act
    const { event, out } = await h.runDocument('NODE1', 'RunUpdateScript', {
      phase: 'pre',
      script: 'C:\\Scripts\\PreUpdate.ps1',
    });
    // Assert
    expect([event.detail.status, event.detail['status-details'], event.time]).toEqual([
      'TimedOut',
      'ExecutionTimedOut',
      '2026-01-14T22:00:01Z',
    ]);
    expect(out).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
    expect(out.StandardOutputContent).toContain(
      '[rollout] running the pre-update script C:\\Scripts\\PreUpdate.ps1',
    );
    expect(parseResultLines(out.StandardOutputContent ?? '')).toEqual([]);
  });

  it('leaves a command for an offline node Pending until the delivery timeout', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'WEB01', online: false }] });
    // Act
    const commandId = await h.send('WEB01', 'Inventory', { binaries: [] }, { timeoutSeconds: 600 });
    const event = await h.finish(commandId);
    // Assert
    expect(h.events.map((e) => e.detail.status)).toEqual(['Pending', 'TimedOut']);
    expect([event.detail['status-details'], event.time]).toEqual([
      'DeliveryTimedOut',
      '2026-01-13T22:10:00Z',
    ]);
    expect((await h.invocation('WEB01', commandId)).ResponseCode).toBe(-1);
  });

  it('answers InvocationDoesNotExist the configured number of times after SendCommand', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'WEB01', invocationDoesNotExistReads: 2 }] });
    const commandId = await h.send('WEB01', 'Inventory', { binaries: [] });
    // Act
    const errors = [
      await rejection(h.invocation('WEB01', commandId)),
      await rejection(h.invocation('WEB01', commandId)),
    ];
    const third = await h.invocation('WEB01', commandId);
    // Assert
    for (const error of errors) {
      expect(error).toBeInstanceOf(InvocationDoesNotExist);
      expect(error.name).toBe('InvocationDoesNotExist');
    }
    expect(third.Status).toBe('Pending');
  });

  it('rejects a payload outside the allowed pattern with InvalidParameters, as SSM does', async () => {
    const h = harness({ nodes: [{ name: 'WEB01' }] });
    const error = await rejection(h.send('WEB01', 'Inventory', {}, { raw: 'not base64!' }));
    expect(error.name).toBe('InvalidParameters');
    expect(error.message).toContain('^[A-Za-z0-9+/]*={0,2}$');
    expect(h.fleet.commands).toEqual([]);
  });

  it.each([
    ['abc', 'Payload (3 characters): expected base64 of UTF-8 JSON'],
    [b64([1]), 'Payload: expected one JSON object, got [1]'],
    [b64({}), 'payload.binaries: missing'],
    [b64({ binaries: 'x' }), 'payload.binaries ("x"): expected a JSON array'],
  ])('fails a command whose payload %s the script cannot read', async (raw, message) => {
    // Arrange
    const h = harness({ nodes: [{ name: 'WEB01' }] });
    // Act
    const commandId = await h.send('WEB01', 'Inventory', {}, { raw });
    await h.finish(commandId);
    const out = await h.invocation('WEB01', commandId);
    // Assert
    expect(out).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
    expect(out.StandardErrorContent).toBe(`ROLLOUT-ERROR ${message}\r\n`);
    // The trap's end marker follows the error, as in _common.ps1.
    expect(out.StandardOutputContent).toBe(
      `[rollout] ERROR: ${message}\r\n${END_LINE_PREFIX} {"results":0}\r\n`,
    );
  });

  it('refuses unknown documents, unknown or stopped instances and unsimulated commands', async () => {
    const h = harness({
      nodes: [{ name: 'WEB01' }, { name: 'WEB02', pingStatus: 'Inactive' }],
    });
    const send = (document: string, ids: string[]) =>
      h.fleet.send(
        new SendCommandCommand({
          DocumentName: document,
          InstanceIds: ids,
          Parameters: { Payload: [b64({ binaries: [] })] },
        }),
      );
    expect((await rejection(send('AWS-RunPowerShellScript', [h.idOf('WEB01')]))).name).toBe(
      'InvalidDocument',
    );
    expect((await rejection(send(`${PREFIX}-Nope`, [h.idOf('WEB01')]))).name).toBe(
      'InvalidDocument',
    );
    const unknown = await rejection(send(`${PREFIX}-Inventory`, ['i-0123456789abcdef0']));
    expect(unknown.name).toBe('InvalidInstanceId');
    expect((await rejection(send(`${PREFIX}-Inventory`, [h.idOf('WEB02')]))).name).toBe(
      'InvalidInstanceId',
    );
    const other = await rejection(h.fleet.send(new ListCommandsCommand({})));
    expect(other.message).toMatch(/ListCommandsCommand is not simulated/);
    expect(h.fleet.commands).toEqual([]);
  });
});

describe('SimulatedFleet: DescribeInstanceInformation', () => {
  const twelve = Array.from({ length: 12 }, (_, i) => ({
    name: `WEB${String(i + 1).padStart(2, '0')}`,
  }));

  it('pages with MaxResults and NextToken, and filters by InstanceIds', async () => {
    // Arrange
    const h = harness({ nodes: twelve });
    const ids = twelve.map((n) => h.idOf(n.name));
    // Act
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await h.fleet.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: ids }],
          MaxResults: 5,
          NextToken: token,
        }),
      );
      pages.push((page.InstanceInformationList ?? []).map((i) => i.InstanceId as string));
      token = page.NextToken;
    } while (token);
    const one = await h.fleet.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'InstanceIds', Values: [ids[3] as string] }],
      }),
    );
    // Assert
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(pages.flat()).toEqual(ids);
    expect(one.InstanceInformationList).toEqual([
      expect.objectContaining({
        InstanceId: ids[3],
        PingStatus: 'Online',
        PlatformType: 'Windows',
        ComputerName: 'WEB04.sandbox.internal',
      }),
    ]);
    expect(one.NextToken).toBeUndefined();
  });

  it('refuses more than 50 ids, a foreign NextToken and MaxResults out of 5..50', async () => {
    const h = harness({ nodes: twelve });
    const many = Array.from({ length: 51 }, (_, i) => `i-${String(i).padStart(17, '0')}`);
    const describeWith = (input: DescribeInstanceInformationCommandInput) =>
      rejection(h.fleet.send(new DescribeInstanceInformationCommand(input)));
    expect((await describeWith({ Filters: [{ Key: 'InstanceIds', Values: many }] })).name).toBe(
      'InvalidInstanceInformationFilterValue',
    );
    expect((await describeWith({ NextToken: 'bogus' })).name).toBe('InvalidNextToken');
    expect((await describeWith({ MaxResults: 3 })).name).toBe('ValidationException');
    expect((await describeWith({ Filters: [{ Key: 'AgentVersion', Values: ['1'] }] })).name).toBe(
      'InvalidFilterKey',
    );
  });

  it('serves the scan handler’s batched lookups, offline nodes included', async () => {
    const nodes = Array.from({ length: 60 }, (_, i) => ({
      name: `SRV${String(i + 1).padStart(2, '0')}`,
      ...(i === 7 ? { online: false } : {}),
    }));
    const h = harness({ nodes });
    const ids = nodes.map((n) => h.idOf(n.name));
    const statuses = await pingStatuses(h.fleet as unknown as SSMClient, [
      ...ids,
      'i-0123456789abcdef0',
    ]);
    expect(statuses.size).toBe(60);
    expect(statuses.get(ids[7] as string)).toBe('ConnectionLost');
    expect(statuses.get(ids[8] as string)).toBe('Online');
  });
});

describe('SimulatedFleet: drain, resume, scripts, Windows Update, cancel', () => {
  it('plays drain, resume and script behaviour per attempt, the last one repeating (issue 8)', async () => {
    // Arrange
    const h = harness({
      nodes: [
        {
          name: 'NODE1',
          cluster: 'C1',
          drain: { failsByAttempt: [true, false] },
          resumeFailsByAttempt: [false, true],
          preUpdateScriptByAttempt: [{ exitCode: 0 }, { exitCode: 7 }],
        },
      ],
    });
    const script = { phase: 'pre', script: 'C:\\Scripts\\Pre.ps1' };
    // Act
    const drains: string[] = [];
    const resumes: string[] = [];
    for (let i = 0; i < 3; i++) {
      drains.push(
        String((await h.runDocument('NODE1', 'DrainNode', { timeoutMinutes: 30 })).out.Status),
      );
      resumes.push(
        String(
          (
            await h.runDocument('NODE1', 'ResumeNode', {
              failbackMode: 'NoFailback',
              storageRepairTimeoutMinutes: 0,
            })
          ).out.Status,
        ),
      );
    }
    const scripts: string[] = [];
    for (let i = 0; i < 3; i++) {
      scripts.push(String((await h.runDocument('NODE1', 'RunUpdateScript', script)).out.Status));
    }
    // Assert
    expect(drains).toEqual(['Failed', 'Success', 'Success']);
    expect(resumes).toEqual(['Success', 'Failed', 'Failed']);
    expect(scripts).toEqual(['Success', 'Failed', 'Failed']);
  });

  it('starts a node paused and drained when the scenario says so (pausedAtStart)', () => {
    const h = harness({ nodes: [{ name: 'NODE1', cluster: 'C1', pausedAtStart: true }] });
    expect(h.fleet.node('NODE1')).toMatchObject({ nodeState: 'Paused', drainStatus: 'Completed' });
  });

  it('lists invocations newest first for ListCommandInvocations, with their Comment and status', async () => {
    // Arrange
    const h = harness({ nodes: [{ name: 'NODE1', cluster: 'C1' }] });
    await h.runDocument('NODE1', 'DrainNode', { timeoutMinutes: 30 });
    await h.runDocument('NODE1', 'ResumeNode', {
      failbackMode: 'NoFailback',
      storageRepairTimeoutMinutes: 0,
    });
    // Act
    const listed = await h.fleet.send(
      new ListCommandInvocationsCommand({ InstanceId: h.fleet.node('NODE1').instanceId }),
    );
    // Assert
    expect(listed.CommandInvocations?.map((c) => [c.DocumentName, c.Status])).toEqual([
      [`${PREFIX}-ResumeNode`, 'Success'],
      [`${PREFIX}-DrainNode`, 'Success'],
    ]);
  });

  it('fails a drain as drain.ps1 does, leaving the node paused; resume brings it Up', async () => {
    // Arrange
    const h = harness({
      nodes: [{ name: 'NODE2', cluster: 'C1', drain: { fails: true, minutes: 3 } }],
    });
    // Act
    const drain = await h.runDocument('NODE2', 'DrainNode', { timeoutMinutes: 30 });
    const paused = h.fleet.node('NODE2');
    const resume = await h.runDocument('NODE2', 'ResumeNode', {
      failbackMode: 'Immediate',
      storageRepairTimeoutMinutes: 0,
    });
    // Assert
    expect(drain.out).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
    expect(drain.results[0]).toMatchObject({
      clustered: true,
      drained: false,
      nodeState: 'Paused',
      drainStatus: 'Failed',
      durationSeconds: 180,
      detail: 'the drain ended Failed with the node Paused',
    });
    expect(drain.out.StandardErrorContent).toMatch(/^ROLLOUT-ERROR the drain ended Failed/);
    expect(paused).toMatchObject({ nodeState: 'Paused', drainedCount: 0 });
    expect(resume.results[0]).toMatchObject({
      resumed: true,
      nodeState: 'Up',
      failback: 'Immediate',
    });
    expect(h.fleet.node('NODE2')).toMatchObject({ nodeState: 'Up', resumedCount: 1 });
  });

  it('drains a cluster node in drain.minutes and does nothing on a standalone server', async () => {
    const h = harness({ nodes: [{ name: 'NODE1', cluster: 'C1' }, { name: 'WEB01' }] });
    const clustered = await h.runDocument('NODE1', 'DrainNode', { timeoutMinutes: 30 });
    const standalone = await h.runDocument('WEB01', 'DrainNode', { timeoutMinutes: 30 });
    expect(clustered.results[0]).toMatchObject({
      drained: true,
      nodeState: 'Paused',
      durationSeconds: 120,
      // The roles it owned before the drain, for the resume's failback check (issue 13 item 6).
      movedGroups: ['Role 1 on NODE1'],
    });
    expect(h.fleet.node('NODE1')).toMatchObject({ nodeState: 'Paused', drainedCount: 1 });
    expect(standalone.results[0]).toEqual({
      clustered: false,
      drained: false,
      node: 'WEB01',
      movedGroups: [],
      detail: 'standalone server: not a failover cluster node, nothing to drain',
    });
    expect(h.fleet.node('WEB01').nodeState).toBeNull();
  });

  it('fails RunUpdateScript when the script exits non-zero, with its code in the result line', async () => {
    const h = harness({ nodes: [{ name: 'NODE1', preUpdateScript: { exitCode: 5 } }] });
    const { out, results } = await h.runDocument('NODE1', 'RunUpdateScript', {
      phase: 'pre',
      script: 'C:\\Scripts\\PreUpdate.ps1',
    });
    expect(out).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
    expect(results).toEqual([
      { phase: 'pre', script: 'C:\\Scripts\\PreUpdate.ps1', exitCode: 5, durationSeconds: 30 },
    ]);
    const post = await h.runDocument('NODE1', 'RunUpdateScript', {
      phase: 'post',
      script: 'C:\\Scripts\\PostUpdate.ps1',
    });
    expect(post.out.Status).toBe('Success');
  });

  it('installs what Windows Update offers once, five minutes an update', async () => {
    // Arrange
    const h = harness({
      nodes: [{ name: 'WEB01' }],
      windowsUpdate: {
        available: [
          { kb: 'KB5034127', title: '2024-01 Cumulative Update (KB5034127)', rebootRequired: true },
          { kb: 'KB890830', title: 'Malicious Software Removal Tool (KB890830)' },
          { kb: 'KB5000001', title: 'Optional preview (KB5000001)', recommended: true },
        ],
      },
    });
    const payload = {
      queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
      includeRecommendedUpdates: false,
      timeoutMinutes: 180,
      selection: null,
    };
    // Act
    const first = await h.runDocument('WEB01', 'InstallWindowsUpdates', payload);
    const second = await h.runDocument('WEB01', 'InstallWindowsUpdates', payload);
    // Assert
    const lines = first.results as WindowsUpdateResultLine[];
    expect(lines.map((l) => [l.kb, l.resultCode, l.hResult, l.rebootRequired])).toEqual([
      ['KB5034127', 2, 0, true],
      ['KB890830', 2, 0, false],
    ]);
    expect(lines[0]?.updateId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(first.out.ExecutionEndDateTime as string)).toBe(
      START + T.deliveryMs + T.windowsUpdateSearchMs + 10 * MIN,
    );
    expect(second.results).toEqual([]);
    expect(second.out.StandardOutputContent).toContain('0 of 1 updates selected');
    expect(h.fleet.node('WEB01')).toMatchObject({
      installedUpdates: ['KB5034127', 'KB890830'],
      pendingReboot: true,
    });
  });

  it('ScanUpdates lists what Windows Update offers with the selection rule, and installs nothing', async () => {
    // Arrange
    const h = harness({
      nodes: [{ name: 'WEB01', pendingReboot: true }],
      windowsUpdate: {
        available: [
          { kb: 'KB5034127', title: '2024-01 Cumulative Update (KB5034127)', rebootRequired: true },
          { kb: 'KB890830', title: 'Malicious Software Removal Tool (KB890830)' },
          { kb: 'KB5000001', title: 'Optional preview (KB5000001)', recommended: true },
        ],
      },
    });
    const payload = {
      queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
      includeRecommendedUpdates: false,
      selection: { excludeKbs: ['KB890830'] },
    };
    // Act
    const scan = await h.runDocument('WEB01', 'ScanUpdates', payload);
    // Assert
    expect(scan.out.Status).toBe('Success');
    const lines = scan.results as ScanUpdatesResultLine[];
    expect(
      lines.map((l) => (l.kind === 'update' ? [l.kb, l.restartExpected, l.excludedBy] : l)),
    ).toEqual([
      ['KB5034127', true, null],
      ['KB890830', false, 'excludeKbs'],
      { kind: 'node', pendingRestart: true, found: 3, applicable: 1 },
    ]);
    expect(scan.out.StandardOutputContent).toContain(
      'left out, recommended but not important (IncludeRecommendedUpdates is false): Optional preview (KB5000001)',
    );
    expect(h.fleet.node('WEB01')).toMatchObject({ installedUpdates: [] });
    expect(h.fleet.node('WEB01').installs).toEqual([]);
  });

  it('cancels a running command: Cancelling, then Cancelled', async () => {
    const h = harness({
      nodes: [{ name: 'WEB01', preUpdateScript: { exitCode: 0, minutes: 30 } }],
    });
    const commandId = await h.send('WEB01', 'RunUpdateScript', {
      phase: 'pre',
      script: 'C:\\Scripts\\PreUpdate.ps1',
    });
    await h.advance(MIN);
    await h.fleet.send(
      new CancelCommandCommand({ CommandId: commandId, InstanceIds: [h.idOf('WEB01')] }),
    );
    const event = await h.finish(commandId);
    const statuses = h.events.map((e) => e.detail.status);
    expect(statuses).toEqual(['Pending', 'InProgress', 'Cancelling', 'Cancelled']);
    expect(Date.parse(event.time)).toBe(START + MIN + T.cancelMs);
    const out: GetCommandInvocationCommandOutput = await h.invocation('WEB01', commandId);
    expect(out.Status).toBe('Cancelled');
    expect(
      (await rejection(h.fleet.send(new CancelCommandCommand({ CommandId: 'nope' })))).name,
    ).toBe('InvalidCommandId');
  });
});
