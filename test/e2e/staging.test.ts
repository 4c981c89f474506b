/**
 * Staging before the window (issue 13 item 5) through the synthesized staging and rollout
 * workflows in the sandbox, on the model fleet and on the pwsh fleet (the real StageUpdates and
 * InstallHotfixes scripts): staging fills each node's SHA-256-named cache and drains, installs
 * and restarts nothing; the install run then takes each update from the cache, and a staged copy
 * corrupted on disk is not used.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosSpec, generateSpec, runSpec } from '../../sandbox/chaos.js';
import type { Sandbox } from '../../sandbox/engine.js';
import type { SimulatedFleet } from '../../sandbox/fleet.js';
import { PwshWorkerPool, pwshAvailable } from '../../sandbox/pwsh-fleet.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario, ScenarioError } from '../../sandbox/scenario.js';
import { checkStagingRun } from '../../sandbox/staging-invariants.js';
import { formatStagingTable, readStagingReport } from '../../sandbox/staging-report.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const FILE = fileURLToPath(new URL('../../examples/scenarios/staging.json', import.meta.url));
const available = pwshAvailable();
if (!available) {
  console.warn('!!! staging on the pwsh fleet SKIPPED: dotnet pwsh does not run here !!!');
}
const pool = available ? new PwshWorkerPool() : undefined;
beforeAll(async () => {
  await pool?.render();
});
afterAll(async () => {
  await pool?.close();
});

/** Runs the scenario with a staging run first; `between` runs after staging, before the install. */
async function stagedRun(
  fleet: 'model' | 'pwsh',
  between?: (sandbox: Sandbox, fleet: SimulatedFleet) => void,
) {
  const scenario = await loadScenario(FILE);
  const rollout = scenario.runs[0]?.rollout as Record<string, unknown>;
  let staging: Awaited<ReturnType<Sandbox['runStaging']>> | undefined;
  let stagingLogEnd = 0;
  let table = '';
  let records: Awaited<ReturnType<typeof readStagingReport>> = [];
  const result = await runScenario(scenario, {
    fleet,
    ...(fleet === 'pwsh' && pool ? { pwshPool: pool } : {}),
    beforeRuns: async (sandbox, simulated) => {
      staging = await sandbox.runStaging({ ...rollout, runId: 'staging-1' }, 'staging-1');
      records = await readStagingReport(sandbox.store, 'staging-1');
      table = formatStagingTable(records);
      between?.(sandbox, simulated);
    },
  });
  stagingLogEnd = result.fleet.log.findIndex(
    (e) => e.kind === 'command' && e.document !== 'stageUpdates',
  );
  return { result, staging, records, table, stagingLog: result.fleet.log.slice(0, stagingLogEnd) };
}

describe.each([
  ['model', true],
  ['pwsh', available],
] as const)('staging on the %s fleet', (fleet, runs) => {
  it.skipIf(!runs)(
    'stages every planned file, verified, with nothing drained, installed or restarted; the install run takes each from the cache',
    async () => {
      // Act
      const { result, staging, records, table, stagingLog } = await stagedRun(fleet);
      // Assert: the staging run.
      expect(staging?.status).toBe('SUCCEEDED');
      expect(
        records.map((r) => [r.node, r.status, r.files, r.digestsVerified, r.cacheHits]),
      ).toEqual([
        ['NODE1', 'Staged', 1, 1, 0],
        ['NODE2', 'Staged', 2, 2, 0],
      ]);
      expect(records.every((r) => r.bytes > 0 && r.stagedDigests.length === r.files)).toBe(true);
      expect(table).toMatch(/^node\s+status\s+files\s+bytes\s+digests verified\s+cache hits/);
      expect(stagingLog.length).toBeGreaterThan(0);
      expect(checkStagingRun(stagingLog)).toEqual([]);
      // Assert: the install run.
      const run = result.runs[0];
      expect(run?.mismatches).toEqual([]);
      expect(run?.invariants.find((i) => i.name === 'stagingSafe')).toMatchObject({
        ok: true,
        detail: '3 update(s) installed from the staging cache, each verified',
      });
      const updates = run?.report?.nodes.flatMap((n) => n.updates) ?? [];
      expect(updates).toHaveLength(3);
      expect(updates.every((u) => u.fromCache === true && u.outcome !== 'Failed')).toBe(true);
    },
  );

  it.skipIf(!runs)(
    'a staging run again finds every file in the cache (cache hits), downloading nothing',
    async () => {
      // Arrange: stage once, then again with the same input.
      const scenario = await loadScenario(FILE);
      const rollout = scenario.runs[0]?.rollout as Record<string, unknown>;
      let second: Awaited<ReturnType<typeof readStagingReport>> = [];
      const result = await runScenario(scenario, {
        fleet,
        ...(fleet === 'pwsh' && pool ? { pwshPool: pool } : {}),
        runRollouts: false,
        beforeRuns: async (sandbox) => {
          await sandbox.runStaging({ ...rollout, runId: 'staging-1' }, 'staging-1');
          // Act
          await sandbox.runStaging({ ...rollout, runId: 'staging-2' }, 'staging-2');
          second = await readStagingReport(sandbox.store, 'staging-2');
        },
      });
      await result.sandbox.stop();
      // Assert
      expect(second.map((r) => [r.node, r.status, r.cacheHits, r.files])).toEqual([
        ['NODE1', 'Staged', 1, 1],
        ['NODE2', 'Staged', 2, 2],
      ]);
    },
  );
});

