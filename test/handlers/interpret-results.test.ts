import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandOutcome, PlannedInstall } from '../../lambdas/core/contracts.js';
import type { LedgerEntry } from '../../lambdas/core/install-ledger.js';
import {
  kbFromName,
  makeInterpretResultsHandler,
} from '../../lambdas/handlers/interpret-results.js';
import { RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-03-01T10:30:00.000Z');

function makeHandler() {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return makeInterpretResultsHandler({
    store: new RunStore({ client, tableName: 'runs' }),
    now: () => NOW,
  });
}

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

const planned = (index: number, file: string): PlannedInstall => ({
  index,
  file,
  key: `hotfixes/${file}`,
  sha256: 'a'.repeat(64),
  localPath: `C:\\ProgramData\\WindowsRollout\\Hotfixes\\${file}`,
  path: '%windir%\\System32\\wusa.exe',
  parameters: `C:\\ProgramData\\WindowsRollout\\Hotfixes\\${file} /quiet /norestart`,
  rule: { kind: 'extension', name: 'msu' },
  exitConditions: {
    Success: [0],
    Success_RebootRequired: [3010],
    Fail_RebootRequired: [],
    AlreadyInstalled: [2359302],
    NotApplicable: [],
  },
  alwaysReboot: false,
});

const line = (index: number, file: string, exitCode: number) => ({
  index,
  file,
  exitCode,
  checksumOk: true,
  timedOut: false,
  durationSeconds: 30,
  logTail: '',
});

const PLAN = [
  planned(0, 'CAUHotfix_All/windows10.0-kb5000001-x64.msu'),
  planned(1, 'CAUHotfix_All/KB5000002.msu'),
  planned(2, 'NODE1/KB5000003.msu'),
  planned(3, 'CAUHotfix_All/KB5000004.msu'),
];

const command = (results: unknown[]): CommandOutcome => ({
  commandId: 'cmd-1',
  instanceId: 'i-0123456789abcdef0',
  document: 'installHotfixes',
  status: 'Success',
  responseCode: 0,
  results,
  outputTail: '',
});

const hotfixEvent = (overrides: Record<string, unknown> = {}) => ({
  runId: 'run-1',
  node: 'NODE1',
  attempt: 1,
  plugin: 'Microsoft.HotfixPlugin',
  planned: PLAN,
  command: command([
    line(0, PLAN[0]?.file ?? '', 0),
    line(1, PLAN[1]?.file ?? '', 1603),
    line(2, PLAN[2]?.file ?? '', 3010),
    line(3, PLAN[3]?.file ?? '', 2359302),
  ]),
  recordLedger: true,
  hotpatch: true,
  ...overrides,
});

const ledgerPuts = () =>
  ddb
    .commandCalls(PutCommand)
    .map((call) => call.args[0].input.Item as Record<string, unknown> & LedgerEntry);

afterEach(() => {
  ddb.reset();
});

describe('interpret-results handler', () => {
  it('records successes only in the ledger and returns the failed planned items to retry', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(PutCommand).resolves({});

    // Act
    const result = await makeHandler()(hotfixEvent());

    // Assert
    expect(result.outcomes).toMatchObject({
      Success: 1,
      Failed: 1,
      Success_RebootRequired: 1,
      AlreadyInstalled: 1,
    });
    expect(result.retryItems).toEqual([PLAN[1]]);
    expect(result.ledgerRecorded).toEqual(['KB5000001', 'KB5000003']);
    expect(result.ledgerSkipped).toEqual([]);
    expect(ledgerPuts()).toEqual([
      expect.objectContaining({
        pk: 'LEDGER#NODE1',
        sk: 'SEQ#00000001',
        updateId: 'KB5000001',
        hotpatched: true,
        runId: 'run-1',
        installedAt: NOW.toISOString(),
      }),
      expect.objectContaining({ sk: 'SEQ#00000002', updateId: 'KB5000003', hotpatched: false }),
    ]);
    const written = ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input.RequestItems?.runs;
    expect(written).toHaveLength(4);
    expect(written?.[1]?.PutRequest?.Item).toMatchObject({
      sk: 'NODE#NODE1#ATTEMPT#01#HOTFIX#UPDATE#0001',
      outcome: 'Failed',
    });
  });

  it('stores the files updateSelection excluded after the plan, first attempt only, without touching the verdict', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(PutCommand).resolves({});
    const excluded = [
      {
        file: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu',
        rule: 'excludeKbs',
        reason: 'KB5034439 is in excludeKbs',
      },
    ];

    // Act
    const first = await makeHandler()(hotfixEvent({ excluded }));
    const firstWrites = ddb.commandCalls(BatchWriteCommand).length;
    await makeHandler()(
      hotfixEvent({
        excluded,
        attempt: 2,
        planned: [PLAN[1]],
        command: command([line(1, PLAN[1]?.file ?? '', 0)]),
      }),
    );

    // Assert
    expect(first.failed).toBe(true);
    expect(first.outcomes).toMatchObject({ NotApplicable: 0, Failed: 1 });
    const written = ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input.RequestItems?.runs;
    expect(written).toHaveLength(5);
    expect(written?.[4]?.PutRequest?.Item).toMatchObject({
      sk: 'NODE#NODE1#ATTEMPT#01#HOTFIX#UPDATE#0004',
      update: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu',
      outcome: 'NotApplicable',
      excludedBy: 'excludeKbs',
      detail: 'excluded by updateSelection.excludeKbs: KB5034439 is in excludeKbs',
    });
    const retryWritten =
      ddb.commandCalls(BatchWriteCommand)[firstWrites]?.args[0].input.RequestItems?.runs;
    expect(retryWritten).toHaveLength(1);
  });

  it('refuses an excluded file with an unknown rule: InvalidEvent', async () => {
    const error = await rejection(() =>
      makeHandler()(hotfixEvent({ excluded: [{ file: 'a.msu', rule: 'bogus', reason: '' }] })),
    );
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('excluded[0].rule');
  });

  it('never retries an update whose SHA-256 did not match (issue 8, point 9)', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    const mismatch = { ...line(1, PLAN[1]?.file ?? '', 0), exitCode: null, checksumOk: false };

    // Act
    const result = await makeHandler()(
      hotfixEvent({
        planned: PLAN.slice(0, 2),
        command: command([line(0, PLAN[0]?.file ?? '', 1603), mismatch]),
        recordLedger: false,
      }),
    );

    // Assert
    expect(result.failed).toBe(true);
    expect(result.neverRetry).toEqual([1]);
    expect(result.retryItems).toEqual([PLAN[0]]);
    expect(result.retryable).toBe(true);
  });

  it('is not retryable when the only failure is a SHA-256 mismatch', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    const mismatch = { ...line(0, PLAN[0]?.file ?? '', 0), exitCode: null, checksumOk: false };

    // Act
    const result = await makeHandler()(
      hotfixEvent({ planned: PLAN.slice(0, 1), command: command([mismatch]), recordLedger: false }),
    );

    // Assert
    expect(result.failed).toBe(true);
    expect(result.retryItems).toEqual([]);
    expect(result.retryable).toBe(false);
  });

  it('records hotpatched per planned item marked hotpatch, only for Success (point 5)', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(PutCommand).resolves({});
    const plan = PLAN.map((p) => (p.index === 0 || p.index === 2 ? { ...p, hotpatch: true } : p));

    // Act
    await makeHandler()(hotfixEvent({ planned: plan, hotpatch: undefined }));

    // Assert: 0 succeeded (hotpatched), 2 asked for a restart (3010): not hotpatched.
    expect(ledgerPuts().map((item) => [item.updateId, item.hotpatched])).toEqual([
      ['KB5000001', true],
      ['KB5000003', false],
    ]);
  });

  it('records in the ledger the files the plan says each update replaces (for KB823836)', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(PutCommand).resolves({});
    const plan = PLAN.map((p) =>
      p.index === 0 ? { ...p, replacesFiles: ['%windir%\\system32\\ntoskrnl.exe'] } : p,
    );

    // Act
    await makeHandler()(hotfixEvent({ planned: plan }));

    // Assert
    expect(ledgerPuts().map((item) => [item.updateId, item.replacedFiles])).toEqual([
      ['KB5000001', [{ path: '%windir%\\system32\\ntoskrnl.exe' }]],
      ['KB5000003', []],
    ]);
  });

  it('records how each install must be removed: DISM by package name for a combined package, else wusa', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(PutCommand).resolves({});
    const combined = 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2849.1.8';

    // Act
    await makeHandler()(
      hotfixEvent({
        command: command([
          {
            ...line(0, PLAN[0]?.file ?? '', 0),
            packageNames: ['Package_for_KB5000001~x', combined],
          },
          line(1, PLAN[1]?.file ?? '', 1603),
          { ...line(2, PLAN[2]?.file ?? '', 3010), packageNames: ['Package_for_KB5000003~x'] },
          line(3, PLAN[3]?.file ?? '', 2359302),
        ]),
      }),
    );

    // Assert
    expect(ledgerPuts().map((item) => [item.updateId, item.removal])).toEqual([
      ['KB5000001', { method: 'dism', packageName: combined }],
      ['KB5000003', { method: 'wusa' }],
    ]);
  });

  it('continues the node ledger after its last sequence', async () => {
    // Arrange
    const existing: LedgerEntry = {
      node: 'NODE1',
      sequence: 7,
      updateId: 'KB4000000',
      installedAt: '2025-01-01T00:00:00.000Z',
      hotpatched: false,
      replacedFiles: [],
    };
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({
      Items: [{ pk: 'LEDGER#NODE1', sk: 'SEQ#00000007', kind: 'ledgerEntry', ...existing }],
    });
    ddb.on(PutCommand).resolves({});

    // Act
    await makeHandler()(hotfixEvent({ hotpatch: false }));

    // Assert
    expect(ledgerPuts().map((item) => [item.sk, item.updateId, item.hotpatched])).toEqual([
      ['SEQ#00000008', 'KB5000001', false],
      ['SEQ#00000009', 'KB5000003', false],
    ]);
  });

  it('does not record again what a first try of this invocation already recorded', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({
      Items: [
        {
          pk: 'LEDGER#NODE1',
          sk: 'SEQ#00000001',
          kind: 'ledgerEntry',
          node: 'NODE1',
          sequence: 1,
          updateId: 'KB5000001',
          installedAt: '2025-03-01T10:29:00.000Z',
          runId: 'run-1',
          hotpatched: true,
          replacedFiles: [],
        },
      ],
    });
    ddb.on(PutCommand).resolves({});

    // Act
    const result = await makeHandler()(hotfixEvent());

    // Assert
    expect(ledgerPuts().map((item) => item.updateId)).toEqual(['KB5000003']);
    expect(result.ledgerSkipped).toEqual([]);
  });

  it('skips an install without a KB number in its name, with a reason', async () => {
    // Arrange
    const plan = [planned(0, 'CAUHotfix_All/contoso-driver.msu')];
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });

    // Act
    const result = await makeHandler()(
      hotfixEvent({ planned: plan, command: command([line(0, plan[0]?.file ?? '', 0)]) }),
    );

    // Assert
    expect(result.ledgerSkipped).toEqual([
      { update: 'CAUHotfix_All/contoso-driver.msu', reason: expect.stringContaining('no KB') },
    ]);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('leaves the ledger alone when recordLedger is false', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});

    // Act
    const result = await makeHandler()(hotfixEvent({ recordLedger: false }));

    // Assert
    expect(result.retryItems).toEqual([PLAN[1]]);
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('records Windows Update installs by the KB in their title; nothing is planned to retry', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(PutCommand).resolves({});
    const wu = (kb: string | null, resultCode: number) => ({
      updateId: `id-${kb}`,
      title: `2025-03 Cumulative Update (${kb ?? 'no kb'})`,
      kb,
      resultCode,
      hResult: 0,
      rebootRequired: true,
    });

    // Act
    const result = await makeHandler()({
      runId: 'run-1',
      node: 'NODE1',
      attempt: 2,
      plugin: 'Microsoft.WindowsUpdatePlugin',
      command: { ...command([wu('KB5000010', 2), wu('KB5000011', 4)]), document: 'windowsUpdate' },
      recordLedger: true,
    });

    // Assert
    expect(result.failed).toBe(true);
    expect(result.retryItems).toEqual([]);
    expect(ledgerPuts().map((item) => item.updateId)).toEqual(['KB5000010']);
  });

  it('throws InvalidEvent when the hotfix plug-in comes without its plan', async () => {
    // Act
    const error = await rejection(() => makeHandler()(hotfixEvent({ planned: undefined })));

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('planned');
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('lets a ledger conflict propagate so the retry re-reads the ledger', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(PutCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
      }),
    );

    // Act
    const error = await rejection(() => makeHandler()(hotfixEvent()));

    // Assert
    expect(error.name).toBe('LedgerConflict');
  });
});

