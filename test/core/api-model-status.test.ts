/**
 * api-model's status views as a client reads them: GET /stagings/{id}, GET /rollouts/{id} (the
 * run, its nodes, the execution's status, the current step, the approval gate), the history's
 * lines (GET /rollouts) and the report's notices (issue 14: mutation testing found these views
 * tested only in part).
 */
import { describe, expect, it } from 'vitest';
import {
  type ApprovalView,
  type ExecutionView,
  MAX_CURRENT_NODES,
  type NodeResultView,
  type RunView,
  rolloutStatusView,
  rolloutSummary,
  runNotices,
  stagingStatusView,
} from '../../lambdas/core/api-model.js';
import type { StagedNodeRecord } from '../../lambdas/core/api-responses.js';
import { apiError } from '../helpers/api-error.js';

const STARTED = new Date('2026-12-05T02:00:00.000Z');
const STOPPED = new Date('2026-12-05T03:30:00.000Z');

// ---------------------------------------------------------------------------------------------
// GET /stagings/{id}

const staged = (node: string, extra: Partial<StagedNodeRecord> = {}): StagedNodeRecord => ({
  node,
  status: 'Staged',
  files: 2,
  bytes: 2048,
  digestsVerified: 2,
  cacheHits: 1,
  windowsUpdates: 0,
  problems: [],
  stagedDigests: ['a'.repeat(64), 'b'.repeat(64)],
  stagedAt: '2026-12-05T02:10:00.000Z',
  ...extra,
});

describe('stagingStatusView', () => {
  it('answers 404 naming the id when neither the execution nor a node record exists', () => {
    // Act
    const error = apiError(() => stagingStatusView('stg-1', undefined, []));
    // Assert
    expect(error).toMatchObject({ status: 404, code: 'NotFound', field: 'id', value: 'stg-1' });
    expect(error.message).toContain('"stg-1"');
  });

  it('shows the execution, the nodes as recorded and the count of each status', () => {
    // Arrange
    const nodes = [
      staged('NODE1'),
      staged('NODE2', {
        status: 'Partial',
        files: 1,
        bytes: 1024,
        digestsVerified: 1,
        cacheHits: 0,
        windowsUpdates: 3,
        problems: ['KB5000002.msu: download failed'],
        stagedDigests: ['c'.repeat(64)],
      }),
      staged('NODE3'),
    ];
    // Act
    const view = stagingStatusView(
      'stg-1',
      { arn: 'arn:exec:stg-1', status: 'SUCCEEDED', startDate: STARTED, stopDate: STOPPED },
      nodes,
    );
    // Assert
    expect(view).toStrictEqual({
      stagingId: 'stg-1',
      executionArn: 'arn:exec:stg-1',
      status: 'Succeeded',
      startedAt: '2026-12-05T02:00:00.000Z',
      stoppedAt: '2026-12-05T03:30:00.000Z',
      counts: { Staged: 2, Partial: 1 },
      nodes: [
        {
          node: 'NODE1',
          status: 'Staged',
          files: 2,
          bytes: 2048,
          digestsVerified: 2,
          cacheHits: 1,
          windowsUpdates: 0,
          problems: [],
          stagedDigests: ['a'.repeat(64), 'b'.repeat(64)],
          stagedAt: '2026-12-05T02:10:00.000Z',
        },
        {
          node: 'NODE2',
          status: 'Partial',
          files: 1,
          bytes: 1024,
          digestsVerified: 1,
          cacheHits: 0,
          windowsUpdates: 3,
          problems: ['KB5000002.msu: download failed'],
          stagedDigests: ['c'.repeat(64)],
          stagedAt: '2026-12-05T02:10:00.000Z',
        },
        expect.objectContaining({ node: 'NODE3' }),
      ],
    });
  });

  it.each<[string, ExecutionView | undefined, Record<string, unknown>]>([
    [
      'a running execution without dates yet',
      { arn: 'arn:exec:stg-2', status: 'RUNNING' },
      { executionArn: 'arn:exec:stg-2', status: 'Running', startedAt: null, stoppedAt: null },
    ],
    [
      'an execution past Step Functions history: Unknown, the records stand',
      undefined,
      { executionArn: null, status: 'Unknown', startedAt: null, stoppedAt: null },
    ],
  ])('%s', (_, execution, expected) => {
    const view = stagingStatusView('stg-2', execution, [staged('NODE1')]);
    expect(view).toMatchObject({ ...expected, counts: { Staged: 1 } });
  });
});

// ---------------------------------------------------------------------------------------------
// The report's notices

