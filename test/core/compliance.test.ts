import { describe, expect, it } from 'vitest';
import {
  assessmentChanges,
  assessNode,
  ComplianceError,
  type ComplianceScan,
  type ComplianceState,
  compareWithPrevious,
  kbOf,
  type LastRun,
  type NodeAssessmentInput,
  parseComplianceTarget,
  stateCounts,
} from '../../lambdas/core/compliance.js';
import { RolloutRuleError } from '../../lambdas/core/errors.js';
import {
  createLedger,
  type InstallLedger,
  recordInstall,
} from '../../lambdas/core/install-ledger.js';

const NODE = 'NODE1';
const AT = '2026-12-05T03:00:00.000Z';

function ledgerWith(...kbs: string[]): InstallLedger {
  let ledger = createLedger(NODE);
  kbs.forEach((kb, i) => {
    ledger = recordInstall(ledger, {
      updateId: kb,
      installedAt: `2026-12-0${i + 1}T10:00:00Z`,
      runId: `run-${i + 1}`,
      hotpatched: i === 0,
      replacedFiles: [],
    });
  });
  return ledger;
}

function scan(over: Partial<ComplianceScan> = {}): ComplianceScan {
  return {
    node: NODE,
    scannedAt: AT,
    status: 'Scanned',
    error: null,
    pendingRestart: false,
    updates: [],
    ...over,
  };
}

function input(over: Partial<NodeAssessmentInput> = {}): NodeAssessmentInput {
  return {
    target: 'CLUSTER1',
    assessmentId: 'a-1',
    assessedAt: AT,
    scan: scan(),
    ledger: ledgerWith(),
    lastRun: null,
    previous: null,
    ...over,
  };
}

const failedRun: LastRun = {
  runId: 'run-9',
  updates: [
    { update: 'Windows8.1-KB2919355-x64.msu', attempt: 1, outcome: 'Failed', exitCode: 1603 },
    {
      update: 'Windows8.1-KB2919355-x64.msu',
      attempt: 2,
      outcome: 'Failed',
      exitCode: 1603,
      detail: 'ERROR_INSTALL_FAILURE',
    },
    { update: 'KB5001111', attempt: 1, outcome: 'Success', exitCode: 0 },
  ],
};

describe('assessNode: the state (Patch Manager / Azure Update Manager compliance states)', () => {
  const rows: {
    name: string;
    over: Partial<NodeAssessmentInput>;
    state: ComplianceState;
    reason?: RegExp;
  }[] = [
    { name: 'nothing missing, failed or pending: Compliant', over: {}, state: 'Compliant' },
    {
      name: 'an applicable Windows Update missing: NonCompliant',
      over: {
        scan: scan({
          updates: [
            {
              source: 'windowsUpdate',
              kb: 'KB5002222',
              title: '2026-12 Cumulative Update (KB5002222)',
            },
          ],
        }),
      },
      state: 'NonCompliant',
      reason: /1 applicable update is missing: KB5002222/,
    },
    {
      name: 'a restart pending (Patch Manager: InstalledPendingReboot is non-compliant)',
      over: { scan: scan({ pendingRestart: true }) },
      state: 'NonCompliant',
      reason: /restart is pending/,
    },
    {
      name: 'the last attempt of an update failed in the last run',
      over: { lastRun: failedRun },
      state: 'NonCompliant',
      reason: /1 update failed on the last attempt in run run-9: KB2919355/,
    },
    {
      name: 'the scan did not answer: Unknown, with its error',
      over: {
        scan: scan({
          status: 'Failed',
          error: { code: 'TimedOut', message: 'no answer in 10 minutes' },
          pendingRestart: null,
        }),
      },
      state: 'Unknown',
      reason: /TimedOut: no answer in 10 minutes/,
    },
    {
      name: 'a failed scan with no error still says why',
      over: { scan: scan({ status: 'Failed', error: null, pendingRestart: null }) },
      state: 'Unknown',
      reason: /ScanFailed: no reason given/,
    },
    {
      name: 'a failed scan claims nothing, even with a failed run',
      over: {
        scan: scan({ status: 'Failed', error: null, pendingRestart: true }),
        lastRun: failedRun,
      },
      state: 'Unknown',
    },
  ];
  it.each(rows)('$name', ({ over, state, reason }) => {
    const result = assessNode(input(over));
    expect(result.state).toBe(state);
    if (state === 'Compliant') expect(result.reasons).toEqual([]);
    else expect(result.reasons.length).toBeGreaterThan(0);
    if (reason) expect(result.reasons.join('\n')).toMatch(reason);
  });

  it('two missing updates are counted in the plural', () => {
    const result = assessNode(
      input({
        scan: scan({
          updates: [
            { source: 'windowsUpdate', kb: 'KB5002222', title: 'a' },
            { source: 'windowsUpdate', kb: null, title: 'Defender update' },
          ],
        }),
      }),
    );
    expect(result.reasons).toEqual([
      '2 applicable updates are missing: KB5002222, Defender update',
    ]);
  });

  it('lists every reason at once', () => {
    const result = assessNode(
      input({
        scan: scan({
          pendingRestart: true,
          updates: [{ source: 'windowsUpdate', kb: 'KB5002222', title: 'x' }],
        }),
        lastRun: {
          runId: 'r',
          updates: [
            { update: 'KB1234567', attempt: 1, outcome: 'Failed', exitCode: 1603 },
            { update: 'KB7654321', attempt: 1, outcome: 'Failed', exitCode: 1 },
          ],
        },
      }),
    );
    expect(result.reasons).toEqual([
      '1 applicable update is missing: KB5002222',
      '2 updates failed on the last attempt in run r: KB1234567, KB7654321',
      'a restart is pending: installed updates are not in effect',
    ]);
  });
});

