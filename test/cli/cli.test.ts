import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the CLI in-process and captures what it prints. */
async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function runJson(...argv: string[]) {
  const result = await run(...argv, '--json');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout);
}

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-cli-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('rollout exit-code (CLI contract, issue 2 §3)', () => {
  it.each([
    { code: '3010', outcome: 'Success_RebootRequired', rebootRequired: true, normalised: 3010 },
    { code: '0xBC2', outcome: 'Success_RebootRequired', rebootRequired: true, normalised: 3010 },
    {
      code: '2149842967',
      outcome: 'NotApplicable',
      rebootRequired: false,
      normalised: -2145124329,
    },
    {
      code: '-2145124329',
      outcome: 'NotApplicable',
      rebootRequired: false,
      normalised: -2145124329,
    },
    {
      code: '0x80240017',
      outcome: 'NotApplicable',
      rebootRequired: false,
      normalised: -2145124329,
    },
    { code: '1603', outcome: 'Failed', rebootRequired: false, normalised: 1603 },
  ])(
    '--code $code prints code, outcome and rebootRequired',
    async ({ code, outcome, rebootRequired, normalised }) => {
      const json = await runJson('exit-code', '--code', code);
      expect(json).toMatchObject({ code: normalised, outcome, rebootRequired });
    },
  );

  it('--extension picks the rule', async () => {
    expect(await runJson('exit-code', '--code', '1642', '--extension', 'msp')).toMatchObject({
      outcome: 'NotApplicable',
      rule: { kind: 'extension', name: 'MSP' },
    });
    expect((await runJson('exit-code', '--code', '1642', '--extension', 'msi')).outcome).toBe(
      'Failed',
    );
  });

  it('--folder with --config applies the folder rule and alwaysReboot', async () => {
    const config = tempFile(
      'cfg.xml',
      '<C><FolderRules><Folder name="Tools" alwaysReboot="true"><Template path="$update$"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder></FolderRules></C>',
    );
    expect(
      await runJson('exit-code', '--code', '0', '--folder', 'tools', '--config', config),
    ).toMatchObject({
      outcome: 'Success_RebootRequired',
      rebootRequired: true,
      rule: { kind: 'folder', name: 'Tools' },
    });
  });

  it('prints a readable summary without --json', async () => {
    const result = await run('exit-code', '--code', '0x652', '--extension', 'msi');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Exit code 1618 (0x652) ERROR_INSTALL_ALREADY_RUNNING');
    expect(result.stdout).toContain('Outcome:   Failed (the rule does not list this code)');
    expect(result.stdout).toContain('Transient: yes');
  });
});

describe('rollout plan (CLI contract, issue 2 §3)', () => {
  it('prints nodes with file, rule, path, parameters, and ignored files with reasons', async () => {
    const json = await runJson('plan', '--root', 'examples/hotfix-root', '--nodes', 'NODE1,NODE2');
    expect(json.config.source).toBe('examples/hotfix-root/DefaultHotfixConfig.xml');
    expect(Object.keys(json.nodes)).toEqual(['NODE1', 'NODE2']);
    expect(json.nodes.NODE1.map((u: { file: string }) => u.file)).toEqual([
      'CAUHotfix_All/windows10.0-kb5034439-x64.msu',
      'CAUHotfix_All/Windows10.0-KB5035857-x64.msu',
      'CAUHotfix_All/HotpatchExe/WindowsServer2003-KB914388-x86-ENU.exe',
      'NODE1/contoso-backup-agent-2.4.1.msi',
    ]);
    expect(json.nodes.NODE1[3]).toMatchObject({
      rule: { kind: 'extension', name: 'MSI' },
      path: '%systemroot%\\System32\\msiexec.exe',
      parameters:
        '/i "%ProgramData%\\WindowsRollout\\Hotfixes\\NODE1\\contoso-backup-agent-2.4.1.msi" /qn /norestart',
    });
    expect(json.ignored).toContainEqual({
      file: 'OLDNODE/KB5001234.msu',
      reason: 'folder "OLDNODE" is neither CAUHotfix_All nor a node of this run',
    });
    expect(json.ignored).toHaveLength(5); // NODE3 is not in this run, so its folder is ignored too
  });

  it('uses the built-in configuration when the root has none and --config is not given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollout-root-'));
    const json = await runJson('plan', '--root', dir, '--nodes', 'A');
    expect(json.config.source).toBe('built-in default-hotfix-config.xml');
  });
});

