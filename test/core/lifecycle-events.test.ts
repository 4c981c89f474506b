/**
 * Lifecycle events: every builder's detail validates against its schema and carries the change
 * ticket (null when none); Stopped is a Rollout Failed; the published JSON Schemas under
 * `events/schemas/` are exactly the generated ones.
 *
 * Regenerate the published schemas after changing a schema:
 *   UPDATE_EVENT_SCHEMAS=1 npx vitest run test/core/lifecycle-events.test.ts
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  describeApprovalGate,
  LIFECYCLE_EVENT_SOURCE,
  LIFECYCLE_EVENT_TYPES,
  type LifecycleEventKey,
  type UpdateResult,
} from '../../lambdas/core/contracts.js';
import {
  approvalRequired,
  EVENT_BUS_ENV,
  healthGateTripped,
  type LifecycleEvent,
  type LifecycleRun,
  type LifecycleRunSummary,
  lifecycleDetailSchemas,
  lifecycleEventJsonSchemas,
  lockForceRecovered,
  MAX_COMPLIANCE_EVENT_UPDATES,
  MAX_EVENT_UPDATES,
  nodeComplianceChanged,
  nodeUpdated,
  phaseCompleted,
  rolloutFinished,
  rolloutStarted,
  warnAfterPassed,
} from '../../lambdas/core/lifecycle-events.js';

const SCHEMA_DIR = fileURLToPath(new URL('../../events/schemas/', import.meta.url));
const EVENTS_README = fileURLToPath(new URL('../../events/README.md', import.meta.url));
const AT = { sequence: 3, occurredAt: '2025-03-01T12:00:00.000Z' };
const TICKET = {
  system: 'ServiceNow',
  id: 'CHG0031337',
  url: 'https://example.invalid/CHG0031337',
};

const run = (overrides: Partial<LifecycleRun> = {}): LifecycleRun => ({
  runId: 'run-1',
  target: 'CLUSTER1',
  targetKind: 'cluster',
  nodes: ['NODE1', 'NODE2', 'NODE3', 'NODE4'],
  maxFailedNodes: 1,
  startedAt: '2025-03-01T10:00:00.000Z',
  execution: 'arn:aws:states:us-east-1:000000000000:execution:Rollout:run-1',
  changeTicket: TICKET,
  requestedBy: 'alice@example.invalid',
  ...overrides,
});
const summary = (status: LifecycleRunSummary['status']): LifecycleRunSummary => ({
  status,
  reason: `the run ended ${status}`,
  nodes: { total: 4, succeeded: 3, failed: 1, notStarted: 0, nothingToInstall: 0, skipped: 0 },
  failedNodes: ['NODE2'],
});
const nodeResult = {
  node: 'node2',
  status: 'Failed' as const,
  startedAt: '2025-03-01T11:00:00.000Z',
  finishedAt: '2025-03-01T11:40:00.000Z',
  detail: 'install of KB5001 failed: 0x80240017',
  restarts: 1,
  drained: true,
  attempts: 2,
  instanceId: 'i-0123456789abcdef0',
};
const update = (index: number): UpdateResult => ({
  index,
  plugin: 'Microsoft.HotfixPlugin',
  update: `CAUHotfix_All/KB${5000 + index}.msu`,
  exitCode: 3010,
  outcome: 'Success_RebootRequired',
  rebootRequired: true,
  rebootInitiated: false,
  transient: false,
  durationSeconds: 30,
  logTail: 'not published',
});

/** Every builder, each for one detail type, given the run. */
const BUILDERS: {
  source: string;
  key: LifecycleEventKey;
  build: (r: LifecycleRun) => LifecycleEvent;
}[] = [
  {
    source: 'issue 5: rollout started',
    key: 'rolloutStarted',
    build: (r) => rolloutStarted(r, AT),
  },
  {
    source: 'issue 5: approval required (CAU / SCCM pilot group)',
    key: 'approvalRequired',
    build: (r) => approvalRequired(r, { afterNodes: 1, timeoutMinutes: 120 }, AT),
  },
  {
    source: 'issue 5: node updated with outcomes',
    key: 'nodeUpdated',
    build: (r) => nodeUpdated(r, nodeResult, AT, [update(0)]),
  },
  {
    source: 'issue 5: rollout succeeded',
    key: 'rolloutSucceeded',
    build: (r) => rolloutFinished(r, summary('Succeeded'), AT),
  },
  {
    source: 'issue 5: rollout failed',
    key: 'rolloutFailed',
    build: (r) => rolloutFinished(r, summary('Failed'), AT),
  },
  {
    source: 'issue 5: rollout cancelled',
    key: 'rolloutCancelled',
    build: (r) => rolloutFinished(r, summary('Cancelled'), AT),
  },
  {
    source: 'issue 13 item 4: a phase ended, its criteria judged',
    key: 'phaseCompleted',
    build: (r) =>
      phaseCompleted(
        r,
        {
          index: 0,
          name: 'canary',
          nodes: ['NODE1'],
          failed: [],
          failuresAllowed: 0,
          passed: true,
          reason: 'canary (phases[0], 1 node): 0 failed, 0 allowed: the criteria hold',
        },
        'bake',
        AT,
      ),
  },
  {
    source: 'issue 8 point 11: WarnAfter passed',
    key: 'warnAfterPassed',
    build: (r) => warnAfterPassed(r, '2026-01-13T23:00:00.000Z', 'NODE2', AT),
  },
  {
    source: 'issue 8 point 4: ForceRecovery',
    key: 'lockForceRecovered',
    build: (r) =>
      lockForceRecovered(
        r,
        {
          recoveredBy: 'arn:aws:iam::000000000000:user/operator',
          reason: 'the run was stopped by hand',
          executionStatus: 'ABORTED',
          lockAcquiredAt: '2026-01-13T22:00:00.000Z',
        },
        AT,
      ),
  },
  {
    source: 'issue 13 item 1: health gate',
    key: 'healthGate',
    build: (r) =>
      healthGateTripped(
        r,
        {
          checkpoint: 'beforeNode',
          node: 'NODE2',
          action: 'stop',
          firing: [{ name: 'web-5xx-rate', reason: 'Threshold Crossed: 12.5 > 5.0' }],
          missing: [],
          message:
            'health gate before node NODE2: web-5xx-rate is in ALARM (Threshold Crossed: 12.5 > 5.0); onAlarm stop',
        },
        AT,
      ),
  },
];

