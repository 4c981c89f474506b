/**
 * Issue 11: phases on a selection whose run record names only its first 20 nodes. A phase is
 * found by position in the run's order, so its verdict reads the resolved list from S3. The
 * synthesized rollout workflow in the sandbox (model fleet): 5,000 nodes chosen by tag (the
 * most phases take, MAX_PHASED_NODES), a first phase of 1 % (50 nodes) that allows no failure,
 * and WEB0030 (past the 20 names the record keeps) failing its update. The verdict names all
 * 50 nodes and WEB0030 as failed, and the run stops before the rest: 50 nodes ran, no other.
 */
import { afterAll, expect, it } from 'vitest';
import { MAX_PHASED_NODES } from '../../lambdas/core/phases.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { parseScenario } from '../../sandbox/scenario.js';
import { PLUGINS, runSelected, TARGET } from './selection-helpers.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const COUNT = MAX_PHASED_NODES;
const FAILING = 'WEB0030';
const name = (i: number) => `WEB${String(i + 1).padStart(4, '0')}`;
let result: ScenarioResult | undefined;
afterAll(() => result?.sandbox.stop());

it(`a 1 % phase of a ${COUNT}-node tag selection is judged on all its nodes`, async () => {
  // Arrange: 5,000 nodes tagged Env=prod and 10 Env=test; WEB0030's update fails (MSI 1603).
  const scenario = parseScenario(
    {
      name: 'phases-5000',
      hotfixRoot: { files: [{ path: 'CAUHotfix_All/windows10.0-kb5036001-x64.msu' }] },
      nodes: Array.from({ length: COUNT + 10 }, (_, i) => ({
        name: name(i),
        tags: { Env: i < COUNT ? 'prod' : 'test' },
        updates: { KB5036001: { exitCodes: [name(i) === FAILING ? 1603 : 0], minutes: 1 } },
      })),
      rollout: {
        target: { kind: 'group', name: TARGET, nodes: [{ name: name(0) }] },
        plugins: PLUGINS,
      },
    },
    'test',
  );
  result = await runScenario(scenario, { runRollouts: false });
  const { sandbox } = result;

  // Act
  const { execution, report, invariants } = await runSelected(
    result,
    {
      target: { kind: 'group', name: TARGET, select: { tags: { Env: 'prod' } } },
      plugins: PLUGINS,
      policy: { maxConcurrency: 10, maxFailedNodes: 5 },
      phases: [{ name: 'ring0', percent: 1, failuresAllowed: 0, bakeMinutes: 60 }],
    },
    'phases-5000',
  );

  // Assert: the record names 20 nodes; the verdict judged the phase's 50 from the S3 list.
  const runId = (execution.output as { runId?: string } | undefined)?.runId ?? 'phases-5000';
  const items = await sandbox.store.getRunItems(runId);
  expect(items.run?.nodes).toHaveLength(20);
  expect(items.run?.targetResolution?.count).toBe(COUNT);
  const verdict = items.phases?.[0];
  expect(verdict?.nodes).toEqual(Array.from({ length: 50 }, (_, i) => name(i)));
  expect(verdict?.failed).toEqual([FAILING]);
  expect(verdict?.passed).toBe(false);
  // The run stopped at the phase's end: its 50 nodes ran, no other.
  const children = sandbox.executions.filter((e) => e.name.startsWith(`${runId}-`));
  expect(children.map((c) => c.name).sort()).toEqual(
    Array.from({ length: 50 }, (_, i) => `${runId}-${name(i)}`),
  );
  expect(items.run?.status).toBe('Failed');
  // The invariants were checked on every node of the run (read from the S3 list), not only on
  // the 20 the record names: the 50 that ran and the 4,950 that never started.
  expect(report?.nodes).toHaveLength(COUNT);
  expect(report?.nodes.filter((n) => n.status !== 'NotStarted')).toHaveLength(50);
  expect(invariants).toEqual([]);
}, 1_800_000);
