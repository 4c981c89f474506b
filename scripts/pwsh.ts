/**
 * The PowerShell side of the test run.
 *
 *   tsx scripts/pwsh.ts restore [--optional]   restore pwsh (.config/dotnet-tools.json) and Pester
 *                                               (tools/pester.csproj) from NuGet
 *   tsx scripts/pwsh.ts test                   render the documents and run the Pester suite
 *   tsx scripts/pwsh.ts fixtures               the same, writing test/fixtures/ssm-output/
 *
 * `restore --optional` (npm's prepare step) is quiet without dotnet. `test` without pwsh prints
 * one loud line and succeeds, unless REQUIRE_PWSH=1 (CI), when a skip fails. PESTER_JSON_REPORT
 * names a file for the counts (.ci/run adds them to vitest's).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCUMENTS, type DocumentKey, NODE_CONTRACT } from '../lambdas/core/contracts.js';
import { renderDocumentScript } from '../lib/windows-documents.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Pinned in tools/pester.csproj. */
const PESTER_VERSION = '5.9.1';
const TOOLS = join(ROOT, '.tools');
const PESTER_MODULE = join(TOOLS, 'nuget', 'pester', PESTER_VERSION, 'tools', 'Pester.psd1');
const RENDERED = join(TOOLS, 'rendered');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'ssm-output');
const HOW = 'install the .NET SDK, then run: npm run pwsh:restore';
/** Pinned in .config/dotnet-tools.json. */
const PWSH_VERSION = (
  JSON.parse(readFileSync(join(ROOT, '.config', 'dotnet-tools.json'), 'utf8')) as {
    tools: { powershell: { version: string } };
  }
).tools.powershell.version;

function run(command: string, args: string[], quiet = false) {
  return spawnSync(command, args, {
    cwd: ROOT,
    stdio: quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
}

function hasDotnet(): boolean {
  return run('dotnet', ['--version'], true).status === 0;
}

function restore(optional: boolean): number {
  if (!hasDotnet()) {
    const message = `pwsh:restore: dotnet was not found, so PowerShell ${PWSH_VERSION} and Pester ${PESTER_VERSION} were not restored; ${HOW}`;
    console.error(message);
    return optional ? 0 : 1;
  }
  const steps: [string, string[]][] = [
    ['dotnet', ['tool', 'restore']],
    [
      'dotnet',
      ['restore', join('tools', 'pester.csproj'), '--packages', join('.tools', 'nuget'), '-v', 'q'],
    ],
  ];
  for (const [command, args] of steps) {
    const result = run(command, args);
    if (result.status !== 0) {
      console.error(`pwsh:restore: ${command} ${args.join(' ')} failed`);
      return optional ? 0 : 1;
    }
  }
  return 0;
}

/** Writes each document's script exactly as the synthesized document carries it. */
function renderScripts(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  for (const key of Object.keys(DOCUMENTS) as DocumentKey[]) {
    writeFileSync(join(directory, `${key}.ps1`), `${renderDocumentScript(key).join('\n')}\n`);
  }
  writeFileSync(join(directory, 'node-contract.json'), JSON.stringify(NODE_CONTRACT, null, 2));
}

function pwshAvailable(): boolean {
  return (
    hasDotnet() &&
    existsSync(PESTER_MODULE) &&
    run('dotnet', ['pwsh', '-NoProfile', '-Command', 'exit 0'], true).status === 0
  );
}

function test(fixtures: boolean): number {
  if (!pwshAvailable()) {
    const line = `!!! PowerShell suite SKIPPED: pwsh or Pester ${PESTER_VERSION} is not available; ${HOW} !!!`;
    if (process.env.REQUIRE_PWSH === '1') {
      console.error(`${line} (REQUIRE_PWSH=1: a skip fails)`);
      return 1;
    }
    console.error(line);
    return 0;
  }
  renderScripts(RENDERED);
  const args = [
    'pwsh',
    '-NoProfile',
    '-NonInteractive',
    '-File',
    join('test', 'pwsh', 'run.ps1'),
    '-PesterModule',
    PESTER_MODULE,
    '-Rendered',
    RENDERED,
  ];
  if (process.env.PESTER_JSON_REPORT) args.push('-Summary', process.env.PESTER_JSON_REPORT);
  if (fixtures) {
    mkdirSync(FIXTURES, { recursive: true });
    args.push('-Fixtures', FIXTURES);
  }
  return run('dotnet', args).status ?? 1;
}

const [command, ...rest] = process.argv.slice(2);
let status: number;
switch (command) {
  case 'restore':
    status = restore(rest.includes('--optional'));
    break;
  case 'test':
    status = test(false);
    break;
  case 'fixtures':
    status = test(true);
    break;
  default:
    console.error(
      `scripts/pwsh.ts: unknown command ${JSON.stringify(command)}; expected restore, test or fixtures`,
    );
    status = 2;
}
process.exit(status);
