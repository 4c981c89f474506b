/**
 * Issue 12, seen: "in the local service a cancel during an approval gate left the run Running for
 * more than 60 simulated hours". The synthesized workflow, the real handlers and the API in the
 * sandbox: a cancel asked for while the pilot node is still updating (before the gate stored its
 * token) must end the run when the pilot is done, not when the gate times out; a cancel at the
 * gate ends it at once. The sandbox's approval gate had no Step Functions client, so it could not
 * fail its own task as the deployed one does, and waited out its timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalBackend } from '../../cli/local-backend.js';
import { openLocalBackend } from '../../cli/local-backend.js';

const TIMEOUT_MINUTES = 4_000; // over 60 hours, as seen
let backend: LocalBackend | undefined;
afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

async function gatedRun() {
  backend = await openLocalBackend({ cwd: process.cwd(), runScenarioRollouts: false });
  const input = {
    ...backend.defaultInput(),
    approvalGate: { afterNodes: 1, timeoutMinutes: TIMEOUT_MINUTES },
  };
  const { rolloutId } = await backend.startRollout(backend.completeInput(input));
  return { b: backend, id: rolloutId };
}

/** Advances virtual time a minute at a time until `done`, for at most `minutes`. */
async function until(
  b: LocalBackend,
  id: string,
  minutes: number,
  done: (s: Awaited<ReturnType<LocalBackend['getRollout']>>) => boolean,
) {
  for (let i = 0; i < minutes; i++) {
    const status = await b.getRollout(id);
    if (done(status)) return status;
    await b.sandbox.advance(60_000);
  }
  return b.getRollout(id);
}

describe('cancel and the approval gate (synthesized workflow in the sandbox)', () => {
  it('a cancel during the pilot ends the run when the pilot is done, not at the gate timeout', async () => {
    const { b, id } = await gatedRun();
    const started = b.sandbox.clock.now().getTime();
    const inPilot = await until(b, id, 60, (s) => s.status === 'Running' && s.target !== null);
    expect(inPilot.approval).toBeNull();
    const cancel = await b.cancel(id, 'change window closed');
    expect(cancel.approvalCancelled).toBe(false);

    const ended = await until(b, id, 180, (s) => s.status !== 'Running' && s.status !== 'Pending');
    expect(ended.status).toBe('Cancelled');
    expect(ended.reason).toContain('RolloutCancelled');
    // Within three simulated hours of the start (the pilot node takes about half an hour),
    // far from the 4,000-minute gate timeout.
    expect(b.sandbox.clock.now().getTime() - started).toBeLessThan(3 * 3_600_000);
    const report = await b.getReport(id, 'json');
    expect(report.nodes.map((n) => n.status)).toEqual(['Succeeded', 'NotStarted', 'NotStarted']);
    expect(report.lockReleased).toBe(true);
  }, 120_000);

  it('a cancel at the gate ends the run at once', async () => {
    const { b, id } = await gatedRun();
    const gate = await until(b, id, 180, (s) => s.approval !== null);
    expect(gate.approval).not.toBeNull();
    const cancel = await b.cancel(id);
    expect(cancel.approvalCancelled).toBe(true);
    const ended = await until(b, id, 10, (s) => s.status !== 'Running');
    expect(ended.status).toBe('Cancelled');
  }, 120_000);
});
