#!/usr/bin/env node
// The `rollout` command. It runs the compiled build in dist/cli/, which `npm ci` makes (the
// prepare script); when a source file is newer than that build it rebuilds first, and where
// esbuild is not installed it compiles the TypeScript on the fly through tsx. No step to remember.
// ROLLOUT_FROM_SOURCE=1 skips the build (the benchmark compares both ways).
import { enableCompileCache } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCli, buildIsFresh, OUT_DIR } from '../scripts/build-cli.mjs';

// V8's code cache for the modules loaded from here on (Node's own folder under the temporary
// directory, or NODE_COMPILE_CACHE): a later start reuses the compiled code of dist/cli/.
// ROLLOUT_COMPILE_CACHE=0 turns it off (the benchmark measures both).
if (process.env.ROLLOUT_COMPILE_CACHE !== '0') enableCompileCache();

async function fromSource() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../cli/main.ts');
}

async function load() {
  if (process.env.ROLLOUT_FROM_SOURCE === '1') return fromSource();
  const built = pathToFileURL(join(OUT_DIR, 'main.js'));
  if (buildIsFresh()) return import(built.href);
  try {
    await buildCli();
    return await import(built.href);
  } catch {
    return fromSource();
  }
}

const { main } = await load();
process.exitCode = await main(process.argv.slice(2));
