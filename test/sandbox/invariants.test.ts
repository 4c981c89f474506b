/**
 * The safety invariants (sandbox/invariants.ts): each check on hand-made evidence, one row per
 * way to break it and a clean run that breaks none; then through the sandbox, a lock taken away
 * from a live run is caught, and a shipped scenario keeps every invariant.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ExecutionResult, Sandbox } from '../../sandbox/engine.js';
import type { FleetLogEntry, NodeSnapshot, SimulatedFleet } from '../../sandbox/fleet.js';
import {
  checkRunInvariants,
  INVARIANTS,
  type InvariantName,
  type RunEvidence,
  type StoreObservations,
} from '../../sandbox/invariants.js';
import type { RunReport } from '../../sandbox/report.js';
import { checkExecutionInvariants, runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';

const T0 = Date.parse('2026-01-13T22:00:00Z');
const min = (m: number) => T0 + m * 60_000;
const RUN = 'run-1';

interface World {
  log: FleetLogEntry[];
  nodes: Record<string, Partial<NodeSnapshot>>;
  observations: StoreObservations;
  report: RunReport;
  execution: ExecutionResult;
  maxFailedNodes: number;
  updates: { node: string; update: string; outcome: string; attempt: number; plugin: string }[];
  ledger: Record<string, { updateId: string; runId: string }[]>;
  events: { detailType: string; detail: unknown }[];
  runStatus: string;
}

let seq = 0;
const entry = (e: Omit<FleetLogEntry, 'seq'>): FleetLogEntry => ({ ...e, seq: seq++ });
const command = (node: string, at: number, status: FleetLogEntry['status'], id = `c-${node}`) =>
  entry({
    at,
    node,
    kind: 'command',
    clusterState: 'Up',
    drainStatus: 'NotInitiated',
    document: 'installHotfixes',
    commandId: id,
    status,
    cancelRequested: false,
  });

/** NODE1's inventory, before anything else of the run, listing the cluster: NODE2 is Paused. */
const pausedSeen = (): FleetLogEntry => ({
  seq: -1,
  at: min(-1),
  node: 'NODE2',
  kind: 'clusterView',
  clusterState: 'Paused',
  drainStatus: 'Completed',
  seenBy: 'NODE1',
});

