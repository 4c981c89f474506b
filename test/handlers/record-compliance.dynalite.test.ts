/**
 * record-compliance against a DynamoDB implementation (dynalite), with the run store's own writes
 * for the ledger and the last run: what a node shows, the one event per change, retries, races
 * between assessments, and the paged read GET /compliance serves.
 */

import { beforeEach, describe, expect, it } from 'vitest';
import { assessNode } from '../../lambdas/core/compliance.js';
import type { UpdateResult } from '../../lambdas/core/contracts.js';
import { createLedger, recordInstall } from '../../lambdas/core/install-ledger.js';
import { type ScanNodeResult, scanNodeResultKey } from '../../lambdas/core/scan-result.js';
import {
  makeRecordComplianceHandler,
  type RecordComplianceDeps,
} from '../../lambdas/handlers/record-compliance.js';
import { ComplianceStore } from '../../lambdas/shared/compliance-store.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { useDynalite } from '../helpers/dynalite.js';

const db = useDynalite();
let runs: RunStore;
let compliance: ComplianceStore;

beforeEach(async () => {
  const { tableName, client } = await db.table('compliance');
  runs = new RunStore({ client, tableName });
  compliance = new ComplianceStore({ client, tableName });
});

const T = (day: number) => `2026-12-0${day}T03:00:00.000Z`;

type Scan = {
  node: string;
  scannedAt: string;
  status: 'Scanned' | 'Failed';
  error: { code: string; message: string } | null;
  pendingRestart: boolean | null;
  updates: { source: 'windowsUpdate' | 'hotfix'; kb: string | null; title: string }[];
};

// The scan contract's result is what compliance reads: this fails to compile if they drift apart.
const _contractFits = (result: ScanNodeResult): Scan => ({
  ...result,
  updates: result.updates.map((u) => ({ source: u.source, kb: u.kb, title: u.title })),
});
void _contractFits;

const clean = (node: string): Scan => ({
  node,
  scannedAt: T(1),
  status: 'Scanned',
  error: null,
  pendingRestart: false,
  updates: [],
});

function harness() {
  const scans = new Map<string, unknown>();
  const published: { detailType: string; detail: Record<string, unknown> }[] = [];
  let failNextPublish = false;
  const deps: RecordComplianceDeps = {
    compliance,
    ledgers: runs,
    loadScan: async (scanId, node) => scans.get(scanNodeResultKey(scanId, node)),
    events: {
      publish: async (detailType, detail) => {
        if (failNextPublish) {
          failNextPublish = false;
          throw Object.assign(new Error('refused'), { name: 'LifecycleEventNotPublished' });
        }
        published.push({ detailType, detail: detail as unknown as Record<string, unknown> });
      },
    },
    now: () => new Date('2026-12-05T03:30:00.000Z'),
  };
  const handler = makeRecordComplianceHandler(deps);
  return {
    handler,
    published,
    failNextPublish: () => {
      failNextPublish = true;
    },
    scan: (scanId: string, result: Scan) =>
      scans.set(scanNodeResultKey(scanId, result.node), result),
    assess: (assessmentId: string, day: number, nodes: string[]) =>
      handler({
        assessmentId,
        target: 'CLUSTER1',
        scanId: assessmentId,
        nodes,
        assessedAt: T(day),
      }),
  };
}

const failed = (index: number, update: string): UpdateResult => ({
  index,
  plugin: 'Microsoft.HotfixPlugin',
  update,
  exitCode: 1603,
  outcome: 'Failed',
  rebootRequired: false,
  rebootInitiated: false,
  transient: false,
  durationSeconds: 30,
  logTail: '',
  detail: 'ERROR_INSTALL_FAILURE',
});