describe('lifecycle event builders', () => {
  it('cover every detail type of the contracts', () => {
    // Node Compliance Changed is an assessment's, not a rollout's: tested on its own below.
    expect([...BUILDERS.map((b) => b.key), 'nodeComplianceChanged'].sort()).toEqual(
      Object.keys(LIFECYCLE_EVENT_TYPES).sort(),
    );
  });

  it.each(BUILDERS)(
    '$source: the detail validates and carries the change ticket',
    ({ key, build }) => {
      // Act
      const event = build(run());

      // Assert
      expect(event.detailType).toBe(LIFECYCLE_EVENT_TYPES[key]);
      expect(lifecycleDetailSchemas[key].safeParse(event.detail).success).toBe(true);
      expect(event.detail).toMatchObject({
        schemaVersion: '1',
        rolloutId: 'run-1',
        sequence: 3,
        occurredAt: AT.occurredAt,
        target: { kind: 'cluster', name: 'CLUSTER1' },
        changeTicket: TICKET,
        requestedBy: 'alice@example.invalid',
        execution: 'arn:aws:states:us-east-1:000000000000:execution:Rollout:run-1',
      });
    },
  );

  it.each(BUILDERS)('$source: without a change ticket, changeTicket is null', ({ key, build }) => {
    // Act
    const event = build(
      run({ changeTicket: undefined, requestedBy: undefined, execution: undefined }),
    );

    // Assert
    expect(lifecycleDetailSchemas[key].safeParse(event.detail).success).toBe(true);
    expect(event.detail.changeTicket).toBeNull();
    expect(event.detail.requestedBy).toBeNull();
    expect(event.detail.execution).toBeNull();
  });

  it.each(BUILDERS)(
    '$source: the eventId does not change with the sequence (retries)',
    ({ build }) => {
      // Act
      const first = build(run());
      const again = build(run());

      // Assert
      expect(again.detail.eventId).toBe(first.detail.eventId);
      expect(first.detail.eventId).toMatch(/^run-1:/);
    },
  );

  it('gives each occurrence its own eventId; a run ends once, so its end events share one', () => {
    const ids = BUILDERS.map((b) => b.build(run()).detail.eventId);
    expect(ids).toEqual([
      'run-1:started',
      'run-1:approval:1',
      'run-1:node:NODE2:2025-03-01T11:00:00.000Z',
      'run-1:finished',
      'run-1:finished',
      'run-1:finished',
      'run-1:phase:0',
      'run-1:warn-after',
      'run-1:force-recovery:2026-01-13T22:00:00.000Z',
      'run-1:health-gate:beforeNode:NODE2',
    ]);
  });

  it('keeps a ticket without a URL, with url null', () => {
    // Act
    const event = rolloutStarted(run({ changeTicket: { system: 'Jira', id: 'OPS-7' } }), AT);

    // Assert
    expect(event.detail.changeTicket).toEqual({ system: 'Jira', id: 'OPS-7', url: null });
  });

  it.each([
    { source: 'summariseRun rule 4', status: 'Succeeded', detailType: 'Rollout Succeeded' },
    { source: 'summariseRun rules 2 and 5', status: 'Failed', detailType: 'Rollout Failed' },
    {
      source: 'CAU StopAfter (summariseRun rule 3)',
      status: 'Stopped',
      detailType: 'Rollout Failed',
    },
    { source: 'summariseRun rule 1', status: 'Cancelled', detailType: 'Rollout Cancelled' },
  ] as const)('$source: a $status run ends with $detailType', ({ status, detailType }) => {
    // Act
    const event = rolloutFinished(run(), summary(status), AT);

    // Assert
    expect(event.detailType).toBe(detailType);
    expect(event.detail).toMatchObject({
      status,
      reason: `the run ended ${status}`,
      failedNodes: ['NODE2'],
      startedAt: '2025-03-01T10:00:00.000Z',
    });
  });

  it('rolloutStarted lists the nodes in update order with the StopAfter deadline', () => {
    // Act
    const event = rolloutStarted(run({ stopAt: '2025-03-01T13:30:00.000Z' }), AT);

    // Assert
    expect(event.detail).toMatchObject({
      nodes: ['NODE1', 'NODE2', 'NODE3', 'NODE4'],
      maxFailedNodes: 1,
      startedAt: '2025-03-01T10:00:00.000Z',
      stopAt: '2025-03-01T13:30:00.000Z',
    });
  });

  it('approvalRequired names the pilot, the nodes that wait, and the deadline', () => {
    // Act
    const event = approvalRequired(run(), { afterNodes: 1, timeoutMinutes: 120 }, AT);

    // Assert
    expect(event.detail).toMatchObject({
      gate: { afterNodes: 1, timeoutMinutes: 120 },
      pilotNodes: ['NODE1'],
      remainingNodes: ['NODE2', 'NODE3', 'NODE4'],
      decideBy: '2025-03-01T14:00:00.000Z',
    });
  });

  it("approvalRequired at a phase's approval names the phase, not the pilot (issue 13)", () => {
    const event = approvalRequired(
      run(),
      { afterNodes: 2, timeoutMinutes: 60, phase: { index: 1, name: 'ring 1' } },
      AT,
    );

    expect(event.detail).toMatchObject({
      gate: { afterNodes: 2, heldBy: null, phase: { index: 1, name: 'ring 1' } },
      waitingFor: 'phase "ring 1" (phases[1]) is done after 2 node(s)',
      pilotNodes: ['NODE1', 'NODE2'],
    });
    expect(
      approvalRequired(run(), { afterNodes: 1, timeoutMinutes: 120 }, AT).detail,
    ).toMatchObject({
      gate: { heldBy: null, phase: null },
      waitingFor: 'the pilot (1 node(s)) is done',
    });
  });

  it('nodeUpdated carries the outcome: status, detail, restarts, drained, updates', () => {
    // Act
    const event = nodeUpdated(run(), nodeResult, AT, [update(0)]);

    // Assert
    expect(event.detail).toMatchObject({
      node: 'node2',
      status: 'Failed',
      detail: 'install of KB5001 failed: 0x80240017',
      restarts: 1,
      drained: true,
      attempts: 2,
      instanceId: 'i-0123456789abcdef0',
      startedAt: '2025-03-01T11:00:00.000Z',
      finishedAt: '2025-03-01T11:40:00.000Z',
      updates: [
        {
          index: 0,
          plugin: 'Microsoft.HotfixPlugin',
          update: 'CAUHotfix_All/KB5000.msu',
          outcome: 'Success_RebootRequired',
          exitCode: 3010,
          rebootRequired: true,
        },
      ],
      updatesOmitted: 0,
    });
    expect(JSON.stringify(event.detail)).not.toContain('not published');
  });

  it('nodeUpdated without updates says null; with many lists the first and counts the rest', () => {
    // Act
    const none = nodeUpdated(
      run(),
      { node: 'NODE1', status: 'Succeeded', startedAt: AT.occurredAt },
      AT,
    );
    const many = nodeUpdated(
      run(),
      nodeResult,
      AT,
      Array.from({ length: MAX_EVENT_UPDATES + 5 }, (_, i) => update(i)),
    );

    // Assert
    expect(none.detail).toMatchObject({
      updates: null,
      updatesOmitted: 0,
      detail: null,
      restarts: null,
      drained: null,
    });
    expect(many.key === 'nodeUpdated' && many.detail.updates).toHaveLength(MAX_EVENT_UPDATES);
    expect(many.detail).toMatchObject({ updatesOmitted: 5 });
  });

  it('nodeUpdated carries the rescan after the final restart when there was one, at most MAX_EVENT_UPDATES', () => {
    // Arrange
    const finding = {
      kb: 'KB5035002',
      title: '2026-01 Cumulative Update (KB5035002)',
      source: 'WindowsUpdate' as const,
      reason: 'newlyOffered' as const,
      detail: 'not tried by this run: offered only after its installs',
    };
    // Act
    const notRescanned = nodeUpdated(run(), nodeResult, AT);
    const nothingLeft = nodeUpdated(run(), { ...nodeResult, stillApplicable: [] }, AT);
    const many = nodeUpdated(
      run(),
      {
        ...nodeResult,
        stillApplicable: Array.from({ length: MAX_EVENT_UPDATES + 1 }, () => finding),
      },
      AT,
    );

    // Assert
    expect(notRescanned.detail).not.toHaveProperty('stillApplicable');
    expect(nothingLeft.detail).toMatchObject({ stillApplicable: [] });
    const listed = (many.detail as { stillApplicable?: unknown[] }).stillApplicable;
    expect(listed).toHaveLength(MAX_EVENT_UPDATES);
    expect(listed?.[0]).toEqual(finding);
  });

  it('refuses to build a detail its schema rejects (sequence from 1)', () => {
    expect(() => rolloutStarted(run(), { ...AT, sequence: 0 })).toThrow(/sequence/);
    expect(() => rolloutStarted(run(), { ...AT, occurredAt: 'yesterday' })).toThrow(/occurredAt/);
  });
});