describe('a staged copy corrupted on disk after staging (model fleet)', () => {
  it('is not used: the install downloads from the hotfix root, says why, and still succeeds', async () => {
    // Arrange: stage, then NODE1's staged copy changes on disk.
    let corrupted = false;
    // Act
    const { result } = await stagedRun('model', (_sandbox, fleet) => {
      corrupted = fleet.corruptStagedCopy('NODE1');
    });
    // Assert
    expect(corrupted).toBe(true);
    expect(result.runs[0]?.mismatches).toEqual([]);
    const node1 = result.runs[0]?.report?.nodes.find((n) => n.name === 'NODE1');
    expect(node1?.status).toBe('Succeeded');
    expect(node1?.updates[0]?.fromCache).toBeUndefined();
    expect(node1?.updates[0]?.cacheNote).toMatch(
      /the staged copy has SHA-256 [0-9a-f]{64}, the plan says [0-9a-f]{64}: not used/,
    );
    const node2 = result.runs[0]?.report?.nodes.find((n) => n.name === 'NODE2');
    expect(node2?.updates.every((u) => u.fromCache === true)).toBe(true);
  });
});

describe('bad staging input (examples/scenarios/invalid/staging-*.json)', () => {
  it('each is refused naming the field and the value', async () => {
    const dir = fileURLToPath(new URL('../../examples/scenarios/invalid/', import.meta.url));
    const files = (await readdir(dir)).filter((f) => f.startsWith('staging-')).sort();
    const expected: Record<string, [string, string]> = {
      'staging-concurrency-zero.json': [
        'staging.maxConcurrency (0): expected a whole number of nodes from 1 to 50',
        '0',
      ],
      'staging-hours-too-many.json': [
        'staging.hoursBeforeWindow (200): expected a whole number of hours from 1 to 168',
        '200',
      ],
    };
    expect(files).toEqual(Object.keys(expected));
    for (const file of files) {
      const error = await loadScenario(`${dir}${file}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, file).toBeInstanceOf(ScenarioError);
      const [field, value] = expected[file] as [string, string];
      expect((error as Error).message, file).toContain(field);
      expect((error as Error).message, file).toContain(value);
    }
  });

  it('the staging workflow refuses the same input, naming the field, before any node is staged', async () => {
    const scenario = await loadScenario(FILE);
    const rollout = scenario.runs[0]?.rollout as Record<string, unknown>;
    let execution: Awaited<ReturnType<Sandbox['runStaging']>> | undefined;
    const result = await runScenario(scenario, {
      runRollouts: false,
      beforeRuns: async (sandbox) => {
        execution = await sandbox.runStaging(
          { ...rollout, runId: 'staging-bad', staging: { maxConcurrency: 51 } },
          'staging-bad',
        );
      },
    });
    await result.sandbox.stop();
    expect(execution?.status).toBe('FAILED');
    expect(execution?.error).toBe('InvalidRolloutInput');
    expect(execution?.cause).toContain('staging.maxConcurrency (51)');
    expect(result.fleet.log.filter((e) => e.kind === 'command')).toEqual([]);
  });
});

describe('chaos: the corrupt-cache kind', () => {
  it.each([
    ['cluster', 3],
    ['group', 4],
  ] as const)(
    'a %s staged before the run, one copy corrupted: every invariant holds',
    async (target, nodes) => {
      // Arrange: the campaign's own draw (seed 5) with the kind, and an installer failure beside it.
      const { phases: _phases, ...drawn } = generateSpec(5, 0, []);
      const spec: ChaosSpec = {
        ...drawn,
        target,
        nodes,
        gateAfterNodes: null,
        faults: [
          { kind: 'corrupt-cache', node: 1, update: 0, value: 3 },
          { kind: 'exit-3010', node: 0, update: 0, value: 2 },
        ],
      };
      // Act
      const result = await runSpec(spec);
      // Assert
      expect(result.violations).toEqual([]);
      expect(result.expectationFailures).toEqual([]);
    },
  );
});
