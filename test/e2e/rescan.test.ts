/**
 * The rescan after the final restart (issue 13 item 6, ConfigMgr's post-reboot scan), through
 * the synthesized workflows on both fleets: the Verify inventory searches again with the run's
 * Windows Update selection and checks the planned hotfix KBs; what is still applicable is
 * explained from the node's update results and lands in the run store, the node's lifecycle
 * event and the report (text and JSON). It does not fail a node by itself.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_TYPES } from '../../lambdas/core/contracts.js';
import { pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { renderRunReport } from '../../sandbox/report.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const SCENARIO = fileURLToPath(
  new URL('../../examples/scenarios/rescan-after-restart.json', import.meta.url),
);
const FLEETS = ['model', 'pwsh'] as const;
const CUMULATIVE = '2026-01 Cumulative Update for Windows Server 2022 (KB5035002)';
const NEWLY_OFFERED = {
  kb: 'KB5035002',
  title: CUMULATIVE,
  source: 'WindowsUpdate',
  reason: 'newlyOffered',
  detail: 'not tried by this run: offered only after its installs',
};
const FAILED_HOTFIX = {
  kb: 'KB5034441',
  title: 'CAUHotfix_All/windows10.0-kb5034441-x64.msu',
  source: 'Hotfix',
  reason: 'installFailed',
  detail: 'its install failed (Failed, exit code 1603)',
};

const NOT_PRESENT = fileURLToPath(
  new URL('../../examples/scenarios/installed-not-present.json', import.meta.url),
);

describe.each(FLEETS)('an install that did not happen (%s fleet)', (fleet) => {
  it.skipIf(fleet === 'pwsh' && !pwshAvailable())(
    'is reported installedButNotPresent by the rescan, and missingUpdatesReported holds',
    async () => {
      // Act: NODE1's installer for KB5034441 exits 0 but the node does not get the update.
      const result = await runScenario(await loadScenario(NOT_PRESENT), { fleet });
      // Assert
      const run = result.runs[0];
      expect(result.expectationsMet).toBe(true);
      expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
      expect(run?.invariants.find((i) => i.name === 'missingUpdatesReported')?.detail).toMatch(
        /^2 Succeeded node\(s\) checked; 1 update\(s\) reported installed but not on the node/,
      );
      const node1 = run?.report?.nodes.find((n) => n.name === 'NODE1');
      expect(node1?.updates.find((u) => u.update.includes('kb5034441'))?.outcome).toBe('Success');
      expect(node1?.stillApplicable).toEqual([
        {
          kb: 'KB5034441',
          title: 'CAUHotfix_All/windows10.0-kb5034441-x64.msu',
          source: 'Hotfix',
          reason: 'installedButNotPresent',
          detail: 'the installer reported Success, but the node does not have it',
        },
      ]);
      expect(run?.report?.nodes.find((n) => n.name === 'NODE2')?.stillApplicable ?? []).toEqual([]);
    },
  );
});

describe.each(FLEETS)('the rescan after the final restart (%s fleet)', (fleet) => {
  it.skipIf(fleet === 'pwsh' && !pwshAvailable())(
    'reports a second update offered after the first and a failed hotfix, without failing a node that succeeded',
    async () => {
      const result = await runScenario(await loadScenario(SCENARIO), { fleet, keepRunning: true });
      try {
        await expectRescanReported(result);
      } finally {
        await result.sandbox.stop();
      }
    },
  );
});

async function expectRescanReported(result: Awaited<ReturnType<typeof runScenario>>) {
  const run = result.runs[0];
  const report = run?.report;
  const node = (name: string) => report?.nodes.find((n) => n.name === name);

  expect(result.expectationsMet).toBe(true);
  expect(run?.invariants.filter((i) => !i.ok)).toEqual([]);
  // NODE1's installs all succeeded: Succeeded, with the newly offered update reported.
  expect(node('NODE1')?.status).toBe('Succeeded');
  expect(node('NODE1')?.stillApplicable).toEqual([NEWLY_OFFERED]);
  // NODE2's hotfix failed every attempt: Failed (UpdateFailed), and the rescan says why.
  expect(node('NODE2')?.status).toBe('Failed');
  expect(node('NODE2')?.detail).toBe('UpdateFailed');
  expect(node('NODE2')?.stillApplicable).toEqual([FAILED_HOTFIX, NEWLY_OFFERED]);
  // The excluded driver and the installed updates are not "still applicable".
  expect(JSON.stringify(report)).not.toMatch(/KB5030219[^"]*","source/);

  // The run store holds it on the node result.
  const items = await result.sandbox.store.getRunItems(report?.runId ?? '');
  const stored = items.nodes.find((n) => n.node === 'NODE1');
  expect(stored?.stillApplicable).toEqual([NEWLY_OFFERED]);
  expect(stored?.rescanError).toBeUndefined();

  // The node's Rollout Node Updated event carries it.
  const events = result.sandbox.events.received.filter(
    (e) => e.detailType === LIFECYCLE_EVENT_TYPES.nodeUpdated,
  );
  const ofNode2 = events.find((e) => (e.detail as { node?: string }).node === 'NODE2');
  expect((ofNode2?.detail as { stillApplicable?: unknown } | undefined)?.stillApplicable).toEqual([
    FAILED_HOTFIX,
    NEWLY_OFFERED,
  ]);

  // The text report lists it under each node.
  const text = renderRunReport(report as NonNullable<typeof report>);
  expect(text).toContain(
    `    still applicable after the restart (1):\n      KB5035002 ${CUMULATIVE}: not tried by this run: offered only after its installs`,
  );
  expect(text).toContain(
    '      KB5034441 CAUHotfix_All/windows10.0-kb5034441-x64.msu: its install failed (Failed, exit code 1603)',
  );
  // The Verify inventory is the only command after the final restart before the resume.
  const docs = result.fleet.node('NODE1').commands.map((c) => c.document);
  expect(docs.slice(-2)).toEqual(['inventory', 'resume']);
}
