/**
 * record-compliance: the last step of a compliance assessment (issue 13, item 8). Reads each
 * node's scan result (the scan's per-node JSON in the artifacts bucket), its install ledger, its
 * last run's update results and its previous assessment; judges it (core/compliance.ts); records
 * it over the previous one; and publishes `Node Compliance Changed` only when the node fell out
 * of compliance or came back. Read-only towards the nodes: it sends no command.
 *
 * Event `{ assessmentId, target, scanId, nodes: string[], assessedAt? }`. Output: the counts and
 * the nodes that changed (small, whatever the target's size). Errors: `InvalidEvent`,
 * `ComplianceConflict` (another assessment recorded a node meanwhile: the state machine retries),
 * `LifecycleEventNotPublished`, and DynamoDB / S3 errors unchanged.
 *
 * Exactly one event per change: the record keeps `changeNotifiedAt`; a retry of the same
 * assessment publishes only what was not yet noted, with the same `eventId`.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import {
  assessmentChanges,
  assessNode,
  type ComplianceScan,
  type ComplianceState,
  type NodeCompliance,
  stateCounts,
} from '../core/compliance.js';
import type { InstallLedger } from '../core/install-ledger.js';
import { nodeComplianceChanged } from '../core/lifecycle-events.js';
import { nodeNameProblem } from '../core/node-names.js';
import { GROUP_NAME_PATTERN, parseEvent, RUN_ID_PATTERN } from '../core/rollout-input.js';
import { scanNodeResultKey } from '../core/scan-result.js';
import {
  type ComplianceStore,
  createComplianceStore,
  type StoredCompliance,
} from '../shared/compliance-store.js';
import { type ComplianceEventSink, createEventPublisher } from '../shared/event-publisher.js';
import { createRunStore } from '../shared/run-store.js';
import { logContext, logger, requiredEnv, tracer } from '../shared/runtime.js';

/** Nodes judged at once: each costs four reads and a write. */
export const ASSESSMENT_CONCURRENCY = 8;

export interface RecordComplianceDeps {
  readonly compliance: ComplianceStore;
  readonly ledgers: { getLedger(node: string): Promise<InstallLedger> };
  /** The node's scan result; undefined when the scan wrote none for it. */
  readonly loadScan: (scanId: string, node: string) => Promise<unknown>;
  /** Absent: no bus configured, no events. */
  readonly events?: ComplianceEventSink;
  readonly now: () => Date;
}

const eventSchema = z.object({
  assessmentId: z.string().regex(RUN_ID_PATTERN, {
    error: 'expected 1 to 64 letters, digits, "-" or "_"',
  }),
  target: z.string().regex(GROUP_NAME_PATTERN, { error: 'expected a cluster or group name' }),
  scanId: z.string().min(1, { error: 'expected the scan id' }),
  nodes: z
    .array(
      z.string().refine((name) => nodeNameProblem(name) === undefined, {
        error: 'expected a NetBIOS computer name',
      }),
    )
    .min(1, { error: 'expected at least one node' }),
  assessedAt: z.iso.datetime({ offset: true }).optional(),
});

export type RecordComplianceEvent = z.input<typeof eventSchema>;

/**
 * What the node's scan result must hold: the fields of the scan contract's ScanNodeResult
 * (lambdas/core/scan-result.ts) that compliance reads; the rest is not checked here.
 */
const scanSchema = z.object({
  node: z.string().min(1),
  scannedAt: z.string().min(1),
  status: z.enum(['Scanned', 'Failed']),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  pendingRestart: z.boolean().nullable(),
  updates: z.array(
    z.object({
      source: z.enum(['windowsUpdate', 'hotfix']),
      kb: z.string().nullable(),
      title: z.string(),
    }),
  ),
});

export interface RecordComplianceResult {
  readonly assessmentId: string;
  readonly target: string;
  readonly assessedAt: string;
  readonly counts: Record<ComplianceState, number>;
  readonly fellOut: readonly string[];
  readonly cameBack: readonly string[];
  /** Events published by this call (a retry publishes only what was not yet noted). */
  readonly eventsPublished: number;
  /** Nodes a newer assessment had recorded already: left as they were. */
  readonly superseded: readonly string[];
}

/** A scan that answered nothing for the node: the assessment claims nothing (Unknown). */
function unanswered(node: string, at: string, code: string, message: string): ComplianceScan {
  return {
    node,
    scannedAt: at,
    status: 'Failed',
    error: { code, message },
    pendingRestart: null,
    updates: [],
  };
}

