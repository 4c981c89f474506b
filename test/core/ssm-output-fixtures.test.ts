/**
 * The output of the real SSM scripts, captured under the Pester Windows shim (`npm run
 * fixtures:ssm` writes test/fixtures/ssm-output/), read by the same code the control plane reads
 * it with: complete-command's result-line parser, then the interpreters. Neither side can change
 * the line format alone.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  COMMAND_ID_PATTERN,
  type CommandOutcome,
  END_LINE_PREFIX,
  type InstallResultLine,
  type InventoryResult,
  NODE_CONTRACT,
  type PlannedInstall,
  RESULT_LINE_PREFIX,
  type RemovalItem,
  type RemovalResultLine,
  type ScanUpdatesResultLine,
} from '../../lambdas/core/contracts.js';
import { defaultHotfixConfig } from '../../lambdas/core/default-config.js';
import { findExtensionRule } from '../../lambdas/core/hotfix-config.js';
import { removalFor } from '../../lambdas/core/install-ledger.js';
import {
  interpretHotfixInstall,
  interpretRemoval,
  interpretWindowsUpdate,
} from '../../lambdas/core/interpret.js';
import { computeNodeOrder, roleCountsOf } from '../../lambdas/core/node-order.js';
import { explainStillApplicable } from '../../lambdas/core/rescan.js';
import { RUN_ID_PATTERN } from '../../lambdas/core/rollout-input.js';
import {
  outputGap,
  parseEndMarker,
  parseResultLines,
} from '../../lambdas/handlers/complete-command.js';
import { MAX_PAYLOAD_BYTES } from '../../lambdas/handlers/send-command.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/ssm-output/', import.meta.url));

interface Fixture {
  readonly document: string;
  readonly exitCode: number;
  readonly output: string;
  readonly results: readonly unknown[];
}

/** A captured run: a `# <document> exit <code>` line, then the script's standard output. */
function fixture(name: string): Fixture {
  const text = readFileSync(join(FIXTURES, `${name}.txt`), 'utf8');
  const [header = '', ...rest] = text.split('\n');
  const match = /^# (\w+) exit (-?\d+)$/.exec(header);
  if (!match) throw new Error(`${name}.txt: first line ${JSON.stringify(header)} is not a header`);
  const output = rest.join('\n');
  return {
    document: match[1] as string,
    exitCode: Number(match[2]),
    output,
    results: parseResultLines(output),
  };
}

/** The command as complete-command hands it on: SSM's status follows the script's exit code. */
function command(f: Fixture): Pick<CommandOutcome, 'status' | 'results' | 'outputTail'> {
  return { status: f.exitCode === 0 ? 'Success' : 'Failed', results: f.results, outputTail: '' };
}

/**
 * The plan the fixture's install lines answer, one update per line, with our default rule for
 * `extension` (the .msi rule lists 1641 as Success_RebootRequired; the .msu rule does not).
 */
function plannedFor(f: Fixture, extension: 'msu' | 'msi' = 'msu'): PlannedInstall[] {
  const rule = findExtensionRule(defaultHotfixConfig(), `KB1.${extension}`);
  if (!rule) throw new Error(`the default configuration has no .${extension} rule`);
  return (f.results as InstallResultLine[]).map((line) => ({
    index: line.index,
    file: line.file,
    key: `root/${line.file}`,
    sha256: '0'.repeat(64),
    localPath: `C:\\Windows\\Temp\\Rollout\\${line.file.split('/').at(-1)}`,
    path: 'C:\\Windows\\System32\\wusa.exe',
    parameters: '/quiet /norestart',
    rule: { kind: 'extension', name: rule.name },
    exitConditions: rule.exitConditions,
    alwaysReboot: false,
  }));
}

describe('SSM output fixtures: ScanUpdates', () => {
  it('prints one update line per listed update, then the node line with the counts', () => {
    const f = fixture('scan-updates');
    expect(f.document).toBe('scan');
    expect(f.exitCode).toBe(0);
    const lines = f.results as ScanUpdatesResultLine[];
    const updates = lines.filter((l) => l.kind === 'update');
    expect(updates.map((l) => [l.kb, l.classification, l.restartExpected, l.skipReason])).toEqual([
      ['KB5034439', 'Security Updates', true, null],
      ['KB5034440', 'Critical Updates', false, null],
      ['KB5030001', 'Drivers', true, null],
      ['KB5030003', 'Security Updates', true, 'eula'],
    ]);
    expect(lines.at(-1)).toEqual({ kind: 'node', pendingRestart: false, found: 5, applicable: 3 });
    expect(f.output).not.toMatch(/downloading|installing/);
  });
});