describe('published JSON Schemas (events/schemas)', () => {
  const generated = lifecycleEventJsonSchemas();

  if (process.env.UPDATE_EVENT_SCHEMAS === '1') {
    mkdirSync(SCHEMA_DIR, { recursive: true });
    for (const { file, schema } of generated) {
      writeFileSync(`${SCHEMA_DIR}${file}`, `${JSON.stringify(schema, null, 2)}\n`);
    }
  }

  it('one file per detail type, and no other', () => {
    expect(readdirSync(SCHEMA_DIR).sort()).toEqual(generated.map((g) => g.file).sort());
    expect(generated.map((g) => g.file).sort()).toEqual([
      'node-compliance-changed.json',
      'rollout-approval-required.json',
      'rollout-cancelled.json',
      'rollout-failed.json',
      'rollout-health-gate.json',
      'rollout-lock-force-recovered.json',
      'rollout-node-updated.json',
      'rollout-phase-completed.json',
      'rollout-started.json',
      'rollout-succeeded.json',
      'rollout-warnafter-passed.json',
    ]);
  });

  it.each(generated)('$file is the schema generated from the zod schema', ({ file, schema }) => {
    const committed = JSON.parse(readFileSync(`${SCHEMA_DIR}${file}`, 'utf8')) as unknown;
    // On failure: UPDATE_EVENT_SCHEMAS=1 npx vitest run test/core/lifecycle-events.test.ts
    expect(committed).toEqual(schema);
  });

  it.each(BUILDERS.map((b) => ({ ...b, published: generated.find((g) => g.key === b.key) })))(
    '$key: the envelope fixes source and detail-type, and documents every field built',
    ({ key, build, published }) => {
      const schema = published?.schema as {
        title: string;
        properties: Record<string, { const?: string; required?: string[] }>;
      };
      expect(schema.title).toBe(LIFECYCLE_EVENT_TYPES[key]);
      expect(schema.properties.source?.const).toBe(LIFECYCLE_EVENT_SOURCE);
      expect(schema.properties['detail-type']?.const).toBe(LIFECYCLE_EVENT_TYPES[key]);
      const built = Object.keys(build(run()).detail).sort();
      expect([...(schema.properties.detail?.required ?? [])].sort()).toEqual(built);
    },
  );
});

