/**
 * The random fault campaign (sandbox/chaos.ts, `rollout chaos`): the same seed gives the same
 * runs; a small fixed-seed campaign through the synthesized workflows breaks no invariant; the
 * shrinker keeps what the failure needs and nothing else; the command's contract.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import {
  buildScenario,
  type ChaosRunResult,
  type ChaosSpec,
  FAULT_KINDS,
  generateSpec,
  runCampaign,
  selectFaultKinds,
  shrink,
} from '../../sandbox/chaos.js';
import { parseScenario } from '../../sandbox/scenario.js';

/**
 * Fault kinds this branch leaves out of the fixed-seed campaign, each a violation that another
 * change of issue 8 fixes (see the README's chaos section): restore them once it is merged.
 */
const FIXED_ELSEWHERE = [
  'pending-reboot', // point 7: a node with a restart pending before the run is reported Succeeded
  'long-gate', // point 4: the lease lapses while the run waits at the gate
  'resume-fails', // point 8: another node of the cluster is drained while one stays paused
  'hotpatch-month', // point 1: a 3010 after a no-restart prediction restarts an undrained node
];

describe('the chaos campaign', () => {
  it('the same seed draws the same runs; another seed draws others; every draw is a valid scenario', () => {
    const kinds = selectFaultKinds(undefined);
    const a = Array.from({ length: 50 }, (_, i) => generateSpec(7, i, kinds));
    const b = Array.from({ length: 50 }, (_, i) => generateSpec(7, i, kinds));
    const c = Array.from({ length: 50 }, (_, i) => generateSpec(8, i, kinds));
    expect(b).toEqual(a);
    expect(c.map((s) => s.faults)).not.toEqual(a.map((s) => s.faults));
    for (const spec of a) {
      const draft = buildScenario(spec);
      expect(() => parseScenario(draft, draft.name)).not.toThrow();
    }
    // Fifty draws use many kinds, clusters and groups.
    expect(new Set(a.flatMap((s) => s.faults.map((f) => f.kind))).size).toBeGreaterThan(10);
    expect(new Set(a.map((s) => s.target))).toEqual(new Set(['cluster', 'group']));
  });

  it('--faults includes or excludes kinds by name, and names an unknown one', () => {
    expect(selectFaultKinds('exit-3010,cancel').map((k) => k.name)).toEqual([
      'exit-3010',
      'cancel',
    ]);
    expect(selectFaultKinds('-exit-3010').map((k) => k.name)).toEqual(
      FAULT_KINDS.filter((k) => k.name !== 'exit-3010').map((k) => k.name),
    );
    expect(() => selectFaultKinds('exit-3010,nope')).toThrow(/unknown fault kind\(s\) nope/);
    expect(() => selectFaultKinds('exit-3010,-cancel')).toThrow(/not both/);
  });

  it('a fixed-seed campaign through the synthesized workflows breaks no invariant', async () => {
    const kinds = selectFaultKinds(FIXED_ELSEWHERE.map((k) => `-${k}`).join(','));
    const result = await runCampaign({
      runs: 4,
      seed: 20261213,
      kinds,
      shrink: false,
      parallel: 4,
    });
    const problems = result.failures.map(
      (f) =>
        `${buildScenario(f.run.spec).description}: ${[...f.run.violations.map((v) => `${v.name}: ${v.detail}`), ...f.run.expectationFailures].join('; ')}`,
    );
    expect(problems).toEqual([]);
    expect(result.invariantViolations).toBe(0);
    expect(result.runs).toBe(4);
  });

  it('runs with no faults must succeed, and do', async () => {
    const result = await runCampaign({ runs: 1, seed: 5, kinds: [] });
    expect(result.failures).toEqual([]);
  });
});

describe('examples/scenarios/chaos', () => {
  const dir = fileURLToPath(new URL('../../examples/scenarios/chaos/', import.meta.url));
  it.each(readdirSync(dir).filter((f) => f.endsWith('.json')))(
    '%s is a valid scenario that names the invariant it breaks',
    (file) => {
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      const scenario = parseScenario(json, file);
      expect(scenario.description).toMatch(/Shrunk reproduction: invariant \w+ violated: /);
    },
  );
});

