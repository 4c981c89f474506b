/**
 * The scenario format's operator actions and throttling (issue 8): approve, reject and cancel at
 * a simulated time or on entering a state, made through the change-management API against the
 * synthesized workflows; Lambda throttling the workflows retry through; clear errors for bad
 * actions. Every run here is also checked against the safety invariants.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { INVARIANTS } from '../../sandbox/invariants.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { parseScenario, ScenarioError } from '../../sandbox/scenario.js';

const FILE = 'CAUHotfix_All/windows10.0-kb5034439-x64.msu';

/** Three servers updated one at a time, with an approval gate after the first. */
function scenario(extra: Record<string, unknown>) {
  return {
    name: 'operator-actions',
    hotfixRoot: { files: [{ path: FILE }] },
    nodes: [{ name: 'SRV1' }, { name: 'SRV2' }, { name: 'SRV3' }],
    rollout: {
      target: { kind: 'group', name: 'GROUP1' },
      plugins: [
        {
          name: 'Microsoft.HotfixPlugin',
          arguments: 'HotfixRootFolderPath="s3://rollout-sandbox-hotfixes/operator-actions"',
        },
      ],
      policy: { maxConcurrency: 1 },
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    },
    ...extra,
  };
}

async function run(extra: Record<string, unknown>) {
  const result = await runScenario(parseScenario(scenario(extra), 'test'));
  const only = result.runs[0];
  if (!only) throw new Error('no run');
  return { ...only, result };
}

describe('operator actions in a scenario', () => {
  it('approve on reaching the gate: the rest of the group is updated', async () => {
    const r = await run({
      actions: [{ action: 'approve', onState: 'AwaitFleetApproval', delayMinutes: 5 }],
      expect: { runStatus: 'Succeeded' },
    });
    expect(r.actions.map((a) => [a.action, a.statusCode])).toEqual([['approve', 202]]);
    expect(r.report?.nodes.map((n) => n.status)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(r.mismatches).toEqual([]);
  });

  it('reject at the gate: the run ends Cancelled and the rest is not started', async () => {
    const r = await run({
      actions: [{ action: 'reject', onState: 'AwaitFleetApproval', reason: 'not tonight' }],
      expect: { runStatus: 'Cancelled', nodes: { SRV2: 'NotStarted', SRV3: 'NotStarted' } },
    });
    expect(r.actions.map((a) => [a.action, a.statusCode])).toEqual([['reject', 202]]);
    expect(r.mismatches).toEqual([]);
  });

  it('cancel two simulated minutes in: the run ends Cancelled', async () => {
    const r = await run({
      actions: [{ action: 'cancel', atMinutes: 2, reason: 'change window closed' }],
      expect: { runStatus: 'Cancelled' },
    });
    expect(r.actions).toEqual([
      expect.objectContaining({
        action: 'cancel',
        at: '2026-01-13T22:02:00.000Z',
        statusCode: 202,
      }),
    ]);
    expect(r.mismatches).toEqual([]);
  });

  it('an approval before the gate is reached is refused (409), recorded, and the gate then waits', async () => {
    const r = await run({
      actions: [
        { action: 'approve', atMinutes: 0 },
        { action: 'approve', onState: 'AwaitFleetApproval', delayMinutes: 1 },
      ],
      expect: { runStatus: 'Succeeded' },
    });
    expect(r.actions.map((a) => [a.action, a.statusCode])).toEqual([
      ['approve', 409],
      ['approve', 202],
    ]);
  });

  it('throttled Lambdas are retried by the workflows: the run still succeeds', async () => {
    const r = await run({
      throttle: { sendCommand: 3, runHistory: 2 },
      actions: [{ action: 'approve', onState: 'AwaitFleetApproval' }],
      expect: { runStatus: 'Succeeded' },
    });
    expect(r.mismatches).toEqual([]);
    // Three refused sends and two refused history writes more than the unthrottled run needs.
    const plain = await run({
      actions: [{ action: 'approve', onState: 'AwaitFleetApproval' }],
    });
    expect(r.result.sandbox.invocations.get('sendCommand')).toBe(
      (plain.result.sandbox.invocations.get('sendCommand') ?? 0) + 3,
    );
    expect(r.result.sandbox.invocations.get('runHistory')).toBe(
      (plain.result.sandbox.invocations.get('runHistory') ?? 0) + 2,
    );
  });

  it.each([
    [
      { actions: [{ action: 'approve', atMinutes: 1, onState: 'AwaitFleetApproval' }] },
      /actions\[0\].*expected exactly one of atMinutes .* and onState/,
    ],
    [{ actions: [{ action: 'approve' }] }, /actions\[0\].*expected exactly one of atMinutes/],
    [
      { actions: [{ action: 'cancel', atMinutes: 1, rollout: 2 }] },
      /actions\[0\]\.rollout \(2\): no such rollout; the scenario has 1/,
    ],
    [
      { actions: [{ action: 'pause', atMinutes: 1 }] },
      /actions\[0\]\.action.*expected one of cancel, approve, reject, forceRecovery/,
    ],
    [{ throttle: { sendCmd: 2 } }, /throttle.*sendCmd|expected a function: validateInput/],
    [
      { throttle: { sendCommand: -1 } },
      /throttle\.sendCommand.*expected a whole number of invocations from 0 to 1000/,
    ],
  ])('a bad action or throttle is refused, naming the field: %j', (extra, message) => {
    let error: unknown;
    try {
      parseScenario(scenario(extra), 'test');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('rollout sandbox --json', () => {
  it('gives each run its invariants as { name, ok, detail }', async () => {
    const out: string[] = [];
    const status = await main(
      ['sandbox', '--scenario', 'examples/scenarios/drain-fails.json', '--json'],
      { out: (t) => out.push(t), err: () => undefined, cwd: process.cwd() },
    );
    const json = JSON.parse(out.join('\n')) as {
      runs: { invariants: { name: string; ok: boolean; detail: string }[] }[];
    };
    expect(status).toBe(0);
    expect(json.runs[0]?.invariants).toHaveLength(INVARIANTS.length);
    expect(json.runs[0]?.invariants.every((i) => i.ok && i.detail.length > 0)).toBe(true);
  });
});
