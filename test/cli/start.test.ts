/**
 * Issue 11 §5: the `rollout` command starts without loading what it does not run. The top-level
 * help is made from main.ts's own table (each command's name and summary), and a command's module
 * is imported only when it runs or shows its help; the table stays in step with the specs, and
 * the compiled `--help` and `exit-code` load no chunk that holds zod.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/main.js';
// @ts-expect-error: a plain ES module script, without types
import { buildCli } from '../../scripts/build-cli.mjs';

const scratch = join(
  fileURLToPath(new URL('../../dist/', import.meta.url)),
  `start-test-${process.pid}`,
);
const outDir = join(scratch, 'cli');

/** A module hook that prints, at exit, every file the process loaded. */
const RECORD_LOADS = `data:text/javascript,${encodeURIComponent(
  `import { registerHooks } from 'node:module';
const seen = [];
registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(seen) + '\\n'));`,
)}`;

/** Runs the compiled command in a fresh process; returns its status and the files it loaded. */
function runBuilt(...argv: string[]) {
  const entry = pathToFileURL(join(outDir, 'main.js')).href;
  const script = `const { main } = await import(${JSON.stringify(entry)}); process.exitCode = await main(${JSON.stringify(argv)});`;
  const result = spawnSync(
    process.execPath,
    ['--import', RECORD_LOADS, '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  const line = result.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  const loaded = (JSON.parse(line?.slice('LOADED '.length) ?? '[]') as string[])
    .filter((url) => url.startsWith('file:'))
    .map((url) => fileURLToPath(url));
  return { status: result.status, stdout: result.stdout, loaded };
}

beforeAll(async () => {
  await buildCli(outDir);
}, 60_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the top-level help's table of commands", () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    '%s: the name and summary are its spec’s own',
    async (_, command) => {
      const { spec } = await command.load();
      expect({ name: command.name, summary: command.summary }).toEqual({
        name: spec.name,
        summary: spec.summary,
      });
    },
  );

  it('has each command once', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('what the compiled command loads at start', () => {
  const holdsZod = (file: string) => readFileSync(file, 'utf8').includes('$ZodType');

  it('loads zod when a command needs it (the check can see a zod chunk)', () => {
    const run = runBuilt('status', '--help');
    expect(run.status).toBe(0);
    expect(run.loaded.filter(holdsZod).length).toBeGreaterThan(0);
  });

  it.each([[['--help']], [['exit-code', '--code', '3010']]])(
    '%j loads no chunk holding zod, nor any other command’s module',
    (argv) => {
      const run = runBuilt(...argv);
      expect(run.status).toBe(0);
      expect(run.stdout).not.toBe('');
      expect(run.loaded.filter(holdsZod)).toEqual([]);
      const commandModules = run.loaded
        .map((f) => /([a-z-]+)-[A-Z0-9]{8}\.js$/.exec(f)?.[1])
        .filter((name) => name !== undefined && name !== 'chunk');
      expect(commandModules).toEqual(argv[0] === 'exit-code' ? ['exit-code'] : []);
    },
  );
});