const RUN: RunView = {
  runId: 'run-1',
  target: 'CLUSTER1',
  targetKind: 'cluster',
  nodes: ['NODE1', 'NODE2', 'NODE3'],
  status: 'Running',
  startedAt: '2026-12-05T02:00:00.000Z',
};

describe('runNotices', () => {
  const resolved = { selector: 'tag:Env=prod', count: 40, resolvedAt: '2026-12-05T01:59:00.000Z' };
  const recovery = {
    recoveredAt: '2026-12-05T04:00:00.000Z',
    recoveredBy: 'bob',
    reason: 'the execution was deleted',
    executionStatus: 'ABORTED',
  };

  it.each<[string, Partial<RunView>, string[]]>([
    ['nothing happened to the run as a whole: no notice', {}, []],
    [
      'a selection resolved with no member skipped',
      { targetResolution: { ...resolved, skipped: 0 } },
      ['Target resolved at 2026-12-05T01:59:00.000Z: tag:Env=prod gave 40 node(s)'],
    ],
    [
      'a selection resolved with members skipped',
      { targetResolution: { ...resolved, skipped: 2 } },
      [
        'Target resolved at 2026-12-05T01:59:00.000Z: tag:Env=prod gave 40 node(s), 2 member(s) skipped (not Windows managed nodes)',
      ],
    ],
    [
      'a percentage in the policy',
      { resolvedPolicy: { maxConcurrency: 2, maxConcurrencyPercent: 50 } },
      ['Policy resolved against 3 node(s): maxConcurrency 50% = 2 at a time'],
    ],
    [
      'WarnAfter passed, with the time it was due',
      { warnAfterPassedAt: '2026-12-05T03:00:00.000Z', warnAt: '2026-12-05T02:59:00.000Z' },
      [
        'WarnAfter passed: the run was still going at 2026-12-05T03:00:00.000Z, past 2026-12-05T02:59:00.000Z',
      ],
    ],
    [
      'WarnAfter passed, its due time not recorded',
      { warnAfterPassedAt: '2026-12-05T03:00:00.000Z' },
      ['WarnAfter passed: the run was still going at 2026-12-05T03:00:00.000Z'],
    ],
    [
      'the lock was broken by ForceRecovery',
      { forceRecovery: recovery },
      [
        'ForceRecovery: the lock was broken at 2026-12-05T04:00:00.000Z by bob (execution ABORTED): the execution was deleted',
      ],
    ],
  ])('%s', (_, extra, notices) => {
    expect(runNotices({ ...RUN, ...extra })).toEqual(notices);
  });

  it('lists every notice in the order the run met them', () => {
    const notices = runNotices({
      ...RUN,
      targetResolution: { ...resolved, skipped: 0 },
      resolvedPolicy: { maxConcurrency: 2, maxConcurrencyPercent: 5 },
      warnAfterPassedAt: '2026-12-05T03:00:00.000Z',
      forceRecovery: recovery,
    });
    expect(notices.map((n) => n.slice(0, n.indexOf(' ')))).toEqual([
      'Target',
      'Policy',
      'WarnAfter',
      'ForceRecovery:',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// GET /rollouts/{id}

const running: ExecutionView = { arn: 'arn:exec:run-1', status: 'RUNNING', startDate: STARTED };
const ended = (status: string): ExecutionView => ({
  arn: 'arn:exec:run-1',
  status,
  startDate: STARTED,
  stopDate: STOPPED,
});
const result = (node: string, status: NodeResultView['status']): NodeResultView => ({
  node,
  status,
  startedAt: '2026-12-05T02:05:00.000Z',
});
const view = (
  run: RunView | undefined,
  execution: ExecutionView | null,
  nodes: readonly NodeResultView[] = [],
  approval?: ApprovalView,
) =>
  rolloutStatusView({
    rolloutId: 'run-1',
    ...(run === undefined ? {} : { run }),
    nodes,
    execution,
    ...(approval === undefined ? {} : { approval }),
  });

describe('rolloutStatusView before the run is recorded', () => {
  const noProgress = {
    total: 0,
    finished: 0,
    succeeded: 0,
    failed: 0,
    nothingToInstall: 0,
    skipped: 0,
    installedPendingReboot: 0,
    pending: 0,
  };

  it('a running execution: Pending, checking the input and taking the lock', () => {
    expect(view(undefined, running)).toStrictEqual({
      rolloutId: 'run-1',
      target: null,
      status: 'Pending',
      reason: null,
      execution: {
        arn: 'arn:exec:run-1',
        status: 'RUNNING',
        startDate: '2026-12-05T02:00:00.000Z',
        stopDate: null,
      },
      startedAt: '2026-12-05T02:00:00.000Z',
      finishedAt: null,
      stopAt: null,
      changeTicket: null,
      requestedBy: null,
      cancelRequested: false,
      approval: null,
      currentStep: {
        phase: 'Starting',
        nodes: [],
        nodesOmitted: 0,
        description: 'checking the input and taking the target lock',
      },
      progress: noProgress,
      nodes: [],
    });
  });

  it('an execution that ended first: Failed, with its end status and times', () => {
    expect(view(undefined, ended('FAILED'))).toStrictEqual({
      rolloutId: 'run-1',
      target: null,
      status: 'Failed',
      reason:
        'the execution ended FAILED before it recorded the rollout (e.g. the input was invalid or the target was locked)',
      execution: {
        arn: 'arn:exec:run-1',
        status: 'FAILED',
        startDate: '2026-12-05T02:00:00.000Z',
        stopDate: '2026-12-05T03:30:00.000Z',
      },
      startedAt: '2026-12-05T02:00:00.000Z',
      finishedAt: '2026-12-05T03:30:00.000Z',
      stopAt: null,
      changeTicket: null,
      requestedBy: null,
      cancelRequested: false,
      approval: null,
      currentStep: {
        phase: 'Finished',
        nodes: [],
        nodesOmitted: 0,
        description: 'the execution ended before the rollout was recorded',
      },
      progress: noProgress,
      nodes: [],
    });
  });

  it('no execution either: Failed, its status unknown', () => {
    const v = view(undefined, null);
    expect(v).toMatchObject({
      status: 'Failed',
      reason:
        'the execution ended unknown before it recorded the rollout (e.g. the input was invalid or the target was locked)',
      execution: null,
      startedAt: null,
      finishedAt: null,
    });
    expect(v.currentStep.phase).toBe('Finished');
  });
});

describe('rolloutStatusView of a recorded run', () => {
  it.each<
    [string, RunView['status'], ExecutionView | null, Partial<RunView>, string, string | null]
  >([
    ['running, its execution too', 'Running', running, {}, 'Running', null],
    [
      'still Running while a succeeded execution records its result',
      'Running',
      ended('SUCCEEDED'),
      {},
      'Running',
      null,
    ],
    [
      'still Running while its execution waits to be redriven',
      'Running',
      ended('PENDING_REDRIVE'),
      {},
      'Running',
      null,
    ],
    [
      'Running, its execution aborted: Failed',
      'Running',
      ended('ABORTED'),
      {},
      'Failed',
      "the execution ended ABORTED before it recorded the rollout's result",
    ],
    [
      'Running, its execution timed out: Failed',
      'Running',
      ended('TIMED_OUT'),
      {},
      'Failed',
      "the execution ended TIMED_OUT before it recorded the rollout's result",
    ],
    ['Running, the execution past history', 'Running', null, {}, 'Running', null],
    [
      'Failed as recorded, with the summary reason',
      'Failed',
      ended('FAILED'),
      { summary: { reason: '2 node(s) failed, more than maxFailedNodes 1' }, failureReason: 'x' },
      'Failed',
      '2 node(s) failed, more than maxFailedNodes 1',
    ],
    [
      'Failed as recorded, with the failure reason when the summary has none',
      'Failed',
      ended('FAILED'),
      { summary: { reason: 42 }, failureReason: 'States.TaskFailed' },
      'Failed',
      'States.TaskFailed',
    ],
    ['Succeeded as recorded, the execution past history', 'Succeeded', null, {}, 'Succeeded', null],
    ['Cancelled as recorded', 'Cancelled', ended('SUCCEEDED'), {}, 'Cancelled', null],
  ])('%s', (_, runStatus, execution, extra, status, reason) => {
    // Act
    const v = view({ ...RUN, status: runStatus, ...extra }, execution);
    // Assert
    expect(v.status).toBe(status);
    expect(v.reason).toBe(reason);
    if (status !== 'Running') {
      expect(v.currentStep).toStrictEqual({
        phase: 'Finished',
        nodes: [],
        nodesOmitted: 0,
        description: `the rollout ended ${status}`,
      });
    }
  });

  it('shows the run as recorded: target, ticket, requester, times, each node', () => {
    // Arrange
    const run: RunView = {
      ...RUN,
      stopAt: '2026-12-05T06:00:00.000Z',
      changeTicket: { system: 'ServiceNow', id: 'CHG1', url: 'https://example.invalid/CHG1' },
      requestedBy: 'alice',
    };
    const nodes: NodeResultView[] = [
      {
        node: 'node1',
        status: 'Succeeded',
        startedAt: '2026-12-05T02:01:00.000Z',
        finishedAt: '2026-12-05T02:20:00.000Z',
        attempts: 2,
        restarts: 1,
        drained: true,
        detail: 'installed 3 update(s)',
      },
      result('NODE2', 'Failed'),
    ];
    // Act
    const v = view(run, running, nodes);
    // Assert
    expect(v).toStrictEqual({
      rolloutId: 'run-1',
      target: { name: 'CLUSTER1', kind: 'cluster' },
      status: 'Running',
      reason: null,
      execution: {
        arn: 'arn:exec:run-1',
        status: 'RUNNING',
        startDate: '2026-12-05T02:00:00.000Z',
        stopDate: null,
      },
      startedAt: '2026-12-05T02:00:00.000Z',
      finishedAt: null,
      stopAt: '2026-12-05T06:00:00.000Z',
      changeTicket: { system: 'ServiceNow', id: 'CHG1', url: 'https://example.invalid/CHG1' },
      requestedBy: 'alice',
      cancelRequested: false,
      approval: null,
      currentStep: {
        phase: 'UpdatingNodes',
        nodes: ['NODE3'],
        nodesOmitted: 0,
        description: 'updating NODE3 (one node at a time; 2 of 3 finished)',
      },
      progress: {
        total: 3,
        finished: 2,
        succeeded: 1,
        failed: 1,
        nothingToInstall: 0,
        skipped: 0,
        installedPendingReboot: 0,
        pending: 1,
      },
      nodes: [
        {
          name: 'NODE1',
          status: 'Succeeded',
          startedAt: '2026-12-05T02:01:00.000Z',
          finishedAt: '2026-12-05T02:20:00.000Z',
          attempts: 2,
          restarts: 1,
          drained: true,
          detail: 'installed 3 update(s)',
        },
        { name: 'NODE2', status: 'Failed', startedAt: '2026-12-05T02:05:00.000Z' },
        { name: 'NODE3', status: 'Pending' },
      ],
    });
  });

  it('leaves out of a node what its result does not record (no key, not even undefined)', () => {
    const v = view(RUN, running, [result('NODE1', 'Succeeded')]);
    expect(Object.keys(v.nodes[0] ?? {})).toEqual(['name', 'status', 'startedAt']);
    expect(Object.keys(v.nodes[1] ?? {})).toEqual(['name', 'status']);
  });

  it('counts each node status in progress', () => {
    // Arrange
    const run = { ...RUN, nodes: ['N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7', 'N8'] };
    const nodes = [
      result('N1', 'Succeeded'),
      result('N2', 'Failed'),
      result('N3', 'Failed'),
      result('N4', 'NothingToInstall'),
      result('N5', 'Skipped'),
      result('N6', 'InstalledPendingReboot'),
      result('N7', 'NotStarted'),
    ];
    // Act
    const v = view(run, running, nodes);
    // Assert
    expect(v.progress).toStrictEqual({
      total: 8,
      finished: 7,
      succeeded: 1,
      failed: 2,
      nothingToInstall: 1,
      skipped: 1,
      installedPendingReboot: 1,
      pending: 1,
    });
  });

  it.each<[string, Partial<RunView>, ExecutionView | null, string | null]>([
    [
      'the time the run recorded, not the execution stop',
      { status: 'Succeeded', finishedAt: '2026-12-05T03:29:00.000Z' },
      ended('SUCCEEDED'),
      '2026-12-05T03:29:00.000Z',
    ],
    [
      "the execution's stop when the run recorded none",
      { status: 'Running' },
      ended('ABORTED'),
      '2026-12-05T03:30:00.000Z',
    ],
    ['none while it runs', { status: 'Running' }, running, null],
  ])('finishedAt: %s', (_, extra, execution, finishedAt) => {
    expect(view({ ...RUN, ...extra }, execution).finishedAt).toBe(finishedAt);
  });

  it('a run written before target kinds: kind null, updated one node at a time', () => {
    const { targetKind: _, ...run } = RUN;
    const v = view(run, running);
    expect(v.target).toStrictEqual({ name: 'CLUSTER1', kind: null });
    expect(v.currentStep).toMatchObject({ phase: 'UpdatingNodes', nodes: ['NODE1'] });
  });

  it('a cluster with cancel requested: stops after the node it updates', () => {
    const v = view({ ...RUN, cancelRequested: true }, running, [result('NODE1', 'Succeeded')]);
    expect(v.cancelRequested).toBe(true);
    expect(v.currentStep.description).toBe(
      'updating NODE2 (one node at a time; 1 of 3 finished); cancel requested, the rollout stops after this node',
    );
  });

  it('a group: names the first unfinished nodes, counts the rest', () => {
    // Arrange
    const names = Array.from({ length: MAX_CURRENT_NODES + 4 }, (_, i) => `WEB${i + 1}`);
    const run: RunView = { ...RUN, target: 'web', targetKind: 'group', nodes: names };
    // Act
    const v = view(run, running, [result('WEB1', 'Succeeded')]);
    // Assert
    expect(v.target).toStrictEqual({ name: 'web', kind: 'group' });
    expect(v.currentStep).toStrictEqual({
      phase: 'UpdatingNodes',
      nodes: names.slice(1, MAX_CURRENT_NODES + 1),
      nodesOmitted: 3,
      description:
        'updating the group policy.maxConcurrency nodes at a time; these have not finished (in flight or queued)',
    });
  });

  it('a group with cancel requested: no further node starts', () => {
    const run: RunView = { ...RUN, targetKind: 'group', cancelRequested: true };
    const v = view(run, running);
    expect(v.currentStep).toStrictEqual({
      phase: 'UpdatingNodes',
      nodes: ['NODE1', 'NODE2', 'NODE3'],
      nodesOmitted: 0,
      description:
        'updating the group policy.maxConcurrency nodes at a time; these have not finished (in flight or queued); cancel requested, no further node starts',
    });
  });

  it('every node finished, the run not yet recorded as ended: Finishing', () => {
    const nodes = RUN.nodes.map((n) => result(n, 'Succeeded'));
    expect(view(RUN, running, nodes).currentStep).toStrictEqual({
      phase: 'Finishing',
      nodes: [],
      nodesOmitted: 0,
      description: 'every node has finished; recording the result and releasing the lock',
    });
  });

  const gate: ApprovalView = {
    afterNodes: 1,
    timeoutMinutes: 30,
    requestedAt: '2026-12-05T02:30:00.000Z',
  };

  it('a waiting gate: the approval and the step name no node', () => {
    const v = view(RUN, running, [result('NODE1', 'Succeeded')], gate);
    expect(v.approval).toStrictEqual({
      afterNodes: 1,
      timeoutMinutes: 30,
      requestedAt: '2026-12-05T02:30:00.000Z',
      waitingFor: 'the pilot (1 node(s)) is done',
      decideBy: '2026-12-05T03:00:00.000Z',
    });
    expect(v.currentStep).toMatchObject({ phase: 'AwaitingApproval', nodes: [], nodesOmitted: 0 });
  });

  it('a gate record left after the run ended: no approval shown', () => {
    const v = view({ ...RUN, status: 'Succeeded' }, ended('SUCCEEDED'), [], gate);
    expect(v.approval).toBeNull();
    expect(v.currentStep.phase).toBe('Finished');
  });
});

// ---------------------------------------------------------------------------------------------
// GET /rollouts

describe('rolloutSummary', () => {
  it('one line of the history, with everything the run recorded', () => {
    const summary = rolloutSummary({
      ...RUN,
      status: 'Cancelled',
      finishedAt: '2026-12-05T03:00:00.000Z',
      changeTicket: { system: 'Jira', id: 'OPS-7' },
      requestedBy: 'alice',
      cancelRequested: true,
      summary: { reason: 'cancelled by alice' },
    });
    expect(summary).toStrictEqual({
      rolloutId: 'run-1',
      target: { name: 'CLUSTER1', kind: 'cluster' },
      status: 'Cancelled',
      reason: 'cancelled by alice',
      startedAt: '2026-12-05T02:00:00.000Z',
      finishedAt: '2026-12-05T03:00:00.000Z',
      nodes: 3,
      changeTicket: { system: 'Jira', id: 'OPS-7' },
      requestedBy: 'alice',
      cancelRequested: true,
    });
  });

  it('a running run that recorded only the essentials: nulls, and no cancel', () => {
    const { targetKind: _, ...run } = RUN;
    expect(rolloutSummary({ ...run, failureReason: 'States.Timeout' })).toStrictEqual({
      rolloutId: 'run-1',
      target: { name: 'CLUSTER1', kind: null },
      status: 'Running',
      reason: 'States.Timeout',
      startedAt: '2026-12-05T02:00:00.000Z',
      finishedAt: null,
      nodes: 3,
      changeTicket: null,
      requestedBy: null,
      cancelRequested: false,
    });
  });
});
