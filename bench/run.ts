/**
 * `npm run bench`: speed and scale figures. Benchmarks report; they never fail a build on time.
 * Pass names to run a subset: `npm run bench -- plan transitions`.
 */
// Keep the handlers' logs and metrics out of the figures (set before the handlers load).
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const { benchPlan } = await import('./plan.bench.js');
const { benchApi } = await import('./api.bench.js');
const { benchChaos } = await import('./chaos.bench.js');
const { benchCli } = await import('./cli.bench.js');
const { benchBundles } = await import('./bundles.bench.js');
const { benchFleets } = await import('./fleets.bench.js');
const { benchCost } = await import('./cost.bench.js');
const { benchBake } = await import('./bake.bench.js');
const { benchFleet, benchHistory, benchMakespan, benchTransitions } = await import(
  './sandbox.bench.js'
);

const BENCHMARKS: Record<string, () => unknown> = {
  plan: benchPlan,
  transitions: benchTransitions,
  makespan: benchMakespan,
  history: benchHistory,
  fleet: benchFleet,
  api: () => benchApi(Number(process.env.BENCH_API_REQUESTS ?? 30_000)),
  chaos: benchChaos,
  cli: benchCli,
  bundles: benchBundles,
  fleets: benchFleets,
  cost: benchCost,
  bake: benchBake,
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in BENCHMARKS)) {
    console.error(
      `unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(BENCHMARKS).join(', ')}`,
    );
    process.exit(2);
  }
}
for (const [name, bench] of Object.entries(BENCHMARKS)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(JSON.stringify(await bench(), null, 2));
}