describe('record-compliance: what a node shows', () => {
  it('a node with a failed update and one pending restart show up right; a clean node is Compliant', async () => {
    // Arrange: NODE1's last run failed KB2919355 twice; NODE2 installed KB1000001 and awaits a restart.
    const h = harness();
    await runs.putNodeResult('run-7', 'NODE1', { status: 'Failed', startedAt: T(1) });
    await runs.putUpdateResults('run-7', 'NODE1', 1, [
      failed(0, 'CAUHotfix_All/Windows-KB2919355-x64.msu'),
    ]);
    await runs.putUpdateResults('run-7', 'NODE1', 2, [
      failed(0, 'CAUHotfix_All/Windows-KB2919355-x64.msu'),
    ]);
    // An older run on NODE1 with another failure: not the last run, so not read.
    await runs.putNodeResult('run-6', 'NODE1', {
      status: 'Failed',
      startedAt: '2026-11-01T00:00:00Z',
    });
    await runs.putUpdateResults('run-6', 'NODE1', 1, [failed(0, 'KB1111111')]);
    // NODE10 shares NODE1's key prefix: its failures are not NODE1's.
    await runs.putNodeResult('run-7', 'NODE10', { status: 'Failed', startedAt: T(1) });
    await runs.putUpdateResults('run-7', 'NODE10', 1, [failed(0, 'KB2222222')]);
    const ledger = recordInstall(createLedger('NODE2'), {
      updateId: 'KB1000001',
      installedAt: T(2),
      runId: 'run-7',
      hotpatched: false,
      replacedFiles: [],
    });
    await runs.appendLedgerEntries('NODE2', ledger.entries);
    h.scan('a-1', {
      ...clean('NODE1'),
      updates: [{ source: 'hotfix', kb: 'KB2919355', title: 'Windows-KB2919355-x64.msu' }],
    });
    h.scan('a-1', { ...clean('NODE2'), pendingRestart: true });
    h.scan('a-1', clean('NODE3'));

    // Act
    const result = await h.assess('a-1', 3, ['NODE1', 'NODE2', 'NODE3']);

    // Assert
    expect(result.counts).toEqual({ Compliant: 1, NonCompliant: 2, Unknown: 0 });
    const node1 = await compliance.getNodeCompliance('CLUSTER1', 'node1');
    expect(node1?.state).toBe('NonCompliant');
    expect(node1?.failed).toEqual([
      {
        update: 'CAUHotfix_All/Windows-KB2919355-x64.msu',
        kb: 'KB2919355',
        runId: 'run-7',
        attempt: 2,
        exitCode: 1603,
        detail: 'ERROR_INSTALL_FAILURE',
      },
    ]);
    expect(node1?.missing).toEqual([
      { kb: 'KB2919355', title: 'Windows-KB2919355-x64.msu', source: 'hotfix' },
    ]);
    const node2 = await compliance.getNodeCompliance('CLUSTER1', 'NODE2');
    expect(node2).toMatchObject({
      state: 'NonCompliant',
      pendingRestart: true,
      failed: [],
      missing: [],
    });
    expect(node2?.installed).toEqual([
      {
        kb: 'KB1000001',
        installedAt: T(2),
        runId: 'run-7',
        hotpatched: false,
        installedPendingReboot: false,
      },
    ]);
    expect(node2?.reasons).toEqual(['a restart is pending: installed updates are not in effect']);
    expect((await compliance.getNodeCompliance('CLUSTER1', 'NODE3'))?.state).toBe('Compliant');
    // The first assessment is the baseline: no event.
    expect(h.published).toEqual([]);
  });

  it('a node the scan wrote nothing for, or something unreadable, is Unknown with the reason', async () => {
    const h = harness();
    h.scan('a-1', { ...clean('NODE2'), status: 'Done' } as unknown as Scan);
    await h.assess('a-1', 1, ['NODE1', 'NODE2']);
    expect(await compliance.getNodeCompliance('CLUSTER1', 'NODE1')).toMatchObject({
      state: 'Unknown',
      pendingRestart: null,
      reasons: [
        'the scan did not answer (ScanResultMissing: scan a-1 wrote no result for the node)',
      ],
    });
    const node2 = await compliance.getNodeCompliance('CLUSTER1', 'NODE2');
    expect(node2?.state).toBe('Unknown');
    expect(node2?.reasons[0]).toMatch(/ScanResultInvalid: .*status/);
  });
});

