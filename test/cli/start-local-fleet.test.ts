/**
 * `rollout start --local --fleet pwsh|model` (issue 10): the fleet of the one-process sandbox,
 * checked as `rollout sandbox` checks it.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { pwshAvailable } from '../../sandbox/pwsh-fleet.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('rollout start --local --fleet', () => {
  it('refuses --fleet without --local, naming it', async () => {
    const result = await run('start', '--input', 'x.json', '--fleet', 'pwsh');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--fleet applies to start --local');
  });

  it('refuses a fleet it does not know, naming the flag and the value', async () => {
    const result = await run('start', '--local', '--fleet', 'powershell');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--fleet ("powershell"): expected pwsh or model');
  });

  it.skipIf(!pwshAvailable())(
    'runs the rollout on the pwsh fleet to the same end as on the model',
    async () => {
      const pwsh = await run('start', '--local', '--fleet', 'pwsh');
      const model = await run('start', '--local', '--fleet', 'model');
      expect(pwsh.status).toBe(0);
      expect(pwsh.stdout).toMatch(/Started rollout \S+ in the local sandbox \(.*, pwsh fleet\)/);
      expect(model.stdout).not.toContain('pwsh fleet');
      const statuses = (text: string) =>
        text.split('\n').filter((line) => /^\s*(NODE|WEB|SQL)\S* .*(Succeeded|Failed)/.test(line));
      expect(statuses(pwsh.stdout)).toHaveLength(3);
      expect(statuses(pwsh.stdout)).toEqual(statuses(model.stdout));
    },
    600_000,
  );
});
