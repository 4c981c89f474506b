/**
 * The report's notice of a group policy's percentages (issue 11 §2): each as written and as
 * resolved against the run's nodes (the resolved count of a selection, else the listed nodes).
 */
import { describe, expect, it } from 'vitest';
import { percentagesNotice, type RunView } from '../../lambdas/core/api-model.js';

const run = (extra: Partial<RunView>): RunView =>
  ({
    runId: 'r1',
    target: 'web',
    nodes: ['A', 'B', 'C'],
    status: 'Running',
    startedAt: '2026-12-05T02:00:00.000Z',
    maxFailedNodes: 1,
    ...extra,
  }) as RunView;

describe('percentagesNotice', () => {
  it('no percentage written: no notice', () => {
    expect(percentagesNotice(run({}))).toBeUndefined();
    expect(percentagesNotice(run({ resolvedPolicy: { maxConcurrency: 2 } }))).toBeUndefined();
  });

  it('both as percentages, against the resolved count of a selection', () => {
    const notice = percentagesNotice(
      run({
        maxFailedNodes: 100,
        resolvedPolicy: {
          maxConcurrency: 1000,
          maxConcurrencyPercent: 10,
          maxFailedNodesPercent: 1,
        },
        targetResolution: { selector: 'tag:Env=prod', count: 10000, skipped: 0, resolvedAt: 'x' },
      }),
    );
    expect(notice).toBe(
      'Policy resolved against 10000 node(s): maxConcurrency 10% = 1000 at a time; maxFailedNodes 1% = 100',
    );
  });

  it('a count of maxConcurrency beside a percentage of maxFailedNodes, against the listed nodes', () => {
    expect(
      percentagesNotice(run({ resolvedPolicy: { maxConcurrency: 2, maxFailedNodesPercent: 34 } })),
    ).toBe('Policy resolved against 3 node(s): maxConcurrency 2 at a time; maxFailedNodes 34% = 1');
  });

  it('maxConcurrency as a percentage alone', () => {
    expect(
      percentagesNotice(run({ resolvedPolicy: { maxConcurrency: 1, maxConcurrencyPercent: 50 } })),
    ).toBe('Policy resolved against 3 node(s): maxConcurrency 50% = 1 at a time');
  });
});