/** A clean two-node cluster run: drained, restarted, resumed, recorded, released. */
function cleanWorld(): World {
  seq = 0;
  const log = [
    command('NODE1', min(0), 'Pending'),
    command('NODE1', min(0), 'Success'),
    entry({
      at: min(1),
      node: 'NODE1',
      kind: 'drain',
      clusterState: 'Paused',
      drainStatus: 'Completed',
      ok: true,
    }),
    entry({
      at: min(5),
      node: 'NODE1',
      kind: 'restart',
      clusterState: 'Paused',
      drainStatus: 'Completed',
      byInstaller: false,
    }),
    entry({
      at: min(9),
      node: 'NODE1',
      kind: 'back',
      clusterState: 'Paused',
      drainStatus: 'Completed',
    }),
    entry({
      at: min(10),
      node: 'NODE1',
      kind: 'resume',
      clusterState: 'Up',
      drainStatus: 'NotInitiated',
      ok: true,
    }),
    command('NODE2', min(11), 'Pending'),
    command('NODE2', min(12), 'Success'),
  ];
  const nodeReport = (name: string) => ({
    name,
    status: 'Succeeded',
    drained: true,
    restarts: 1,
    attempts: 1,
    updates: [],
    ledger: [],
  });
  return {
    log,
    nodes: {
      NODE1: { name: 'NODE1', cluster: 'CLUSTER1', nodeState: 'Up', drainStatus: 'NotInitiated' },
      NODE2: { name: 'NODE2', cluster: 'CLUSTER1', nodeState: 'Up', drainStatus: 'NotInitiated' },
    },
    observations: {
      locks: [
        {
          at: min(0),
          target: 'CLUSTER1',
          op: 'acquireLock',
          holder: RUN,
          leaseExpiresAt: min(60),
          execution: null,
        },
        {
          at: min(11),
          target: 'CLUSTER1',
          op: 'renewLock',
          holder: RUN,
          leaseExpiresAt: min(71),
          execution: null,
        },
        {
          at: min(20),
          target: 'CLUSTER1',
          op: 'releaseLock',
          holder: null,
          leaseExpiresAt: null,
          execution: null,
        },
      ],
      nodeStarts: [
        { at: min(0), runId: RUN, node: 'NODE1', order: 0 },
        { at: min(11), runId: RUN, node: 'NODE2', order: 2 },
      ],
      onProgress: () => undefined,
      nodeResults: [
        { at: min(10), runId: RUN, node: 'NODE1', status: 'Succeeded', order: 1 },
        { at: min(19), runId: RUN, node: 'NODE2', status: 'Succeeded', order: 3 },
      ],
    },
    report: {
      runId: RUN,
      target: 'CLUSTER1',
      status: 'Succeeded',
      lockReleased: true,
      nodes: [nodeReport('NODE1'), nodeReport('NODE2')],
    },
    execution: {
      executionArn: 'arn',
      name: RUN,
      status: 'SUCCEEDED',
      startedAt: new Date(min(0)),
      stoppedAt: new Date(min(20)),
      historyEvents: 0,
      stateTransitions: 0,
    },
    maxFailedNodes: 0,
    updates: [
      {
        node: 'NODE1',
        update: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu',
        outcome: 'Success_RebootRequired',
        attempt: 1,
        plugin: 'Microsoft.HotfixPlugin',
      },
    ],
    ledger: { NODE1: [{ updateId: 'KB5034439', runId: RUN }] },
    events: [
      {
        detailType: 'Rollout Node Updated',
        detail: { rolloutId: RUN, node: 'NODE1', status: 'Succeeded' },
      },
      {
        detailType: 'Rollout Node Updated',
        detail: { rolloutId: RUN, node: 'NODE2', status: 'Succeeded' },
      },
      {
        detailType: 'Rollout Succeeded',
        detail: { rolloutId: RUN, status: 'Succeeded', failedNodes: [] },
      },
    ],
    runStatus: 'Succeeded',
  };
}

function evidence(w: World): RunEvidence {
  const snapshot = (name: string) =>
    ({
      online: true,
      down: false,
      pingStatus: 'Online',
      pendingReboot: false,
      installedUpdates: [],
      ...w.nodes[name],
    }) as NodeSnapshot;
  const fleet = {
    log: w.log,
    node: snapshot,
    // No failback in these worlds: roles are back on the node at once.
    failbackOf: () => ({ minutes: 0, roles: 1 }),
  } as unknown as SimulatedFleet;
  const nodeResults = w.report.nodes.map((n) => ({
    node: n.name,
    status: n.status,
  }));
  const store = {
    getRun: async () => ({ maxFailedNodes: w.maxFailedNodes }),
    getRunItems: async () => ({
      run: { status: w.runStatus },
      nodes: nodeResults,
      updates: w.updates,
    }),
    getLedger: async (node: string) => ({ node, entries: w.ledger[node] ?? [] }),
  };
  const sandbox = { store, events: { received: w.events } } as unknown as Sandbox;
  return {
    sandbox,
    fleet,
    observations: w.observations,
    execution: w.execution,
    report: w.report,
    nodes: Object.keys(w.nodes),
    fleetFrom: 0,
  };
}

const setStatus = (w: World, node: string, status: string) => {
  w.report = {
    ...w.report,
    nodes: w.report.nodes.map((n) => (n.name === node ? { ...n, status } : n)),
  };
};

/** Nodes failed, consistently everywhere (run history, events, run status). */
function failNodes(w: World, names: readonly string[]) {
  for (const name of names) setStatus(w, name, 'Failed');
  w.runStatus = 'Failed';
  w.report = { ...w.report, status: 'Failed' };
  w.execution = { ...w.execution, status: 'FAILED' };
  w.events = w.events.map((e) => {
    const detail = e.detail as { node?: string };
    if (e.detailType === 'Rollout Succeeded') {
      return {
        detailType: 'Rollout Failed',
        detail: { rolloutId: RUN, status: 'Failed', failedNodes: [...names] },
      };
    }
    if (detail.node !== undefined && names.includes(detail.node)) {
      return { ...e, detail: { ...detail, status: 'Failed' } };
    }
    return e;
  });
}

