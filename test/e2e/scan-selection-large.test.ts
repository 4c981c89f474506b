/**
 * Issue 11: a scan of a selected group larger than what its state lists (the first 20 names)
 * scans every node: the plan writes the resolved list to S3 (`runs/<scanId>/nodes.json`) and the
 * scan's group map reads it with its ItemReader, as the rollout's fleet map does. The synthesized
 * scan workflow and compliance assessment, run in the sandbox on the model fleet.
 *
 * - 200 nodes chosen by tag (10 others not): each of the 200 is searched once and has its
 *   result in S3, the scan's output names all 200 in the resolved order, the others are
 *   untouched.
 * - The compliance assessment (the same scan, then record-compliance) judges all 200.
 * - More than MAX_SCAN_NODES is refused by name before any node is searched.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SCAN_NODES } from '../../lib/scan-workflow.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { PLUGINS, selectionScenario, TARGET } from './selection-helpers.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

// SCAN_SELECTION_COUNT only to measure a larger selection once (README); the test is at 200.
const SELECTED = Number(process.env.SCAN_SELECTION_COUNT ?? 200);
const OTHERS = 10;
const WIDTH = Math.max(3, String(SELECTED + OTHERS).length);
const names = (count: number) =>
  Array.from({ length: count }, (_, i) => `WEB${String(i + 1).padStart(WIDTH, '0')}`);

async function selectedFleet(count: number, others: number) {
  const scenario = selectionScenario(count + others, (i) =>
    i < count ? { tags: { Env: 'prod' } } : { tags: { Env: 'test' } },
  );
  (scenario.runs[0] as { rollout: { plugins: unknown } }).rollout.plugins = PLUGINS;
  return runScenario(scenario, { runRollouts: false });
}

// The hotfix plan and a Windows Update search (ScanUpdates) on every node.
const SCAN_PLUGINS = [...PLUGINS, { name: 'Microsoft.WindowsUpdatePlugin' }];

const selectedInput = (runId?: string) => ({
  target: { kind: 'group', name: TARGET, select: { tags: { Env: 'prod' } } },
  plugins: SCAN_PLUGINS,
  policy: { maxConcurrency: 25 },
  ...(runId ? { runId } : {}),
});

describe('a scan of a selection larger than its state lists', () => {
  it(`scans all ${SELECTED} selected nodes through the S3 list, and the assessment judges them`, async () => {
    // Arrange: WEB001-WEB200 carry Env=prod; WEB201-WEB210 Env=test.
    const result = await selectedFleet(SELECTED, OTHERS);
    const { sandbox, fleet } = result;
    try {
      const from = fleet.log.length;

      // Act: the scan.
      const { done } = sandbox.startScan(selectedInput('scan-200'), 'scan-200');
      await sandbox.settle();
      const execution = await done;

      // Assert: every selected node was searched once and has its result; no other was.
      expect([execution.status, execution.error ?? null]).toEqual(['SUCCEEDED', null]);
      const output = execution.output as { scanId: string; nodes: string[] };
      expect(output.scanId).toBe('scan-200');
      expect(output.nodes).toEqual(names(SELECTED));
      const searched = fleet.log
        .slice(from)
        .filter((e) => e.kind === 'command' && e.document === 'scan');
      expect(new Set(searched.map((e) => e.node))).toEqual(new Set(names(SELECTED)));
      // One ScanUpdates command per node (its status changes are logged one by one).
      expect(new Set(searched.map((e) => `${e.node}/${e.commandId}`)).size).toBe(SELECTED);
      for (const node of names(SELECTED + OTHERS)) {
        const text = sandbox.s3.text(
          sandbox.synth.artifactsBucket,
          `scans/scan-200/nodes/${node}.json`,
        );
        if (names(SELECTED).includes(node)) {
          expect(JSON.parse(text ?? 'null')).toMatchObject({ node, status: 'Scanned' });
        } else {
          expect(text).toBeUndefined();
        }
      }
      // The list the map read is the resolved one, in S3; the state kept 20 names.
      const list = JSON.parse(
        sandbox.s3.text(sandbox.synth.artifactsBucket, 'runs/scan-200/nodes.json') ?? '[]',
      ) as { name: string }[];
      expect(list.map((n) => n.name)).toEqual(names(SELECTED));

      // Act: the compliance assessment of the same selection.
      const assessed = sandbox.startAssessment(selectedInput() as never, 'assess-200');
      await sandbox.settle();
      const assessment = await assessed.done;

      // Assert: all 200 judged (none compliant yet: each misses KB5036001), none of the others.
      expect([assessment.status, assessment.error ?? null]).toEqual(['SUCCEEDED', null]);
      const counts = (assessment.output as { counts: Record<string, number> }).counts;
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(SELECTED);
      const page = await sandbox.compliance.listCompliance(TARGET, { limit: SELECTED + OTHERS });
      const judged = page.nodes.map((item) => item.node).sort();
      expect(judged).toEqual(names(SELECTED));
    } finally {
      await sandbox.stop();
    }
  }, 600_000);

  it(`POST /scans takes the selection; GET /scans/{id} shows all ${SELECTED} nodes`, async () => {
    // Arrange
    const result = await selectedFleet(SELECTED, OTHERS);
    const { sandbox } = result;
    const api = sandbox.api();
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await api({
        httpMethod: method,
        path,
        headers: { 'Content-Type': 'application/json' },
        queryStringParameters: null,
        body: body === undefined ? null : JSON.stringify(body),
        requestContext: {
          requestId: 'test',
          identity: { userArn: 'arn:aws:iam::000000000000:user/operator' },
        },
      });
      return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> };
    };
    try {
      // Act
      const started = await call('POST', '/scans', selectedInput());
      await sandbox.settle();
      const scanId = String(started.body.scanId);
      const got = await call('GET', `/scans/${scanId}`);

      // Assert
      expect(started.status).toBe(202);
      expect(got.status).toBe(200);
      const view = got.body as {
        status: string;
        nodes: { node: string; status: string }[];
        nodesMissing: string[];
      };
      expect(view.status).toBe('Succeeded');
      expect(view.nodesMissing).toEqual([]);
      expect(view.nodes.map((n) => n.node)).toEqual(names(SELECTED));
      expect(new Set(view.nodes.map((n) => n.status))).toEqual(new Set(['Scanned']));
    } finally {
      await sandbox.stop();
    }
  }, 600_000);

  it('POST /scans refuses a malformed selection naming the field', async () => {
    const result = await selectedFleet(1, 0);
    const api = result.sandbox.api();
    try {
      // Act
      const res = await api({
        httpMethod: 'POST',
        path: '/scans',
        headers: { 'Content-Type': 'application/json' },
        queryStringParameters: null,
        body: JSON.stringify({
          target: { kind: 'group', name: TARGET, select: { tags: { 'aws:x': 'y' } } },
        }),
        requestContext: {
          requestId: 'test',
          identity: { userArn: 'arn:aws:iam::000000000000:user/operator' },
        },
      });

      // Assert
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('target.select.tags.aws:x');
    } finally {
      await result.sandbox.stop();
    }
  }, 600_000);

  it(`refuses more than ${MAX_SCAN_NODES} nodes by name before any node is searched`, async () => {
    // Arrange: MAX_SCAN_NODES + 1 nodes carry Env=prod.
    const result = await selectedFleet(MAX_SCAN_NODES + 1, 0);
    const { sandbox, fleet } = result;
    try {
      const from = fleet.log.length;

      // Act
      const { done } = sandbox.startScan(selectedInput('scan-too-many'), 'scan-too-many');
      await sandbox.settle();
      const execution = await done;

      // Assert
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('SelectionTooLargeToScan');
      expect(execution.cause).toContain('target.select');
      expect(execution.cause).toContain(`at most ${MAX_SCAN_NODES} nodes`);
      expect(fleet.log.slice(from).filter((e) => e.kind === 'command')).toEqual([]);
    } finally {
      await sandbox.stop();
    }
  }, 600_000);
});