const owing: InstallLedger = {
  node: NODE,
  entries: [
    {
      node: NODE,
      sequence: 1,
      updateId: 'KB1000001',
      installedAt: '2026-12-01T10:00:00Z',
      hotpatched: false,
      replacedFiles: [],
    },
    {
      node: NODE,
      sequence: 2,
      updateId: 'KB1000002',
      installedAt: '2026-12-02T10:00:00Z',
      hotpatched: false,
      replacedFiles: [],
      installedPendingReboot: true,
    },
  ],
};

describe('assessNode: a restart owed by the ledger when the scan did not read the markers', () => {
  it('is pending, with the updates that owe it', () => {
    const result = assessNode(input({ scan: scan({ pendingRestart: null }), ledger: owing }));
    expect(result).toMatchObject({ state: 'NonCompliant', pendingRestart: true });
    expect(result.reasons).toEqual([
      "a restart is owed: KB1000002 installed without one (rebootOption Never); the scan did not read the node's restart markers",
    ]);
  });
  it("the scan's own reading wins", () => {
    expect(assessNode(input({ scan: scan({ pendingRestart: false }), ledger: owing })).state).toBe(
      'Compliant',
    );
  });
});

describe('assessNode: installed, missing, failed, pending restart', () => {
  it('lists installed updates from the ledger, with when and by which run', () => {
    const result = assessNode(input({ ledger: ledgerWith('KB1000001', 'KB1000002') }));
    expect(result.installed).toEqual([
      {
        kb: 'KB1000001',
        installedAt: '2026-12-01T10:00:00Z',
        runId: 'run-1',
        hotpatched: true,
        installedPendingReboot: false,
      },
      {
        kb: 'KB1000002',
        installedAt: '2026-12-02T10:00:00Z',
        runId: 'run-2',
        hotpatched: false,
        installedPendingReboot: false,
      },
    ]);
  });

  it('leaves removed updates out of installed, keeps a ledger without a run as runId null, and shows InstalledPendingReboot', () => {
    const ledger: InstallLedger = {
      node: NODE,
      entries: [
        {
          node: NODE,
          sequence: 1,
          updateId: 'KB1000001',
          installedAt: '2026-12-01T10:00:00Z',
          hotpatched: false,
          replacedFiles: [],
          removedAt: '2026-12-02T10:00:00Z',
        },
        {
          node: NODE,
          sequence: 2,
          updateId: 'KB1000002',
          installedAt: '2026-12-03T10:00:00Z',
          hotpatched: false,
          replacedFiles: [],
          installedPendingReboot: true,
        },
      ],
    };
    const result = assessNode(input({ ledger }));
    expect(result.installed).toEqual([
      {
        kb: 'KB1000002',
        installedAt: '2026-12-03T10:00:00Z',
        runId: null,
        hotpatched: false,
        installedPendingReboot: true,
      },
    ]);
  });

  it('a hotfix the ledger shows installed is not missing; one it does not is, and Windows Update is taken as the search says', () => {
    const result = assessNode(
      input({
        ledger: ledgerWith('KB1000001'),
        scan: scan({
          updates: [
            { source: 'hotfix', kb: 'KB1000001', title: 'windows10.0-kb1000001-x64.msu' },
            { source: 'hotfix', kb: null, title: 'windows10.0-kb1000003-x64.msu' },
            { source: 'hotfix', kb: null, title: 'tool.msi' },
            { source: 'windowsUpdate', kb: 'kb1000001', title: 'same KB from Windows Update' },
          ],
        }),
      }),
    );
    expect(result.missing).toEqual([
      { kb: 'KB1000003', title: 'windows10.0-kb1000003-x64.msu', source: 'hotfix' },
      { kb: null, title: 'tool.msi', source: 'hotfix' },
      { kb: 'KB1000001', title: 'same KB from Windows Update', source: 'windowsUpdate' },
    ]);
  });

  it('a failed update is its last attempt; a success on a later attempt is not failed', () => {
    const result = assessNode(
      input({
        lastRun: {
          runId: 'run-9',
          updates: [
            { update: 'KB2000001', attempt: 1, outcome: 'Failed', exitCode: 1618 },
            { update: 'kb2000001', attempt: 2, outcome: 'Success', exitCode: 0 },
            ...failedRun.updates,
          ],
        },
      }),
    );
    expect(result.failed).toEqual([
      {
        update: 'Windows8.1-KB2919355-x64.msu',
        kb: 'KB2919355',
        runId: 'run-9',
        attempt: 2,
        exitCode: 1603,
        detail: 'ERROR_INSTALL_FAILURE',
      },
    ]);
  });

  it('a later success after a failure in the list order is read by attempt, not order', () => {
    const result = assessNode(
      input({
        lastRun: {
          runId: 'r',
          updates: [
            { update: 'KB2000001', attempt: 2, outcome: 'Success', exitCode: 0 },
            { update: 'KB2000001', attempt: 1, outcome: 'Failed', exitCode: 1603 },
          ],
        },
      }),
    );
    expect(result.failed).toEqual([]);
    expect(result.state).toBe('Compliant');
  });

  it('a failed update the ledger shows installed since is not failed; one without a KB stays failed', () => {
    const result = assessNode(
      input({
        ledger: ledgerWith('KB2919355'),
        lastRun: {
          runId: 'r',
          updates: [
            ...failedRun.updates,
            { update: 'Definition update', attempt: 1, outcome: 'Failed', exitCode: -2145124329 },
          ],
        },
      }),
    );
    expect(result.failed).toEqual([
      {
        update: 'Definition update',
        kb: null,
        runId: 'r',
        attempt: 1,
        exitCode: -2145124329,
        detail: null,
      },
    ]);
  });

  it("pendingRestart is the scan's, and null when the scan failed (missing and failed are then not claimed either)", () => {
    expect(assessNode(input({ scan: scan({ pendingRestart: true }) })).pendingRestart).toBe(true);
    expect(assessNode(input({ scan: scan({ pendingRestart: null }) })).pendingRestart).toBe(false);
    expect(
      assessNode(input({ scan: scan({ pendingRestart: false }), ledger: owing })).pendingRestart,
    ).toBe(false);
    const failedScan = assessNode(
      input({
        scan: scan({
          status: 'Failed',
          error: null,
          pendingRestart: true,
          updates: [{ source: 'windowsUpdate', kb: 'KB5002222', title: 'x' }],
        }),
      }),
    );
    expect(failedScan.pendingRestart).toBeNull();
    expect(failedScan.missing).toEqual([]);
  });

  it("carries the target, the assessment and the ledger's spelling of the node", () => {
    const result = assessNode(input({ scan: scan({ node: 'node1' }) }));
    expect(result).toMatchObject({
      target: 'CLUSTER1',
      node: NODE,
      assessmentId: 'a-1',
      assessedAt: AT,
    });
  });

  it('says which node it cannot assess', () => {
    expect(() => assessNode(input({ scan: scan({ node: 'NODE2' }) }))).toThrow(
      /^Cannot assess node "NODE1" \(1 problem\):/,
    );
  });

  it('lists every update that owes a restart', () => {
    const ledger: InstallLedger = {
      node: NODE,
      entries: ['KB1000001', 'KB1000002'].map((updateId, i) => ({
        node: NODE,
        sequence: i + 1,
        updateId,
        installedAt: `2026-12-0${i + 1}T10:00:00Z`,
        hotpatched: false,
        replacedFiles: [],
        installedPendingReboot: true,
      })),
    };
    expect(assessNode(input({ scan: scan({ pendingRestart: null }), ledger })).reasons[0]).toMatch(
      /^a restart is owed: KB1000001, KB1000002 installed without one/,
    );
  });

  it('refuses a scan of another node, naming scan.node', () => {
    const act = () => assessNode(input({ scan: scan({ node: 'NODE2' }) }));
    expect(act).toThrow(ComplianceError);
    expect(act).toThrow(/scan\.node \("NODE2"\): expected the ledger's node "NODE1"/);
    expect(act).toThrow(RolloutRuleError);
  });
});

describe('compareWithPrevious: changes between assessments', () => {
  const rows: {
    before: ComplianceState | null;
    lastKnown: 'Compliant' | 'NonCompliant' | null;
    now: ComplianceState;
    change: 'FellOut' | 'CameBack' | null;
    lastKnownAfter: 'Compliant' | 'NonCompliant' | null;
  }[] = [
    {
      before: null,
      lastKnown: null,
      now: 'NonCompliant',
      change: null,
      lastKnownAfter: 'NonCompliant',
    },
    { before: null, lastKnown: null, now: 'Compliant', change: null, lastKnownAfter: 'Compliant' },
    { before: null, lastKnown: null, now: 'Unknown', change: null, lastKnownAfter: null },
    {
      before: 'Compliant',
      lastKnown: 'Compliant',
      now: 'NonCompliant',
      change: 'FellOut',
      lastKnownAfter: 'NonCompliant',
    },
    {
      before: 'NonCompliant',
      lastKnown: 'NonCompliant',
      now: 'Compliant',
      change: 'CameBack',
      lastKnownAfter: 'Compliant',
    },
    {
      before: 'Compliant',
      lastKnown: 'Compliant',
      now: 'Compliant',
      change: null,
      lastKnownAfter: 'Compliant',
    },
    {
      before: 'NonCompliant',
      lastKnown: 'NonCompliant',
      now: 'NonCompliant',
      change: null,
      lastKnownAfter: 'NonCompliant',
    },
    {
      before: 'Compliant',
      lastKnown: 'Compliant',
      now: 'Unknown',
      change: null,
      lastKnownAfter: 'Compliant',
    },
    {
      before: 'Unknown',
      lastKnown: 'Compliant',
      now: 'NonCompliant',
      change: 'FellOut',
      lastKnownAfter: 'NonCompliant',
    },
    {
      before: 'Unknown',
      lastKnown: 'NonCompliant',
      now: 'Compliant',
      change: 'CameBack',
      lastKnownAfter: 'Compliant',
    },
    {
      before: 'Unknown',
      lastKnown: 'NonCompliant',
      now: 'Unknown',
      change: null,
      lastKnownAfter: 'NonCompliant',
    },
  ];
  it.each(rows)(
    '$before (last known $lastKnown) then $now: $change',
    ({ before, lastKnown, now, change, lastKnownAfter }) => {
      const previous =
        before === null
          ? null
          : { state: before, assessedAt: '2026-12-04T03:00:00Z', lastKnownState: lastKnown };
      expect(compareWithPrevious(previous, now)).toEqual({
        previousState: before,
        change,
        lastKnownState: lastKnownAfter,
      });
    },
  );

  it('assessNode keeps the previous state and time', () => {
    const result = assessNode(
      input({
        scan: scan({ pendingRestart: true }),
        previous: {
          state: 'Compliant',
          assessedAt: '2026-12-04T03:00:00Z',
          lastKnownState: 'Compliant',
        },
      }),
    );
    expect(result).toMatchObject({
      state: 'NonCompliant',
      previousState: 'Compliant',
      previousAssessedAt: '2026-12-04T03:00:00Z',
      change: 'FellOut',
      lastKnownState: 'NonCompliant',
    });
    expect(assessNode(input()).previousAssessedAt).toBeNull();
  });
});

describe('assessment summaries', () => {
  const nodes = [
    { node: 'A', state: 'NonCompliant', change: 'FellOut' },
    { node: 'B', state: 'Compliant', change: 'CameBack' },
    { node: 'C', state: 'Unknown', change: null },
    { node: 'D', state: 'NonCompliant', change: 'FellOut' },
    { node: 'E', state: 'Compliant', change: null },
  ] as const;
  it('lists who fell out and who came back, in node order', () => {
    expect(assessmentChanges(nodes as never)).toEqual({ fellOut: ['A', 'D'], cameBack: ['B'] });
  });
  it('counts the states', () => {
    expect(stateCounts(nodes)).toEqual({ Compliant: 2, NonCompliant: 2, Unknown: 1 });
    expect(stateCounts([])).toEqual({ Compliant: 0, NonCompliant: 0, Unknown: 0 });
  });
});

describe('kbOf', () => {
  it.each([
    ['Windows8.1-KB2919355-x64.msu', 'KB2919355'],
    ['kb2919355', 'KB2919355'],
    ['2026-12 Cumulative Update (KB5002222)', 'KB5002222'],
    ['KB123', null],
    ['KB0123456', null],
    ['notKB1234567', null],
    ['Defender', null],
    [null, null],
  ])('%s -> %s', (text, kb) => {
    expect(kbOf(text)).toBe(kb);
  });
});

describe('parseComplianceTarget: bad input names the field and the value', () => {
  it.each(['CLUSTER1', 'web.fleet-01', 'a', 'A'.repeat(64)])('accepts %s', (name) => {
    expect(parseComplianceTarget(name)).toBe(name);
  });
  it.each([
    ['', /target \(""\): expected a cluster or group name, 1 to 64/],
    ['-lead', /target \("-lead"\): expected a cluster or group name/],
    ['A'.repeat(65), /target \("A{65}"\)/],
    ['has space', /target \("has space"\)/],
    [42, /target \(42\): expected a cluster or group name as a string/],
    [undefined, /target: missing; expected a cluster or group name/],
  ])('refuses %j', (value, message) => {
    expect(() => parseComplianceTarget(value)).toThrow(ComplianceError);
    expect(() => parseComplianceTarget(value)).toThrow(message);
  });
  it('heads the error and gives no value when none was given', () => {
    let error: ComplianceError | undefined;
    try {
      parseComplianceTarget(undefined);
    } catch (caught) {
      error = caught as ComplianceError;
    }
    expect(error?.message).toMatch(/^Invalid compliance target \(1 problem\):/);
    expect(error?.problems[0]).not.toHaveProperty('value');
    expect(() => parseComplianceTarget('?')).toThrow(/^Invalid compliance target/);
  });

  it('names another field when asked', () => {
    expect(() => parseComplianceTarget('?', 'assessment.target')).toThrow(
      /assessment\.target \("\?"\)/,
    );
  });
});