/** One row per way to break an invariant: the change, the invariant, what the detail names. */
const BREAKS: readonly [string, InvariantName, RegExp, (w: World) => void][] = [
  [
    'a cluster node restarted while Up (a 3010 after a no-restart prediction)',
    'restartOnlyWhenDrained',
    /NODE2 restarted at 2026-01-13T22:13:00.000Z while Up with drain NotInitiated/,
    (w) => {
      w.log.push(
        entry({
          at: min(13),
          node: 'NODE2',
          kind: 'restart',
          clusterState: 'Up',
          drainStatus: 'NotInitiated',
          byInstaller: false,
        }),
      );
    },
  ],
  [
    'an installer restarting (1641) a node whose drain failed',
    'restartOnlyWhenDrained',
    /NODE2 restarted .* by its installer \(1641\) while Paused with drain Failed/,
    (w) => {
      w.log.push(
        entry({
          at: min(13),
          node: 'NODE2',
          kind: 'restart',
          clusterState: 'Paused',
          drainStatus: 'Failed',
          byInstaller: true,
        }),
      );
    },
  ],
  [
    'a reachable node left paused without a failed resume',
    'nodesLeftClean',
    /NODE2 ends the run .* Paused, drain Completed/,
    (w) => {
      w.nodes.NODE2 = { ...w.nodes.NODE2, nodeState: 'Paused', drainStatus: 'Completed' };
    },
  ],
  [
    'a node paused before the run, seen so, and then the cluster drained and the node updated',
    'nodesLeftClean',
    /NODE2 ends the run .* Paused, drain Completed: it was found Paused before the run changed it, yet command installHotfixes ran on it .*; after NODE1 found it Paused at 2026-01-13T21:59:00.000Z, NODE1 was sent installHotfixes at 2026-01-13T22:00:00.000Z; the report calls it Succeeded/,
    (w) => {
      w.log.unshift(pausedSeen());
      w.nodes.NODE2 = { ...w.nodes.NODE2, nodeState: 'Paused', drainStatus: 'Completed' };
    },
  ],
  [
    'a command still running with no cancel requested',
    'nodesLeftClean',
    /NODE2 ends the run .* installHotfixes command c-hang still InProgress and no cancel requested/,
    (w) => {
      w.log.push(command('NODE2', min(13), 'InProgress', 'c-hang'));
    },
  ],
  [
    'a node that never came back reported Succeeded',
    'nodesLeftClean',
    /NODE2 never came back from a restart .* but the report calls it Succeeded/,
    (w) => {
      w.nodes.NODE2 = { ...w.nodes.NODE2, down: true, nodeState: 'Down' };
    },
  ],
  [
    'another node of the cluster drained after a failed resume',
    'nodesLeftClean',
    /NODE2 was drained at .* while NODE1 of the same cluster stayed paused after its failed resume/,
    (w) => {
      w.log.splice(
        5,
        1,
        entry({
          at: min(10),
          node: 'NODE1',
          kind: 'resume',
          clusterState: 'Paused',
          drainStatus: 'Completed',
          ok: false,
        }),
      );
      w.log.push(
        entry({
          at: min(12),
          node: 'NODE2',
          kind: 'drain',
          clusterState: 'Paused',
          drainStatus: 'Completed',
          ok: true,
        }),
      );
      w.nodes.NODE1 = { ...w.nodes.NODE1, nodeState: 'Paused', drainStatus: 'Completed' };
      w.observations.nodeResults[0] = {
        ...w.observations.nodeResults[0],
        status: 'Failed',
      } as never;
      w.maxFailedNodes = 1;
      failNodes(w, ['NODE1']);
    },
  ],
  [
    'a Succeeded node with a restart pending',
    'noPendingRestartOnSuccess',
    /NODE2 is reported Succeeded with a restart still pending/,
    (w) => {
      w.nodes.NODE2 = { ...w.nodes.NODE2, pendingReboot: true };
    },
  ],
  [
    'the lease lapsing while the run waits',
    'lockHeldForRunLife',
    /the lease of run-1 on CLUSTER1 lapsed at 2026-01-13T23:00:00.000Z \(the lock names no running execution of it\); renewed only at 2026-01-13T23:30:00.000Z/,
    (w) => {
      w.observations.locks.splice(1, 1, {
        at: min(90),
        target: 'CLUSTER1',
        op: 'renewLock',
        holder: RUN,
        leaseExpiresAt: min(150),
        execution: null,
      });
      w.execution = { ...w.execution, stoppedAt: new Date(min(100)) };
      w.observations.locks[2] = {
        at: min(100),
        target: 'CLUSTER1',
        op: 'releaseLock',
        holder: null,
        leaseExpiresAt: null,
        execution: null,
      };
    },
  ],
  [
    'a second run taking the lock while the first lives',
    'lockHeldForRunLife',
    /the lock of CLUSTER1 is held by run-2 while run-1 still runs/,
    (w) => {
      w.observations.locks.splice(1, 0, {
        at: min(5),
        target: 'CLUSTER1',
        op: 'acquireLock',
        holder: 'run-2',
        leaseExpiresAt: min(65),
        execution: null,
      });
    },
  ],
  [
    'the lock not released after the end',
    'lockHeldForRunLife',
    /run-1 still holds the lock of CLUSTER1 after its end/,
    (w) => {
      w.report = { ...w.report, lockReleased: false };
    },
  ],
  [
    'a node started after the budget was spent, and failed too',
    'failureBudget',
    /2 nodes failed \(NODE1, NODE2\), more than maxFailedNodes 0 plus the 1 node\(s\) running when NODE1's failure spent the budget at 2026-01-13T22:10:00.000Z; started after it: NODE2 at 2026-01-13T22:11:00.000Z/,
    (w) => {
      w.observations = {
        ...w.observations,
        nodeResults: w.observations.nodeResults.map((r) => ({ ...r, status: 'Failed' })),
      };
      failNodes(w, ['NODE1', 'NODE2']);
    },
  ],
  [
    'a reported install missing from the ledger',
    'ledgerExactlyOnce',
    /NODE1: KB5034439 reported installed by run-1 is in the ledger 0 time\(s\)/,
    (w) => {
      w.ledger = {};
    },
  ],
  [
    'a reported install in the ledger twice',
    'ledgerExactlyOnce',
    /in the ledger 2 time\(s\)/,
    (w) => {
      w.ledger.NODE1?.push({ updateId: 'KB5034439', runId: RUN });
    },
  ],
  [
    'the finished event disagreeing with the run record',
    'reportMatchesHistory',
    /the last finished event says Failed, the run record Succeeded/,
    (w) => {
      w.events.push({
        detailType: 'Rollout Failed',
        detail: { rolloutId: RUN, status: 'Failed', failedNodes: [] },
      });
    },
  ],
  [
    'a node Succeeded whose update last failed',
    'reportMatchesHistory',
    /NODE1 is Succeeded but .*kb5034439.* ended Failed \(attempt 2\)/,
    (w) => {
      w.updates.push({
        ...(w.updates[0] as World['updates'][number]),
        outcome: 'Failed',
        attempt: 2,
      });
    },
  ],
  [
    'a run left Running after its execution ended',
    'reportMatchesHistory',
    /still Running after the execution ended SUCCEEDED/,
    (w) => {
      w.runStatus = 'Running';
    },
  ],
];

