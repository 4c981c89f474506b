/**
 * Sandbox benchmarks (issue 4): state transitions per node and how they grow with install time,
 * against a 30-second poll loop; history events of one rollout execution; orchestration
 * overhead; wall time and memory of a 1,000-node fleet. Figures, not assertions.
 */
import { loadavg } from 'node:os';
import { runScenario } from '../sandbox/run-scenario.js';
import { parseScenario } from '../sandbox/scenario.js';
import { peakRssMiB, round } from './measure.js';
import { benchSelectedFleetOf, needsSelection } from './selected-fleet.js';

const FILES = [
  'windows10.0-kb5034439-x64.msu',
  'windows10.0-kb5036001-x64.msu',
  'windows10.0-kb5035857-x64.msu',
];

/** A scenario: `count` nodes, 3 updates each (one needs a restart), `minutes` of installing per node. */
export function scenario(options: {
  kind: 'cluster' | 'group';
  count: number;
  minutes: number;
  maxConcurrency?: number;
}) {
  const width = String(options.count).length;
  const nodes = Array.from({ length: options.count }, (_, i) => ({
    name: `N${String(i + 1).padStart(width, '0')}`,
    ...(options.kind === 'cluster' ? { cluster: 'BENCH' } : {}),
    // The install takes `minutes` in all: the update that needs a restart takes all but 2 of them.
    updates: {
      KB5034439: { exitCodes: [3010], minutes: Math.max(1, options.minutes - 2) },
      KB5036001: { exitCodes: [0], minutes: 1 },
      KB5035857: { exitCodes: [0], minutes: 1 },
    },
  }));
  return parseScenario(
    {
      name: `bench-${options.kind}-${options.count}`,
      hotfixRoot: { files: FILES.map((f) => ({ path: `CAUHotfix_All/${f}` })) },
      nodes,
      rollout: {
        target: { kind: options.kind, name: options.kind === 'cluster' ? 'BENCH' : 'bench-fleet' },
        plugins: [
          {
            name: 'Microsoft.HotfixPlugin',
            arguments:
              'HotfixRootFolderPath=s3://bench-hotfixes/root;HotfixInstallerTimeoutMinutes=240',
          },
        ],
        policy: {
          maxFailedNodes: 0,
          ...(options.kind === 'group' ? { maxConcurrency: options.maxConcurrency ?? 50 } : {}),
        },
      },
    },
    'benchmark',
  );
}

/** Transitions of the poll-loop design: each command wait becomes Wait + Get + Choice per 30 s. */
function pollLoopTransitions(
  ours: number,
  commands: readonly { startedAt?: string; endedAt?: string; requestedAt: string }[],
): number {
  let extra = 0;
  for (const c of commands) {
    const seconds = (Date.parse(c.endedAt ?? c.requestedAt) - Date.parse(c.requestedAt)) / 1000;
    // Our design: one task state per command. A poll loop: at least one round per command.
    extra += Math.max(1, Math.ceil(seconds / 30)) * 3 - 1;
  }
  return ours + extra;
}

export async function benchTransitions() {
  const rows = [];
  for (const minutes of [5, 20, 60, 120]) {
    const result = await runScenario(scenario({ kind: 'cluster', count: 1, minutes }));
    const nodeExecution = result.sandbox.executions.find((e) => e.name.endsWith('-N1'));
    const ours = nodeExecution?.stateTransitions ?? 0;
    const commands = result.fleet.node('N1').commands;
    rows.push({
      totalInstallMinutes: minutes,
      nodeStateTransitions: ours,
      nodeHistoryEvents: nodeExecution?.historyEvents ?? 0,
      pollLoop30s: pollLoopTransitions(ours, commands),
    });
  }
  const at20 = rows.find((r) => r.totalInstallMinutes === 20);
  return {
    name: 'state transitions per node (3 updates, one restart) by install duration',
    rows,
    growsWithInstallTime: new Set(rows.map((r) => r.nodeStateTransitions)).size > 1,
    pollLoopRatioAt20Minutes: at20 ? round(at20.pollLoop30s / at20.nodeStateTransitions) : null,
    // The figure before issue 11 item 6 merged Choice chains and the plug-in loop (429db3d).
    previous: { nodeStateTransitions: 46, nodeHistoryEvents: 133, commit: '429db3d' },
  };
}

export async function benchHistory() {
  const rows = [];
  for (const [kind, count] of [
    ['cluster', 64],
    ['group', 10],
    ['group', 100],
    ['group', 1000],
  ] as const) {
    const result = await runScenario(scenario({ kind, count, minutes: 5 }));
    const parent = result.runs[0]?.execution;
    rows.push({
      target: `${kind} of ${count}`,
      status: result.runs[0]?.report?.status,
      parentHistoryEvents: parent?.historyEvents,
      parentStateTransitions: parent?.stateTransitions,
      perNodeChildHistoryEvents: result.sandbox.executions.find(
        (e) =>
          e.name.endsWith('N1') ||
          e.name.endsWith('N01') ||
          e.name.endsWith('N001') ||
          e.name.endsWith('N0001'),
      )?.historyEvents,
      wallSeconds: round(result.wallMs / 1000, 1),
    });
  }
  return { name: 'history events of one rollout execution (parent), and of one node child', rows };
}

export async function benchMakespan() {
  const result = await runScenario(scenario({ kind: 'cluster', count: 8, minutes: 10 }));
  const report = result.runs[0]?.report;
  const work = ['N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7', 'N8'].reduce(
    (sum, n) => sum + result.fleet.busyMs(n),
    0,
  );
  const makespan = (report?.makespanSeconds ?? 0) * 1000;
  return {
    name: 'orchestration overhead: simulated makespan / sum of the nodes\u2019 own work (8-node cluster, one at a time)',
    makespanMinutes: round(makespan / 60000, 1),
    nodeWorkMinutes: round(work / 60000, 1),
    ratio: round(makespan / work, 3),
  };
}

export async function benchFleet() {
  return benchFleetOf(Number(process.env.BENCH_FLEET_NODES ?? 1000), 100);
}

/** Wall time and memory of one group rollout of `count` nodes. */
export async function benchFleetOf(count: number, maxConcurrency: number) {
  // Issue 11: more nodes than an input lists run as a tag selection, the list through S3.
  if (needsSelection(count)) return benchSelectedFleetOf(count, maxConcurrency);
  const before = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const result = await runScenario(scenario({ kind: 'group', count, minutes: 10, maxConcurrency }));
  const cpu = process.cpuUsage(cpuBefore);
  return {
    name: `sandbox: ${count.toLocaleString('en-US')}-node fleet (maxConcurrency ${maxConcurrency})`,
    status: result.runs[0]?.report?.status ?? result.runs[0]?.execution.status,
    ...(result.runs[0]?.execution.error
      ? {
          error: result.runs[0]?.execution.error,
          cause: result.runs[0]?.execution.cause?.slice(0, 400),
        }
      : {}),
    wallSeconds: round(result.wallMs / 1000, 1),
    // On a shared machine wall time depends on the neighbours; CPU time is this process's own.
    cpuSeconds: round((cpu.user + cpu.system) / 1e6, 1),
    // The machine's 1-, 5- and 15-minute load averages at the end (2 cores here).
    loadAverage: loadavg().map((l) => round(l, 1)),
    simulatedHours: round(result.simulatedMs / 3_600_000, 2),
    executions: result.sandbox.executions.length,
    rssGrowthMiB: round((process.memoryUsage().rss - before) / 1024 / 1024),
    peakRssMiB: peakRssMiB(),
  };
}
