/**
 * Lambda bundles (issue 11, point 4): each handler built with the deployed esbuild settings
 * (HANDLER_BUNDLING in lib/rollout-functions.ts), its minified size, what fills it (esbuild's
 * metafile, by package), and the cold import time of the bundle in a fresh Node process.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { FUNCTION_NAMES, HANDLER_BUNDLING, handlerEntry } from '../lib/rollout-functions.js';
import { round } from './measure.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
/** Under the repository, so the external SDK resolves from its node_modules as on Lambda's runtime. */
const OUT = join(REPO, 'dist', 'bench-bundles');
const LIMIT_KIB = 300;

/** The package (or our folder) an input of the metafile belongs to. */
function owner(path: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return m ? (m[1] as string) : path.split('/').slice(0, 2).join('/');
}

/** Milliseconds to import the bundle cold (median of `runs` fresh processes). */
function coldImportMs(file: string, runs: number): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO,
      encoding: 'utf8',
      env: {
        ...process.env,
        AWS_REGION: 'us-east-1',
        TABLE_NAME: 'bench',
        ARTIFACTS_BUCKET: 'bench',
        DOCUMENT_PREFIX: 'bench',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_TRACE_ENABLED: 'false',
      },
    });
    if (result.status !== 0) throw new Error(`importing ${file}: ${result.stderr}`);
    samples.push(Number(result.stdout.trim()));
  }
  samples.sort((a, b) => a - b);
  return round(samples[Math.floor(samples.length / 2)] ?? 0, 0);
}

export async function benchBundles(runs = Number(process.env.BENCH_IMPORT_RUNS ?? 3)) {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const rows = [];
  for (const name of FUNCTION_NAMES) {
    const outfile = join(OUT, `${name}.mjs`);
    const result = await build({
      absWorkingDir: REPO,
      entryPoints: [handlerEntry(name)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: HANDLER_BUNDLING.target,
      minify: HANDLER_BUNDLING.minify,
      mainFields: [...HANDLER_BUNDLING.mainFields],
      banner: { js: HANDLER_BUNDLING.banner },
      external: [...HANDLER_BUNDLING.externalModules],
      metafile: true,
      logLevel: 'error',
    });
    const output = Object.values(result.metafile.outputs)[0];
    const by = new Map<string, number>();
    for (const [path, input] of Object.entries(output?.inputs ?? {})) {
      by.set(owner(path), (by.get(owner(path)) ?? 0) + input.bytesInOutput);
    }
    const kib = round((output?.bytes ?? 0) / 1024, 0);
    rows.push({
      function: name,
      minifiedKiB: kib,
      withinLimit: kib <= LIMIT_KIB,
      largestParts: Object.fromEntries(
        [...by.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([k, v]) => [k, round(v / 1024, 0)]),
      ),
      coldImportMs: coldImportMs(outfile, runs),
    });
  }
  return {
    name: `Lambda bundles: minified size (KiB, SDK external, limit ${LIMIT_KIB}), largest parts, cold import`,
    rows,
    withinLimit: rows.filter((r) => r.withinLimit).length,
    of: rows.length,
    // Cold imports are wall time: the machine's load averages when they were taken.
    loadAverage: loadavg().map((l) => round(l, 1)),
  };
}
