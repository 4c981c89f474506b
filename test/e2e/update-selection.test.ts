/**
 * Issue 13 item 2 through the synthesized workflows in the sandbox: the rollout's
 * updateSelection reaches each node's Windows Update search and the hotfix plan; only the
 * updates it keeps are installed; the others are in the report with the rule that excluded
 * them; the run's invariants (excludedNeverInstalled among them) hold. And the shipped bad
 * inputs are refused naming the field and the value.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildScenario, generateSpec, runCampaign, selectFaultKinds } from '../../sandbox/chaos.js';
import { checkRunInvariants } from '../../sandbox/invariants.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, ScenarioError } from '../../sandbox/scenario.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const scenarioPath = (name: string) =>
  fileURLToPath(new URL(`../../examples/scenarios/${name}.json`, import.meta.url));

describe('updateSelection end to end (issue 13 item 2)', () => {
  it('installs only what the selection keeps and reports the rest with its rule', async () => {
    const result = await runScenario(await loadScenario(scenarioPath('update-selection')), {
      keepRunning: true,
    });
    try {
      const run = result.runs[0];
      expect(run?.mismatches ?? ['no run']).toEqual([]);
      const report = run?.report;
      expect(report?.status).toBe('Succeeded');
      for (const name of ['WEB01', 'WEB02']) {
        // What the node really installed (the fleet), not what the report says.
        expect(result.fleet.node(name).installs.map((i) => i.kb)).toEqual([
          'KB5034441',
          'KB5034127',
        ]);
        const node = report?.nodes.find((n) => n.name === name);
        const excluded = (node?.updates ?? [])
          .filter((u) => u.excludedBy !== undefined)
          .map((u) => [u.update.split(' ')[0], u.excludedBy, u.outcome]);
        expect(excluded).toEqual([
          ['CAUHotfix_All/windows10.0-kb5034439-x64.msu', 'excludeKbs', 'NotApplicable'],
          ['KB5030219', 'classifications', 'NotApplicable'],
          ['KB5034439', 'excludeKbs', 'NotApplicable'],
          ['KB5035001', 'approveAfterDays', 'NotApplicable'],
          ['KB2267602', 'classifications', 'NotApplicable'],
        ]);
        expect(node?.updates.find((u) => u.excludedBy === 'approveAfterDays')?.detail).toBe(
          'excluded by updateSelection.approveAfterDays: published 1 days ago, fewer than 7',
        );
        // The hotfix plan never had the held-back package: no installer ran for it.
        expect(result.fleet.node(name).attempts).toEqual({
          'CAUHotfix_All/windows10.0-kb5034441-x64.msu': 1,
        });
        expect(node?.ledger.map((e) => e.updateId)).toEqual(['KB5034441', 'KB5034127']);
      }
      const invariant = run?.invariants.find((i) => i.name === 'excludedNeverInstalled');
      expect(invariant?.ok).toBe(true);
      expect(invariant?.detail).toContain('4 install(s)');
    } finally {
      await result.sandbox.stop();
    }
  });

  it('the invariant catches a node that installs an excluded update', async () => {
    // Arrange: the same run, then the check told the selection also excluded the cumulative
    // update, which the nodes did install.
    const scenario = await loadScenario(scenarioPath('update-selection'));
    const result = await runScenario(scenario, { keepRunning: true });
    try {
      const run = result.runs[0];
      if (!run) throw new Error('no run');

      // Act
      const verdicts = await checkRunInvariants({
        sandbox: result.sandbox,
        fleet: result.fleet,
        observations: result.observations,
        execution: run.execution,
        ...(run.report ? { report: run.report } : {}),
        nodes: ['WEB01', 'WEB02'],
        fleetFrom: 0,
        updateSelection: { excludeKbs: ['KB5034127'] },
      });

      // Assert
      const verdict = verdicts.find((v) => v.name === 'excludedNeverInstalled');
      expect(verdict?.ok).toBe(false);
      expect(verdict?.detail).toContain('WEB01 installed 2026-01 Cumulative Update');
      expect(verdict?.detail).toContain('updateSelection.excludeKbs');
    } finally {
      await result.sandbox.stop();
    }
  });

  it.each([
    [
      'update-selection-unknown-classification',
      'rollout.updateSelection.classifications[0]',
      'Security',
    ],
    ['update-selection-bad-kb', 'rollout.updateSelection.excludeKbs[0]', '5034439'],
    ['update-selection-bad-date', 'rollout.updateSelection.maxPublishDate', '2026-02-30'],
  ])(
    'examples/scenarios/invalid/%s.json is refused naming %s and %s',
    async (name, field, value) => {
      const error = await loadScenario(scenarioPath(`invalid/${name}`)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ScenarioError);
      const problems = (error as ScenarioError).problems;
      expect(problems.map((p) => p.field)).toEqual([field]);
      expect(problems[0]?.value).toBe(value);
      expect((error as Error).message).toContain(JSON.stringify(value));
    },
  );

  it('every shipped invalid update-selection scenario is covered above', async () => {
    const files = (
      await readdir(fileURLToPath(new URL('../../examples/scenarios/invalid', import.meta.url)))
    ).filter((f) => f.startsWith('update-selection'));
    expect(files.sort()).toEqual([
      'update-selection-bad-date.json',
      'update-selection-bad-kb.json',
      'update-selection-unknown-classification.json',
    ]);
  });

  it('a chaos campaign drawing updateSelection (and installer faults) breaks no invariant', async () => {
    const kinds = selectFaultKinds('update-selection,exit-3010,exit-failure');
    const result = await runCampaign({
      runs: 6,
      seed: 20261205,
      kinds,
      shrink: false,
      parallel: 3,
    });
    const problems = result.failures.map(
      (f) =>
        `${buildScenario(f.run.spec).description}: ${[...f.run.violations.map((v) => `${v.name}: ${v.detail}`), ...f.run.expectationFailures].join('; ')}`,
    );
    expect(problems).toEqual([]);
    expect(result.runs).toBe(6);
    // The draw is not idle: some run of this seed carries a selection.
    const drawn = Array.from({ length: 6 }, (_, i) => generateSpec(20261205, i, kinds)).filter(
      (spec) => buildScenario(spec).rollout.updateSelection !== undefined,
    );
    expect(drawn.length).toBeGreaterThan(0);
  });
});
