/**
 * POST /rollouts with a group that is not a plain list of at most 2,000 nodes (issue 11 §1, §2),
 * through the sandbox's API path (lambdas/shared/selected-request.ts):
 * - `target.select` is checked (a bad one is a 400 naming the field) and started as sent, with
 *   the same idempotency as any rollout (an Idempotency-Key, or the change ticket);
 * - what depends on the resolved nodes is checked by the workflow once they are known, before
 *   the lock: the API cannot know a tag's count;
 * - a list longer than 2,000 nodes is checked, uploaded as a manifest under manifests/api/ and
 *   run as `select: { manifest }`; more than 100,000 is refused.
 * The fleet's update fails on every node and maxFailedNodes is 0, so each run stops after its
 * first node (maxConcurrency 1): these tests are about how runs start, not how they update.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { messageOf, PLUGINS, selectionScenario } from './selection-helpers.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const COUNT = 2001;
let result: ScenarioResult;
let post: (
  body: unknown,
  headers?: Record<string, string>,
) => Promise<{ status: number; body: Record<string, unknown> }>;

beforeAll(async () => {
  // 2,001 nodes WEB0001-WEB2001; the first 3 tagged Env=prod, the first 30 Ring=1.
  const scenario = selectionScenario(
    COUNT,
    (i) => ({ tags: { ...(i < 3 ? { Env: 'prod' } : {}), ...(i < 30 ? { Ring: '1' } : {}) } }),
    [1603],
  );
  (scenario.runs[0] as { rollout: { plugins: unknown } }).rollout.plugins = PLUGINS;
  result = await runScenario(scenario, { runRollouts: false });
  const api = result.sandbox.api();
  post = async (body, headers = {}) => {
    const res = await api({
      httpMethod: 'POST',
      path: '/rollouts',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
      requestContext: {
        requestId: 'test',
        identity: { userArn: 'arn:aws:iam::000000000000:user/u' },
      },
    });
    return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> };
  };
}, 600_000);
afterAll(() => result?.sandbox.stop());

const policy = { maxConcurrency: 1, maxFailedNodes: 0 };
const selected = (select: unknown, extra: Record<string, unknown> = {}) => ({
  target: { kind: 'group', name: 'web-fleet', select },
  plugins: PLUGINS,
  policy,
  ...extra,
});
const errorOf = (body: Record<string, unknown>) =>
  body.error as { code: string; field?: string; message: string };
const executionOf = (runId: unknown) =>
  result.sandbox.executions.find((e) => e.name === String(runId));

describe('POST /rollouts with target.select', () => {
  it('starts the run as sent; the workflow resolves it; a change ticket makes a retry the same rollout', async () => {
    const ticket = { system: 'ServiceNow', id: 'CHG0000011' };
    const first = await post(selected({ tags: { Env: 'prod' } }, { changeTicket: ticket }));
    const again = await post(selected({ tags: { Env: 'prod' } }, { changeTicket: ticket }));
    await result.sandbox.settle();
    expect(first.status).toBe(202);
    expect(again.body.rolloutId).toBe(first.body.rolloutId);
    const run = await result.sandbox.store.getRun(String(first.body.rolloutId));
    expect(run?.targetResolution).toMatchObject({ by: 'tags', count: 3 });
    expect(run?.nodes).toEqual(['WEB0001', 'WEB0002', 'WEB0003']);
    expect(run?.changeTicket).toMatchObject(ticket);
    // Started once; it ran (its first node failed: maxFailedNodes 0 stopped it there).
    expect(result.sandbox.executions.filter((e) => e.name === first.body.rolloutId)).toHaveLength(
      1,
    );
    expect(executionOf(first.body.rolloutId)?.error).toBe('RolloutFailed');
  }, 600_000);

  it('up to 2,000 resolved nodes the run records every name, read from the list in S3', async () => {
    const started = await post(selected({ tags: { Ring: '1' } }));
    await result.sandbox.settle();
    const run = await result.sandbox.store.getRun(String(started.body.rolloutId));
    // The state carried the first 20; the run history read all 30 from S3.
    expect(run?.targetResolution?.firstNodes).toHaveLength(20);
    expect(run?.nodes).toEqual(
      Array.from({ length: 30 }, (_, i) => `WEB${String(i + 1).padStart(4, '0')}`),
    );
  }, 600_000);

  it('a malformed selection is a 400 naming the field, and nothing starts', async () => {
    const before = result.sandbox.executions.length;
    const bad = await post(selected({ tags: { 'aws:x': 'y' } }));
    const both = await post({
      ...selected({ tags: { Env: 'prod' } }),
      target: { kind: 'group', name: 'web-fleet', select: { resourceGroup: 'g' }, nodes: [] },
    });
    const other = await post(
      selected({ tags: { Env: 'prod' } }, { policy: { maxConcurrency: 'x' } }),
    );
    await result.sandbox.settle();
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body)).toMatchObject({
      code: 'ValidationFailed',
      field: 'target.select.tags.aws:x',
    });
    expect(both.status).toBe(400);
    expect(errorOf(both.body).message).toContain('target.nodes');
    // The rest of the input is checked as for any target.
    expect(other.status).toBe(400);
    expect(errorOf(other.body).field).toBe('policy.maxConcurrency');
    expect(result.sandbox.executions.length).toBe(before);
  }, 600_000);

  it('what needs the resolved nodes is checked by the run, before the lock: maxFailedNodes 5 of 3 nodes', async () => {
    const started = await post(
      selected({ tags: { Env: 'prod' } }, { policy: { maxConcurrency: 1, maxFailedNodes: 5 } }),
    );
    await result.sandbox.settle();
    expect(started.status).toBe(202);
    const execution = executionOf(started.body.rolloutId);
    expect(execution?.error).toBe('InvalidRolloutInput');
    expect(messageOf(execution?.cause)).toContain('policy.maxFailedNodes');
    // Refused before the lock and the run record: no run, no node touched.
    expect(await result.sandbox.store.getRun(String(started.body.rolloutId))).toBeUndefined();
  }, 600_000);
});

describe('POST /rollouts with more nodes than an input lists', () => {
  const nodes = (count: number) =>
    Array.from({ length: count }, (_, i) => ({
      name: `WEB${String(i + 1).padStart(4, '0')}`,
      instanceId: result.fleet.node(`WEB${String(i + 1).padStart(4, '0')}`).instanceId,
    }));

  it('2,001 nodes: checked, uploaded as a manifest, run as select.manifest', async () => {
    const fleetFrom = result.fleet.log.length;
    const started = await post(
      {
        target: { kind: 'group', name: 'big-fleet', nodes: nodes(COUNT) },
        plugins: PLUGINS,
        policy,
      },
      { 'Idempotency-Key': 'big-1' },
    );
    await result.sandbox.settle();
    expect(started.status).toBe(202);
    const runId = String(started.body.rolloutId);
    const bucket = result.sandbox.synth.artifactsBucket;
    const manifest = JSON.parse(
      result.sandbox.s3.text(bucket, `manifests/api/${runId}.json`) ?? '[]',
    ) as { name: string }[];
    expect(manifest.map((n) => n.name)).toEqual(nodes(COUNT).map((n) => n.name));
    const run = await result.sandbox.store.getRun(runId);
    expect(run?.targetResolution).toMatchObject({
      by: 'manifest',
      selector: `s3://${bucket}/manifests/api/${runId}.json`,
      count: COUNT,
    });
    // Past 2,000 the run keeps the first names; the map started at the first node.
    expect(run?.nodes).toHaveLength(20);
    expect(new Set(result.fleet.log.slice(fleetFrom).map((e) => e.node))).toEqual(
      new Set(['WEB0001']),
    );
  }, 600_000);

  it('a bad node in a long list is a 400 naming it; more than 100,000 is refused', async () => {
    const list = nodes(COUNT);
    list[2000] = { name: 'WEB0001', instanceId: list[2000]?.instanceId as string };
    const duplicate = await post({
      target: { kind: 'group', name: 'big-fleet', nodes: list },
      plugins: PLUGINS,
    });
    expect(duplicate.status).toBe(400);
    expect(errorOf(duplicate.body).field).toBe('target.nodes[2000].name');
    const huge = Array.from({ length: 100_001 }, (_, i) => ({
      name: `N${i}`,
      instanceId: `i-${i.toString(16).padStart(17, '0')}`,
    }));
    const tooMany = await post({ target: { kind: 'group', name: 'huge', nodes: huge } });
    expect(tooMany.status).toBe(400);
    expect(errorOf(tooMany.body)).toMatchObject({ field: 'target.nodes' });
    expect(errorOf(tooMany.body).message).toContain('at most 100000 nodes');
  }, 600_000);
});
