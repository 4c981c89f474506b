/**
 * GET /compliance?target=… (issue 13, item 8): the query and the response's view. The route is
 * in api-model.ts with the others, its OpenAPI operation in api-openapi.ts, and the response's
 * schema (compliancePageSchema) in api-responses.ts, which the API handler's bundle leaves out.
 * Pure: no AWS SDK.
 */
import * as z from 'zod';
import type { CompliancePageView } from './api-responses.js';
import { type NodeCompliance, stateCounts } from './compliance.js';
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

/** The response of GET /compliance; its schema is in api-responses.ts, apart from the handler. */
export type { CompliancePageView } from './api-responses.js';

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