describe('the safety invariants, on hand-made evidence', () => {
  it('a clean run keeps every invariant, one result per invariant in order', async () => {
    // Act
    const results = await checkRunInvariants(evidence(cleanWorld()));
    // Assert
    expect(results.map((r) => r.name)).toEqual(INVARIANTS.map((i) => i.name));
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  it.each(BREAKS)('%s breaks %s, and only that', async (_what, name, detail, change) => {
    // Arrange
    const world = cleanWorld();
    change(world);
    // Act
    const results = await checkRunInvariants(evidence(world));
    // Assert
    const broken = results.filter((r) => !r.ok);
    expect(broken.map((r) => r.name)).toEqual([name]);
    expect(broken[0]?.detail).toMatch(detail);
  });

  it.each([
    ["the run's own execution: held whatever the lease says", 'arn', true],
    ['another execution: the lapse is a loss', 'arn:other', false],
  ])('a lock naming %s', async (_what, named, ok) => {
    // Arrange: the lease lapses at 23:00 while the run waits until 23:30 (a long gate).
    const world = cleanWorld();
    const held = { target: 'CLUSTER1', holder: RUN, execution: named };
    world.observations.locks.splice(
      0,
      3,
      { ...held, at: min(0), op: 'acquireLock', leaseExpiresAt: min(60) },
      { ...held, at: min(90), op: 'renewLock', leaseExpiresAt: min(150) },
      {
        at: min(100),
        target: 'CLUSTER1',
        op: 'releaseLock',
        holder: null,
        leaseExpiresAt: null,
        execution: null,
      },
    );
    world.execution = { ...world.execution, stoppedAt: new Date(min(100)) };
    // Act
    const results = await checkRunInvariants(evidence(world));
    // Assert
    expect(results.find((r) => r.name === 'lockHeldForRunLife')?.ok).toBe(ok);
  });

  it('a node running alongside the one that spent the budget may fail too (a group, two at a time)', async () => {
    const world = cleanWorld();
    world.observations = {
      ...world.observations,
      nodeStarts: [
        { at: min(0), runId: RUN, node: 'NODE1', order: 0 },
        { at: min(0), runId: RUN, node: 'NODE2', order: 1 },
      ],
      nodeResults: [
        { at: min(10), runId: RUN, node: 'NODE1', status: 'Failed', order: 2 },
        { at: min(12), runId: RUN, node: 'NODE2', status: 'Failed', order: 3 },
      ],
    };
    failNodes(world, ['NODE1', 'NODE2']);
    const results = await checkRunInvariants(evidence(world));
    expect(results.find((r) => r.name === 'failureBudget')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /2 failed node\(s\); .* by NODE1 with 2 node\(s\) running, 0 started after/,
      ),
    });
  });

  it('a node whose resume failed may stay paused when nothing else of its cluster is drained', async () => {
    const world = cleanWorld();
    world.log.splice(
      5,
      1,
      entry({
        at: min(10),
        node: 'NODE1',
        kind: 'resume',
        clusterState: 'Paused',
        drainStatus: 'Completed',
        ok: false,
      }),
    );
    world.nodes.NODE1 = { ...world.nodes.NODE1, nodeState: 'Paused', drainStatus: 'Completed' };
    world.observations.nodeResults[0] = {
      ...world.observations.nodeResults[0],
      status: 'Failed',
    } as never;
    world.maxFailedNodes = 1;
    failNodes(world, ['NODE1']);
    const results = await checkRunInvariants(evidence(world));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.find((r) => r.name === 'nodesLeftClean')?.detail).toMatch(
      /NODE1 stays Paused, drain Completed: its resume failed/,
    );
  });
});

