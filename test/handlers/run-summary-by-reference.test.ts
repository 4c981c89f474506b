/**
 * The summary of a run whose nodes were given by reference (issue 11): past 2,000 nodes the run
 * records the first names and the count; the nodes without a result, named or not, are
 * NotStarted, and a result of a node past the first names counts as any other.
 */
import { describe, expect, it } from 'vitest';
import { summariseRun } from '../../lambdas/handlers/run-history.js';
import type { NodeResultRecord, RunRecord } from '../../lambdas/shared/run-store.js';

const NOW = new Date('2026-12-05T03:00:00.000Z');
const run = (nodeList: boolean): RunRecord =>
  ({
    runId: 'r1',
    target: 'web',
    nodes: ['WEB1', 'WEB2'],
    maxFailedNodes: 1,
    status: 'Running',
    startedAt: '2026-12-05T02:00:00.000Z',
    targetResolution: {
      by: 'tags',
      selector: 'tag:Env=prod',
      count: 5000,
      skipped: 0,
      resolvedAt: '2026-12-05T02:00:00.000Z',
      ...(nodeList
        ? {
            nodeList: { bucket: 'artifacts', key: 'targets/r1/nodes.json', sha256: 'a'.repeat(64) },
          }
        : {}),
    },
  }) as RunRecord;
const result = (node: string, status: string) => ({ node, status }) as unknown as NodeResultRecord;

describe('summariseRun with a list by reference', () => {
  it('counts the unnamed nodes: 5,000 in all, 4,997 never started', () => {
    const summary = summariseRun(
      run(true),
      [result('WEB1', 'Succeeded'), result('WEB2', 'Succeeded'), result('WEB4000', 'Failed')],
      NOW,
    );
    expect(summary.nodes).toMatchObject({ total: 5000, succeeded: 2, failed: 1, notStarted: 4997 });
    expect(summary.failedNodes).toEqual(['WEB4000']);
    expect(summary.status).toBe('Failed');
    expect(summary.reason).toContain('4997 node(s) never started');
  });

  it('every node updated: Succeeded, with no unnamed node left over', () => {
    const results = Array.from({ length: 5000 }, (_, i) => result(`WEB${i + 1}`, 'Succeeded'));
    const summary = summariseRun(run(true), results, NOW);
    expect(summary.nodes).toMatchObject({ total: 5000, succeeded: 5000, notStarted: 0 });
    expect(summary.status).toBe('Succeeded');
  });

  it('a listed run (no reference) counts its named nodes only, as before', () => {
    const summary = summariseRun(run(false), [result('WEB1', 'Succeeded')], NOW);
    expect(summary.nodes).toMatchObject({ total: 2, succeeded: 1, notStarted: 1 });
  });
});
