import { defineConfig } from 'vitest/config';

// Used by `npm run mutation` only: Stryker runs each module against the test files that
// scripts/mutation.ts names in MUTATION_TEST_FILES (comma-separated, relative to the root).
const files = (process.env.MUTATION_TEST_FILES ?? '').split(',').filter((f) => f !== '');
if (files.length === 0) {
  throw new Error(
    'vitest.mutation.config.ts: MUTATION_TEST_FILES is empty; run it through `npm run mutation`',
  );
}

export default defineConfig({
  test: {
    include: files,
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    testTimeout: 60_000,
  },
});
