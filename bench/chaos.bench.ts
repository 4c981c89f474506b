/**
 * The chaos campaign's speed (issue 8): runs per second of a fixed-seed campaign, one run at a
 * time and several in flight; what synthesizing and adapting the definitions cost, and that
 * synthesis happens once per process, not per run. Figures, not assertions.
 * `CHAOS_BENCH_RUNS` sets the campaign size (default 24).
 */
import { adaptDefinition } from '../sandbox/adapt.js';
import { runCampaign, selectFaultKinds } from '../sandbox/chaos.js';
import { synthesize } from '../sandbox/engine.js';
import { peakRssMiB, round, time } from './measure.js';

const SEED = 20261204;

export async function benchChaos() {
  const runs = Number(process.env.CHAOS_BENCH_RUNS ?? 24);
  const coldStart = performance.now();
  const synth = synthesize();
  const synthesizeColdMs = round(performance.now() - coldStart);
  // Every later call returns the same object: the campaign pays synthesis once per process.
  const warm = time(() => synthesize(), 20, 1);
  const adapt = time(
    () => {
      adaptDefinition(synth.rollout.definition);
      adaptDefinition(synth.node.definition);
    },
    20,
    2,
  );
  const kinds = selectFaultKinds(undefined);
  const figures: Record<string, unknown>[] = [];
  for (const parallel of [1, 4]) {
    const result = await runCampaign({ runs, seed: SEED, kinds, shrink: false, parallel });
    figures.push({
      parallel,
      wallSeconds: round(result.wallMs / 1000),
      runsPerSecond: round(result.runsPerSecond),
      invariantViolations: result.invariantViolations,
      byInvariant: result.byInvariant,
      expectationFailures: result.expectationFailures,
    });
  }
  return {
    benchmark: 'chaos campaign',
    seed: SEED,
    runs,
    faultKinds: 'all',
    synthesizeColdMs,
    synthesizeWarmMedianMs: warm.medianMs,
    sameSynthesisEveryCall: synthesize() === synth,
    adaptBothDefinitionsMedianMs: adapt.medianMs,
    campaigns: figures,
    peakRssMiB: peakRssMiB(),
  };
}
