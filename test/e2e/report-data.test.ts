/**
 * Issue 12 §3 through the synthesized workflows and the real handlers in the sandbox: the report
 * of a run carries each update's start and end (within its node's), whether each drained node
 * was resumed, the step a failed node stopped at, and the pre-update script's exit code and output.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../cli/local-backend.js';

let backend: LocalBackend | undefined;
afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

describe('report data recorded by the run', () => {
  it('per-update times and resumed', async () => {
    backend = await openLocalBackend({ cwd: process.cwd(), runScenarioRollouts: false });
    const { rolloutId } = await backend.startRollout(backend.completeInput(backend.defaultInput()));
    await backend.runToEnd(rolloutId);
    const report = await backend.getReport(rolloutId, 'json');
    expect(report.status).toBe('Succeeded');
    for (const node of report.nodes) {
      expect(node).toMatchObject({ drained: true, resumed: true });
      expect(node.updates.length).toBeGreaterThan(0);
      for (const u of node.updates) {
        const start = Date.parse(u.startedAt as string);
        const end = Date.parse(u.finishedAt as string);
        expect(end - start).toBe(Math.max(0, u.durationSeconds) * 1000);
        expect(start).toBeGreaterThanOrEqual(Date.parse(node.startedAt as string));
        expect(end).toBeLessThanOrEqual(Date.parse(node.finishedAt as string));
      }
    }
  }, 120_000);

  it("a failed pre-update script: its exit code and output, and the node's failed step", async () => {
    backend = await openLocalBackend({
      cwd: process.cwd(),
      scenario: 'examples/scenarios/pre-script-fails.json',
      runScenarioRollouts: false,
    });
    const { rolloutId } = await backend.startRollout(backend.completeInput(backend.defaultInput()));
    await backend.runToEnd(rolloutId);
    const report = await backend.getReport(rolloutId, 'json');
    const node1 = report.nodes.find((n) => n.name === 'NODE1');
    expect(node1).toMatchObject({
      status: 'Failed',
      failedStep: 'pre-update script',
      drained: false,
      resumed: false,
    });
    expect(node1?.scripts).toHaveLength(1);
    expect(node1?.scripts?.[0]).toMatchObject({ phase: 'pre', exitCode: 1 });
    expect(node1?.scripts?.[0]?.status).not.toBe('Success');
    const node2 = report.nodes.find((n) => n.name === 'NODE2');
    expect(node2?.scripts?.map((sc) => [sc.phase, sc.exitCode, sc.status])).toEqual([
      ['pre', 0, 'Success'],
    ]);
    const { formatReport } = await import('../../cli/report-format.js');
    const text = formatReport(report, 'text', { timeZone: 'UTC' });
    expect(text).toContain('NODE1 Failed at pre-update script');
    expect(text).toMatch(/pre-update script: \w+, exit 1,/);
  }, 120_000);
});
