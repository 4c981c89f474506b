/** Issue 12 §5: errors that tell everything, one exit-status table, no stack a user can reach. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/args.js';
import { BackendError } from '../../cli/backend.js';
import { EXIT, EXIT_TABLE, errorObject, exitStatusFor } from '../../cli/exit-status.js';
import { main } from '../../cli/main.js';
import { RolloutRuleError } from '../../lambdas/core/errors.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

function tempFile(name: string, content: string | Buffer): string {
  const path = join(mkdtempSync(join(tmpdir(), 'rollout-errors-')), name);
  writeFileSync(path, content);
  return path;
}

// Seven problems in one input, each in a different field.
const SEVEN = {
  target: { kind: 'cluster', name: '', nodes: [] },
  policy: { maxFailedNodes: -1, maxRetriesPerNode: 'x', rebootTimeoutMinutes: 0 },
  changeTicket: { system: '', id: 'CHG1' },
  requestedBy: 7,
  bogus: 1,
};
const SEVEN_FIELDS = [
  'target.name',
  'policy.maxFailedNodes',
  'policy.maxRetriesPerNode',
  'policy.rebootTimeoutMinutes',
  'changeTicket.system',
  'requestedBy',
  'bogus',
];

describe('a validation error lists every problem (issue 12 §5)', () => {
  const input = tempFile('seven.json', JSON.stringify(SEVEN));

  it('text: every field on its own line, exit 3, no stack', async () => {
    const result = await run('start', '--local', '--input', input);
    expect(result.status).toBe(EXIT.invalid);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n');
    for (const field of SEVEN_FIELDS) {
      expect(lines.filter((line) => line.startsWith(`  - ${field} `))).toHaveLength(1);
    }
    expect(lines[0]).toMatch(/^rollout start: .*HTTP 400 ValidationFailed/);
    expect(result.stderr).not.toMatch(/\n\s+at \S+/);
  });

  it('--json: an error object on stdout with every problem, the same exit status', async () => {
    const result = await run('start', '--local', '--input', input, '--json');
    expect(result.status).toBe(EXIT.invalid);
    const { error } = JSON.parse(result.stdout);
    expect(error).toMatchObject({ code: 'ValidationFailed', status: 400, exitStatus: 3 });
    const fields = error.problems.map((p: { field: string }) => p.field);
    expect(fields).toEqual(expect.arrayContaining(SEVEN_FIELDS));
    expect(error.message).toBe(result.stderr);
  });

  it('--json on a usage error: code UsageError, exit 2', async () => {
    const result = await run('status', '--local', '--json');
    expect(result.status).toBe(EXIT.usage);
    expect(JSON.parse(result.stdout).error).toMatchObject({ code: 'UsageError', exitStatus: 2 });
  });
});

describe('one exit-status table (issue 12 §5)', () => {
  const backend = (status: number) => new BackendError({ status, code: 'X', message: 'm' });
  it.each([
    { name: 'usage', error: new UsageError('u'), status: EXIT.usage },
    { name: 'a rule error', error: new RolloutRuleError('r'), status: EXIT.invalid },
    { name: 'API 400', error: backend(400), status: EXIT.invalid },
    { name: 'API 413', error: backend(413), status: EXIT.invalid },
    { name: 'API 404', error: backend(404), status: EXIT.refused },
    { name: 'API 409', error: backend(409), status: EXIT.refused },
    { name: 'API 422 (idempotency key reused)', error: backend(422), status: EXIT.refused },
    { name: 'no answer', error: backend(0), status: EXIT.unavailable },
    { name: 'API 403', error: backend(403), status: EXIT.unavailable },
    { name: 'API 429', error: backend(429), status: EXIT.unavailable },
    { name: 'API 500', error: backend(500), status: EXIT.unavailable },
    { name: 'a bug', error: new TypeError('x is undefined'), status: EXIT.internal },
  ])('$name exits $status', ({ error, status }) => {
    expect(exitStatusFor(error)).toBe(status);
    expect(errorObject(error, 'm').error.exitStatus).toBe(status);
  });

  it('rollout --help prints the table, and the README documents the same numbers', async () => {
    const help = await run('--help');
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const [code, meaning] of EXIT_TABLE) {
      expect(help.stdout).toContain(`${String(code).padStart(2)}  ${meaning}`);
      const escaped = meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expect(readme).toMatch(new RegExp(`\\|\\s*${code}\\s*\\|\\s*${escaped}\\s*\\|`));
    }
  });
});

describe('hotfix configurations saved by Windows PowerShell 5.1 (issue 12 §5)', () => {
  it('exit-code --config reads a UTF-16 LE file with a BOM', async () => {
    const xml = readFileSync(join(REPO, 'examples/hotfix-root/DefaultHotfixConfig.xml'), 'utf8');
    const utf16 = tempFile(
      'DefaultHotfixConfig.xml',
      Buffer.concat([
        Buffer.from([0xff, 0xfe]),
        Buffer.from(xml.replace(/^\uFEFF/, ''), 'utf16le'),
      ]),
    );
    const fromUtf16 = await run('exit-code', '--code', '3010', '--config', utf16, '--json');
    expect(fromUtf16.stderr).toBe('');
    const fromUtf8 = await run(
      'exit-code',
      '--code',
      '3010',
      '--config',
      'examples/hotfix-root/DefaultHotfixConfig.xml',
      '--json',
    );
    expect(JSON.parse(fromUtf16.stdout).outcome).toBe(JSON.parse(fromUtf8.stdout).outcome);
  });
});

describe('a reader that leaves early (issue 12 §5)', () => {
  it('rollout --help | head -0: exits 0 without an EPIPE stack trace', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin/rollout.mjs'), '--help'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  }, 30_000);
});
