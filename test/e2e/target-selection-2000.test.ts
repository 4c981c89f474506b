/**
 * The model fleet at scale (issue 11 §1): a 2,000-node group chosen by tag, resolved in pages
 * of 50 by the ResolveTarget state, updated through the Distributed Map, with a percentage
 * failure budget. 50 more nodes carry another tag and must stay untouched. Slow (minutes on
 * this machine): speed figures belong to `npm run bench`, not here.
 */
import { afterAll, expect, it } from 'vitest';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { PLUGINS, runSelected, selectionScenario } from './selection-helpers.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

let result: ScenarioResult | undefined;
afterAll(() => result?.sandbox.stop());

it('a 2,000-node group by tag:Env=prod runs end to end; the 50 others are untouched', async () => {
  // Arrange
  const scenario = selectionScenario(2050, (i) => ({
    tags: { Env: i < 2000 ? 'prod' : 'test' },
  }));
  (scenario.runs[0] as { rollout: { plugins: unknown } }).rollout.plugins = PLUGINS;
  result = await runScenario(scenario, { runRollouts: false });
  // Act
  const run = await runSelected(
    result,
    {
      target: { kind: 'group', name: 'web-fleet', select: { tags: { Env: 'prod' } } },
      plugins: PLUGINS,
      policy: { maxConcurrency: 200, maxFailedNodes: '1%' },
    },
    'tag-2000',
  );
  // Assert
  expect(run.execution.status).toBe('SUCCEEDED');
  expect(run.report?.status).toBe('Succeeded');
  expect(run.report?.nodes).toHaveLength(2000);
  expect(run.report?.nodes.every((n) => n.status === 'Succeeded')).toBe(true);
  const stored = await result.sandbox.store.getRun(run.report?.runId as string);
  expect(stored?.targetResolution).toMatchObject({
    by: 'tags',
    selector: 'tag:Env=prod',
    count: 2000,
  });
  expect(stored?.maxFailedNodes).toBe(20);
  const touched = new Set(result.fleet.log.slice(run.fleetFrom).map((e) => e.node));
  expect(touched.size).toBe(2000);
  expect([...touched].some((node) => Number(node.slice(3)) > 2000)).toBe(false);
  expect(run.invariants).toEqual([]);
  // The parent's history stays constant: the nodes ran as Distributed Map child executions.
  const parent = result.sandbox.executions.find((e) => e.name === 'tag-2000');
  expect(parent?.historyEvents).toBeLessThan(100);
}, 1_800_000);
