/** Issue 12 §6: help that matches what ships, and `demo --json`. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { synth } from '../lib/synth.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function everyHelp(): Promise<string> {
  const top = (await run('--help')).stdout;
  const names = [...top.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1] as string);
  expect(names.length).toBeGreaterThan(10);
  const pages = await Promise.all(names.map(async (name) => (await run(name, '--help')).stdout));
  return [top, ...pages].join('\n');
}

describe('the help text', () => {
  it('says nothing is "not built yet" and shows the stage the API deploys', async () => {
    const help = await everyHelp();
    expect(help).not.toMatch(/not built yet/i);
    const stage = synth().template.findResources('AWS::ApiGateway::Stage');
    const stageNames = Object.values(stage).map(
      (r) => (r as { Properties: { StageName: string } }).Properties.StageName,
    );
    expect(stageNames).toEqual(['v1']);
    const shown = [...help.matchAll(/execute-api\.[a-z0-9-]+\.amazonaws\.com\/(\w+)/g)].map(
      (m) => m[1],
    );
    expect(shown.length).toBeGreaterThan(0);
    expect(new Set(shown)).toEqual(new Set(stageNames));
  });
});

describe('rollout demo --json', () => {
  it('prints one JSON document with each step and its own --json answer', async () => {
    const result = await run('demo', '--json');
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    const { steps } = JSON.parse(result.stdout);
    expect(steps.map((s: { command: string }) => s.command.split(' ')[1])).toEqual([
      'plan',
      'exit-code',
      'exit-code',
      'exit-code',
      'exit-code',
      'exit-code',
      'hotpatch',
      'hotpatch',
    ]);
    expect(steps[2].result).toMatchObject({ code: 3010, outcome: 'Success_RebootRequired' });
  });
});
