/**
 * The cost of reading alarms during a bake (issue 13, item 1): a phase's bake is a loop of
 * checks (healthGates.checkEveryMinutes, default 5), each a few state transitions. Reported: the
 * rollout execution's transitions for a 2-node cluster whose first node bakes, by bake length
 * and check interval, with and without health gates, and the transitions one check costs.
 */
import { runScenario } from '../sandbox/run-scenario.js';
import { parseScenario } from '../sandbox/scenario.js';
import { round } from './measure.js';

function bakeScenario(bakeMinutes: number, gates: { checkEveryMinutes: number } | null) {
  return parseScenario(
    {
      name: `bench-bake-${bakeMinutes}`,
      ...(gates
        ? {
            alarms: [
              { name: 'bench-alarm', timeline: [{ at: 'PT0S', state: 'OK', reason: 'quiet' }] },
            ],
          }
        : {}),
      hotfixRoot: { files: [{ path: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu' }] },
      nodes: ['N1', 'N2'].map((name) => ({ name, cluster: 'BENCH' })),
      rollout: {
        target: { kind: 'cluster', name: 'BENCH' },
        plugins: [
          { name: 'Microsoft.HotfixPlugin', arguments: 'HotfixRootFolderPath=s3://bench/root' },
        ],
        policy: { nodeOrder: ['N1', 'N2'] },
        phases: [{ name: 'canary', nodeCount: 1, bakeMinutes }],
        ...(gates ? { healthGates: { alarmNames: ['bench-alarm'], ...gates } } : {}),
      },
    },
    'benchmark',
  );
}

async function parentTransitions(bakeMinutes: number, gates: { checkEveryMinutes: number } | null) {
  const result = await runScenario(bakeScenario(bakeMinutes, gates));
  return result.runs[0]?.execution.stateTransitions ?? 0;
}

export async function benchBake() {
  const rows = [];
  for (const gates of [null, { checkEveryMinutes: 5 }, { checkEveryMinutes: 15 }]) {
    const every = gates?.checkEveryMinutes ?? 5;
    const short = await parentTransitions(every, gates);
    for (const bakeMinutes of [60, 24 * 60]) {
      const transitions = await parentTransitions(bakeMinutes, gates);
      // Checks of a bake: one per interval, and the one at its end.
      const extraChecks = Math.ceil(bakeMinutes / every) - 1;
      rows.push({
        healthGates: gates ? `checkEveryMinutes ${gates.checkEveryMinutes}` : 'none (cancel only)',
        bakeMinutes,
        rolloutTransitions: transitions,
        transitionsPerCheck: round((transitions - short) / extraChecks, 2),
      });
    }
  }
  return {
    name: 'a phase bake read every checkEveryMinutes: rollout transitions (2-node cluster, 1-node canary)',
    rows,
  };
}
