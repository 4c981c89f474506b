/**
 * Issue 12 §2: a local control plane that lives between commands. `rollout local up` starts the
 * sandbox as a service; start, status, approve, report and cancel with --local then act on the
 * same rollouts across separate commands, through the API's routes; `local down` stops it.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DATA = join(mkdtempSync(join(tmpdir(), 'rollout-local-')), 'data');

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function json(...argv: string[]) {
  const result = await run(...argv, '--json');
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout);
}

/** Polls `status --local` until `done` holds (real time: the service's clock runs on its own). */
async function until(id: string, done: (status: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 600; i++) {
    const status = await json('status', '--local', id);
    if (done(status)) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`rollout ${id} never reached the expected state`);
}

const scenario = JSON.parse(
  readFileSync(join(REPO, 'examples/scenarios/change-management.json'), 'utf8'),
) as { rollout: Record<string, unknown> };
const gated = join(DATA, '..', 'gated.json');

describe('rollout local up / down', () => {
  const saved = process.env.ROLLOUT_LOCAL_DATA;
  beforeAll(async () => {
    process.env.ROLLOUT_LOCAL_DATA = DATA;
    writeFileSync(
      gated,
      JSON.stringify({ ...scenario.rollout, approvalGate: { afterNodes: 1, timeoutMinutes: 600 } }),
    );
    const up = await run('local', 'up', '--speed', '3600');
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await run('local', 'down');
    if (saved === undefined) delete process.env.ROLLOUT_LOCAL_DATA;
    else process.env.ROLLOUT_LOCAL_DATA = saved;
  });

  it('serves on loopback and records itself in the data folder', async () => {
    const service = await json('local', 'status');
    expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(JSON.parse(readFileSync(join(DATA, 'service.json'), 'utf8')).pid).toBe(service.pid);
  });

  it("answers for the scenario's own rollout, started in the service, from another command", async () => {
    const report = await json('report', '--local', 'change-management-1');
    expect(report.status).toBe('Succeeded');
  });

  it('a gated rollout: start, watch it reach the gate, approve in another command, read the report', async () => {
    const accepted = await json('start', '--local', '--input', gated);
    const id = accepted.rolloutId as string;
    const waiting = await until(id, (s) => s.approval !== null);
    expect(waiting.status).toBe('Running');
    const approved = await run('approve', '--local', id, '--comment', 'pilot fine');
    expect(approved.stderr).toBe('');
    expect(approved.status).toBe(0);
    const ended = await until(id, (s) => s.status !== 'Running' && s.status !== 'Pending');
    expect(ended.status).toBe('Succeeded');
    const report = await json('report', '--local', id);
    expect(report.nodes.map((n: { status: string }) => n.status)).toEqual([
      'Succeeded',
      'Succeeded',
      'Succeeded',
    ]);
  }, 120_000);

  it('scan --local starts the scan workflow in the service and waits for its result per node', async () => {
    const scan = await json('scan', '--local');
    expect(scan.status).toBe('Succeeded');
    expect(scan.nodes.map((n: { node: string; status: string }) => [n.node, n.status])).toEqual([
      ['NODE1', 'Scanned'],
      ['NODE2', 'Scanned'],
      ['NODE3', 'Scanned'],
    ]);
    expect(scan.nodesMissing).toEqual([]);
  }, 120_000);

  it('stage --local starts the staging workflow in the service, waits for it, and --status reads it back', async () => {
    // Act
    const staged = await json('stage', '--local');
    const again = await json('stage', '--local', '--status', staged.stagingId);
    const refused = await run('stage', '--local', '--fleet', 'model');
    // Assert: every node staged (downloaded and verified), nothing else; the same view by id.
    expect(staged.status).toBe('Succeeded');
    expect(staged.nodes.map((n: { node: string; status: string }) => [n.node, n.status])).toEqual([
      ['NODE1', 'Staged'],
      ['NODE2', 'Staged'],
      ['NODE3', 'Staged'],
    ]);
    expect(again).toEqual(staged);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--fleet: the local control plane at');
  }, 120_000);

  it('cancel --local stops a running rollout after its current node', async () => {
    const accepted = await json('start', '--local', '--idempotency-key', 'cancel-test');
    const id = accepted.rolloutId as string;
    // Right after the start the run may not be recorded yet: the API answers 409 RolloutStarting
    // and says to retry in a few seconds, which is what an operator (and this test) does.
    let cancelled = await run('cancel', '--local', id, '--reason', 'change window closed');
    for (let tries = 0; tries < 20 && cancelled.stderr.includes('RolloutStarting'); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      cancelled = await run('cancel', '--local', id, '--reason', 'change window closed');
    }
    expect(cancelled.stderr).toBe('');
    expect(cancelled.status).toBe(0);
    const ended = await until(id, (s) => s.status !== 'Running' && s.status !== 'Pending');
    expect(ended.status).toBe('Cancelled');
    const report = await json('report', '--local', id);
    // A node under way when the cancel came finishes; the ones after it are never touched. How
    // many nodes finished depends on real time (the service's clock does not wait; the cancel may
    // even come before the first node's preflight), so the order is what is asserted.
    const statuses: string[] = report.nodes.map((n: { status: string }) => n.status);
    const firstUntouched = statuses.indexOf('NotStarted');
    expect(
      firstUntouched,
      `some node is left untouched: ${statuses.join(', ')}`,
    ).toBeGreaterThanOrEqual(0);
    expect(statuses.slice(0, firstUntouched).every((s) => s === 'Succeeded')).toBe(true);
    expect(statuses.slice(firstUntouched).every((s) => s === 'NotStarted')).toBe(true);
  }, 120_000);

  it('checks every rollout that ended under it against the safety invariants, each on its own', async () => {
    // Arrange: a rollout with rebootOption Never on the cluster the earlier runs restarted: its
    // check must not hold their restarts against it (each run is checked on its own fleet log).
    const never = join(DATA, '..', 'never.json');
    const { changeTicket: _ticket, ...rollout } = scenario.rollout;
    writeFileSync(never, JSON.stringify({ ...rollout, rebootOption: 'Never' }));
    const accepted = await json('start', '--local', '--input', never);
    await until(accepted.rolloutId, (s) => s.status !== 'Running' && s.status !== 'Pending');
    // Act: the scenario's rollout, the gated, the cancelled and the Never one have ended, and
    // the staging; the service checked each as it ended and records them on its next tick.
    let status = await json('local', 'status');
    for (let i = 0; i < 100 && status.invariants.checked < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await json('local', 'status');
    }
    // Assert
    expect(status.invariants).toEqual({ checked: 5, violations: [] });
    const text = await run('local', 'status');
    expect(text.stdout).toContain(
      'safety invariants: all hold (5 ended rollout(s) and staging(s) checked)',
    );
    const log = readFileSync(join(DATA, 'service.log'), 'utf8');
    expect(log).toMatch(/invariants of rollout change-management-1 \(SUCCEEDED\): all \d+ hold/);
    // The staging was checked on its own 3 nodes: nothing but StageUpdates ran on them.
    expect(log).toMatch(
      /invariants of staging \S+ \(SUCCEEDED\): all 1 hold \(stagingSafe: its 3 node\(s\) checked\)/,
    );
  }, 60_000);

  it('--scenario with a running service is refused, naming local up', async () => {
    const result = await run('status', '--local', 'x', '--scenario', 'f.json');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('give --scenario to rollout local up');
  });

  it('down stops it; --local commands fall back to the one-process sandbox', async () => {
    const down = await run('local', 'down');
    expect(down.status).toBe(0);
    expect(existsSync(join(DATA, 'service.json'))).toBe(false);
    expect((await run('local', 'status')).status).toBe(1);
    const cancel = await run('cancel', '--local', 'change-management-1');
    expect(cancel.status).toBe(2);
    expect(cancel.stderr).toContain('only makes sense inside start --local');
  }, 60_000);
});
