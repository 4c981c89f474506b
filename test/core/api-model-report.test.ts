/**
 * The run report as a client reads it (GET /rollouts/{id}/report, JSON and CSV): each node's
 * fields, each update's, the run's own fields; and the 409 of an unsafe removal and the execution
 * ARN a run's name makes. The report's broad shape and the CSV's quoting are in api-model.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  buildRunReport,
  csvField,
  executionArnFor,
  type NodeResultView,
  REPORT_CSV_COLUMNS,
  type RunView,
  removalRefused,
  reportToCsv,
  type UpdateResultView,
} from '../../lambdas/core/api-model.js';
import { runReportSchema } from '../../lambdas/core/api-responses.js';
import type { LedgerEntry, RemovalPlan } from '../../lambdas/core/install-ledger.js';

const STARTED = '2025-05-13T22:00:00.000Z';
const FINISHED = '2025-05-13T23:30:00.000Z';

const RUN: RunView = {
  runId: 'run-1',
  target: 'CLUSTER1',
  nodes: ['NODE1', 'NODE2'],
  status: 'Running',
  startedAt: STARTED,
};

const update = (overrides: Partial<UpdateResultView> = {}): UpdateResultView => ({
  node: 'NODE1',
  attempt: 1,
  index: 0,
  plugin: 'Microsoft.HotfixPlugin',
  update: 'CAUHotfix_All/KB5000001.msu',
  outcome: 'Success',
  exitCode: 0,
  rebootRequired: false,
  rebootInitiated: false,
  durationSeconds: 30,
  ...overrides,
});

const ledgerEntry = (overrides: Partial<LedgerEntry>): LedgerEntry => ({
  node: 'NODE1',
  sequence: 1,
  updateId: 'KB5000001',
  installedAt: '2025-05-13T22:10:00.000Z',
  runId: 'run-1',
  hotpatched: false,
  replacedFiles: [],
  ...overrides,
});

/** The report of RUN with these node results (and nothing else unless given). */
function reportOf(
  nodes: readonly NodeResultView[],
  more: Partial<Parameters<typeof buildRunReport>[0]> = {},
) {
  const report = buildRunReport({ run: RUN, nodes, updates: [], ledgers: new Map(), ...more });
  expect(runReportSchema.parse(report)).toEqual(report);
  return report;
}

