/**
 * Pages of a run's report (GET /rollouts/{id}/report?limit=&cursor=). Lambda refuses a response
 * above 6 MB (6,291,456 bytes, the proxy result as Lambda serializes it, so the body's quotes and
 * newlines count twice): a report of ~43,000 never-started nodes (145 bytes each) or ~7,000 nodes
 * with two updates (900 bytes each) passed it and the client got a 502. A page holds as many nodes, in report order, as fit in the budget (and no
 * more than `limit`); the run-level fields are in every page and the next page starts where the
 * cursor says. Sizes are additive: the escaping of a concatenation is the concatenation of the
 * escapings, so a page is measured as its empty response plus each of its nodes.
 */
import * as z from 'zod';
import { ApiError } from './api-model.js';

/** Lambda's limit on a synchronous invocation's response payload. */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_456;

/**
 * What a report response may take by default: the limit less a margin (~290 KB) for what is not
 * measured here (a header API Gateway or the runtime adds).
 */
export const REPORT_BUDGET_BYTES = 6_000_000;

/** The most nodes a client may ask one page for. */
export const MAX_REPORT_PAGE_SIZE = 10_000;

const LIMIT_ACCEPTED = `expected a whole number from 1 to ${MAX_REPORT_PAGE_SIZE}`;
const CURSOR_ACCEPTED = 'expected the nextCursor of the previous page';

/** The query of GET /rollouts/{id}/report. */
export const reportQuerySchema = z
  .strictObject(
    {
      limit: z
        .string()
        .regex(/^[0-9]{1,5}$/, { error: LIMIT_ACCEPTED })
        .transform(Number)
        .pipe(z.number().min(1, LIMIT_ACCEPTED).max(MAX_REPORT_PAGE_SIZE, LIMIT_ACCEPTED)),
      cursor: z.string().regex(/^[A-Za-z0-9_-]{1,512}$/, { error: CURSOR_ACCEPTED }),
    },
    // An unknown parameter is named by parseRequest: "unknown field; accepted here: limit, cursor".
  )
  .partial();
export type ReportQuery = z.output<typeof reportQuerySchema>;

/** Where a page starts: the rollout it belongs to and the index of its first node. */
export interface ReportCursor {
  readonly rolloutId: string;
  readonly start: number;
}

/** The opaque cursor of a page: base64url of JSON, like the history's cursors. */
export function encodeReportCursor(cursor: ReportCursor): string {
  return Buffer.from(JSON.stringify({ r: cursor.rolloutId, s: cursor.start })).toString(
    'base64url',
  );
}

/**
 * The index of the node a cursor points at, checked against the report it is used on: a 400
 * naming `cursor` and its value when it is not one this API returned, is another rollout's, or
 * points past the report's last node.
 */
export function decodeReportCursor(
  cursor: string,
  report: { readonly rolloutId: string; readonly nodesTotal: number },
): number {
  const refused = (reason: string) =>
    new ApiError(
      'ValidationFailed',
      `cursor ${JSON.stringify(cursor.slice(0, 60))}: ${reason}; pass back the nextCursor of the previous page unchanged`,
      { field: 'cursor', value: cursor },
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refused('not a cursor this API returned');
  }
  const fields = parsed as { r?: unknown; s?: unknown } | null;
  if (
    // Object.keys also refuses a number (no keys) or a string (one key a character).
    fields === null ||
    Object.keys(fields).length !== 2 ||
    typeof fields.r !== 'string' ||
    !Number.isSafeInteger(fields.s) ||
    (fields.s as number) < 0
  ) {
    throw refused('not a cursor this API returned');
  }
  if (fields.r !== report.rolloutId) {
    throw refused(`it belongs to rollout ${JSON.stringify(fields.r)}`);
  }
  const start = fields.s as number;
  if (start >= report.nodesTotal) {
    throw refused(`it starts at node ${start + 1}, past the report's ${report.nodesTotal} nodes`);
  }
  return start;
}

/** The bytes `text` takes inside a JSON string, as UTF-8 with its escapes, quotes excluded. */
export function escapedBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/** The bytes of a Lambda proxy result as the runtime sends it (JSON, the body escaped). */
export function proxyResponseBytes(result: unknown): number {
  return Buffer.byteLength(JSON.stringify(result));
}

/** Where a page ends and where the next one starts. */
export interface ReportPage {
  /** The index after the page's last node. */
  readonly end: number;
  /** The cursor of the next page; null on the last. */
  readonly nextCursor: string | null;
}

/**
 * The page of the report that starts at node `start`: as many nodes as `limit` allows (all when
 * undefined) and the budget holds. A page holds at least one node when any is left, so a client
 * always gets further; one node's report is far below the budget.
 */
export function reportPage(input: {
  readonly rolloutId: string;
  readonly nodesTotal: number;
  readonly start: number;
  readonly limit: number | undefined;
  readonly budgetBytes: number;
  /** The whole response for a page of no nodes whose next cursor is the one given. */
  readonly emptyResponseBytes: (nextCursor: string) => number;
  /** The bytes node `index` adds to a response (its separator included). */
  readonly nodeBytes: (index: number) => number;
}): ReportPage {
  const { nodesTotal, start } = input;
  const last = Math.min(nodesTotal, start + (input.limit ?? nodesTotal));
  // The longest cursor of this report is the one of its end: measured with it, any page fits.
  let used = input.emptyResponseBytes(
    encodeReportCursor({ rolloutId: input.rolloutId, start: nodesTotal }),
  );
  let end = start;
  while (end < last) {
    used += input.nodeBytes(end);
    if (used > input.budgetBytes && end > start) break;
    end += 1;
  }
  return {
    end,
    nextCursor:
      end < nodesTotal ? encodeReportCursor({ rolloutId: input.rolloutId, start: end }) : null,
  };
}

/**
 * The Link header of a page that has a next one (RFC 8288): a reference relative to the request,
 * so it resolves under any stage or base path of the API.
 */
export function nextLinkHeader(nextCursor: string, limit: number | undefined): string {
  const query = new URLSearchParams({
    ...(limit === undefined ? {} : { limit: String(limit) }),
    cursor: nextCursor,
  });
  return `<?${query.toString()}>; rel="next"`;
}
