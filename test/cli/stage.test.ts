/**
 * `rollout stage --local` (issue 13 item 5): stages the scenario's rollouts through the
 * synthesized staging workflow and prints the per-node table; refuses what it cannot do.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('rollout stage', () => {
  it('--local stages each node and prints files, bytes, digests verified and cache hits', async () => {
    // Act
    const { status, stdout } = await run('stage', '--local', '--fleet', 'model');
    // Assert
    expect(status).toBe(0);
    expect(stdout).toContain('Staging staging-staging-1: SUCCEEDED');
    expect(stdout).toMatch(/node\s+status\s+files\s+bytes\s+digests verified\s+cache hits/);
    expect(stdout).toMatch(/NODE1\s+Staged\s+1\s+\d+\s+1\s+0/);
    expect(stdout).toMatch(/NODE2\s+Staged\s+2\s+\d+\s+2\s+0/);
  });

  it('--json prints the staging records', async () => {
    const { status, stdout } = await run('stage', '--local', '--fleet', 'model', '--json');
    expect(status).toBe(0);
    const json = JSON.parse(stdout) as {
      staging: { status: string; records: { node: string }[] }[];
    };
    expect(json.staging[0]?.status).toBe('SUCCEEDED');
    expect(json.staging[0]?.records.map((r) => r.node)).toEqual(['NODE1', 'NODE2']);
  });

  it('without --local is refused, saying why', async () => {
    const { status, stderr } = await run('stage');
    expect(status).not.toBe(0);
    expect(stderr).toContain(
      '--local: required; the change-management API has no staging route yet',
    );
  });

  it('refuses a bad staging block in the scenario, naming the field and the value', async () => {
    const { status, stderr } = await run(
      'stage',
      '--local',
      '--fleet',
      'model',
      '--scenario',
      'examples/scenarios/invalid/staging-hours-too-many.json',
    );
    expect(status).not.toBe(0);
    expect(stderr).toContain('staging.hoursBeforeWindow (200)');
  });
});
