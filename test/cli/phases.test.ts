/**
 * Phases (issue 13, item 4) through the CLI: `rollout start --local --input <phased rollout>`
 * with --approve decides every phase approval, and the report shows each phase's verdict; a bad
 * phase is refused naming the field and the value.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIO = join(REPO, 'examples/scenarios/change-management.json');

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** The scenario's 3-node cluster rollout with the given phases. */
function phasedInput(phases: unknown[]): string {
  const rollout = JSON.parse(readFileSync(SCENARIO, 'utf8')).rollout;
  const path = join(mkdtempSync(join(tmpdir(), 'rollout-cli-')), 'phased.json');
  writeFileSync(path, JSON.stringify({ ...rollout, phases }));
  return path;
}

describe('rollout start --local with phases', () => {
  it('--approve approves each phase approval; the report lists every phase', async () => {
    const input = phasedInput([
      { name: 'pilot', nodeCount: 1, approval: { timeoutMinutes: 600 } },
      { name: 'second', nodeCount: 1, approval: { timeoutMinutes: 600 } },
    ]);
    const result = await run('start', '--local', '--input', input, '--approve', '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.status.status).toBe('Succeeded');
    expect(
      json.report.phases.map((p: { name: string; passed: boolean; advance: string }) => [
        p.name,
        p.passed,
        p.advance,
      ]),
    ).toEqual([
      ['pilot', true, 'approval'],
      ['second', true, 'approval'],
      ['the rest', true, 'none'],
    ]);
  });

  it('the text report has a PHASES block', async () => {
    const input = phasedInput([{ name: 'canary', nodeCount: 1, bakeMinutes: 30 }]);
    const result = await run('start', '--local', '--input', input);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/PHASES \(2\):/);
    expect(result.stdout).toMatch(
      /1\. canary: NODE1; 0 failed of 0 allowed; passed \(baked, then advanced by itself\)/,
    );
  });

  it('a phase bigger than the target is refused naming the field and the value', async () => {
    const input = phasedInput([{ nodeCount: 4, bakeMinutes: 30 }]);
    const result = await run('start', '--local', '--input', input);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('phases[0].nodeCount');
    expect(result.stderr).toContain('4');
    expect(result.stderr).toContain('bigger than the target: it has 3 nodes');
  });
});
