/**
 * The report's pages joined into one report, for the CLI (cli/backend.ts) and the dashboard's
 * report page alike. The API pages a report by ?cursor= and answers a first page, with
 * page.nextCursor, when the whole would pass Lambda's 6 MB response limit (README, "The API").
 * No AWS SDK or Node import: the dashboard's page script bundles this for the browser.
 */
import type { RunReportView } from '../lambdas/core/api-responses.js';

/**
 * Asks for the first page, then each next one while the last names a next cursor; the nodes in
 * report order under the first page's run-level fields, and `page` as an unpaged answer has it.
 * A cursor handed out twice is an error, not a loop.
 */
export async function joinReportPages(
  getPage: (cursor: string | undefined) => Promise<RunReportView>,
  onPage: (nodesSoFar: number, nodesTotal: number) => void = () => undefined,
): Promise<RunReportView> {
  const first = await getPage(undefined);
  if (typeof first.page?.nextCursor !== 'string') return first;
  const nodes = [...first.nodes];
  const seen = new Set<string>();
  for (let cursor: string | null = first.page.nextCursor; cursor !== null; ) {
    if (seen.has(cursor)) {
      throw new Error(
        `the report's pages do not end: the API gave the cursor ${JSON.stringify(cursor.slice(0, 60))} twice`,
      );
    }
    seen.add(cursor);
    onPage(nodes.length, first.page.nodesTotal);
    const page = await getPage(cursor);
    nodes.push(...page.nodes);
    cursor = page.page?.nextCursor ?? null;
  }
  return { ...first, page: { nodesTotal: nodes.length, start: 0, nextCursor: null }, nodes };
}
