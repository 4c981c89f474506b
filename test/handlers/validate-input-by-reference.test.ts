/**
 * validate-input with a resolved selection (issue 11): the list is read back from S3 (digest and
 * count checked), the whole input validated with it, and the result keeps the list in S3 and
 * only its first 20 nodes (and nodeOrder names) in the state; a list the policy reorders is
 * written again, in update order, next to it.
 */
import { describe, expect, it } from 'vitest';
import { PLUGIN_NAMES } from '../../lambdas/core/plugin-arguments.js';
import { makeValidateInputHandler } from '../../lambdas/handlers/validate-input.js';
import { nodeListBody, sha256Hex } from '../../lambdas/shared/node-list.js';
import { FakeS3 } from '../../sandbox/aws-fakes.js';

const NOW = new Date('2026-12-05T02:00:00.000Z');
const KEY = 'targets/exec-1/nodes.json';
const nodesOf = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    name: `WEB${String(i + 1).padStart(5, '0')}`,
    instanceId: `i-${(i + 1).toString(16).padStart(17, '0')}`,
  }));

/** The input as ResolveTarget leaves it, its list in the fake S3. */
function resolved(count: number, extra: Record<string, unknown> = {}, body?: string) {
  const s3 = new FakeS3();
  const text = nodeListBody(nodesOf(count));
  s3.put('artifacts', KEY, body ?? text);
  const input = {
    target: {
      kind: 'group',
      name: 'web',
      resolution: {
        by: 'tags',
        selector: 'tag:Env=prod',
        count,
        skipped: 0,
        resolvedAt: NOW.toISOString(),
        nodeList: { bucket: 'artifacts', key: KEY, sha256: sha256Hex(text) },
        firstNodes: nodesOf(count)
          .slice(0, 20)
          .map((n) => n.name),
      },
    },
    plugins: [{ name: PLUGIN_NAMES.windowsUpdate }],
    ...extra,
  };
  const validate = makeValidateInputHandler({ now: () => NOW, random: () => 0, s3 });
  return { s3, run: () => validate({ input, executionName: 'exec-1' }) };
}

describe('validate-input: a list by reference', () => {
  it('validates 5,000 nodes from S3 (percentages against them); the state keeps 20', async () => {
    const { run } = resolved(5000, { policy: { maxFailedNodes: '10%', maxConcurrency: '2%' } });
    const rollout = await run();
    expect(rollout.policy.maxFailedNodes).toBe(500);
    expect(rollout.policy.maxConcurrency).toBe(100);
    expect(rollout.target.nodes).toEqual(nodesOf(20));
    expect(rollout.policy.nodeOrder).toEqual(nodesOf(20).map((n) => n.name));
    expect(rollout.targetResolution).toMatchObject({ count: 5000, nodeList: { key: KEY } });
    expect(JSON.stringify(rollout).length).toBeLessThan(8000);
  });

  it('a rule that needs the nodes is checked against all of them: maxFailedNodes 5,000 of 5,000', async () => {
    const { run } = resolved(5000, { policy: { maxFailedNodes: 5000 } });
    await expect(run()).rejects.toMatchObject({
      name: 'InvalidRolloutInput',
      message: expect.stringContaining('policy.maxFailedNodes'),
    });
  });

  it('a list the policy reorders is written again in update order, with its own digest', async () => {
    const { s3, run } = resolved(3, {
      policy: { nodeOrder: ['WEB00003', 'WEB00001', 'WEB00002'] },
    });
    const rollout = await run();
    const ordered = 'targets/exec-1/ordered.json';
    const names = (JSON.parse(s3.text('artifacts', ordered) ?? '[]') as { name: string }[]).map(
      (n) => n.name,
    );
    expect(names).toEqual(['WEB00003', 'WEB00001', 'WEB00002']);
    expect(rollout.targetResolution?.nodeList).toEqual({
      bucket: 'artifacts',
      key: ordered,
      sha256: s3.sha256('artifacts', ordered),
    });
    expect(rollout.targetResolution?.firstNodes).toEqual(names);
  });

  it('a list changed after it was resolved is refused, naming the object', async () => {
    const changed = nodeListBody(nodesOf(4).slice(1));
    const { run } = resolved(3, {}, changed);
    await expect(run()).rejects.toMatchObject({
      name: 'NodeListMismatch',
      message: expect.stringContaining(
        `s3://artifacts/${KEY} changed after it was resolved: sha256 ${sha256Hex(changed)}`,
      ),
    });
  });

  it('phases over more than 5,000 resolved nodes are refused naming phases (MAX_PHASED_NODES)', async () => {
    const { run } = resolved(5001, {
      phases: [{ name: 'ring0', nodeCount: 10, bakeMinutes: 60 }],
    });
    await expect(run()).rejects.toMatchObject({
      name: 'InvalidRolloutInput',
      message: expect.stringMatching(
        /^phases: 5001 nodes resolved; phases take a group of at most 5000/,
      ),
    });
  });

  it('phases over exactly 5,000 resolved nodes are taken (issue 11: the verdict reads the S3 list)', async () => {
    const { run } = resolved(5000, {
      phases: [{ name: 'ring0', nodeCount: 10, bakeMinutes: 60 }],
    });
    await expect(run()).resolves.toMatchObject({ targetResolution: { count: 5000 } });
  });
});