describe("buildRunReport: a node's view", () => {
  it('shows every field of a finished node: its times, scripts, each update and its ledger', () => {
    // Arrange
    const result: NodeResultView = {
      node: 'node1',
      status: 'Succeeded',
      startedAt: '2025-05-13T22:01:00.000Z',
      finishedAt: '2025-05-13T22:40:00.000Z',
      attempts: 1,
      restarts: 2,
      drained: true,
      detail: 'installed 2 update(s)',
    };
    const scripts = [
      {
        node: 'Node1',
        phase: 'pre' as const,
        status: 'Success',
        exitCode: 0,
        outputTail: 'backup taken',
        completedAt: '2025-05-13T22:02:00.000Z',
      },
      {
        node: 'NODE2',
        phase: 'pre' as const,
        status: 'Failed',
        exitCode: 1,
        outputTail: 'disk full',
        completedAt: '2025-05-13T22:03:00.000Z',
      },
      {
        node: 'NODE1',
        phase: 'post' as const,
        status: 'Success',
        exitCode: 0,
        outputTail: 'service up',
        completedAt: '2025-05-13T22:39:00.000Z',
      },
    ];
    // Act
    const report = reportOf([result], {
      scripts,
      updates: [
        update({
          attempt: 2,
          exitCode: 3010,
          outcome: 'Success_RebootRequired',
          rebootRequired: true,
          startedAt: '2025-05-13T22:20:00.000Z',
          finishedAt: '2025-05-13T22:25:00.000Z',
          detail: 'installed after a retry',
        }),
        update({
          index: 1,
          node: 'NODE1',
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: 'KB5000002 2025-05 Preview',
          outcome: 'NotApplicable',
          exitCode: null,
          durationSeconds: 0,
          excludedBy: 'excludeKbs',
        }),
        update({ exitCode: 1618, outcome: 'Failed', durationSeconds: 5 }),
      ],
      ledgers: new Map([
        [
          'Node1',
          [
            ledgerEntry({ sequence: 1, updateId: 'KB1000001', runId: 'run-0' }),
            ledgerEntry({ sequence: 2, updateId: 'KB5000001', hotpatched: true }),
            ledgerEntry({
              sequence: 3,
              updateId: 'KB5000009',
              removedAt: '2025-05-13T22:30:00.000Z',
              removedByRunId: 'run-1',
            }),
          ],
        ],
      ]),
    });
    // Assert
    expect(report.nodes[0]).toStrictEqual({
      name: 'NODE1',
      status: 'Succeeded',
      detail: 'installed 2 update(s)',
      startedAt: '2025-05-13T22:01:00.000Z',
      finishedAt: '2025-05-13T22:40:00.000Z',
      drained: true,
      resumed: true,
      restarts: 2,
      scripts: [
        {
          phase: 'pre',
          status: 'Success',
          exitCode: 0,
          outputTail: 'backup taken',
          completedAt: '2025-05-13T22:02:00.000Z',
        },
        {
          phase: 'post',
          status: 'Success',
          exitCode: 0,
          outputTail: 'service up',
          completedAt: '2025-05-13T22:39:00.000Z',
        },
      ],
      attempts: 2,
      updates: [
        {
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: 'KB5000002 2025-05 Preview',
          attempt: 1,
          index: 1,
          outcome: 'NotApplicable',
          exitCode: null,
          exitCodeHex: null,
          rebootRequired: false,
          rebootInitiated: false,
          durationSeconds: 0,
          excludedBy: 'excludeKbs',
        },
        {
          plugin: 'Microsoft.HotfixPlugin',
          update: 'CAUHotfix_All/KB5000001.msu',
          attempt: 1,
          index: 0,
          outcome: 'Failed',
          exitCode: 1618,
          exitCodeHex: '0x652',
          exitCodeName: 'ERROR_INSTALL_ALREADY_RUNNING',
          rebootRequired: false,
          rebootInitiated: false,
          durationSeconds: 5,
        },
        {
          plugin: 'Microsoft.HotfixPlugin',
          update: 'CAUHotfix_All/KB5000001.msu',
          attempt: 2,
          index: 0,
          outcome: 'Success_RebootRequired',
          exitCode: 3010,
          exitCodeHex: '0xBC2',
          exitCodeName: 'ERROR_SUCCESS_REBOOT_REQUIRED',
          rebootRequired: true,
          rebootInitiated: false,
          durationSeconds: 30,
          detail: 'installed after a retry',
          startedAt: '2025-05-13T22:20:00.000Z',
          finishedAt: '2025-05-13T22:25:00.000Z',
        },
      ],
      ledger: [
        {
          sequence: 2,
          updateId: 'KB5000001',
          installedAt: '2025-05-13T22:10:00.000Z',
          hotpatched: true,
        },
      ],
    });
  });

  it('shows a node without a result as NotStarted: not drained, no restarts, nothing else', () => {
    // Act
    const report = reportOf([], {
      scripts: [
        {
          node: 'NODE1',
          phase: 'pre',
          status: 'Success',
          exitCode: 0,
          outputTail: '',
          completedAt: '2025-05-13T22:02:00.000Z',
        },
      ],
    });
    // Assert
    expect(report.nodes[1]).toStrictEqual({
      name: 'NODE2',
      status: 'NotStarted',
      drained: false,
      resumed: false,
      restarts: 0,
      attempts: 0,
      updates: [],
      ledger: [],
    });
  });

  it('takes the first result given for a node (any spelling) and ignores a later one', () => {
    // Act
    const report = reportOf([
      { node: 'NODE1', status: 'Failed', startedAt: STARTED, detail: 'UpdateFailed: exit 1603' },
      { node: 'node1', status: 'Succeeded', startedAt: STARTED },
    ]);
    // Assert
    expect(report.nodes[0]).toMatchObject({ status: 'Failed', detail: 'UpdateFailed: exit 1603' });
  });

  it.each([
    {
      case: 'drained and brought back',
      result: { status: 'Succeeded', drained: true },
      resumed: true,
      failedStep: undefined,
    },
    {
      case: 'drained, resume failed: left Paused',
      result: { status: 'Failed', drained: true, leftPaused: true, detail: 'ResumeFailed: x' },
      resumed: false,
      failedStep: 'resume (bringing the node back; it is left Paused)',
    },
    {
      case: 'drained, leftPaused false',
      result: { status: 'Failed', drained: true, leftPaused: false, detail: 'UpdateFailed' },
      resumed: true,
      failedStep: 'install',
    },
    {
      case: 'never drained (a group member)',
      result: { status: 'Failed', drained: false, detail: 'DrainFailed: timeout' },
      resumed: false,
      failedStep: 'drain (moving the roles off the node)',
    },
    {
      case: 'drained unknown (an older record)',
      result: { status: 'Succeeded' },
      resumed: false,
      failedStep: undefined,
    },
    {
      case: 'succeeded with a failure name in its detail',
      result: { status: 'Succeeded', drained: true, detail: 'UpdateFailed once, then retried' },
      resumed: true,
      failedStep: undefined,
    },
    {
      case: 'failed with an error the node workflow does not name',
      result: { status: 'Failed', drained: true, detail: 'States.Timeout' },
      resumed: true,
      failedStep: undefined,
    },
    {
      case: 'failed without a detail',
      result: { status: 'Failed', drained: true },
      resumed: true,
      failedStep: undefined,
    },
  ] as const)('resumed and failedStep: $case', ({ result, resumed, failedStep }) => {
    // Act
    const [node] = reportOf([{ node: 'NODE1', startedAt: STARTED, ...result }]).nodes;
    // Assert
    expect(node?.resumed).toBe(resumed);
    if (failedStep === undefined) expect(Object.keys(node ?? {})).not.toContain('failedStep');
    else expect(node?.failedStep).toBe(failedStep);
  });

  it.each([
    { exitCode: 0, hex: '0x0', name: 'ERROR_SUCCESS' },
    { exitCode: 1641, hex: '0x669', name: 'ERROR_SUCCESS_REBOOT_INITIATED' },
    { exitCode: -2145124329, hex: '0x80240017', name: 'WU_E_NOT_APPLICABLE' },
    { exitCode: 87, hex: '0x57', name: undefined },
    { exitCode: null, hex: null, name: undefined },
  ])('exit code $exitCode: hex $hex, name $name', ({ exitCode, hex, name }) => {
    // Act
    const [node] = reportOf([{ node: 'NODE1', status: 'Succeeded', startedAt: STARTED }], {
      updates: [update({ exitCode })],
    }).nodes;
    // Assert
    const view = node?.updates[0];
    expect(view?.exitCodeHex).toBe(hex);
    if (name === undefined) expect(Object.keys(view ?? {})).not.toContain('exitCodeName');
    else expect(view?.exitCodeName).toBe(name);
  });
});

