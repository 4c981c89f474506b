/**
 * The dashboard's report page follows the report's pages, in headless Chromium (as
 * dashboard-browser.test.ts, skipped without /usr/bin/chromium unless REQUIRE_CHROMIUM=1). The
 * dashboard relays to the real API handler (RunStore on dynalite) with a response budget that
 * holds about two nodes, so a five-node report comes in three pages; the page shows all five.
 */
import { existsSync } from 'node:fs';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiCall } from '../../cli/backend.js';
import { type Dashboard, startDashboard } from '../../cli/dashboard/server.js';
import { proxyResponseBytes } from '../../lambdas/core/report-pages.js';
import { makeApiHandler } from '../../lambdas/handlers/api.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { logger } from '../../lambdas/shared/runtime.js';
import { apiEvent } from '../helpers/api-event.js';
import { useDynalite } from '../helpers/dynalite.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.REQUIRE_CHROMIUM === '1') {
  throw new Error(`${CHROMIUM} is missing, and REQUIRE_CHROMIUM=1`);
}

const sfn = mockClient(SFNClient);
const NODES = ['NODE1', 'NODE2', 'NODE3', 'NODE4', 'NODE5'];
const db = useDynalite();

describe.skipIf(!haveChromium)('the dashboard’s report page, over a paged report', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  const calls: ApiCall[] = [];

  beforeAll(async () => {
    logger.setLogLevel('SILENT');
    const { tableName, client } = await db.table('dashboard-report-pages', {
      marshallOptions: { removeUndefinedValues: true },
    });
    const store = new RunStore({ client, tableName });
    sfn
      .on(DescribeExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'no such execution', $metadata: {} }));
    await store.putRun({
      runId: 'r-1',
      target: 'CLUSTER1',
      targetKind: 'cluster',
      nodes: NODES,
      maxFailedNodes: 1,
      status: 'Failed',
      startedAt: '2026-01-13T21:00:00.000Z',
      finishedAt: '2026-01-13T22:00:00.000Z',
      summary: { reason: '1 node(s) failed' },
      changeTicket: { system: 'ServiceNow', id: 'CHG1' },
      requestedBy: 'alice',
    });
    for (const node of NODES) {
      await store.putNodeResult('r-1', node, {
        status: node === 'NODE4' ? 'Failed' : 'Succeeded',
        startedAt: '2026-01-13T21:00:00.000Z',
      });
      await store.putUpdateResults('r-1', node, 1, [
        {
          index: 0,
          plugin: 'Microsoft.WindowsUpdatePlugin',
          update: 'KB5034439',
          exitCode: node === 'NODE4' ? 1603 : 0,
          outcome: node === 'NODE4' ? 'Failed' : 'Success',
          rebootRequired: false,
          rebootInitiated: false,
          transient: false,
          durationSeconds: 90,
          logTail: '',
        },
      ]);
    }
    const handlerWith = (reportBudgetBytes?: number) =>
      makeApiHandler({
        sfn: new SFNClient({ region: 'eu-west-1' }),
        store,
        now: () => new Date('2026-01-13T22:30:00Z'),
        rolloutStateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:Rollout',
        ...(reportBudgetBytes === undefined ? {} : { reportBudgetBytes }),
      });
    const two = await handlerWith()(
      apiEvent({ method: 'GET', path: '/rollouts/r-1/report', query: { limit: '2' } }),
    );
    const handler = handlerWith(proxyResponseBytes(two) + 30);
    dashboard = await startDashboard({
      description: 'the API handler, paging reports',
      port: 0,
      transport: async (call) => {
        calls.push(call);
        const result = await handler(
          apiEvent({
            method: call.method,
            path: call.path,
            query: { ...call.query },
            headers: { ...call.headers },
            ...(call.body === undefined ? {} : { rawBody: call.body }),
          }),
        );
        return {
          status: result.statusCode,
          headers: Object.fromEntries(
            Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
          ),
          body: result.body,
        };
      },
    });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    sfn.reset();
  });

  it('shows every node of the report, read in three pages', async () => {
    // Arrange
    const page = await browser.newPage();
    await page.route(/^(?!http:\/\/127\.0\.0\.1)/, (route) => route.abort());
    // Act
    await page.goto(`${dashboard.url}/#/rollouts/r-1/report`);
    await page.locator('#report-summary').waitFor();
    // Assert
    const shown = await page
      .locator('section[data-report-node]')
      .evaluateAll((sections) => sections.map((s) => s.getAttribute('data-report-node')));
    // Failures first, then by name (the page's order).
    expect(shown).toEqual(['NODE4', 'NODE1', 'NODE2', 'NODE3', 'NODE5']);
    const reports = calls.filter((c) => c.path === '/rollouts/r-1/report');
    expect(reports.map((c) => c.query.cursor === undefined)).toEqual([true, false, false]);
    await page.close();
  }, 60_000);
});
