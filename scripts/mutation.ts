// npm run mutation [-- [--incremental] <module>[:<from line>-<to line>] ...]
// Runs StrykerJS on lambdas/core/, one module at a time, each against the test files in test/core/
// that import it (or those OWN_TESTS names), and prints one row per module. Not part of `npm test`:
// a full run takes long. `hotfix-config:220-243` mutates those lines only (to check the tests
// written for a few survivors without a full run; its score is not the module's).
// Survivors go to reports/mutation/<module>.survivors.txt; equivalent mutants are listed, with why,
// in test/core/equivalent-mutants.md.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MutantResult, PartialStrykerOptions } from '@stryker-mutator/api/core';
import { Stryker } from '@stryker-mutator/core';

const coreDir = 'lambdas/core';
const testDir = 'test/core';
const reportDir = 'reports/mutation';

const args = process.argv.slice(2);
const incremental = args.includes('--incremental');
const RANGE = /^(?<module>[^:]+)(?::(?<from>[1-9]\d*)-(?<to>[1-9]\d*))?$/;
const targets = args
  .filter((a) => !a.startsWith('--'))
  .map((a) => {
    const match = RANGE.exec(a)?.groups;
    if (!match || Number(match.from) > Number(match.to)) {
      console.error(
        `mutation: "${a}": expected a module name, or <module>:<from line>-<to line> (e.g. hotfix-config:220-243)`,
      );
      process.exit(2);
    }
    const { module = '', from, to } = match;
    return { module, lines: from === undefined ? undefined : `${from}-${to}` };
  });
const named = targets.map((t) => t.module);
const allModules = readdirSync(coreDir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();
for (const name of named) {
  if (!allModules.includes(name)) {
    console.error(
      `mutation: module "${name}" is not in ${coreDir}/ (known: ${allModules.join(', ')})`,
    );
    process.exit(2);
  }
}
const runs =
  targets.length > 0
    ? targets
    : allModules.map((module) => ({ module, lines: undefined as string | undefined }));
const concurrency = Number(process.env.MUTATION_CONCURRENCY ?? '2');
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(
    `mutation: MUTATION_CONCURRENCY "${process.env.MUTATION_CONCURRENCY}": expected a whole number from 1`,
  );
  process.exit(2);
}

/**
 * Modules run against named test files, not every file that imports them. plugin-arguments: the
 * rollout-input tests import two of its constants and reach its parser through parseRolloutInput,
 * so Stryker also loaded and ran that file for every mutant they reach and every static one (the
 * run took 43 minutes). Its own file states every rule. api-model: failed-step.test.ts imports
 * its report builders but also synthesizes the CDK app when it loads (about 5 s), which Stryker
 * repeated for each of api-model's many static mutants (its schemas are built at load);
 * api-model.test.ts tests the same report and CSV. Leaving a file out can only lose kills.
 */
const OWN_TESTS: Readonly<Record<string, readonly string[]>> = {
  'plugin-arguments': ['plugin-arguments.test.ts'],
  'api-model': [
    'api-model-requests.test.ts',
    'api-model.test.ts',
    'compliance-api.test.ts',
    'percentages-notice.test.ts',
    'target-selection.test.ts',
    // Its request parsing and its status, report and staging views are exercised through the
    // API handler: those tests run on dynalite and a fake Step Functions (no CDK synth).
    'test/handlers/api.test.ts',
    'test/handlers/api-staging.test.ts',
    'test/handlers/api-compliance.test.ts',
    'test/handlers/api-body-limits.test.ts',
    'test/handlers/api-approval-gate.test.ts',
    // The views' and request schemas' own tests (a name that does not exist yet is skipped).
    'api-model-status.test.ts',
    'api-model-report.test.ts',
    'api-model-schemas.test.ts',
    'api-model-rollout-request.test.ts',
  ],
};

/** The test files in test/core/ that import the module (its "own" tests). */
function testFilesFor(module: string): string[] {
  const own = OWN_TESTS[module];
  if (own) {
    return own
      .map((f) => (f.startsWith('test/') ? f : `${testDir}/${f}`))
      .filter((f) => existsSync(f));
  }
  const importPath = `/core/${module}.js'`;
  return readdirSync(testDir)
    .filter((f) => f.endsWith('.test.ts'))
    .filter((f) => readFileSync(join(testDir, f), 'utf8').includes(importPath))
    .map((f) => `${testDir}/${f}`)
    .sort();
}

interface Row {
  module: string;
  mutants: number;
  killed: number;
  survived: number;
  timeout: number;
  noCoverage: number;
  invalid: number;
  score: number | undefined;
  seconds: number;
  note: string;
}