describe('SSM output fixtures: every one is read', () => {
  const names = readdirSync(FIXTURES)
    .filter((file) => file.endsWith('.txt'))
    .map((file) => file.replace(/\.txt$/, ''));

  it('has fixtures for every document', () => {
    const documents = new Set(names.map((name) => fixture(name).document));
    expect([...documents].sort()).toEqual(Object.keys(NODE_CONTRACT.payloadFields).sort());
  });

  it.each(names)('%s: every line is a result line or a [rollout] log line', (name) => {
    const lines = fixture(name).output.split('\n').filter(Boolean);
    const end = lines.at(-1)?.startsWith(`${END_LINE_PREFIX} `) ? lines.pop() : undefined;
    expect(end === undefined || !lines.some((line) => line.startsWith(END_LINE_PREFIX))).toBe(true);
    for (const line of lines) {
      expect(line).toMatch(new RegExp(`^(${RESULT_LINE_PREFIX} \\{|\\[rollout\\] )`));
    }
  });

  it.each(names)('%s: ends with the end marker, which counts its result lines', (name) => {
    const f = fixture(name);
    const lines = f.output.split('\n').filter(Boolean);
    if (f.exitCode === 3010) {
      // RestartNode's first run: the agent restarts the node and runs it again; no marker yet.
      expect(parseEndMarker(f.output)).toBeUndefined();
      return;
    }
    expect(lines.at(-1)).toBe(`${END_LINE_PREFIX} {"results":${f.results.length}}`);
    expect(outputGap(f.output, true)).toBeUndefined();
  });
});

