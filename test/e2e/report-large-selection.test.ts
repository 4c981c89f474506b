/**
 * Issue 11: above 2,000 nodes a selected run's record names its first 20 nodes only (the rest
 * are in the resolved list in S3), and its report used to list just those. Through the
 * sandbox's API path on the model fleet: a 2,500-node group chosen by tag, whose first node
 * fails with maxFailedNodes 0, so the run stops there. GET /rollouts/{id}/report lists all
 * 2,500 nodes in the resolved order: the one that ran as Failed, the 2,499 that never started
 * as NotStarted (JSON and CSV alike), and none of the 10 nodes the tag does not select.
 */
import { afterAll, expect, it } from 'vitest';
import type { RunReportView } from '../../lambdas/core/api-model.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { PLUGINS, selectionScenario } from './selection-helpers.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const COUNT = 2500;
const name = (i: number) => `WEB${String(i + 1).padStart(4, '0')}`;
let result: ScenarioResult | undefined;
afterAll(() => result?.sandbox.stop());

it(`the report of a ${COUNT}-node selection lists every node, the never-started as NotStarted`, async () => {
  // Arrange: 2,500 nodes tagged Env=prod, 10 Env=test; the update fails (MSI 1603) everywhere.
  const scenario = selectionScenario(
    COUNT + 10,
    (i) => ({ tags: { Env: i < COUNT ? 'prod' : 'test' } }),
    [1603],
  );
  (scenario.runs[0] as { rollout: { plugins: unknown } }).rollout.plugins = PLUGINS;
  result = await runScenario(scenario, { runRollouts: false });
  const { sandbox } = result;
  const api = sandbox.api();
  const call = async (method: string, path: string, body?: unknown, accept?: string) =>
    api({
      httpMethod: method,
      path,
      headers: { 'Content-Type': 'application/json', ...(accept ? { Accept: accept } : {}) },
      queryStringParameters: null,
      body: body === undefined ? null : JSON.stringify(body),
      requestContext: {
        requestId: 'test',
        identity: { userArn: 'arn:aws:iam::000000000000:user/u' },
      },
    });

  // Act
  const started = await call('POST', '/rollouts', {
    target: { kind: 'group', name: 'web-fleet', select: { tags: { Env: 'prod' } } },
    plugins: PLUGINS,
    policy: { maxConcurrency: 1, maxFailedNodes: 0 },
  });
  await sandbox.settle();
  const runId = String((JSON.parse(started.body) as { rolloutId: string }).rolloutId);
  const json = await call('GET', `/rollouts/${runId}/report`);
  const csv = await call('GET', `/rollouts/${runId}/report`, undefined, 'text/csv');

  // Assert: the record names 20; the report lists all 2,500 in the resolved (name) order.
  expect(started.statusCode).toBe(202);
  const run = await sandbox.store.getRun(runId);
  expect(run?.nodes).toHaveLength(20);
  expect(run?.targetResolution?.count).toBe(COUNT);
  expect(json.statusCode).toBe(200);
  const report = JSON.parse(json.body) as RunReportView;
  expect(report.status).toBe('Failed');
  expect(report.nodes.map((n) => n.name)).toEqual(Array.from({ length: COUNT }, (_, i) => name(i)));
  expect(report.nodes[0]?.status).toBe('Failed');
  const rest = report.nodes.slice(1);
  expect(new Set(rest.map((n) => n.status))).toEqual(new Set(['NotStarted']));
  expect(rest.every((n) => n.updates.length === 0 && n.ledger.length === 0)).toBe(true);
  // CSV: one row per node without updates (2,499) plus the failed node's update rows.
  expect(csv.statusCode).toBe(200);
  const rows = csv.body.trim().split('\n').slice(1);
  const csvNodes = new Set(rows.map((row) => row.split(',')[3]));
  expect(csvNodes.size).toBe(COUNT);
  expect(csvNodes.has(name(COUNT - 1))).toBe(true);
  expect(csvNodes.has(name(COUNT))).toBe(false);
}, 1_800_000);
