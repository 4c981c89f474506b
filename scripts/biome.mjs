#!/usr/bin/env node
// Runs Biome's native binary for this platform. The registry this project installs from carries
// only Biome's Linux binaries, so we depend on those directly (as optional dependencies) rather
// than on the @biomejs/biome wrapper, whose other platform packages `npm ci` could not find.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = `@biomejs/cli-${process.platform}-${process.arch}`;
let binary;
try {
  binary = require.resolve(`${pkg}/biome${process.platform === 'win32' ? '.exe' : ''}`);
} catch {
  console.error(
    `biome: no ${pkg} package is installed; this project installs Biome for linux-x64 and linux-arm64 only (see package.json optionalDependencies)`,
  );
  process.exit(2);
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' });
process.exit(result.status ?? 1);