describe("buildRunReport: the run's view", () => {
  it('shows the target kind, reason, times, lock, ticket, requester, notices, order and phases', () => {
    // Arrange
    const run: RunView = {
      ...RUN,
      targetKind: 'cluster',
      status: 'Failed',
      finishedAt: FINISHED,
      failureReason: 'NODE2 failed',
      changeTicket: { system: 'ServiceNow', id: 'CHG0012345' },
      requestedBy: 'alice',
      warnAt: '2025-05-13T23:00:00.000Z',
      warnAfterPassedAt: '2025-05-13T23:01:00.000Z',
      nodeOrder: { source: 'given', reason: 'the inventory failed' },
    };
    const phase = {
      index: 0,
      name: 'canary',
      nodes: ['NODE1', 'NODE2'],
      failed: ['NODE2'],
      failuresAllowed: 0,
      passed: false,
      advance: 'bake' as const,
      reason: '1 node(s) failed, 0 allowed',
      judgedAt: FINISHED,
    };
    // Act
    const report = reportOf([], { run, lockHolder: 'run-1', phases: [phase] });
    // Assert
    const { nodes, ...fields } = report;
    expect(fields).toStrictEqual({
      runId: 'run-1',
      target: 'CLUSTER1',
      targetKind: 'cluster',
      status: 'Failed',
      reason: 'NODE2 failed',
      startedAt: STARTED,
      finishedAt: FINISHED,
      makespanSeconds: 5400,
      lockReleased: false,
      changeTicket: { system: 'ServiceNow', id: 'CHG0012345' },
      requestedBy: 'alice',
      notices: [
        'WarnAfter passed: the run was still going at 2025-05-13T23:01:00.000Z, past 2025-05-13T23:00:00.000Z',
      ],
      order: 'order: as given (not computed: the inventory failed)',
      phases: [phase],
    });
    expect(nodes.map((n) => n.name)).toEqual(['NODE1', 'NODE2']);
  });

  it('leaves out what a running run has not got, and says null for no ticket or requester', () => {
    // Act
    const report = reportOf([], { lockHolder: 'run-2', phases: [] });
    // Assert
    const { nodes: _, ...fields } = report;
    expect(fields).toStrictEqual({
      runId: 'run-1',
      target: 'CLUSTER1',
      status: 'Running',
      startedAt: STARTED,
      lockReleased: true,
      changeTicket: null,
      requestedBy: null,
    });
  });
});