describe('events/README.md', () => {
  it('its example event is valid for its detail-type', () => {
    // Arrange
    const blocks = [...readFileSync(EVENTS_README, 'utf8').matchAll(/```json\n([\s\S]*?)```/g)];
    const examples = blocks
      .map((block) => JSON.parse(block[1] ?? '') as Record<string, unknown>)
      .filter((json) => 'detail' in json && 'version' in json);
    expect(examples.length).toBeGreaterThan(0);

    for (const example of examples) {
      // Act
      const key = (Object.keys(LIFECYCLE_EVENT_TYPES) as LifecycleEventKey[]).find(
        (k) => LIFECYCLE_EVENT_TYPES[k] === example['detail-type'],
      );

      // Assert
      expect(example.source).toBe(LIFECYCLE_EVENT_SOURCE);
      expect(key).toBeDefined();
      const parsed = lifecycleDetailSchemas[key as LifecycleEventKey].safeParse(example.detail);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });
});

describe('Node Compliance Changed (issue 13, item 8)', () => {
  const finding = {
    assessmentId: 'assess-1',
    target: 'CLUSTER1',
    node: 'node2',
    change: 'FellOut' as const,
    state: 'NonCompliant' as const,
    previousState: 'Compliant' as const,
    assessedAt: '2025-03-02T03:00:00.000Z',
    previousAssessedAt: '2025-03-01T03:00:00.000Z',
    reasons: ['a restart is pending: installed updates are not in effect'],
    missing: [
      { kb: 'KB5002222', title: '2025-03 Cumulative Update' },
      { kb: null, title: 'Defender definitions' },
    ],
    failed: [{ kb: null, update: 'tool.msi' }],
    pendingRestart: true,
  };

  it('validates, names the node once per assessment, and lists KBs (titles when none)', () => {
    // Act
    const event = nodeComplianceChanged(finding, '2025-03-02T03:05:00.000Z');

    // Assert
    expect(event.detailType).toBe('Node Compliance Changed');
    expect(lifecycleDetailSchemas.nodeComplianceChanged.safeParse(event.detail).success).toBe(true);
    expect(event.detail).toMatchObject({
      schemaVersion: '1',
      eventId: 'assess-1:NODE2',
      occurredAt: '2025-03-02T03:05:00.000Z',
      target: { name: 'CLUSTER1' },
      node: 'node2',
      change: 'FellOut',
      state: 'NonCompliant',
      previousState: 'Compliant',
      missing: ['KB5002222', 'Defender definitions'],
      failed: ['tool.msi'],
      pendingRestart: true,
    });
  });

  it(`lists at most ${MAX_COMPLIANCE_EVENT_UPDATES} missing and failed updates`, () => {
    const many = Array.from({ length: MAX_COMPLIANCE_EVENT_UPDATES + 5 }, (_, i) => ({
      kb: `KB${5000000 + i}`,
      title: 't',
      update: 'u',
    }));
    const event = nodeComplianceChanged(
      { ...finding, missing: many, failed: many },
      finding.assessedAt,
    );
    expect(event.detail.missing).toHaveLength(MAX_COMPLIANCE_EVENT_UPDATES);
    expect(event.detail.failed).toHaveLength(MAX_COMPLIANCE_EVENT_UPDATES);
    expect(event.detail.missing.at(-1)).toBe(`KB${5000000 + MAX_COMPLIANCE_EVENT_UPDATES - 1}`);
  });

  it('refuses to build a detail its schema rejects', () => {
    expect(() => nodeComplianceChanged(finding, 'yesterday')).toThrow(/occurredAt/);
  });
});

describe('lifecycle events: what a detail carries (mutation testing, issue 14)', () => {
  it('a health gate that found missing alarms lists them; no node is an empty occurrence part', () => {
    const event = healthGateTripped(
      run(),
      {
        checkpoint: 'bake',
        node: null,
        action: 'fail',
        firing: [],
        missing: ['gone', 'tag:rollout=C1'],
        message: 'health gate bake: CloudWatch alarm "gone" does not exist',
      },
      AT,
    );
    expect(event.detail).toMatchObject({ missing: ['gone', 'tag:rollout=C1'], checkpoint: 'bake' });
    expect(event.detail.eventId).toMatch(/:health-gate:bake:$/);
  });

  it('a phase lists its nodes and the failed ones', () => {
    const event = phaseCompleted(
      run(),
      {
        index: 1,
        name: 'ring 1',
        nodes: ['NODE2', 'NODE3'],
        failed: ['NODE3'],
        failuresAllowed: 0,
        passed: false,
        reason: 'ring 1 (phases[1], 2 nodes): 1 failed (NODE3), more than the 0 its criteria allow',
      },
      'bake',
      AT,
    );
    expect(event.detail).toMatchObject({
      phase: { index: 1, name: 'ring 1', nodes: ['NODE2', 'NODE3'], failed: ['NODE3'] },
    });
  });

  it('the detail schemas take a time with an offset as well as UTC (ISO 8601, for subscribers)', () => {
    const event = warnAfterPassed(run(), '2026-01-13T23:00:00.000Z', 'NODE2', AT);
    const schema = lifecycleDetailSchemas.warnAfterPassed;
    expect(schema.safeParse(event.detail).success).toBe(true);
    const offset = { ...event.detail, occurredAt: '2025-03-01T13:00:00+01:00' };
    expect(schema.safeParse(offset).success).toBe(true);
    expect(schema.safeParse({ ...event.detail, occurredAt: '2025-03-01 12:00' }).success).toBe(
      false,
    );
  });

  it('the functions read the bus from EVENT_BUS_NAME (lib/rollout-events.ts sets it)', () => {
    expect(EVENT_BUS_ENV).toBe('EVENT_BUS_NAME');
  });
});

describe('describeApprovalGate: what the run waits at, in words (issue 13)', () => {
  it.each([
    [{ afterNodes: 2 }, 'the pilot (2 node(s)) is done'],
    [
      { afterNodes: 3, phase: { index: 1, name: 'ring 1' } },
      'phase "ring 1" (phases[1]) is done after 3 node(s)',
    ],
    [
      { afterNodes: 1, heldBy: 'ClusterPhaseBakeHealthGate', phase: { index: 0, name: 'canary' } },
      'health gate ClusterPhaseBakeHealthGate holds the run (an alarm is in ALARM) during phase "canary" (phases[0]), after 1 node(s)',
    ],
    [
      { afterNodes: 0, heldBy: 'HealthGateBeforeNode' },
      'health gate HealthGateBeforeNode holds the run (an alarm is in ALARM), after 0 node(s)',
    ],
  ])('%j → %s', (gate, text) => {
    expect(describeApprovalGate(gate)).toBe(text);
  });
});