describe('kbFromName', () => {
  it.each([
    ['windows10.0-kb5034441-x64_abc.msu', 'KB5034441'],
    ['CAUHotfix_All/KB890923.msu', 'KB890923'],
    ['2024-01 Cumulative Update (KB5034441)', 'KB5034441'],
    ['KB123.msu', undefined],
    ['KB123456789.msu', undefined],
    ['NOTKB5034441.msu', undefined],
    ['driver.msi', undefined],
  ])('%s -> %s', (name, expected) => {
    expect(kbFromName(name)).toBe(expected);
  });
});

describe('interpret-results handler: removals (plugin Rollout.Removal)', () => {
  const entry = (sequence: number, updateId: string, extra: Record<string, unknown> = {}) => ({
    pk: 'LEDGER#NODE1',
    sk: `SEQ#${String(sequence).padStart(8, '0')}`,
    kind: 'ledgerEntry',
    node: 'NODE1',
    sequence,
    updateId,
    installedAt: '2025-01-01T00:00:00.000Z',
    hotpatched: false,
    replacedFiles: [],
    ...extra,
  });
  const removalLine = (index: number, updateId: string, exitCode: number | null) => ({
    index,
    updateId,
    exitCode,
    timedOut: false,
    durationSeconds: 12,
    logTail: '',
  });
  const removalEvent = (results: unknown[]) => ({
    runId: 'run-9',
    node: 'NODE1',
    attempt: 1,
    plugin: 'Rollout.Removal',
    removals: [
      { index: 0, updateId: 'KB5000003' },
      { index: 1, updateId: 'KB5000002' },
      { index: 2, updateId: 'KB5000001' },
    ],
    command: { ...command(results), document: 'removeUpdates' },
    recordLedger: true,
  });

  it('marks removed (with the run) what wusa removed or found not installed, not what failed', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({
      Items: [entry(1, 'KB5000001'), entry(2, 'KB5000002'), entry(3, 'KB5000003')],
    });
    ddb.on(UpdateCommand).resolves({ Attributes: {} });

    // Act
    const result = await makeHandler()(
      removalEvent([
        removalLine(0, 'KB5000003', 3010),
        removalLine(1, 'KB5000002', 0x240007),
        removalLine(2, 'KB5000001', 1603),
      ]),
    );

    // Assert
    expect(result.failed).toBe(true);
    expect(result.rebootRequired).toBe(true);
    expect(result.results.map((r) => [r.plugin, r.update, r.outcome])).toEqual([
      ['Rollout.Removal', 'KB5000003', 'Success_RebootRequired'],
      ['Rollout.Removal', 'KB5000002', 'NotApplicable'],
      ['Rollout.Removal', 'KB5000001', 'Failed'],
    ]);
    expect(result.ledgerRemoved).toEqual(['KB5000003', 'KB5000002']);
    expect(result.retryItems).toEqual([]);
    const updates = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(updates.map((u) => u.Key)).toEqual([
      { pk: 'LEDGER#NODE1', sk: 'SEQ#00000003' },
      { pk: 'LEDGER#NODE1', sk: 'SEQ#00000002' },
    ]);
    expect(updates[0]?.ExpressionAttributeValues).toEqual({
      ':removedAt': NOW.toISOString(),
      ':runId': 'run-9',
    });
    const written = ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input.RequestItems?.runs;
    expect(written?.[0]?.PutRequest?.Item).toMatchObject({
      sk: 'NODE#NODE1#ATTEMPT#01#REMOVAL#UPDATE#0000',
      outcome: 'Success_RebootRequired',
    });
  });

  it('a retried invocation skips what it already marked removed', async () => {
    // Arrange
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(QueryCommand).resolves({
      Items: [
        entry(3, 'KB5000003', { removedAt: '2025-03-01T10:29:00.000Z', removedByRunId: 'run-9' }),
      ],
    });

    // Act
    const result = await makeHandler()(removalEvent([removalLine(0, 'KB5000003', 0)]));

    // Assert: KB5000002 and KB5000001 never reported: failed, not marked.
    expect(result.ledgerRemoved).toEqual([]);
    expect(result.ledgerSkipped).toEqual([]);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(result.outcomes.Failed).toBe(2);
  });

  it('is InvalidEvent without the planned removals', async () => {
    const event: Record<string, unknown> = removalEvent([]);
    delete event.removals;
    const error = await rejection(() => makeHandler()(event));
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('removals');
  });
});