describe('SSM output fixtures: InstallHotfixes verdicts', () => {
  it('updates that install: succeeded, nothing to restart, a combined package to remove with DISM', () => {
    const f = fixture('install-hotfixes-ok');
    const verdict = interpretHotfixInstall(plannedFor(f), command(f));
    expect(verdict.failed).toBe(false);
    expect(verdict.outcomes.Success).toBe(2);
    expect(removalFor(f.results[0] as InstallResultLine)).toEqual({
      method: 'dism',
      packageName: 'Package_for_RollupFix~31bf3856ad364e35~amd64~~KB100000.msu',
    });
  });

  it.each([
    ['install-hotfixes-exit-3010', 'Success_RebootRequired', false, true],
    ['install-hotfixes-exit-1618', 'Failed', true, false],
    ['install-hotfixes-exit-12345', 'Failed', true, false],
  ] as const)('%s: the first update is %s', (name, outcome, failed, reboot) => {
    const f = fixture(name);
    const verdict = interpretHotfixInstall(plannedFor(f), command(f));
    expect(verdict.results[0]?.outcome).toBe(outcome);
    expect(verdict.results[1]?.outcome).toBe('Success');
    expect(verdict.failed).toBe(failed);
    expect(verdict.rebootRequired).toBe(reboot);
  });

  it('1641: the node restarts itself; the rest are reported, not started', () => {
    const f = fixture('install-hotfixes-1641');
    const verdict = interpretHotfixInstall(plannedFor(f, 'msi'), command(f));
    expect(verdict.rebootInitiated).toBe(true);
    expect(verdict.results[1]?.exitCode).toBe(1641);
    const lines = f.results as InstallResultLine[];
    expect(lines.map((line) => line.notStarted ?? false)).toEqual([false, false, true, true]);
    expect(lines.slice(2).map((line) => line.exitCode)).toEqual([null, null]);
    // The verdict: the two not started are named, transient, not a failure of what ran.
    expect(verdict.notStarted).toEqual([lines[2]?.index, lines[3]?.index]);
    expect(verdict.results.slice(2).map((r) => [r.exitCode, r.transient])).toEqual([
      [null, true],
      [null, true],
    ]);
    expect(verdict.startedFailed).toBe(false);
    expect(verdict.results[1]?.rebootInitiated).toBe(true);
  });

  it('the re-run after 1641: the two installed updates are not run again, all succeed', () => {
    const f = fixture('install-hotfixes-after-1641');
    const verdict = interpretHotfixInstall(plannedFor(f, 'msi'), command(f));
    expect(verdict.failed).toBe(false);
    expect(verdict.rebootInitiated).toBe(false);
    expect(
      (f.results as InstallResultLine[]).map((line) => line.alreadyInstalled ?? false),
    ).toEqual([true, true, false]);
  });

  it('a SHA-256 mismatch: failed, not run, both hashes reported', () => {
    const f = fixture('install-hotfixes-checksum');
    const verdict = interpretHotfixInstall(plannedFor(f), command(f));
    expect(verdict.failed).toBe(true);
    expect(verdict.results[0]?.exitCode).toBeNull();
    const line = f.results[0] as InstallResultLine;
    expect(line.checksumOk).toBe(false);
    expect(line.expectedSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(line.actualSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(line.actualSha256).not.toBe(line.expectedSha256);
  });

  it.each([
    ['install-hotfixes-hang-quiet', false],
    ['install-hotfixes-hang-busy', true],
  ] as const)('%s: the installer timed out, servicingBusy %s', (name, busy) => {
    const f = fixture(name);
    const verdict = interpretHotfixInstall(plannedFor(f), command(f));
    expect(verdict.failed).toBe(true);
    expect(verdict.results[0]?.outcome).toBe('Failed');
    expect((f.results[0] as InstallResultLine).servicingBusy).toBe(busy);
  });

  it('the deadline passed: the command failed and nothing ran', () => {
    const f = fixture('install-hotfixes-deadline');
    expect(f.exitCode).toBe(1);
    expect(interpretHotfixInstall(plannedFor(f), command(f)).failed).toBe(true);
  });

  it('40 updates: every result line fits the 24,000 characters GetCommandInvocation returns', () => {
    const f = fixture('install-hotfixes-many');
    expect(f.results).toHaveLength(40);
    expect(f.output.length).toBeLessThan(NODE_CONTRACT.inlineOutputCharacters);
    expect(interpretHotfixInstall(plannedFor(f), command(f)).outcomes.Success).toBe(40);
  });
});

describe('SSM output fixtures: Windows Update and removal verdicts', () => {
  it('important updates only: succeeded, restart required', () => {
    const verdict = interpretWindowsUpdate(command(fixture('windows-update-important')));
    expect(verdict.failed).toBe(false);
    expect(verdict.rebootRequired).toBe(true);
  });

  it('skipped updates (EULA, user input) count against the run, named in the verdict', () => {
    const verdict = interpretWindowsUpdate(command(fixture('windows-update-skipped')));
    expect(verdict.failed).toBe(true);
    expect(verdict.transientOnly).toBe(false);
    expect(verdict.outcomes.Success).toBe(1);
    expect(verdict.results.filter((r) => r.detail?.startsWith('skipped'))).toHaveLength(2);
    expect(verdict.results[0]?.detail).toContain('EULA');
  });

  it('updates the updateSelection excluded: NotApplicable with the rule, not a failure', () => {
    const verdict = interpretWindowsUpdate(command(fixture('windows-update-excluded')));
    expect(verdict.failed).toBe(false);
    expect(verdict.rebootRequired).toBe(true);
    expect(verdict.outcomes.Success_RebootRequired).toBe(1);
    expect(verdict.outcomes.NotApplicable).toBe(2);
    expect(verdict.results.map((r) => r.excludedBy ?? null)).toEqual([
      'classifications',
      'excludeKbs',
      null,
    ]);
    expect(verdict.results[0]?.detail).toBe(
      'excluded by updateSelection.classifications: classification Drivers is not one of Security Updates, Critical Updates',
    );
  });

  it('a failed install: failed, the other update succeeded', () => {
    const verdict = interpretWindowsUpdate(command(fixture('windows-update-failed')));
    expect(verdict.failed).toBe(true);
    expect(verdict.outcomes.Success).toBe(1);
  });

  it.each([
    ['remove-updates-wusa', 'wusa', 'wusa.exe /uninstall /kb:5034439'],
    [
      'remove-updates-dism',
      'dism',
      'DISM /Online /Remove-Package /PackageName:Package_for_RollupFix',
    ],
  ] as const)('%s: removed with %s, a restart needed', (name, method, commandText) => {
    const f = fixture(name);
    const line = f.results[0] as RemovalResultLine;
    expect(line.method).toBe(method);
    const planned: RemovalItem[] = [
      {
        index: 0,
        updateId: line.updateId,
        method: line.method,
        ...(line.packageName ? { packageName: line.packageName } : {}),
      },
    ];
    const verdict = interpretRemoval(planned, command(f));
    expect(verdict.results[0]?.outcome).toBe('Success_RebootRequired');
    expect(verdict.results[0]?.command).toContain(commandText);
  });

  it('a removal that hangs: failed, servicing still busy', () => {
    const f = fixture('remove-updates-hang');
    const verdict = interpretRemoval([{ index: 0, updateId: 'KB5000001' }], command(f));
    expect(verdict.failed).toBe(true);
    expect((f.results[0] as RemovalResultLine).servicingBusy).toBe(true);
  });
});

describe('SSM output fixtures: the other documents', () => {
  it('inventory: the InventoryResult shape', () => {
    const facts = fixture('inventory-cluster').results[0] as InventoryResult;
    expect(facts.cluster).toEqual({
      name: 'CLUSTER1',
      nodeState: 'Up',
      nodes: [
        { name: 'NODE1', state: 'Up' },
        { name: 'NODE2', state: 'Up' },
        { name: 'NODE3', state: 'Up' },
      ],
      notUp: '',
      roleCounts: { NODE1: 2, NODE3: 1 },
    });
    expect(Object.keys(facts).sort()).toEqual(
      [
        'binaries',
        'cluster',
        'computerName',
        'hotpatch',
        'installedUpdates',
        'lastBootTime',
        'os',
        'pendingReboot',
        'rescan',
      ].sort(),
    );
    expect(facts.rescan).toBeNull();
  });

  it('inventory as Verify: the rescan the script printed is what run-history explains (issue 13, item 6)', () => {
    const facts = fixture('inventory-verify-rescan').results[0] as InventoryResult;
    const found = facts.rescan?.stillApplicable ?? [];
    expect(facts.rescan?.searchError).toBeNull();
    expect(found.map((u) => [u.kb, u.source, u.restartPending])).toEqual([
      ['KB5035002', 'WindowsUpdate', false],
      ['KB5035003', 'WindowsUpdate', true],
    ]);
    const explained = explainStillApplicable(found, []);
    expect(explained.map((u) => u.reason)).toEqual(['newlyOffered', 'restartPending']);
  });

  it('inventory: the computed node order reads the role counts the script printed (issue 13, item 7)', () => {
    const facts = fixture('inventory-cluster').results[0];
    const counts = roleCountsOf(facts);
    expect(counts).toBeInstanceOf(Map);
    const nodes = ['NODE1', 'NODE2', 'NODE3'].map((name) => ({ name }));
    const { order } = computeNodeOrder(nodes, counts as Map<string, number>, 'NODE1');
    expect(order).toMatchObject({
      source: 'computed',
      counts: [
        { node: 'NODE2', roles: 0 },
        { node: 'NODE3', roles: 1 },
        { node: 'NODE1', roles: 2 },
      ],
    });
  });

  it('inventory: members not Up are named in cluster.notUp (the node workflow stops on it)', () => {
    const facts = fixture('inventory-cluster-paused').results[0] as InventoryResult;
    expect(facts.cluster?.notUp).toBe('NODE2 is Paused, NODE3 is Down');
    expect(facts.cluster?.nodes?.map((n) => n.state)).toEqual(['Up', 'Paused', 'Down']);
  });

  it('restart: 3010 without a result first, then the new boot', () => {
    expect(fixture('restart-first-run')).toMatchObject({ exitCode: 3010, results: [] });
    expect(fixture('restart-second-run').results[0]).toMatchObject({ restarted: true });
  });

  it.each([
    ['drain-drained', 0, { clustered: true, drained: true }],
    ['drain-timeout', 1, { clustered: true, drained: false }],
    ['drain-standalone', 0, { clustered: false }],
    ['resume-Policy', 0, { resumed: true, failback: 'Policy' }],
    ['run-script-timeout', 1, { timedOut: true, exitCode: null }],
  ] as const)('%s: exit %i with %o', (name, exitCode, shape) => {
    const f = fixture(name);
    expect(f.exitCode).toBe(exitCode);
    expect(f.results[0]).toMatchObject(shape);
  });
});

describe('node-contract.json: one source for both languages', () => {
  it('holds the run id pattern the rollout input validates with', () => {
    expect(NODE_CONTRACT.runIdPattern).toBe(RUN_ID_PATTERN.source);
  });

  it('holds the payload cap send-command enforces: 32,766 base64 characters', () => {
    expect(MAX_PAYLOAD_BYTES).toBe(NODE_CONTRACT.maxPayloadBase64Characters);
    expect(MAX_PAYLOAD_BYTES).toBe(32_767 - 1);
  });

  it('command ids are SSM UUIDs', () => {
    expect(COMMAND_ID_PATTERN.test('0b5e8b2f-1c1e-4c3f-9a8e-2f1a7c6d5e4b')).toBe(true);
    expect(COMMAND_ID_PATTERN.test('cmd-1')).toBe(false);
  });
});
