/**
 * Issue 12 §3: a failed node's report names the step it failed at. Every failure the synthesized
 * node workflow can end a node with (its `Failure_<reason>` states) has a step, and the report
 * shows it with whether a drained node was resumed, in JSON, CSV and text.
 */
import { describe, expect, it } from 'vitest';
import { formatReport } from '../../cli/report-format.js';
import { buildRunReport, REPORT_CSV_COLUMNS, reportToCsv } from '../../lambdas/core/api-model.js';
import { FAILED_STEPS, failedStepOf } from '../../lambdas/core/failed-step.js';
import { synthesize } from '../../sandbox/engine.js';

describe('failedStepOf', () => {
  it('covers every failure reason of the synthesized node workflow', () => {
    const reasons = Object.keys(synthesize().node.definition.States)
      .filter((name) => name.startsWith('Failure_'))
      .map((name) => name.slice('Failure_'.length));
    expect(reasons.length).toBeGreaterThan(5);
    for (const reason of reasons) expect(failedStepOf(reason), reason).toBeDefined();
  });

  it.each([
    ['DrainFailed', FAILED_STEPS.DrainFailed],
    ['UpdateFailed: exit 1603', FAILED_STEPS.UpdateFailed],
    ['  PreUpdateScriptFailed', FAILED_STEPS.PreUpdateScriptFailed],
    ['ResumeFailed', FAILED_STEPS.ResumeFailed],
    ['SomethingElse', undefined],
    // The detail starts with the error name (lib/node-workflow.ts `fail(...)`): not found later.
    [': DrainFailed', undefined],
    ['1DrainFailed', undefined],
    ['constructor', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %j', (detail, step) => {
    expect(failedStepOf(detail)).toBe(step);
  });
});

describe('the report: failed step and resumed', () => {
  const report = buildRunReport({
    run: {
      runId: 'r-1',
      target: 'CLUSTER1',
      targetKind: 'cluster',
      nodes: ['NODE1', 'NODE2', 'NODE3'],
      status: 'Failed',
      startedAt: '2026-01-13T22:00:00Z',
      finishedAt: '2026-01-13T23:00:00Z',
    },
    nodes: [
      { node: 'NODE1', status: 'Succeeded', startedAt: '2026-01-13T22:00:00Z', drained: true },
      {
        node: 'NODE2',
        status: 'Failed',
        startedAt: '2026-01-13T22:30:00Z',
        drained: true,
        leftPaused: true,
        detail: 'ResumeFailed',
      },
      { node: 'NODE3', status: 'Failed', startedAt: '2026-01-13T22:40:00Z', detail: 'DrainFailed' },
    ],
    updates: [],
    ledgers: new Map(),
  });
  const byName = (name: string) => report.nodes.find((n) => n.name === name);

  it('JSON: resumed is drained and not left Paused; failedStep only for a failed node', () => {
    expect(byName('NODE1')).toMatchObject({ drained: true, resumed: true });
    expect(byName('NODE1')?.failedStep).toBeUndefined();
    expect(byName('NODE2')).toMatchObject({
      drained: true,
      resumed: false,
      failedStep: FAILED_STEPS.ResumeFailed,
    });
    expect(byName('NODE3')).toMatchObject({
      drained: false,
      resumed: false,
      failedStep: FAILED_STEPS.DrainFailed,
    });
  });

  it('CSV: resumed and failedStep columns', () => {
    const rows = reportToCsv(report)
      .trim()
      .split('\r\n')
      .map((line) => line.split(','));
    const col = (row: string[] | undefined, name: (typeof REPORT_CSV_COLUMNS)[number]) =>
      row?.[REPORT_CSV_COLUMNS.indexOf(name)];
    const node2 = rows.find((r) => col(r, 'node') === 'NODE2');
    expect(col(node2, 'resumed')).toBe('false');
    expect(col(node2, 'failedStep')).toBe(FAILED_STEPS.ResumeFailed);
    expect(
      col(
        rows.find((r) => col(r, 'node') === 'NODE1'),
        'resumed',
      ),
    ).toBe('true');
  });

  it('text: the failure summary names the step and whether the node was resumed', () => {
    const text = formatReport(report, 'text', { timeZone: 'UTC' });
    expect(text).toContain(`NODE2 Failed at ${FAILED_STEPS.ResumeFailed}`);
    expect(text).toContain('(drained: yes, resumed: no, left Paused)');
    expect(text).toContain(`failed at: ${FAILED_STEPS.DrainFailed}`);
  });
});