describe('record-compliance: one event per change', () => {
  it('a node that falls out of compliance between two assessments emits exactly one event; staying out emits none; coming back emits one', async () => {
    const h = harness();
    h.scan('a-1', clean('NODE1'));
    h.scan('a-1', clean('NODE2'));
    await h.assess('a-1', 1, ['NODE1', 'NODE2']);

    h.scan('a-2', { ...clean('NODE1'), pendingRestart: true });
    h.scan('a-2', clean('NODE2'));
    const second = await h.assess('a-2', 2, ['NODE1', 'NODE2']);
    expect(second).toMatchObject({ fellOut: ['NODE1'], cameBack: [], eventsPublished: 1 });
    expect(h.published).toHaveLength(1);
    expect(h.published[0]).toMatchObject({
      detailType: 'Node Compliance Changed',
      detail: {
        eventId: 'a-2:NODE1',
        node: 'NODE1',
        change: 'FellOut',
        state: 'NonCompliant',
        previousState: 'Compliant',
        assessedAt: T(2),
        previousAssessedAt: T(1),
        pendingRestart: true,
        target: { name: 'CLUSTER1' },
      },
    });

    h.scan('a-3', { ...clean('NODE1'), pendingRestart: true });
    h.scan('a-3', clean('NODE2'));
    await h.assess('a-3', 3, ['NODE1', 'NODE2']);
    expect(h.published).toHaveLength(1);
    expect(await compliance.getNodeCompliance('CLUSTER1', 'NODE1')).toMatchObject({
      state: 'NonCompliant',
      previousState: 'NonCompliant',
      previousAssessedAt: T(2),
      change: null,
    });

    h.scan('a-4', clean('NODE1'));
    h.scan('a-4', clean('NODE2'));
    const fourth = await h.assess('a-4', 4, ['NODE1', 'NODE2']);
    expect(fourth.cameBack).toEqual(['NODE1']);
    expect(h.published.map((e) => e.detail.change)).toEqual(['FellOut', 'CameBack']);
  });

  it('an Unknown assessment in between changes nothing and sends nothing; the fall is seen after it', async () => {
    const h = harness();
    h.scan('a-1', clean('NODE1'));
    await h.assess('a-1', 1, ['NODE1']);
    await h.assess('a-2', 2, ['NODE1']); // no scan result: Unknown
    expect(h.published).toEqual([]);
    h.scan('a-3', { ...clean('NODE1'), pendingRestart: true });
    await h.assess('a-3', 3, ['NODE1']);
    expect(h.published.map((e) => e.detail.previousState)).toEqual(['Compliant']);
    expect(h.published.map((e) => e.detail.previousAssessedAt)).toEqual([T(2)]);
  });

  it('a retry of the same assessment publishes nothing twice; one whose publish failed publishes it once', async () => {
    const h = harness();
    h.scan('a-1', clean('NODE1'));
    await h.assess('a-1', 1, ['NODE1']);
    h.scan('a-2', { ...clean('NODE1'), pendingRestart: true });
    h.failNextPublish();
    await expect(h.assess('a-2', 2, ['NODE1'])).rejects.toThrow('refused');
    expect(h.published).toHaveLength(0);

    const retried = await h.assess('a-2', 2, ['NODE1']);
    const again = await h.assess('a-2', 2, ['NODE1']);

    expect(retried.eventsPublished).toBe(1);
    expect(again.eventsPublished).toBe(0);
    expect(again.fellOut).toEqual(['NODE1']);
    expect(h.published.map((e) => e.detail.eventId)).toEqual(['a-2:NODE1']);
    expect((await compliance.getNodeCompliance('CLUSTER1', 'NODE1'))?.changeNotifiedAt).toBe(
      '2026-12-05T03:30:00.000Z',
    );
  });

  it('an older assessment arriving after a newer one leaves the node as the newer recorded it', async () => {
    const h = harness();
    h.scan('a-new', { ...clean('NODE1'), pendingRestart: true });
    await h.assess('a-new', 3, ['NODE1']);
    h.scan('a-old', clean('NODE1'));
    const old = await h.assess('a-old', 2, ['NODE1']);
    expect(old).toMatchObject({
      superseded: ['NODE1'],
      counts: { Compliant: 0, NonCompliant: 0, Unknown: 0 },
    });
    expect((await compliance.getNodeCompliance('CLUSTER1', 'NODE1'))?.assessmentId).toBe('a-new');
  });
});

