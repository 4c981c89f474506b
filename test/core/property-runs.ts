/**
 * How many inputs a fast-check property tries: `runs`, or a tenth of it (at least 100) under
 * `npm run mutation`, which reruns the test file for every mutant (scripts/mutation.ts sets
 * MUTATION_TEST_FILES, and Stryker's workers and vitest's inherit it). A mutant that only a rare
 * input shows may then survive: the survivors list says so, and `npm test` still runs them all.
 */
export function propertyRuns(runs: number): number {
  return process.env.MUTATION_TEST_FILES ? Math.max(100, Math.ceil(runs / 10)) : runs;
}