export function makeRecordComplianceHandler(deps: RecordComplianceDeps) {
  async function scanOf(scanId: string, node: string, at: string): Promise<ComplianceScan> {
    const found = await deps.loadScan(scanId, node);
    if (found === undefined) {
      return unanswered(
        node,
        at,
        'ScanResultMissing',
        `scan ${scanId} wrote no result for the node`,
      );
    }
    const parsed = scanSchema.safeParse(found);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return unanswered(
        node,
        at,
        'ScanResultInvalid',
        `scan ${scanId}'s result for the node is not a scan result (${issue?.path.join('.') || 'the object'}: ${issue?.message})`,
      );
    }
    return parsed.data;
  }

  return async function recordCompliance(event: unknown): Promise<RecordComplianceResult> {
    const input = parseEvent('record-compliance', eventSchema, event);
    logContext({ target: input.target });
    const assessedAt = input.assessedAt ?? deps.now().toISOString();
    const judged: NodeCompliance[] = [];
    const superseded: string[] = [];
    let eventsPublished = 0;

    const one = async (node: string) => {
      const previous = await deps.compliance.getNodeCompliance(input.target, node);
      let record: StoredCompliance;
      if (previous?.assessmentId === input.assessmentId) {
        record = previous; // A retry: this assessment is recorded already.
      } else if (previous !== undefined && previous.assessedAt > assessedAt) {
        superseded.push(node);
        return;
      } else {
        const [scan, ledger, lastRun] = await Promise.all([
          scanOf(input.scanId, node, assessedAt),
          deps.ledgers.getLedger(node),
          deps.compliance.lastRunOfNode(node),
        ]);
        record = assessNode({
          target: input.target,
          assessmentId: input.assessmentId,
          assessedAt,
          scan,
          ledger,
          lastRun,
          previous: previous ?? null,
        });
        await deps.compliance.putNodeCompliance(record, previous?.assessmentId ?? null);
      }
      judged.push(record);
      if (record.change !== null && record.changeNotifiedAt === undefined && deps.events) {
        const sent = nodeComplianceChanged(
          {
            ...record,
            change: record.change,
            // A change is between the two known states: the one before is the other.
            previousState: record.change === 'FellOut' ? 'Compliant' : 'NonCompliant',
          },
          deps.now().toISOString(),
        );
        await deps.events.publish(sent.detailType, sent.detail);
        eventsPublished++;
        await deps.compliance.markChangeNotified(
          input.target,
          node,
          input.assessmentId,
          deps.now().toISOString(),
        );
      }
    };

    const queue = [...input.nodes];
    await Promise.all(
      Array.from({ length: Math.min(ASSESSMENT_CONCURRENCY, queue.length) }, async () => {
        for (let node = queue.shift(); node !== undefined; node = queue.shift()) await one(node);
      }),
    );

    const order = new Map(input.nodes.map((n, i) => [n.toUpperCase(), i]));
    judged.sort(
      (a, b) => (order.get(a.node.toUpperCase()) ?? 0) - (order.get(b.node.toUpperCase()) ?? 0),
    );
    const { fellOut, cameBack } = assessmentChanges(judged);
    const result: RecordComplianceResult = {
      assessmentId: input.assessmentId,
      target: input.target,
      assessedAt,
      counts: stateCounts(judged),
      fellOut,
      cameBack,
      eventsPublished,
      superseded,
    };
    logger.info('compliance recorded', { ...result });
    return result;
  };
}

let cached: ReturnType<typeof makeRecordComplianceHandler> | undefined;

function productionDeps(): RecordComplianceDeps {
  const s3 = tracer.captureAWSv3Client(new S3Client({}));
  const bucket = requiredEnv('ARTIFACTS_BUCKET');
  const publisher = createEventPublisher();
  return {
    compliance: createComplianceStore(),
    ledgers: createRunStore(),
    loadScan: async (scanId, node) => {
      try {
        const out = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: scanNodeResultKey(scanId, node) }),
        );
        return JSON.parse((await out.Body?.transformToString('utf-8')) ?? 'null') ?? undefined;
      } catch (error) {
        if ((error as { name?: unknown })?.name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    // EventPublisher publishes any detail the control plane builds; Noop when no bus is set.
    ...(publisher.enabled ? { events: publisher as unknown as ComplianceEventSink } : {}),
    now: () => new Date(),
  };
}

export const handler = async (
  event: unknown,
  _context?: Context,
): Promise<RecordComplianceResult> => {
  cached ??= makeRecordComplianceHandler(productionDeps());
  return cached(event);
};