describe('ComplianceStore against DynamoDB semantics', () => {
  const judge = (assessmentId: string, previous: Parameters<typeof assessNode>[0]['previous']) =>
    assessNode({
      target: 'CLUSTER1',
      assessmentId,
      assessedAt: T(2),
      scan: clean('NODE1'),
      ledger: createLedger('NODE1'),
      lastRun: null,
      previous,
    });

  it("refuses a record judged against an assessment that is no longer the node's", async () => {
    await compliance.putNodeCompliance(judge('a-1', null), null);
    await compliance.putNodeCompliance(judge('a-2', null), 'a-1');

    const late = compliance.putNodeCompliance(judge('a-3', null), 'a-1');
    const first = compliance.putNodeCompliance(judge('a-4', null), null);

    await expect(late).rejects.toMatchObject({ name: 'ComplianceConflict' });
    await expect(first).rejects.toThrow(/NODE1.*another assessment recorded it/);
    expect((await compliance.getNodeCompliance('CLUSTER1', 'NODE1'))?.assessmentId).toBe('a-2');
  });

  it("marks a change notified only while the assessment is still the node's", async () => {
    await compliance.putNodeCompliance(judge('a-1', null), null);
    expect(await compliance.markChangeNotified('CLUSTER1', 'NODE1', 'a-0', T(3))).toBe(false);
    expect(await compliance.markChangeNotified('CLUSTER1', 'NODE1', 'a-1', T(3))).toBe(true);
  });

  it("pages a target's nodes with a cursor, and refuses another target's cursor or a made-up one", async () => {
    for (const node of ['NODE1', 'NODE2', 'NODE3']) {
      await compliance.putNodeCompliance({ ...judge('a-1', null), node }, null);
    }
    await compliance.putNodeCompliance({ ...judge('a-1', null), target: 'CLUSTER2' }, null);

    const first = await compliance.listCompliance('cluster1', { limit: 2 });
    expect(first.nodes.map((n) => n.node)).toEqual(['NODE1', 'NODE2']);
    expect(first.cursor).toBeDefined();
    const second = await compliance.listCompliance('CLUSTER1', { limit: 2, cursor: first.cursor });
    expect(second.nodes.map((n) => n.node)).toEqual(['NODE3']);
    expect(second.cursor).toBeUndefined();
    expect(second.nodes[0]).not.toHaveProperty('pk');

    await expect(
      compliance.listCompliance('CLUSTER2', { cursor: first.cursor as string }),
    ).rejects.toMatchObject({ name: 'InvalidCursor', message: /another target/ });
    await expect(compliance.listCompliance('CLUSTER1', { cursor: 'bm9wZQ' })).rejects.toThrow(
      /not a cursor this service returned/,
    );
    await expect(compliance.listCompliance('CLUSTER1', { limit: 0 })).rejects.toThrow(RangeError);
  });
});

describe('record-compliance: bad input is refused naming the field', () => {
  it.each([
    [{ assessmentId: 'a 1', target: 'CLUSTER1', scanId: 's', nodes: ['N1'] }, /assessmentId/],
    [{ assessmentId: 'a-1', target: '-x', scanId: 's', nodes: ['N1'] }, /target \("-x"\)/],
    [{ assessmentId: 'a-1', target: 'C', scanId: 's', nodes: [] }, /nodes.*at least one node/],
    [{ assessmentId: 'a-1', target: 'C', scanId: 's', nodes: ['bad name!'] }, /nodes\[0\]/],
    [{ assessmentId: 'a-1', target: 'C', nodes: ['N1'] }, /scanId/],
    [
      { assessmentId: 'a-1', target: 'C', scanId: 's', nodes: ['N1'], assessedAt: 'today' },
      /assessedAt/,
    ],
  ])('%j', async (event, message) => {
    const h = harness();
    await expect(h.handler(event)).rejects.toMatchObject({ name: 'InvalidEvent' });
    await expect(h.handler(event)).rejects.toThrow(message);
  });
});
