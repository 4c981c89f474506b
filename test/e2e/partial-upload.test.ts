/**
 * SSM Agent uploads a command's output to CloudWatch Logs asynchronously (issue 9): a stream
 * read right after the command ends may hold the inline output and only part of the rest. The
 * sandbox's CloudWatch Logs fake withholds the last lines of the stream (sandbox/command-logs.ts,
 * `partialUpload`); complete-command sees no end marker (`ROLLOUT-END {"results":N}`), backs
 * off and reads again. A stream that stays partial fails the node closed, naming why, instead of
 * counting updates the node installed as failed and leaving them out of the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INLINE_OUTPUT_LIMIT } from '../../lambdas/handlers/full-output.js';
import type { PartialUpload } from '../../sandbox/command-logs.js';
import { PwshWorkerPool, pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { parseScenario, type ScenarioInput } from '../../sandbox/scenario.js';

const UPDATES = 105;
const kb = (i: number) => `KB${5040000 + i}`;

const scenario = parseScenario(
  {
    name: 'partial-upload',
    hotfixRoot: {
      files: Array.from({ length: UPDATES }, (_, i) => ({
        path: `CAUHotfix_All/windows10.0-${kb(i).toLowerCase()}-x64.msu`,
      })),
    },
    nodes: [{ name: 'WEB01' }],
    rollout: {
      target: { kind: 'group', name: 'web' },
      plugins: [
        {
          name: 'Microsoft.HotfixPlugin',
          arguments: 'HotfixRootFolderPath=s3://hotfixes/root;HotfixInstallerTimeoutMinutes=10',
        },
      ],
    },
  } as ScenarioInput,
  'partial-upload',
);

/** The last two result lines and the end marker are not uploaded yet: still past the cut. */
const WITHHELD = 3;

function run(partialUpload: PartialUpload, extra: Parameters<typeof runScenario>[1] = {}) {
  return runScenario(scenario, {
    ...extra,
    beforeRuns: async (sandbox) => {
      if (!sandbox.commandLogs) throw new Error('the fleet keeps no command output to read back');
      sandbox.commandLogs.partialUpload = partialUpload;
    },
  });
}

/** The install's stream: over the inline limit even without its withheld lines. */
function installStream(result: ScenarioResult): string[] {
  const logs = result.sandbox.commandLogs;
  const streams = [...(logs?.streamsRead ?? [])];
  expect(streams).toHaveLength(1);
  const lines =
    result.fleet.commandLogLines('/sandbox/rollout/command-output', streams[0] ?? '') ?? [];
  expect(lines.slice(0, -WITHHELD).join('\r\n').length).toBeGreaterThan(INLINE_OUTPUT_LIMIT);
  return [...lines];
}

function expectEveryUpdate(result: ScenarioResult) {
  const report = result.runs[0]?.report;
  expect(report?.status).toBe('Succeeded');
  const node = report?.nodes[0];
  expect(node?.status).toBe('Succeeded');
  const hotfixes = node?.updates.filter((u) => u.plugin === 'Microsoft.HotfixPlugin') ?? [];
  expect(hotfixes).toHaveLength(UPDATES);
  expect(hotfixes.every((u) => u.outcome === 'Success')).toBe(true);
  expect(node?.ledger).toHaveLength(UPDATES);
  expect(result.runs[0]?.invariants.filter((i) => !i.ok)).toEqual([]);
  // Not vacuous: the first read found the stream partial, and it was read again.
  expect(result.sandbox.commandLogs?.partialReads).toBe(1);
  expect(installStream(result).at(-1)).toBe(`ROLLOUT-END {"results":${UPDATES}}`);
}

describe('a command output still uploading to CloudWatch Logs', () => {
  it('model fleet: complete-command reads again until the end marker is there; every update is in the ledger', async () => {
    expectEveryUpdate(await run({ reads: 1, withheldLines: WITHHELD }));
  }, 300_000);

  it('model fleet: a stream that stays partial fails the node closed, naming the missing marker', async () => {
    const result = await run({ reads: Number.POSITIVE_INFINITY, withheldLines: WITHHELD });
    installStream(result);
    const report = result.runs[0]?.report;
    const node = report?.nodes[0];
    expect(node?.status).toBe('Failed');
    expect(JSON.stringify(node)).toMatch(
      /still incomplete after \d+ reads: the output has no ROLLOUT-END line/,
    );
    expect(result.sandbox.commandLogs?.partialReads).toBeGreaterThan(1);
  }, 300_000);

  describe.skipIf(!pwshAvailable())('pwsh fleet', () => {
    let pool: PwshWorkerPool;
    beforeAll(async () => {
      pool = new PwshWorkerPool();
      await pool.render();
    });
    afterAll(() => pool?.close());

    it('the real scripts write the marker: the retry gets every update', async () => {
      const result = await run(
        { reads: 1, withheldLines: WITHHELD },
        { fleet: 'pwsh', pwshPool: pool },
      );
      expect(result.fleetKind).toBe('pwsh');
      expectEveryUpdate(result);
    }, 300_000);
  });
});
