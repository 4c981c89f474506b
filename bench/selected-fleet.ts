/**
 * Issue 11: a group larger than an input may list (2,000 nodes) runs as a selection: the nodes
 * carry a tag, the rollout names `target.select: { tags }`, and the node list goes through S3
 * (ResolveTarget, validation, the scan, the Distributed Map's ItemReader). Used by the fleet
 * bench for `BENCH_FLEET_NODES` above 2,000 (e.g. 10,000). Figures, not assertions.
 */
import { loadavg } from 'node:os';
import { MAX_GROUP_NODES } from '../lambdas/core/rollout-input.js';
import { runScenario } from '../sandbox/run-scenario.js';
import { parseScenario } from '../sandbox/scenario.js';
import { peakRssMiB, round } from './measure.js';

const FILES = [
  'windows10.0-kb5034439-x64.msu',
  'windows10.0-kb5036001-x64.msu',
  'windows10.0-kb5035857-x64.msu',
];
const PLUGINS = [
  {
    name: 'Microsoft.HotfixPlugin',
    arguments: 'HotfixRootFolderPath=s3://bench-hotfixes/root;HotfixInstallerTimeoutMinutes=240',
  },
];

/** Does a fleet of `count` nodes need a selection (more than an input may list)? */
export const needsSelection = (count: number) => count > MAX_GROUP_NODES;

/** Wall time, memory and history of one group rollout of `count` tagged nodes, chosen by tag. */
export async function benchSelectedFleetOf(count: number, maxConcurrency: number) {
  const width = String(count).length;
  const scenario = parseScenario(
    {
      name: `bench-selected-${count}`,
      hotfixRoot: { files: FILES.map((f) => ({ path: `CAUHotfix_All/${f}` })) },
      nodes: Array.from({ length: count }, (_, i) => ({
        name: `N${String(i + 1).padStart(width, '0')}`,
        tags: { Fleet: 'bench' },
        // As the listed fleet bench: 10 minutes of installing, one update needs a restart.
        updates: {
          KB5034439: { exitCodes: [3010], minutes: 8 },
          KB5036001: { exitCodes: [0], minutes: 1 },
          KB5035857: { exitCodes: [0], minutes: 1 },
        },
      })),
      // Not run (runRollouts: false): the bench runs the selection below.
      rollout: {
        target: {
          kind: 'group',
          name: 'bench-fleet',
          nodes: [{ name: `N${'1'.padStart(width, '0')}` }],
        },
        plugins: PLUGINS,
      },
    },
    'benchmark',
  );
  const before = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const { sandbox } = await runScenario(scenario, { runRollouts: false });
  const simulatedFrom = sandbox.clock.now().getTime();
  const execution = await sandbox.runRollout(
    {
      target: { kind: 'group', name: 'bench-fleet', select: { tags: { Fleet: 'bench' } } },
      plugins: PLUGINS,
      policy: { maxFailedNodes: 0, maxConcurrency },
    },
    'bench-selected',
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const children = sandbox.executions.filter((e) => e.name.startsWith('bench-selected-'));
  const summary = execution.output as
    | { status?: string; nodes?: Record<string, number> }
    | undefined;
  const figures = {
    name: `sandbox: ${count.toLocaleString('en-US')}-node fleet chosen by tag (maxConcurrency ${maxConcurrency})`,
    status: summary?.status ?? execution.status,
    ...(execution.error
      ? { error: execution.error, cause: execution.cause?.slice(0, 400) }
      : { nodes: summary?.nodes }),
    wallSeconds: round(wallMs / 1000, 1),
    cpuSeconds: round((cpu.user + cpu.system) / 1e6, 1),
    // The machine's 1-, 5- and 15-minute load averages at the end (2 cores here, shared).
    loadAverage: loadavg().map((l) => round(l, 1)),
    simulatedHours: round((sandbox.clock.now().getTime() - simulatedFrom) / 3_600_000, 2),
    parentHistoryEvents: execution.historyEvents,
    parentStateTransitions: execution.stateTransitions,
    childExecutions: children.length,
    rssGrowthMiB: round((process.memoryUsage().rss - before) / 1024 / 1024),
    peakRssMiB: peakRssMiB(),
  };
  await sandbox.stop();
  return figures;
}
