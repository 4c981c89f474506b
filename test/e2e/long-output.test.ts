/**
 * Output past GetCommandInvocation's 24,000 characters (issue 9): a node with more updates than
 * the inline output holds goes through the synthesized workflows on both fleets. The SSM fake
 * cuts the inline output at 24,000 characters, as SSM does; complete-command reads the rest back
 * from the CloudWatch Logs fake (sandbox/command-logs.ts), page by page; the report and the
 * ledger have every update.
 *
 * The payload of 105 updates is about 97,000 characters of plain base64, over the 32,766 a
 * node's environment variable holds: send-command sends it gzipped (payload-encoding.ts), and
 * on the pwsh fleet the real Read-RolloutPayload unpacks it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INLINE_OUTPUT_LIMIT } from '../../lambdas/handlers/full-output.js';
import { SANDBOX_COMMAND_LOG_GROUP, SANDBOX_LOG_PAGE_EVENTS } from '../../sandbox/command-logs.js';
import { PwshWorkerPool, pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { parseScenario, type ScenarioInput } from '../../sandbox/scenario.js';

const UPDATES = 105;
const kb = (i: number) => `KB${5040000 + i}`;

const scenario = parseScenario(
  {
    name: 'long-output',
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
          // 105 updates x 30 minutes would pass SSM's 48-hour command cap.
          arguments: 'HotfixRootFolderPath=s3://hotfixes/root;HotfixInstallerTimeoutMinutes=10',
        },
      ],
    },
  } as ScenarioInput,
  'long-output',
);

function expectEveryUpdate(result: ScenarioResult) {
  const report = result.runs[0]?.report;
  expect(report?.status).toBe('Succeeded');
  const node = report?.nodes[0];
  expect(node?.status).toBe('Succeeded');
  const hotfixes = node?.updates.filter((u) => u.plugin === 'Microsoft.HotfixPlugin') ?? [];
  expect(hotfixes).toHaveLength(UPDATES);
  expect(hotfixes.every((u) => u.outcome === 'Success')).toBe(true);
  expect(node?.ledger.map((entry) => entry.updateId).sort()).toEqual(
    Array.from({ length: UPDATES }, (_, i) => kb(i)).sort(),
  );
  expect(result.runs[0]?.invariants.filter((i) => !i.ok)).toEqual([]);

  // Not vacuous: the install's output was over the inline limit and was read back in pages.
  const logs = result.sandbox.commandLogs;
  expect(logs).toBeDefined();
  const streams = [...(logs?.streamsRead ?? [])];
  expect(streams).toHaveLength(1);
  const lines = result.fleet.commandLogLines(SANDBOX_COMMAND_LOG_GROUP, streams[0] ?? '') ?? [];
  expect(lines.join('\r\n').length).toBeGreaterThan(INLINE_OUTPUT_LIMIT);
  expect(logs?.reads).toBeGreaterThan(Math.floor(lines.length / SANDBOX_LOG_PAGE_EVENTS));
}

describe('a node with more results than the inline output holds', () => {
  it('model fleet: the report and the ledger have every one of 105 updates', async () => {
    expectEveryUpdate(await runScenario(scenario, { fleet: 'model' }));
  }, 300_000);

  describe.skipIf(!pwshAvailable())('pwsh fleet', () => {
    let pool: PwshWorkerPool;
    beforeAll(async () => {
      pool = new PwshWorkerPool();
      await pool.render();
    });
    afterAll(() => pool?.close());

    it('the real scripts: the report and the ledger have every one of 105 updates', async () => {
      const result = await runScenario(scenario, { fleet: 'pwsh', pwshPool: pool });
      expect(result.fleetKind).toBe('pwsh');
      expectEveryUpdate(result);
    }, 300_000);
  });
});