describe('shrinking', () => {
  const base: ChaosSpec = {
    seed: 1,
    index: 3,
    target: 'cluster',
    nodes: 4,
    updates: 3,
    maxFailedNodes: 1,
    maxRetriesPerNode: 3,
    maxConcurrency: 1,
    gateAfterNodes: 1,
    faults: [
      { kind: 'exit-benign', node: 0, update: 2, value: 1 },
      { kind: 'drain-fails', node: 2, update: 0, value: 7 },
      { kind: 'throttle', node: 1, update: 1, value: 3 },
    ],
  };
  /** A stand-in runner: the run fails while a drain-fails fault sits on a cluster of 2+ nodes. */
  const fake = async (spec: ChaosSpec): Promise<ChaosRunResult> => ({
    spec,
    runStatus: 'Failed',
    violations:
      spec.nodes >= 2 && spec.faults.some((f) => f.kind === 'drain-fails')
        ? [{ name: 'nodesLeftClean', detail: 'NODE1 ends the run Paused' }]
        : [],
    expectationFailures: [],
    wallMs: 0,
  });

  it('keeps only what the failure needs: one fault, two nodes, one update, one try', async () => {
    const failing = await fake(base);
    const { result, tries } = await shrink(failing, { run: fake });
    expect(result.spec).toMatchObject({
      nodes: 2,
      updates: 1,
      maxRetriesPerNode: 1,
      gateAfterNodes: null,
      faults: [{ kind: 'drain-fails' }],
    });
    expect(result.violations.map((v) => v.name)).toEqual(['nodesLeftClean']);
    expect(tries).toBeLessThanOrEqual(40);
  });

  it('stops at its budget', async () => {
    const { tries } = await shrink(await fake(base), { run: fake, budget: 2 });
    expect(tries).toBe(2);
  });
});

describe('rollout chaos', () => {
  async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const status = await main(argv, {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      cwd: mkdtempSync(join(tmpdir(), 'rollout-chaos-')),
    });
    return { status, out, err };
  }

  it('ends with the summary line and exits 0 when nothing is violated', async () => {
    const { status, out } = await run(
      'chaos',
      '--runs',
      '2',
      '--seed',
      '11',
      '--faults',
      'exit-benign,throttle',
    );
    expect(out.at(-1)).toBe('chaos: 2 runs, 0 invariant violations');
    expect(status).toBe(0);
  });

  it('--json prints the campaign; the summary goes to stderr', async () => {
    const { status, out, err } = await run(
      'chaos',
      '--runs',
      '1',
      '--seed',
      '3',
      '--faults',
      'exit-3010',
      '--json',
    );
    const json = JSON.parse(out.join('\n')) as {
      runs: number;
      seed: number;
      invariantViolations: number;
    };
    expect(json).toMatchObject({ runs: 1, seed: 3, invariantViolations: 0 });
    expect(err).toEqual(['chaos: 1 runs, 0 invariant violations']);
    expect(status).toBe(0);
  });

  it('rejects bad options, naming the flag and the value', async () => {
    await expect(run('chaos', '--runs', 'many')).resolves.toMatchObject({ status: 2 });
    const bad = await run('chaos', '--runs', 'many');
    expect(bad.err.join('\n')).toMatch(/--runs "many": expected a whole number from 1 to 1000000/);
    const kinds = await run('chaos', '--faults', 'bogus');
    expect(kinds.err.join('\n')).toMatch(/unknown fault kind\(s\) bogus/);
  });

  it('writes a failing run as a scenario file that names the violation', async () => {
    // A reproduction file is what the shrinker returns, with the run's status as its expectation.
    const { reproduction } = await import('../../sandbox/chaos.js');
    const draft = reproduction({
      spec: {
        ...generateSpec(1, 0, []),
        faults: [{ kind: 'drain-fails', node: 0, update: 0, value: 0 }],
      },
      runStatus: 'Failed',
      violations: [{ name: 'nodesLeftClean', detail: 'NODE1 ends the run Paused' }],
      expectationFailures: [],
      wallMs: 0,
    });
    expect(draft.description).toMatch(
      /invariant nodesLeftClean violated: NODE1 ends the run Paused/,
    );
    expect(draft.expect).toEqual({ runStatus: 'Failed' });
    expect(() => parseScenario(JSON.parse(JSON.stringify(draft)), draft.name)).not.toThrow();
  });
});
