/**
 * GET /compliance?target=… (issue 13, item 8): the query, the response and its view. The route
 * and its OpenAPI operation are in api-model.ts with the others; the shapes are here so the
 * compliance model stays in one place. Pure: no AWS SDK.
 */
import * as z from 'zod';
import { COMPLIANCE_STATES, type NodeCompliance, stateCounts } from './compliance.js';
import { GROUP_NAME_PATTERN } from './rollout-input.js';

/** Nodes per page: the default and the most a request may ask for. */
export const COMPLIANCE_DEFAULT_PAGE_SIZE = 50;
export const COMPLIANCE_MAX_PAGE_SIZE = 100;

const LIMIT_ACCEPTED = `expected a whole number from 1 to ${COMPLIANCE_MAX_PAGE_SIZE}`;
const TARGET_ACCEPTED =
  'expected a cluster or group name: 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit';

/** The query of GET /compliance. */
export const complianceQuerySchema = z.strictObject(
  {
    target: z
      .string({ error: `missing; ${TARGET_ACCEPTED}` })
      .regex(GROUP_NAME_PATTERN, { error: TARGET_ACCEPTED }),
    limit: z
      .string()
      .regex(/^[0-9]{1,4}$/, { error: LIMIT_ACCEPTED })
      .transform(Number)
      .pipe(z.number().int().min(1, LIMIT_ACCEPTED).max(COMPLIANCE_MAX_PAGE_SIZE, LIMIT_ACCEPTED))
      .optional(),
    cursor: z
      .string()
      .min(1, { error: 'expected the cursor of the previous page' })
      .max(4096, { error: 'expected the cursor of the previous page' })
      .optional(),
  },
  { error: 'expected query parameters target, limit, cursor' },
);
export type ComplianceQuery = z.output<typeof complianceQuerySchema>;

const state = z.enum(COMPLIANCE_STATES);

const nodeComplianceSchema = z.object({
  node: z.string(),
  state: state.describe('Compliant, NonCompliant, or Unknown (the scan did not answer)'),
  reasons: z.array(z.string()).describe('Why NonCompliant or Unknown; empty when Compliant'),
  assessmentId: z.string(),
  assessedAt: z.string().describe('When this assessment judged the node (ISO 8601)'),
  previousState: state.nullable().describe('The state the assessment before found; null: none'),
  previousAssessedAt: z.string().nullable(),
  change: z
    .enum(['FellOut', 'CameBack'])
    .nullable()
    .describe('What changed from the last known state; null: nothing'),
  installed: z
    .array(
      z.object({
        kb: z.string(),
        installedAt: z.string(),
        runId: z.string().nullable().describe('The run that installed it'),
        hotpatched: z.boolean(),
        installedPendingReboot: z.boolean(),
      }),
    )
    .describe('Installed by our runs and not removed (the install ledger), in install order'),
  missing: z
    .array(
      z.object({
        kb: z.string().nullable(),
        title: z.string(),
        source: z.enum(['windowsUpdate', 'hotfix']),
      }),
    )
    .describe('Applicable, not excluded by the selection, not installed'),
  failed: z
    .array(
      z.object({
        update: z.string(),
        kb: z.string().nullable(),
        runId: z.string(),
        attempt: z.number().int(),
        exitCode: z.number().int().nullable(),
        detail: z.string().nullable(),
      }),
    )
    .describe("Updates whose last attempt in the node's last run failed"),
  pendingRestart: z.boolean().nullable().describe('A restart is pending; null: unknown'),
});

/** The response of GET /compliance. */
export const compliancePageSchema = z
  .object({
    target: z.string(),
    nodes: z
      .array(nodeComplianceSchema)
      .describe("The target's nodes ever assessed, a page at a time, in node-name order"),
    counts: z
      .object({
        Compliant: z.number().int().min(0),
        NonCompliant: z.number().int().min(0),
        Unknown: z.number().int().min(0),
      })
      .describe("This page's nodes in each state"),
    cursor: z.string().nullable().describe('Pass it back for the next page; null: the last page'),
  })
  .meta({ title: 'CompliancePage' });
export type CompliancePageView = z.output<typeof compliancePageSchema>;

/** The response body from a page of the store. */
export function compliancePageView(
  target: string,
  nodes: readonly NodeCompliance[],
  cursor: string | undefined,
): CompliancePageView {
  return {
    target,
    nodes: nodes.map((n) => ({
      node: n.node,
      state: n.state,
      reasons: [...n.reasons],
      assessmentId: n.assessmentId,
      assessedAt: n.assessedAt,
      previousState: n.previousState,
      previousAssessedAt: n.previousAssessedAt,
      change: n.change,
      installed: n.installed.map((u) => ({ ...u })),
      missing: n.missing.map((u) => ({ ...u })),
      failed: n.failed.map((u) => ({ ...u })),
      pendingRestart: n.pendingRestart,
    })),
    counts: stateCounts(nodes),
    cursor: cursor ?? null,
  };
}
