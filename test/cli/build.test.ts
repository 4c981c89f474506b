/**
 * The compiled `rollout` command (issue 11, point 5) stays in step with its sources: it is built
 * from them (into a folder of its own under dist/, so the command's own build is left alone, and
 * where the packages resolve from the repository's node_modules as they do for dist/cli), answers
 * as the sources do, finds the files its sources read beside themselves, and is rebuilt once a
 * source is newer than the build.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/args.js';
import { main } from '../../cli/main.js';
// @ts-expect-error: a plain ES module script, without types
import { buildCli, buildIsFresh } from '../../scripts/build-cli.mjs';

const scratch = join(
  fileURLToPath(new URL('../../dist/', import.meta.url)),
  `build-test-${process.pid}`,
);
const outDir = join(scratch, 'cli');
let inputs: string[] = [];

/** Runs the compiled command in a fresh Node process, as bin/rollout.mjs would. */
function runBuilt(...argv: string[]) {
  const entry = pathToFileURL(join(outDir, 'main.js')).href;
  const script = `const { main } = await import(${JSON.stringify(entry)}); process.exitCode = await main(${JSON.stringify(argv)});`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
}

/** Runs the sources in-process and captures what they print. */
async function runSource(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: process.cwd(),
  };
  const status = await main(argv, io);
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

beforeAll(async () => {
  inputs = await buildCli(outDir);
}, 60_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the compiled rollout command', () => {
  it('is built from the CLI sources and the rules they import, not from packages', () => {
    expect(inputs).toContain('cli/main.ts');
    expect(inputs).toContain('lambdas/core/exit-codes.ts');
    expect(inputs.filter((p) => p.startsWith('node_modules/'))).toEqual([]);
  });

  it.each([
    [['--help']],
    [['exit-code', '--code', '0xBC2', '--json']],
    [['exit-code', '--code', 'abc']],
  ])('answers %j as the sources do (output and exit status)', async (argv) => {
    const built = runBuilt(...argv);
    const source = await runSource(...argv);
    expect(built.status).toBe(source.status);
    expect(built.stdout.trim()).toBe(source.stdout.trim());
    expect(built.stderr.trim()).toBe(source.stderr.trim());
  });

  it("reads the built-in hotfix config beside its source (import.meta.url kept to the source's place)", () => {
    const built = runBuilt('exit-code', '--code', '3010');
    expect(built.status).toBe(0);
    expect(built.stdout).toContain('built-in default-hotfix-config.xml');
  });

  it('is fresh right after the build, and stale once a source is newer than it', () => {
    expect(buildIsFresh(outDir)).toBe(true);
    // Date the build back rather than touching a source (other tests may be running the CLI).
    const past = new Date('2001-01-01T00:00:00Z');
    utimesSync(join(outDir, 'main.js'), past, past);
    expect(buildIsFresh(outDir)).toBe(false);
  });

  it('is stale when there is no build at all', () => {
    expect(buildIsFresh(join(scratch, 'absent'))).toBe(false);
  });
});