function count(results: MutantResult[], ...statuses: string[]): number {
  return results.filter((r) => statuses.includes(r.status)).length;
}

async function runModule(module: string, lines: string | undefined): Promise<Row> {
  const tests = testFilesFor(module);
  const label = lines === undefined ? module : `${module}:${lines}`;
  const report = label.replace(':', '.lines-');
  const started = Date.now();
  const empty = { mutants: 0, killed: 0, survived: 0, timeout: 0, noCoverage: 0, invalid: 0 };
  if (tests.length === 0) {
    return {
      module: label,
      ...empty,
      score: undefined,
      seconds: 0,
      note: 'no test file in test/core imports it',
    };
  }
  process.env.MUTATION_TEST_FILES = tests.join(',');
  const options: PartialStrykerOptions = {
    mutate: [`${coreDir}/${module}.ts${lines === undefined ? '' : `:${lines}`}`],
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: { configFile: 'vitest.mutation.config.ts', related: false },
    coverageAnalysis: 'perTest',
    concurrency,
    // TypeScript 7 has no JS API: Stryker must not rewrite tsconfig files, and no type checker runs.
    tsconfigFile: 'tsconfig.stryker-none.json',
    checkers: [],
    reporters: ['json'],
    jsonReporter: { fileName: `${reportDir}/${report}.json` },
    ignorePatterns: ['.tools', 'cdk.out', 'coverage', 'scratch', 'reports'],
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    logLevel: 'warn',
    fileLogLevel: 'off',
    timeoutMS: 10_000,
    incremental,
    incrementalFile: `${reportDir}/${report}.incremental.json`,
  };
  const results = await new Stryker(options).runMutationTest();
  const seconds = Math.round((Date.now() - started) / 1000);
  const killed = count(results, 'Killed');
  const timeout = count(results, 'Timeout');
  const survived = count(results, 'Survived');
  const noCoverage = count(results, 'NoCoverage');
  const invalid = count(results, 'RuntimeError', 'CompileError');
  const valid = killed + timeout + survived + noCoverage;
  const survivors = results
    .filter((r) => r.status === 'Survived' || r.status === 'NoCoverage')
    .map((r) =>
      `${r.location.start.line}:${r.location.start.column + 1} ${r.status} ${r.mutatorName}: ${r.replacement ?? ''}`.replace(
        /\s+/g,
        ' ',
      ),
    );
  writeFileSync(
    join(reportDir, `${report}.survivors.txt`),
    survivors.map((s) => `${s}\n`).join(''),
  );
  return {
    module: label,
    mutants: results.length,
    killed,
    survived,
    timeout,
    noCoverage,
    invalid,
    score: valid === 0 ? undefined : (100 * (killed + timeout)) / valid,
    seconds,
    note: tests.map((t) => t.replace(`${testDir}/`, '')).join(' '),
  };
}

function table(rows: Row[]): string {
  const header = [
    'module',
    'mutants',
    'killed',
    'survived',
    'timeout',
    'no coverage',
    'invalid',
    'score',
    'seconds',
  ];
  const lines = rows.map((r) => [
    r.module,
    String(r.mutants),
    String(r.killed),
    String(r.survived),
    String(r.timeout),
    String(r.noCoverage),
    String(r.invalid),
    r.score === undefined ? '-' : `${r.score.toFixed(1)} %`,
    String(r.seconds),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ');
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

mkdirSync(reportDir, { recursive: true });
const rows: Row[] = [];
for (const { module, lines } of runs) {
  const row = await runModule(module, lines);
  rows.push(row);
  console.log(
    `${row.module}: ${row.score === undefined ? '-' : `${row.score.toFixed(1)} %`} in ${row.seconds} s (${row.note})`,
  );
}
const total: Row = {
  module: 'total',
  mutants: 0,
  killed: 0,
  survived: 0,
  timeout: 0,
  noCoverage: 0,
  invalid: 0,
  score: undefined,
  seconds: 0,
  note: '',
};
for (const r of rows) {
  total.mutants += r.mutants;
  total.killed += r.killed;
  total.survived += r.survived;
  total.timeout += r.timeout;
  total.noCoverage += r.noCoverage;
  total.invalid += r.invalid;
  total.seconds += r.seconds;
}
const valid = total.killed + total.timeout + total.survived + total.noCoverage;
total.score = valid === 0 ? undefined : (100 * (total.killed + total.timeout)) / valid;
console.log(`\n${table(rows.length > 1 ? [...rows, total] : rows)}`);