describe('missingUpdatesReported (issue 13, item 6: the rescan after the final restart)', () => {
  const FILE = 'CAUHotfix_All/windows10.0-kb5034441-x64.msu';
  /** NODE2's installer reported KB5034441 installed; `onNode`: whether the node has it. */
  const world = (onNode: boolean, said: Record<string, unknown> = {}) => {
    const w = cleanWorld();
    const node2 = w.report.nodes[1] as unknown as Record<string, unknown>;
    node2.updates = [
      {
        plugin: 'Microsoft.HotfixPlugin',
        update: FILE,
        attempt: 1,
        outcome: 'Success',
        exitCode: 0,
        rebootRequired: false,
        durationSeconds: 180,
      },
    ];
    Object.assign(node2, said);
    w.nodes.NODE2 = { ...w.nodes.NODE2, installedUpdates: onNode ? ['KB5034441'] : [] } as never;
    return w;
  };
  const verdict = async (w: World) =>
    (await checkRunInvariants(evidence(w))).find((r) => r.name === 'missingUpdatesReported');

  it('holds when the node has what its installer reported', async () => {
    expect(await verdict(world(true))).toMatchObject({ ok: true, detail: /0 update\(s\)/ });
  });

  it('fails when the node lacks it and the report does not say so', async () => {
    expect(await verdict(world(false))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(
        /NODE2: CAUHotfix_All\/windows10\.0-kb5034441-x64\.msu was reported Success but KB5034441 is not on the node at the end/,
      ),
    });
  });

  it.each([
    [
      'its rescan lists it installedButNotPresent',
      {
        stillApplicable: [
          {
            kb: 'KB5034441',
            title: FILE,
            source: 'Hotfix',
            reason: 'installedButNotPresent',
            detail: 'the installer reported Success, but the node does not have it',
          },
        ],
      },
    ],
    ['its rescan could not search (rescanError)', { rescanError: 'search failed: 0x8024402c' }],
  ])('holds when the node lacks it and %s', async (_what, said) => {
    expect(await verdict(world(false, said))).toMatchObject({ ok: true, detail: /1 update\(s\)/ });
  });

  it('does not count another reason for the same update as reporting it', async () => {
    const said = {
      stillApplicable: [
        { kb: 'KB5034441', title: FILE, source: 'Hotfix', reason: 'installFailed', detail: '' },
      ],
    };
    expect((await verdict(world(false, said)))?.ok).toBe(false);
  });
});

