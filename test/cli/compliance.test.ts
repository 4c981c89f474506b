/**
 * `rollout compliance` (issue 13, item 8) through cli/main.ts: --local runs the scenario's
 * rollout and an assessment in the sandbox, then reads GET /compliance; bad input names the flag
 * or the field.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderCompliance } from '../../cli/commands/compliance.js';
import { main } from '../../cli/main.js';
import type { CompliancePageView } from '../../lambdas/core/compliance-api.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIO = join(REPO, 'examples/scenarios/compliance.json');

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('rollout compliance --local', () => {
  it('assesses the target after the scenario run and prints each node', {
    timeout: 120_000,
  }, async () => {
    const json = await run(
      'compliance',
      '--local',
      '--scenario',
      SCENARIO,
      '--target',
      'web',
      '--json',
    );
    expect(json.stderr).toBe('');
    expect(json.status).toBe(0);
    const page = JSON.parse(json.stdout) as CompliancePageView;
    expect(page.nodes.map((n) => [n.node, n.state])).toEqual([
      ['WEB01', 'NonCompliant'],
      ['WEB02', 'NonCompliant'],
      ['WEB03', 'Compliant'],
    ]);
    expect(page.nodes[0]?.failed.map((f) => f.exitCode)).toEqual([1603]);

    const text = renderCompliance(page);
    expect(text).toMatch(/^Compliance of web: 1 Compliant, 2 NonCompliant, 0 Unknown/);
    expect(text).toMatch(/WEB01\s+NonCompliant\s+1\s+1\s+no\s+-/);
    expect(text).toMatch(/WEB02\s+NonCompliant\s+0\s+0\s+yes/);
    expect(text).toContain(
      '  - failed: CAUHotfix_All/windows10.0-kb5034441-x64.msu (exit 1603, attempt',
    );
  });

  it('names a target the scenario does not roll out', { timeout: 120_000 }, async () => {
    const result = await run('compliance', '--local', '--scenario', SCENARIO, '--target', 'db');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(
      /--target "db": the scenario compliance has no rollout of it; its targets: web/,
    );
  });
});

describe('rollout compliance: bad input', () => {
  it.each([
    [['compliance', '--local'], /--target is required/],
    [
      ['compliance', '--local', '--target', 'web', '--limit', '0'],
      /--limit "0": expected a whole number from 1 to 100/,
    ],
    [['compliance', '--local', '--target', 'web', '--limit', 'x'], /--limit "x"/],
  ])('%j', async (argv, message) => {
    const result = await run(...argv);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });

  it('says when nothing was assessed yet', () => {
    expect(
      renderCompliance({
        target: 'web',
        nodes: [],
        counts: { Compliant: 0, NonCompliant: 0, Unknown: 0 },
        cursor: null,
      }),
    ).toMatch(/No assessment of web is recorded yet/);
  });
});