describe('the CSV report', () => {
  it('writes a node without updates as one row: its detail, resumed and failed step', () => {
    // Arrange
    const report = reportOf([
      {
        node: 'NODE1',
        status: 'Failed',
        startedAt: STARTED,
        drained: true,
        restarts: 1,
        detail: 'DrainFailed: roles did not move',
      },
    ]);
    // Act
    const lines = reportToCsv(report).split('\r\n');
    // Assert
    expect(lines).toEqual([
      REPORT_CSV_COLUMNS.join(','),
      'run-1,CLUSTER1,Running,NODE1,Failed,true,1,,,,,,,,,DrainFailed: roles did not move,,true,drain (moving the roles off the node),,',
      'run-1,CLUSTER1,Running,NODE2,NotStarted,false,0,,,,,,,,,,,false,,,',
      '',
    ]);
  });

  it('writes an absent value as an empty field', () => {
    expect(csvField(undefined)).toBe('');
  });
});

describe('removalRefused (409 RemovalOutOfOrder)', () => {
  it('names the node, each update removed out of order, what shares its files and what came since', () => {
    // Arrange
    const plan: RemovalPlan = {
      order: ['KB1000001'],
      safe: false,
      warnings: [
        {
          updateId: 'KB1000001',
          laterUpdatesSharingFiles: [
            { updateId: 'KB1000002', files: ['C:\\Windows\\System32\\AUTHZ.DLL', 'ntdll.dll'] },
            { updateId: 'KB1000003', files: ['win32k.sys'] },
          ],
          installedSince: ['KB1000002', 'KB1000003'],
        },
        {
          updateId: 'KB1000004',
          laterUpdatesSharingFiles: [{ updateId: 'KB1000005', files: ['tcpip.sys'] }],
          installedSince: ['KB1000005'],
        },
      ],
      restartRequired: true,
      addedDependents: [],
    };
    // Act
    const error = removalRefused('NODE1', plan);
    // Assert
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'RemovalOutOfOrder', field: 'updates' });
    expect(error.message).toContain('removing from NODE1 out of order (KB823836)');
    expect(error.message).toContain(
      'KB1000001 (later updates sharing its files: KB1000002 [C:\\Windows\\System32\\AUTHZ.DLL, ntdll.dll]; KB1000003 [win32k.sys]; installed since: KB1000002, KB1000003); ' +
        'KB1000004 (later updates sharing its files: KB1000005 [tcpip.sys]; installed since: KB1000005).',
    );
    expect(error.message).toContain('includeDependents: true');
    expect(error.message).toContain('force: true');
    expect(error.details).toEqual({
      warnings: plan.warnings,
      safeOrderWithDependents: ['KB1000001'],
      restartRequired: true,
    });
  });
});

describe('executionArnFor', () => {
  it.each([
    'arn:aws:states:eu-west-1:123456789012:stateMachine:Rollout:extra',
    'arn:aws:states:eu-west-1:123456789012:stateMachine',
    'arn:aws:states:eu-west-1:123456789012:execution:Rollout:run-1',
    'Rollout',
  ])('refuses %s: not a state machine ARN', (arn) => {
    expect(() => executionArnFor(arn, 'run-1')).toThrow(
      `${JSON.stringify(arn)} is not a state machine ARN`,
    );
  });

  it('names the execution in the partition of the state machine', () => {
    expect(
      executionArnFor('arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:R', 'n'),
    ).toBe('arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:R:n');
  });
});
