/**
 * Issue 12 §3 through the synthesized workflows and the real handlers in the sandbox: the report
 * of a run carries each update's start and end (within its node's), and whether each drained node
 * was resumed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../cli/local-backend.js';

let backend: LocalBackend | undefined;
afterAll(() => backend?.close());

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
});
