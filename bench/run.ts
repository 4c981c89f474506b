/**
 * `npm run bench`: speed and scale figures. Benchmarks report; they never fail a build on time.
 * Pass names to run a subset: `npm run bench -- plan`.
 */
import { benchPlan } from './plan.bench.js';

const BENCHMARKS: Record<string, () => unknown> = {
  plan: benchPlan,
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