describe('neverMeansNeverRestarted (issue 13, item 3: rebootOption Never)', () => {
  it.each([
    ['IfRequired', undefined, true],
    ['Never', 'Never', false],
  ])('a restart by the run, with rebootOption %s', async (_what, rebootOption, ok) => {
    // Arrange: the clean world restarts NODE1 with RestartNode (not its installer).
    const world = cleanWorld();
    // Act
    const results = await checkRunInvariants({
      ...evidence(world),
      ...(rebootOption ? { rebootOption } : {}),
    });
    // Assert
    const never = results.find((r) => r.name === 'neverMeansNeverRestarted');
    expect(never?.ok).toBe(ok);
    if (!ok)
      expect(never?.detail).toMatch(/NODE1 restarted by the run at .* with rebootOption Never/);
  });

  it('an installer restarting the node itself (1641) is not the run restarting it', async () => {
    // Arrange
    const world = cleanWorld();
    world.log = world.log.map((e) => (e.kind === 'restart' ? { ...e, byInstaller: true } : e));
    // Act
    const results = await checkRunInvariants({ ...evidence(world), rebootOption: 'Never' });
    // Assert
    expect(results.find((r) => r.name === 'neverMeansNeverRestarted')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/no restart by the run \(1 by an installer\)/),
    });
  });
});

describe('nodesLeftClean: a cluster node paused before the run', () => {
  it('may stay paused when a script of the run saw it so and nothing of its cluster changed after', async () => {
    // Arrange: NODE1's inventory saw NODE2 Paused; the run stopped, nothing drained or installed.
    const world = cleanWorld();
    seq = 0;
    world.log = [
      entry({
        at: min(0),
        node: 'NODE1',
        kind: 'command',
        clusterState: 'Up',
        drainStatus: 'NotInitiated',
        document: 'inventory',
        commandId: 'c-inv',
        status: 'Success',
      }),
      { ...pausedSeen(), seq: seq++ },
    ];
    world.nodes.NODE2 = { ...world.nodes.NODE2, nodeState: 'Paused', drainStatus: 'Completed' };
    setStatus(world, 'NODE1', 'NotStarted');
    setStatus(world, 'NODE2', 'NotStarted');
    // Act
    const results = await checkRunInvariants(evidence(world));
    // Assert
    expect(results.find((r) => r.name === 'nodesLeftClean')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /NODE2 stays Paused, drain Completed: NODE1 found it Paused at .*, before the run changed anything on its cluster, and the run left it untouched/,
      ),
    });
  });

  it('may stay paused when the run changed nothing on its cluster (it stopped before any node)', async () => {
    const world = cleanWorld();
    seq = 0;
    world.log = [];
    world.nodes.NODE2 = { ...world.nodes.NODE2, nodeState: 'Paused', drainStatus: 'Completed' };
    setStatus(world, 'NODE1', 'NotStarted');
    setStatus(world, 'NODE2', 'NotStarted');
    const results = await checkRunInvariants(evidence(world));
    expect(results.find((r) => r.name === 'nodesLeftClean')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /NODE2 stays Paused, drain Completed: paused before the run, which changed nothing on CLUSTER1/,
      ),
    });
  });

  it('is reported when no script of the run saw it paused and the run changed its cluster', async () => {
    const world = cleanWorld();
    world.nodes.NODE2 = { ...world.nodes.NODE2, nodeState: 'Paused', drainStatus: 'Completed' };
    failNodes(world, ['NODE2']);
    world.maxFailedNodes = 1;
    const results = await checkRunInvariants(evidence(world));
    expect(results.find((r) => r.name === 'nodesLeftClean')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^NODE2 ends the run .* Paused, drain Completed$/),
    });
  });
});

