/**
 * The pwsh fleet's worker runs many scripts at once in one pwsh process, one runspace per job
 * (sandbox/pwsh-worker.ps1): each job sees its own node ($env:COMPUTERNAME, $env:SSM_Payload, its
 * own printed lines), a job that waits in virtual time does not hold up another, and nothing a
 * job leaves global (variables, functions, aliases) is seen by the next job in its runspace.
 *
 * The scripts here are small probes written next to the rendered documents; the documents
 * themselves run through the same jobs in the fleet tests (test/e2e/fleet-differential.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PwshJob, PwshWorkerPool, pwshAvailable } from '../../sandbox/pwsh-fleet.js';

const available = pwshAvailable();
if (!available) {
  const line =
    '!!! pwsh runspace tests SKIPPED: dotnet pwsh does not run here (npm run pwsh:restore) !!!';
  if (process.env.REQUIRE_PWSH === '1') throw new Error(`${line} (REQUIRE_PWSH=1: a skip fails)`);
  console.error(line);
}

/** Waits in virtual time (a seam call), then prints its node again; leaves globals behind. */
const LEAKY = `
[Console]::Out.WriteLine('before ' + $env:COMPUTERNAME + ' ' + $env:SSM_Payload + ' ' + $env:PROCESSOR_ARCHITECTURE)
$global:SandboxLeakProbe = $env:COMPUTERNAME
function global:Get-SandboxLeakProbe { 'leaked' }
Set-Alias -Name SandboxLeakAlias -Value Get-Date -Scope Global
$env:ROLLOUT_PHASE = $env:COMPUTERNAME
Wait-RolloutSeconds 5
[Console]::Out.WriteLine('after ' + $env:COMPUTERNAME + ' phase ' + $env:ROLLOUT_PHASE)
[Console]::Error.WriteLine('stderr of ' + $env:COMPUTERNAME)
exit 3
`;

/** What a job sees of what an earlier job left global. */
const PROBE = `
Set-StrictMode -Version Latest
$variable = Get-Variable -Name SandboxLeakProbe -Scope Global -ValueOnly -ErrorAction SilentlyContinue
$function = [bool](Get-Command -Name Get-SandboxLeakProbe -ErrorAction SilentlyContinue)
$alias = [bool](Get-Alias -Name SandboxLeakAlias -ErrorAction SilentlyContinue)
[Console]::Out.WriteLine('probe ' + $env:COMPUTERNAME + ' variable=[' + $variable + '] function=' + $function + ' alias=' + $alias + ' phase=[' + $env:ROLLOUT_PHASE + ']')
exit 0
`;

interface Ended {
  code: number;
  out: string;
  err: string;
  calls: string[];
}

const spec = (key: string, computer: string, payload = `payload-of-${computer}`) => ({
  key,
  payload,
  computer,
  environment: { windir: 'C:\\Windows' },
  architecture: 'AMD64',
});

/** Runs a job to its end, answering each seam call with null (after `before`, if given). */
async function drive(job: PwshJob, before?: Promise<void>): Promise<Ended> {
  const ended: Ended = { code: -1, out: '', err: '', calls: [] };
  for (;;) {
    const message = await job.next();
    if (message.t === 'ready') continue;
    ended.out += message.out;
    ended.err += message.err;
    if (message.t === 'done') {
      ended.code = message.code;
      return ended;
    }
    ended.calls.push(message.name);
    if (before) await before;
    job.send({ t: 'reply', value: null });
  }
}