describe('rollout hotpatch (CLI contract, issue 2 §3)', () => {
  it.each(['examples/hotpatch-facts.json', 'examples/hotpatch-modern.json'])(
    'prints eligible and reasons for %s',
    async (input) => {
      const json = await runJson('hotpatch', '--input', input);
      expect(typeof json.eligible).toBe('boolean');
      expect(Array.isArray(json.reasons)).toBe(true);
      expect(json.reasons.length).toBeGreaterThan(0);
    },
  );

  it('the shipped KB897341 example is eligible', async () => {
    expect((await runJson('hotpatch', '--input', 'examples/hotpatch-facts.json')).eligible).toBe(
      true,
    );
  });
});

describe('bad input: non-zero exit, one clear line on stderr, no stack trace', () => {
  const badXml = tempFile('bad.xml', '<C>\n<DefaultRules>\n</C>');
  const badJson = tempFile('bad.json', '{ "policy": ');
  it.each([
    {
      argv: ['plan', '--bogus'],
      message: "rollout plan: Unknown option '--bogus' (see rollout plan --help)",
    },
    {
      argv: ['exit-code'],
      message: 'rollout exit-code: --code is required (see rollout exit-code --help)',
    },
    { argv: ['exit-code', '--code', 'x1'], message: 'exit code "x1": expected a 32-bit integer' },
    {
      argv: ['exit-code', '--code', '0', '--extension', 'cab'],
      message:
        '--extension "cab": built-in default-hotfix-config.xml has no extension rule for it (extension rules: msu, msi, msp)',
    },
    {
      argv: ['exit-code', '--code', '0', '--folder', 'X'],
      message:
        '--folder "X": built-in default-hotfix-config.xml has no <Folder> rule of that name (folder rules: none)',
    },
    {
      argv: ['exit-code', '--code', '0', '--config', 'missing.xml'],
      message: '--config "missing.xml": cannot read the file (no such file)',
    },
    { argv: ['exit-code', '--code', '0', '--config', badXml], message: 'malformed XML at line 3' },
    { argv: ['hotpatch', '--input', badJson], message: 'not valid JSON' },
    {
      argv: ['hotpatch', '--input', 'nope.json'],
      message: '--input "nope.json": cannot read the file (no such file)',
    },
    {
      argv: ['plan', '--root', 'examples/hotfix-root', '--nodes', 'A,a'],
      message: 'nodes[1] ("a"): is the same node as nodes[0]',
    },
    {
      argv: ['plan', '--root', 'package.json', '--nodes', 'A'],
      message: '--root "package.json": not a folder',
    },
    { argv: ['frobnicate'], message: 'rollout: unknown command "frobnicate"' },
  ])('$argv', async ({ argv, message }) => {
    const result = await run(...argv);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('a hotpatch facts file with a bad field names it', async () => {
    const input = tempFile(
      'facts.json',
      JSON.stringify({ policy: 'kb897341', os: { servicePack: 'one' } }),
    );
    const result = await run('hotpatch', '--input', input);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('os.servicePack');
  });
});

describe('--help', () => {
  it.each(['exit-code', 'plan', 'hotpatch', 'demo'])(
    '%s --help prints usage and exits 0',
    async (name) => {
      const result = await run(name, '--help');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`Usage: rollout ${name}`);
    },
  );

  it('lists the commands', async () => {
    const result = await run('--help');
    expect(result.stdout).toMatch(/exit-code[\s\S]*hotpatch[\s\S]*plan/);
  });
});

describe('the installed command (bin/rollout.mjs through npx, no build step)', () => {
  it('runs from the repository root', () => {
    const stdout = execFileSync(
      'npx',
      ['--no-install', 'rollout', 'exit-code', '--code', '0xBC2', '--json'],
      {
        cwd: REPO,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      code: 3010,
      outcome: 'Success_RebootRequired',
      rebootRequired: true,
    });
  });

  it('exits non-zero with one line on stderr for bad input', () => {
    const result = spawnSync('node', ['bin/rollout.mjs', 'plan', '--root'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