describe('the invariants through the sandbox', () => {
  it('a shipped scenario keeps all seven, and the run result carries them', async () => {
    // A cluster run that drains, restarts and resumes NODE1, then stops (StopAfter).
    const scenario = await loadScenario(
      fileURLToPath(new URL('../../examples/scenarios/stop-after.json', import.meta.url)),
    );
    const result = await runScenario(scenario);
    const run = result.runs[0];
    expect(run?.invariants.map((i) => [i.name, i.ok])).toEqual(
      INVARIANTS.map((i) => [i.name, true]),
    );
    expect(run?.invariants.find((i) => i.name === 'restartOnlyWhenDrained')?.detail).toMatch(
      /1 cluster node restart\(s\), each paused and drained/,
    );
    expect(run?.expectationsMet).toBe(true);
  });

  it('a run started through the API is checked too, once it has ended', async () => {
    const scenario = await loadScenario(
      fileURLToPath(new URL('../../examples/scenarios/change-management.json', import.meta.url)),
    );
    const result = await runScenario(scenario, { runRollouts: false });
    const api = result.sandbox.api();
    const started = await api({
      httpMethod: 'POST',
      path: '/rollouts',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'invariants-1' },
      queryStringParameters: null,
      body: JSON.stringify(scenario.runs[0]?.rollout),
      requestContext: {
        requestId: 'test',
        identity: { userArn: 'arn:aws:iam::000000000000:user/change-manager' },
      },
    });
    expect(started.statusCode).toBe(202);
    await result.sandbox.settle();
    const execution = result.sandbox.executions.find(
      (e) => e.name === (JSON.parse(started.body) as { rolloutId: string }).rolloutId,
    );
    const invariants = await checkExecutionInvariants(result, execution as ExecutionResult);
    await result.sandbox.stop();
    expect(invariants.filter((i) => !i.ok)).toEqual([]);
    expect(invariants.find((i) => i.name === 'lockHeldForRunLife')?.detail).toMatch(
      /held .* then released it/,
    );
  });

  it('a lock taken from a live run fails that run, naming the moment', async () => {
    const scenario = await loadScenario(
      fileURLToPath(new URL('../../examples/scenarios/restart-one-node.json', import.meta.url)),
    );
    const target = scenario.runs[0]?.rollout.target.name as string;
    // Ten simulated minutes in, someone else takes the target (as an expired lease would allow).
    const result = await runScenario(scenario, {
      beforeRuns: async (sandbox) => {
        sandbox.clock.schedule(sandbox.clock.now().getTime() + 10 * 60_000, () => {
          void sandbox.clock.track(async () => {
            const lock = await sandbox.store.getLock(target);
            if (lock) await sandbox.store.releaseLock(target, lock.holder);
            await sandbox.store.acquireLock(target, 'intruder', 3600, sandbox.clock.now());
          });
        });
      },
    });
    const run = result.runs[0];
    const lock = run?.invariants.find((i) => i.name === 'lockHeldForRunLife');
    expect(lock?.ok).toBe(false);
    expect(lock?.detail).toMatch(
      /after releaseLock at 2026-01-13T22:10:00.000Z the lock of web-servers is free while restart-one-node-1 still runs/,
    );
    expect(run?.expectationsMet).toBe(false);
    expect(run?.mismatches.join('\n')).toMatch(/invariant lockHeldForRunLife/);
  });
});