describe.skipIf(!available)('the pwsh worker: many jobs at once, one runspace each', () => {
  let pool: PwshWorkerPool;
  beforeAll(() => {
    pool = new PwshWorkerPool();
    writeFileSync(join(pool.folder, 'leaky.ps1'), LEAKY);
    writeFileSync(join(pool.folder, 'probe.ps1'), PROBE);
  });
  afterAll(() => pool?.close());

  it('two jobs waiting at once in one process each see their own node, payload and output', async () => {
    const a = await pool.start(spec('leaky', 'NODE-A'));
    const b = await pool.start(spec('leaky', 'NODE-B'));
    // A answers only after B has ended: B's script ran on while A's waited.
    let release: () => void = () => {};
    const aMayGoOn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const aEnded = drive(a, aMayGoOn);
    const bEnded = await drive(b);
    release();
    const ended = [await aEnded, bEnded];
    pool.finish(a, true);
    pool.finish(b, true);
    for (const [name, run] of [
      ['NODE-A', ended[0]],
      ['NODE-B', ended[1]],
    ] as const) {
      expect(run?.code).toBe(3);
      expect(run?.calls).toEqual(['Wait-RolloutSeconds']);
      expect(run?.out.split('\n').filter(Boolean)).toEqual([
        `before ${name} payload-of-${name} AMD64`,
        `after ${name} phase ${name}`,
      ]);
      expect(run?.err.trim()).toBe(`stderr of ${name}`);
    }
    expect(pool.alive).toBe(1);
    expect(pool.stats.peakJobs).toBeGreaterThanOrEqual(2);
    expect(pool.stats.runspaces).toBe(2);
  }, 120_000);

  it('a job does not see what an earlier job in its runspace left global', async () => {
    // Both runspaces ran a leaky job above; these reuse them.
    const probes = await Promise.all([
      pool.start(spec('probe', 'NODE-C')),
      pool.start(spec('probe', 'NODE-D')),
    ]);
    const ended = await Promise.all(probes.map((job) => drive(job)));
    for (const job of probes) pool.finish(job, true);
    expect(ended.map((run) => run.out.trim())).toEqual([
      'probe NODE-C variable=[] function=False alias=False phase=[]',
      'probe NODE-D variable=[] function=False alias=False phase=[]',
    ]);
    expect(ended.map((run) => run.code)).toEqual([0, 0]);
    // Reused, not opened anew.
    expect(pool.stats.runspaces).toBe(2);
  }, 120_000);

  it('a job whose command ended is stopped by an abort: its runspace serves the next job', async () => {
    const stopped = await pool.start(spec('leaky', 'NODE-E'));
    const call = await stopped.next();
    expect(call.t).toBe('call');
    stopped.send({ t: 'abort' });
    const done = await stopped.next();
    pool.finish(stopped, true);
    // The seam threw; the script's trap (none here) or the worker turns it into exit 1.
    expect(done.t === 'done' && done.code).toBe(1);
    expect(done.t === 'done' && done.err).toContain('the command ended while the script ran');
    const next = await pool.start(spec('probe', 'NODE-F'));
    const ended = await drive(next);
    pool.finish(next, true);
    expect(ended.out.trim()).toBe('probe NODE-F variable=[] function=False alias=False phase=[]');
  }, 120_000);
});

describe.skipIf(!available)('the pwsh worker pool: processes', () => {
  it('processes: 2 spreads jobs at once over two processes, each job still on its own node', async () => {
    const two = new PwshWorkerPool({ processes: 2 });
    try {
      writeFileSync(join(two.folder, 'probe.ps1'), PROBE);
      const jobs = await Promise.all([
        two.start(spec('probe', 'NODE-G')),
        two.start(spec('probe', 'NODE-H')),
      ]);
      const ended = await Promise.all(jobs.map((job) => drive(job)));
      for (const job of jobs) two.finish(job, true);
      expect(two.alive).toBe(2);
      expect(two.stats.workers).toBe(2);
      expect(ended.map((run) => run.out.trim())).toEqual([
        'probe NODE-G variable=[] function=False alias=False phase=[]',
        'probe NODE-H variable=[] function=False alias=False phase=[]',
      ]);
    } finally {
      two.close();
    }
  }, 120_000);
});

describe('PwshWorkerPool options', () => {
  it('refuses a process count that is not a whole number of at least 1, naming it', () => {
    expect(() => new PwshWorkerPool({ processes: 0 })).toThrow(
      'processes (0): expected a whole number of at least 1',
    );
    expect(() => new PwshWorkerPool({ processes: 1.5 })).toThrow('processes (1.5)');
  });
});
