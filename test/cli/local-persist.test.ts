/**
 * Issue 12 §2: the local control plane's store lives between `local down` and `local up`: runs,
 * ledgers and locks are kept in the data folder (dynalite's LevelDB), and the virtual clock goes
 * on from where it stopped. A rollout under way at `down` keeps its lock until force-recovery.
 * And `remove --local` waits for the removal and says how it ended.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDataDir } from '../../cli/local-service.js';
import { main } from '../../cli/main.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DATA = join(mkdtempSync(join(tmpdir(), 'rollout-persist-')), 'data');

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
const next = join(DATA, '..', 'next.json');

describe('rollout local down + up keeps the store', () => {
  const saved = process.env.ROLLOUT_LOCAL_DATA;
  beforeAll(async () => {
    process.env.ROLLOUT_LOCAL_DATA = DATA;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      gated,
      JSON.stringify({
        ...scenario.rollout,
        approvalGate: { afterNodes: 1, timeoutMinutes: 30 },
      }),
    );
    writeFileSync(
      next,
      JSON.stringify({
        ...scenario.rollout,
        changeTicket: { system: 'ServiceNow', id: 'CHG0040001' },
      }),
    );
    expect((await run('local', 'up', '--speed', '600')).status).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await run('local', 'down');
    if (saved === undefined) delete process.env.ROLLOUT_LOCAL_DATA;
    else process.env.ROLLOUT_LOCAL_DATA = saved;
  });

  it('keeps runs, ledgers and locks, and the clock goes on', async () => {
    const scenarioReport = await json('report', '--local', 'change-management-1');
    expect(scenarioReport.status).toBe('Succeeded');
    const ledger = await json('ledger', '--local', 'NODE1');
    expect(ledger.installed.length).toBeGreaterThan(0);
    // A run waiting at its gate holds the target's lock.
    const { rolloutId: waiting } = await json('start', '--local', '--input', gated);
    const atGate = await until(waiting, (s) => s.approval !== null);

    expect((await run('local', 'down')).status).toBe(0);
    expect(existsSync(join(DATA, 'store'))).toBe(true);
    expect((await run('local', 'up', '--speed', '600')).status).toBe(0);

    expect(await json('report', '--local', 'change-management-1')).toEqual(scenarioReport);
    expect(await json('ledger', '--local', 'NODE1')).toEqual(ledger);
    const list = await json('list', '--local', '--cluster', 'CLUSTER1');
    expect(list.rollouts.map((r: { rolloutId: string }) => r.rolloutId)).toEqual(
      expect.arrayContaining([waiting, 'change-management-1']),
    );
    // Its execution ended with the old process; the run and its lock are kept. The lock's lease
    // still holds, so force-recovery refuses, naming the run that holds it.
    expect((await json('status', '--local', waiting)).status).toBe('Running');
    const refused = await run('force-recovery', '--local', 'CLUSTER1', '--reason', 'lost at down');
    expect(refused.status).toBe(4);
    expect(refused.stderr).toContain(`locked by rollout ${waiting}`);

    // Once the lease has lapsed (the gate's 30 minutes), force-recovery breaks it.
    let recovered: Awaited<ReturnType<typeof run>> | undefined;
    for (let i = 0; i < 120; i++) {
      recovered = await run('force-recovery', '--local', 'CLUSTER1', '--reason', 'lost at down');
      if (recovered.status === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(recovered?.stdout).toContain(`rollout ${waiting} is now Failed`);

    // The clock went on: a new run starts after the old one reached its gate.
    const { rolloutId: after } = await json('start', '--local', '--input', next);
    const ended = await until(after, (s) => s.status !== 'Running' && s.status !== 'Pending');
    expect(ended.status).toBe('Succeeded');
    expect(Date.parse(ended.startedAt as string)).toBeGreaterThan(
      Date.parse((atGate.approval as { requestedAt: string }).requestedAt),
    );
  }, 240_000);

  it('remove --local waits for the removal and says how it ended', async () => {
    const service = await json('local', 'status');
    const node1 = (
      service.defaultInput.target.nodes as { name: string; instanceId: string }[]
    ).find((n) => n.name === 'NODE1');
    const ledger = await json('ledger', '--local', 'NODE1');
    const last = ledger.removalOrder[0] as string;
    const result = await run(
      'remove',
      '--local',
      'NODE1',
      '--updates',
      last,
      '--cluster',
      'CLUSTER1',
      '--instance-id',
      node1?.instanceId as string,
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/Removal \S+ ended Succeeded/);
    expect(result.stdout).toMatch(/NODE1: Succeeded/);
    expect(result.status).toBe(0);
    const after = await json('ledger', '--local', 'NODE1');
    expect(after.installed).not.toContain(last);
  }, 120_000);
});

describe('the data folder', () => {
  it('defaults to rollout/local under the state folder, never the working folder', () => {
    const saved = { data: process.env.ROLLOUT_LOCAL_DATA, state: process.env.XDG_STATE_HOME };
    try {
      delete process.env.ROLLOUT_LOCAL_DATA;
      process.env.XDG_STATE_HOME = '/var/state-here';
      expect(localDataDir(REPO)).toBe('/var/state-here/rollout/local');
      delete process.env.XDG_STATE_HOME;
      expect(localDataDir(REPO)).toMatch(/\/\.local\/state\/rollout\/local$/);
      expect(localDataDir(REPO).startsWith(REPO)).toBe(false);
      expect(localDataDir(REPO, 'mine')).toBe(join(REPO, 'mine'));
    } finally {
      for (const [k, v] of [
        ['ROLLOUT_LOCAL_DATA', saved.data],
        ['XDG_STATE_HOME', saved.state],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
