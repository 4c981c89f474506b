/**
 * ScanUpdates on both sandbox fleets: the pwsh fleet runs ssm/scan-updates.ps1 as the document
 * carries it (its WUA searcher answered from the node's offered updates), the model imitates it;
 * both print the same result lines and neither changes the node.
 *
 * Without pwsh the pwsh half is skipped with one loud line; under REQUIRE_PWSH=1 it fails.
 */
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScanUpdatesResultLine } from '../../lambdas/core/contracts.js';
import { parseResultLines } from '../../lambdas/handlers/complete-command.js';
import { VirtualClock } from '../../sandbox/clock.js';
import { type CommandStatusEvent, SimulatedFleet } from '../../sandbox/fleet.js';
import { PwshNodeScripts, PwshWorkerPool, pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { parseScenario } from '../../sandbox/scenario.js';

const PREFIX = 'WindowsRollout';
const TERMINAL = ['Success', 'Failed', 'TimedOut', 'Cancelled'];
const available = pwshAvailable();
if (!available) {
  const line = '!!! ScanUpdates on the pwsh fleet SKIPPED: dotnet pwsh does not run here !!!';
  if (process.env.REQUIRE_PWSH === '1') throw new Error(`${line} (REQUIRE_PWSH=1: a skip fails)`);
  console.error(line);
}
let pool: PwshWorkerPool | undefined;
afterAll(() => pool?.close());

const PAYLOAD = {
  queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
  includeRecommendedUpdates: true,
  selection: { excludeKbs: ['KB890830'], excludeRebootRequired: false },
  // send-command adds it: the command's deadline, an hour after the scenario's start.
  deadline: '2026-03-29T01:30:00.000Z',
};

/** Runs ScanUpdates once on WEB01 of a fresh fleet; returns its status, lines and the node after. */
async function scan(kind: 'pwsh' | 'model', payload: object = PAYLOAD) {
  const scenario = parseScenario(
    {
      name: 'scan',
      startTime: '2026-03-29T00:30:00Z',
      nodes: [{ name: 'WEB01', pendingReboot: true, installedUpdates: ['KB5030009'] }],
      rollout: { target: { kind: 'group', name: 'g', nodes: [{ name: 'WEB01' }] } },
      windowsUpdate: {
        available: [
          {
            kb: 'KB5034127',
            title: '2026-03 Cumulative Update (KB5034127)',
            rebootRequired: true,
            classification: 'Security Updates',
            msrcSeverity: 'Critical',
          },
          { kb: 'KB890830', title: 'Malicious Software Removal Tool (KB890830)' },
          { kb: 'KB5000001', title: 'Preview (KB5000001)', recommended: true },
          { kb: 'KB5030009', title: 'Already installed (KB5030009)' },
        ],
      },
    },
    'scan',
  );
  const clock = new VirtualClock(new Date(scenario.startTime));
  const events: CommandStatusEvent[] = [];
  if (kind === 'pwsh' && !pool) {
    pool = new PwshWorkerPool();
    await pool.render();
  }
  const fleet = new SimulatedFleet(scenario, clock, {
    documentPrefix: PREFIX,
    onEvent: (event) => events.push(event),
    ...(kind === 'pwsh' && pool ? { nodeScripts: new PwshNodeScripts(pool, clock) } : {}),
  });
  const instanceId = fleet.node('WEB01').instanceId;
  const sent = await fleet.send(
    new SendCommandCommand({
      DocumentName: `${PREFIX}-ScanUpdates`,
      InstanceIds: [instanceId],
      Parameters: {
        Payload: [Buffer.from(JSON.stringify(payload), 'utf8').toString('base64')],
      },
      TimeoutSeconds: 600,
      Comment: 'run-1 WEB01 scan',
    }),
  );
  const commandId = sent.Command?.CommandId as string;
  await clock.run(
    (async () => {
      while (
        !events.some(
          (e) => e.detail['command-id'] === commandId && TERMINAL.includes(e.detail.status),
        )
      ) {
        await clock.sleep(1000);
      }
    })(),
  );
  const out = await fleet.send(
    new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
  );
  return {
    status: out.Status,
    stderr: out.StandardErrorContent,
    lines: parseResultLines(out.StandardOutputContent ?? '') as ScanUpdatesResultLine[],
    node: fleet.node('WEB01'),
  };
}

const EXPECTED_UPDATES = [
  ['KB5034127', 'Security Updates', 'Critical', true, null],
  ['KB890830', 'Security Updates', null, false, 'excludeKbs'],
  ['KB5000001', 'Security Updates', null, false, null],
];

function summary(lines: readonly ScanUpdatesResultLine[]) {
  return lines.map((l) =>
    l.kind === 'update'
      ? [l.kb, l.classification, l.msrcSeverity, l.restartExpected, l.excludedBy]
      : l,
  );
}

describe('ScanUpdates on the sandbox fleets', () => {
  it('model: lists the missing updates with the selection rule and the pending restart', async () => {
    const result = await scan('model');
    expect(result.status).toBe('Success');
    expect(summary(result.lines)).toEqual([
      ...EXPECTED_UPDATES,
      { kind: 'node', pendingRestart: true, found: 3, applicable: 2 },
    ]);
    expect(result.node.installedUpdates).toEqual(['KB5030009']);
    expect(result.node.installs).toEqual([]);
  });

  it.skipIf(!available)(
    'pwsh: the real script prints what the model prints, and changes nothing',
    async () => {
      const [model, pwsh] = [await scan('model'), await scan('pwsh')];
      expect(pwsh.stderr).toBe('');
      expect(pwsh.status).toBe('Success');
      expect(pwsh.lines).toEqual(model.lines);
      expect(pwsh.node.installedUpdates).toEqual(['KB5030009']);
      expect(pwsh.node.installs).toEqual([]);
      expect(pwsh.node.restarts).toBe(0);
    },
    120_000,
  );

  it.each(available ? (['model', 'pwsh'] as const) : (['model'] as const))(
    '%s: a deadline within the margin fails the command before the search',
    async (kind) => {
      const result = await scan(kind, { ...PAYLOAD, deadline: '2026-03-29T00:30:30.000Z' });
      expect(result.status).toBe('Failed');
      expect(result.stderr).toContain(
        'the deadline passed before the Windows Update search could start',
      );
      expect(result.lines).toEqual([]);
    },
    120_000,
  );
});
