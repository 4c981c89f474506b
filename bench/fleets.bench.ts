/**
 * The two fleets side by side (issue 10): wall time per node and per command of a 64-node
 * cluster and a 1,000-node group, on the pwsh fleet (the documents' real scripts in pwsh
 * workers) and on the TypeScript model. BENCH_FLEET_CLUSTER and BENCH_FLEET_GROUP set the sizes (default 64 and 1000; 0 leaves one out).
 * Without pwsh the pwsh rows say so. Figures, not assertions: with CPU seconds (node's own, and
 * the pwsh processes' on Linux) and the 1-minute load average before and after, since this
 * machine is shared.
 */
import { loadavg } from 'node:os';
import { PWSH_MISSING, PwshWorkerPool, pwshAvailable } from '../sandbox/pwsh-fleet.js';
import { runScenario } from '../sandbox/run-scenario.js';
import { round } from './measure.js';
import { scenario } from './sandbox.bench.js';

export async function benchFleets() {
  const cluster = Number(process.env.BENCH_FLEET_CLUSTER ?? 64);
  const group = Number(process.env.BENCH_FLEET_GROUP ?? 1000);
  const targets = [
    { kind: 'cluster', count: cluster },
    { kind: 'group', count: group, maxConcurrency: 100 },
  ].filter((t) => t.count > 0) as {
    kind: 'cluster' | 'group';
    count: number;
    maxConcurrency?: number;
  }[];
  const rows = [];
  for (const fleet of ['model', 'pwsh'] as const) {
    if (fleet === 'pwsh' && !pwshAvailable()) {
      rows.push({ fleet, skipped: PWSH_MISSING });
      continue;
    }
    for (const target of targets) {
      const pool = fleet === 'pwsh' ? new PwshWorkerPool() : undefined;
      await pool?.render();
      const cpu = process.cpuUsage();
      const loadBefore = loadavg()[0] ?? 0;
      try {
        const result = await runScenario(scenario({ ...target, minutes: 5 }), {
          fleet,
          ...(pool ? { pwshPool: pool } : {}),
        });
        const commands = result.fleet.nodes().reduce((n, node) => n + node.commands.length, 0);
        const used = process.cpuUsage(cpu);
        const pwshCpu = pool?.cpuSeconds();
        rows.push({
          fleet,
          target: `${target.kind} of ${target.count}`,
          status: result.runs[0]?.report?.status,
          wallSeconds: round(result.wallMs / 1000, 1),
          commands,
          wallMsPerNode: round(result.wallMs / target.count, 1),
          wallMsPerCommand: round(result.wallMs / commands, 1),
          nodeCpuSeconds: round((used.user + used.system) / 1e6, 1),
          load1: [round(loadBefore, 1), round(loadavg()[0] ?? 0, 1)],
          ...(pool
            ? {
                ...(pwshCpu === undefined ? {} : { pwshCpuSeconds: round(pwshCpu, 1) }),
                pwshProcesses: pool.stats.workers,
                pwshRunspaces: pool.stats.runspaces,
                peakConcurrentScripts: pool.stats.peakJobs,
                pwshStartSeconds: round(pool.stats.startMs / 1000, 1),
                pwshCommands: pool.stats.commands,
                seamCallsPerCommand: round(pool.stats.seamCalls / pool.stats.commands, 1),
                pwshBusyMsPerCommand: round(pool.stats.busyMs / pool.stats.commands, 1),
                // Wall ms inside pwsh, virtual waits included (in wall time, the sandbox working on other
                // nodes meanwhile): per script run, and per seam call from asking to the answer.
                scriptWallMsPerCommand: round(pool.stats.scriptMs / pool.stats.commands, 1),
                seamWaitMsPerCall: round(pool.stats.seamMs / pool.stats.seamCalls, 2),
              }
            : {}),
        });
      } finally {
        pool?.close();
      }
    }
  }
  return { name: 'fleets: the real scripts in pwsh vs the TypeScript model', rows };
}
