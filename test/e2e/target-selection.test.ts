/**
 * Targets chosen by tag, Resource Group or S3 manifest (issue 11 §1) through the synthesized
 * rollout workflow in the sandbox: the ResolveTarget state resolves the selection before the
 * lock, the run records how (a report notice with the count), nodes outside the selection are
 * never touched, and a selection that is malformed or matches nothing ends the run naming the
 * field, before anything is touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunView, runNotices } from '../../lambdas/core/api-model.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { messageOf, PLUGINS, runSelected, selectionScenario, TARGET } from './selection-helpers.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

describe('a group chosen by Resource Group, manifest or tag (small fleet)', () => {
  let result: ScenarioResult;
  beforeAll(async () => {
    // 12 nodes: WEB001-WEB008 tagged Env=prod (WEB001-WEB004 also Role=db); WEB005-WEB010 in
    // the Resource Group wave-1; WEB011, WEB012 in nothing.
    const scenario = selectionScenario(12, (i) => ({
      ...(i < 8 ? { tags: { Env: 'prod', Role: i < 4 ? 'db' : 'web' } } : {}),
      ...(i >= 4 && i < 10 ? { resourceGroups: ['wave-1'] } : {}),
    }));
    // The scenario's hotfix root is published under the roots its rollouts name: name ours.
    (scenario.runs[0] as { rollout: { plugins: unknown } }).rollout.plugins = PLUGINS;
    result = await runScenario(scenario, { runRollouts: false });
  }, 120_000);
  afterAll(() => result?.sandbox.stop());

  it('tags are ANDed: Env=prod and Role=db update WEB001-WEB004 only, and the report says how', async () => {
    // Act
    const run = await runSelected(
      result,
      {
        target: { kind: 'group', name: TARGET, select: { tags: { Env: 'prod', Role: 'db' } } },
        plugins: PLUGINS,
        policy: { maxConcurrency: '50%', maxFailedNodes: '25%' },
      },
      'by-tags',
    );
    // Assert
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.report?.status).toBe('Succeeded');
    expect(run.report?.nodes.map((n) => [n.name, n.status])).toEqual([
      ['WEB001', 'Succeeded'],
      ['WEB002', 'Succeeded'],
      ['WEB003', 'Succeeded'],
      ['WEB004', 'Succeeded'],
    ]);
    const stored = await result.sandbox.store.getRun(run.report?.runId as string);
    // The API's report (GET /rollouts/{id}/report) shows the resolution as a notice.
    expect(runNotices(stored as RunView)).toEqual([
      expect.stringMatching(
        /^Target resolved at .*: tag:Env=prod AND tag:Role=db gave 4 node\(s\)$/,
      ),
      // The percentages as resolved against the 4 nodes.
      'Policy resolved against 4 node(s): maxConcurrency 50% = 2 at a time; maxFailedNodes 25% = 1',
    ]);
    expect(stored?.resolvedPolicy).toEqual({
      maxConcurrency: 2,
      maxConcurrencyPercent: 50,
      maxFailedNodesPercent: 25,
    });
    const touched = new Set(result.fleet.log.slice(run.fleetFrom).map((e) => e.node));
    expect([...touched].sort()).toEqual(['WEB001', 'WEB002', 'WEB003', 'WEB004']);
    expect(run.invariants).toEqual([]);
    // 25% of the 4 resolved nodes: a budget of 1, recorded on the run.
    expect(stored?.maxFailedNodes).toBe(1);
  }, 120_000);

  it('a Resource Group updates its members: WEB005-WEB010', async () => {
    const run = await runSelected(
      result,
      {
        target: { kind: 'group', name: TARGET, select: { resourceGroup: 'wave-1' } },
        plugins: PLUGINS,
        policy: { maxConcurrency: 3 },
      },
      'by-group',
    );
    expect(run.report?.status).toBe('Succeeded');
    expect(run.report?.nodes.map((n) => n.name)).toEqual([
      'WEB005',
      'WEB006',
      'WEB007',
      'WEB008',
      'WEB009',
      'WEB010',
    ]);
    const stored = await result.sandbox.store.getRun(run.report?.runId as string);
    expect(stored?.targetResolution).toMatchObject({ by: 'resourceGroup', count: 6, skipped: 0 });
    expect(runNotices(stored as RunView)[0]).toMatch(
      /resource-groups:Name=wave-1 gave 6 node\(s\)$/,
    );
    expect(run.invariants).toEqual([]);
  }, 120_000);

  it('an S3 manifest (CSV) names the nodes, in its own order', async () => {
    result.sandbox.s3.put(
      'selection-artifacts',
      'manifests/wave-2.csv',
      'name,instanceId\nWEB012,' +
        result.fleet.node('WEB012').instanceId +
        '\nWEB011,' +
        result.fleet.node('WEB011').instanceId +
        '\n',
    );
    const run = await runSelected(
      result,
      {
        target: {
          kind: 'group',
          name: TARGET,
          select: { manifest: 's3://selection-artifacts/manifests/wave-2.csv' },
        },
        plugins: PLUGINS,
      },
      'by-manifest',
    );
    expect(run.report?.status).toBe('Succeeded');
    expect(run.report?.nodes.map((n) => n.name)).toEqual(['WEB012', 'WEB011']);
    expect(run.invariants).toEqual([]);
  }, 120_000);

  it.each([
    {
      case: 'no match',
      select: { tags: { Env: 'staging' } },
      error: 'TargetNotResolved',
      cause:
        'target.select.tags: no Windows managed node matches tag:Env=staging; nothing was touched',
    },
    {
      case: 'a bad tag key',
      select: { tags: { 'aws:cloudformation:stack-name': 'x' } },
      error: 'InvalidRolloutInput',
      cause: 'target.select.tags.aws:cloudformation:stack-name ("aws:cloudformation:stack-name")',
    },
    {
      case: 'an unknown Resource Group',
      select: { resourceGroup: 'wave-9' },
      error: 'TargetNotResolved',
      cause: 'target.select.resourceGroup: no Resource Group named "wave-9"',
    },
    {
      case: 'a missing manifest',
      select: { manifest: 's3://selection-artifacts/manifests/none.json' },
      error: 'TargetNotResolved',
      cause: 'target.select.manifest: s3://selection-artifacts/manifests/none.json does not exist',
    },
  ])(
    '$case: the run fails naming the field, before the lock and any node',
    async ({ select, error, cause }) => {
      const before = result.fleet.log.length;
      const name = `refused-${error}-${Object.keys(select)[0]}-${result.sandbox.executions.length}`;
      const execution = await result.sandbox.runRollout(
        { target: { kind: 'group', name: TARGET, select }, plugins: PLUGINS },
        name,
      );
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe(error);
      expect(messageOf(execution.cause)).toContain(cause);
      expect(result.fleet.log.length).toBe(before);
      expect(await result.sandbox.store.getLock(TARGET)).toBeUndefined();
    },
    60_000,
  );

  it('both nodes and select: refused naming target.nodes', async () => {
    const execution = await result.sandbox.runRollout(
      {
        target: {
          kind: 'group',
          name: TARGET,
          nodes: [{ name: 'WEB001', instanceId: result.fleet.node('WEB001').instanceId }],
          select: { tags: { Env: 'prod' } },
        },
        plugins: PLUGINS,
      },
      'refused-both',
    );
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('InvalidRolloutInput');
    expect(messageOf(execution.cause)).toContain(
      'target.nodes ("1 node(s)"): give either nodes or select, not both',
    );
  }, 60_000);
});
