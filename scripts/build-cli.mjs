#!/usr/bin/env node
// Compiles the `rollout` command into dist/cli/ (run by `npm ci` through the prepare script, and
// by bin/rollout.mjs itself when a source file is newer than the build), so the command starts
// without compiling TypeScript. Packages stay external: only our own sources are bundled, and
// the lazy imports of heavy commands (sandbox, chaos, the API backends) stay lazy (chunks).
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const OUT_DIR = join(ROOT, 'dist', 'cli');

/**
 * The build in `outDir` exists and no repository file it was made from (inputs.json, from
 * esbuild's metafile) is newer than it. A few dozen stat calls: a millisecond or two.
 */
export function buildIsFresh(outDir = OUT_DIR) {
  try {
    const builtAt = statSync(join(outDir, 'main.js')).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(join(outDir, 'inputs.json'), 'utf8'));
    return inputs.every((path) => statSync(join(ROOT, path)).mtimeMs <= builtAt);
  } catch {
    return false;
  }
}

/**
 * Each source's `new URL('…', import.meta.url)` must still resolve beside the source (examples,
 * the default hotfix config): rewrite it to the source's own place, relative to the bundle.
 */
const sourceRelativeUrls = (outDir) => ({
  name: 'source-relative-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' };
      const fromBundle = relative(outDir, args.path).split(sep).join('/');
      const contents = text.replaceAll(
        /,\s*import\.meta\.url\s*\)/g,
        `, new URL(${JSON.stringify(fromBundle)}, import.meta.url))`,
      );
      return { contents, loader: 'ts' };
    });
  },
});

/**
 * Builds the CLI; returns the repository files it read. It builds beside dist/cli and swaps the
 * folder in, so two commands rebuilding at once never run a half-written build.
 */
export async function buildCli(outDir = OUT_DIR) {
  const { build } = await import('esbuild');
  const staging = `${outDir}-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: join(ROOT, 'cli', 'main.ts') },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // Small pure packages (zod, fast-xml-parser) are bundled: resolving and loading their many
    // files cost more than the command itself. The AWS SDK, the CDK and the sandbox's engines
    // stay external: only the commands that need them load them, lazily.
    external: [
      '@aws-sdk/*',
      '@aws-lambda-powertools/*',
      '@smithy/*',
      'aws-cdk-lib',
      'aws-cdk-lib/*',
      'constructs',
      'aws-local-stepfunctions',
      'dynalite',
      'jsonpath-plus',
      'esbuild',
      'tsx',
      'tsx/*',
    ],
    metafile: true,
    logLevel: 'warning',
    plugins: [sourceRelativeUrls(outDir)],
  });
  // The dashboard's page script (cli/dashboard/app.ts), for the browser: one file, no CDN.
  const page = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'cli', 'dashboard', 'app.ts')],
    outfile: join(staging, 'dashboard', 'app.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    metafile: true,
    logLevel: 'warning',
  });
  // The repository's own sources (packages change only with npm ci, which rebuilds).
  const inputs = [...Object.keys(result.metafile.inputs), ...Object.keys(page.metafile.inputs)]
    .filter((p, i, all) => !p.startsWith('node_modules/') && all.indexOf(p) === i)
    .sort();
  writeFileSync(join(staging, 'inputs.json'), `${JSON.stringify({ inputs }, null, 2)}\n`);
  // The page's own sources, which the dashboard compares with its build (cli/dashboard/server.ts).
  const pageInputs = Object.keys(page.metafile.inputs)
    .filter((p) => !p.startsWith('node_modules/'))
    .sort();
  writeFileSync(
    join(staging, 'dashboard', 'inputs.json'),
    `${JSON.stringify({ inputs: pageInputs }, null, 2)}\n`,
  );
  rmSync(outDir, { recursive: true, force: true });
  try {
    renameSync(staging, outDir);
  } catch {
    // Another build swapped its folder in first: it is built from the same sources.
    rmSync(staging, { recursive: true, force: true });
  }
  return inputs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const inputs = await buildCli();
    console.log(`rollout: compiled ${inputs.length} sources into dist/cli/`);
  } catch (error) {
    // esbuild is a dev dependency: without it (npm ci --omit=dev) the command runs through tsx.
    if (error?.code === 'ERR_MODULE_NOT_FOUND') {
      console.log('rollout: esbuild is not installed; the command will compile on the fly (tsx)');
    } else throw error;
  }
}
