/**
 * Issue 12 §1, done when: the dashboard driven in headless Chromium (Debian's `chromium` with
 * playwright-core). A local control plane runs (`rollout local up`), the dashboard serves it; the
 * test starts a gated rollout, watches a node go from Pending through Updating to Succeeded on the
 * run page, approves the gate with the page's confirmation, and reads the report. It also checks
 * that text from the API is shown as text (node names, reasons come from customers' servers), and
 * takes the README's screenshot (docs/dashboard.png).
 *
 * Without /usr/bin/chromium the test is skipped with a warning, unless REQUIRE_CHROMIUM=1 (CI sets
 * it, and .ci/run installs Debian's chromium), where it fails.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiBackend } from '../../cli/backend.js';
import { type Dashboard, startDashboard } from '../../cli/dashboard/server.js';
import { readLocalService, serviceTransport } from '../../cli/local-service.js';
import { main } from '../../cli/main.js';
import { NODE_STEPS } from '../../lambdas/core/contracts.js';

const CHROMIUM = '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Where the screenshots go: the README's docs/ with UPDATE_SCREENSHOTS=1, else a temporary
 * folder (the test still takes them, and leaves the checkout as it was).
 */
const SHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(REPO, 'docs')
    : mkdtempSync(join(tmpdir(), 'rollout-dashboard-shots-'));
const haveChromium = existsSync(CHROMIUM);
const required = process.env.REQUIRE_CHROMIUM === '1';

if (!haveChromium) {
  const message = `dashboard browser tests: ${CHROMIUM} is missing (apt-get install chromium)`;
  if (required) throw new Error(`${message}, and REQUIRE_CHROMIUM=1`);
  console.warn(`\n*** SKIPPED: ${message} ***\n`);
}

const DATA = join(mkdtempSync(join(tmpdir(), 'rollout-dashboard-')), 'data');
const io = { out: () => undefined, err: (t: string) => console.error(t), cwd: REPO };

describe.skipIf(!haveChromium)('rollout dashboard in headless Chromium', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let page: Page;
  let api: ReturnType<typeof apiBackend>;
  const scenario = JSON.parse(
    readFileSync(join(REPO, 'examples/scenarios/change-management.json'), 'utf8'),
  ) as { rollout: Record<string, unknown> };

  beforeAll(async () => {
    // 120 simulated seconds a second: a node (20-minute install, a restart) takes seconds.
    const up = await main(['local', 'up', '--speed', '120', '--data-dir', DATA], io);
    expect(up).toBe(0);
    const service = readLocalService(DATA);
    if (!service) throw new Error('rollout local up did not record its service');
    api = apiBackend(serviceTransport(service.url), 'test');
    dashboard = await startDashboard({
      transport: serviceTransport(service.url),
      description: `local control plane ${service.url}`,
      port: 0,
    });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // The page must load nothing from elsewhere (it works offline).
    await page.route(/^(?!http:\/\/127\.0\.0\.1)/, (route) => route.abort());
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await main(['local', 'down', '--data-dir', DATA], io);
  });

  it('lists the scenario run of a cluster, filtered by status', async () => {
    await page.goto(`${dashboard.url}/#/?cluster=CLUSTER1`);
    await page.locator('#runs tr[data-run]').first().waitFor();
    expect(await page.locator('#runs').textContent()).toContain('Succeeded');
    await page.goto(`${dashboard.url}/#/?cluster=CLUSTER1&status=Failed`);
    await page.getByText('No Failed run of CLUSTER1.').waitFor();
  });

  it('a gated rollout: watch a node go through its phases, approve the gate, read the report', async () => {
    const accepted = await api.startRollout({
      ...scenario.rollout,
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    });
    const id = accepted.rolloutId;
    await page.goto(`${dashboard.url}/#/rollouts/${encodeURIComponent(id)}`);

    // The first node: seen Updating, then Succeeded, as the page refreshes itself.
    const firstPhase = page.locator('#nodes tr[data-node="NODE1"] .phase [data-status]');
    await page
      .locator('#nodes tr[data-node="NODE1"] [data-status="Updating"]')
      .waitFor({ timeout: 90_000 });
    expect(await firstPhase.textContent()).toBe('Updating');
    // Its live step inside the update, read from its execution's history (issue 12).
    const step = page.locator('#nodes tr[data-node="NODE1"] .step:not([data-step=""])');
    await step.waitFor({ timeout: 90_000 });
    expect(NODE_STEPS).toContain(await step.getAttribute('data-step'));
    expect(await step.textContent()).toMatch(/^[a-zA-Z]+( \(.*\))?$/);
    await page
      .locator('#nodes tr[data-node="NODE1"] [data-status="Succeeded"]')
      .waitFor({ timeout: 90_000 });

    // The gate: shown with its buttons; Approve asks first, and Back leaves it waiting.
    await page.locator('#approval').waitFor({ timeout: 90_000 });
    expect(await page.locator('#waiting-for').textContent()).toBe('The pilot (1 node(s)) is done');
    expect(await page.locator('#nodes tr[data-node="NODE2"] .phase').textContent()).toBe('Pending');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    await page.click('[data-action="approve"]');
    await page.locator('#modal [data-dismiss]').click();
    expect((await api.getRollout(id)).approval).not.toBeNull();
    await page.click('[data-action="approve"]');
    await page.locator('#modal input').fill('pilot fine');
    await page.locator('#modal [data-confirm]').click();
    await page.locator('#action-result .summary').waitFor();

    // The run ends; every node Succeeded.
    await page.locator('h1 [data-status="Succeeded"]').waitFor({ timeout: 120_000 });
    for (const node of ['NODE1', 'NODE2', 'NODE3']) {
      expect(await page.locator(`#nodes tr[data-node="${node}"] .phase`).textContent()).toBe(
        'Succeeded',
      );
    }

    // The report: a summary first, then each node with its updates.
    await page.click('#report-link');
    await page.locator('#report-summary').waitFor();
    expect(await page.locator('#report-summary').textContent()).toContain(
      'No node failed (3 nodes)',
    );
    expect(await page.locator('section[data-report-node]').count()).toBe(3);
    expect(await page.locator('section[data-report-node="NODE1"]').textContent()).toContain(
      'kb5034439',
    );
    await page.screenshot({ path: join(SHOTS, 'dashboard-report.png'), fullPage: true });
  }, 300_000);

  it("a node's ledger shows what the run installed, and the KB823836 check before a removal", async () => {
    await page.goto(`${dashboard.url}/#/node/NODE1`);
    await page.locator('#ledger tr[data-update]').first().waitFor();
    const updates = await page
      .locator('#ledger tr[data-update]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-update')));
    expect(updates.length).toBeGreaterThan(0);
    await page.locator('#ledger input[type="checkbox"]').first().check();
    await page.click('[data-action="check-removal"]');
    await page.locator('#removal-check > *').first().waitFor();
    expect(
      await page.locator('#removal-check .error').count(),
      String(await page.locator('#removal-check').textContent()),
    ).toBe(0);
    expect(await page.locator('#removal-order').textContent()).toContain(updates[0] as string);
    expect(await page.locator('[data-check]').count()).toBe(1);
  });

  it('text from the API is shown as text, never run as HTML', async () => {
    const evil = '<img src=x onerror="window.__xss=1">';
    await page.goto(`${dashboard.url}/#/?cluster=${encodeURIComponent(evil)}`);
    await page.locator('.error').waitFor();
    expect(await page.locator('.error').textContent()).toContain('<img');
    expect(await page.locator('#app img').count()).toBe(0);
    expect(
      await page.evaluate(() => (window as unknown as { __xss?: number }).__xss),
    ).toBeUndefined();
  });

  it('the scan preview starts a scan (POST /scans), follows it and shows each node with its updates', async () => {
    await page.goto(`${dashboard.url}/#/scan`);
    await page
      .locator('textarea')
      .fill(JSON.stringify({ ...scenario.rollout, changeTicket: undefined }));
    await page.click('[data-action="scan"]');
    await page.locator('#scan-result [data-scan-status="Succeeded"]').waitFor({ timeout: 120_000 });
    expect(await page.locator('#scan-result section[data-node]').count()).toBe(3);
    expect(await page.locator('#scan-result section[data-status="Scanned"]').count()).toBe(3);
    expect(await page.locator('#scan-result .scan-updates tr[data-kb]').count()).toBeGreaterThan(0);
  });

  it('a phase approval says which phase waits, as the API does (not "the pilot")', async () => {
    const accepted = await api.startRollout({
      ...scenario.rollout,
      changeTicket: undefined,
      phases: [{ name: 'canary', nodeCount: 1, approval: { timeoutMinutes: 600 } }],
    });
    const id = accepted.rolloutId;
    await page.goto(`${dashboard.url}/#/rollouts/${encodeURIComponent(id)}`);
    await page.locator('#approval #waiting-for').waitFor({ timeout: 120_000 });
    const waitingFor = (await api.getRollout(id)).approval?.waitingFor ?? '';
    expect(waitingFor).toContain('phase "canary" (phases[0])');
    const shown = (await page.locator('#waiting-for').textContent()) ?? '';
    expect(shown.toLowerCase()).toBe(waitingFor.toLowerCase());
    expect(shown.startsWith('Phase "canary"')).toBe(true);
    expect(await page.locator('#approval').textContent()).not.toContain('pilot');
    // The reject confirmation says where the run stops, then Back: the run keeps waiting.
    await page.click('[data-action="reject"]');
    expect(await page.locator('#modal').textContent()).toContain(waitingFor);
    await page.locator('#modal [data-dismiss]').click();
    // End it, so the cluster's lock is free for what follows.
    await api.decide(id, 'reject', 'test over');
    for (let i = 0; i < 600 && (await api.getRollout(id)).status === 'Running'; i++) {
      await new Promise((done) => setTimeout(done, 100));
    }
    expect((await api.getRollout(id)).status).toBe('Cancelled');
  }, 300_000);

  it('the staging page starts a staging run (POST /stagings) and shows each node as GET /stagings/{id} does', async () => {
    await page.goto(`${dashboard.url}/#/stagings`);
    await page
      .locator('textarea')
      .fill(JSON.stringify({ ...scenario.rollout, changeTicket: undefined }));
    await page.click('[data-action="stage"]');
    await page.waitForURL(/#\/stagings\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).hash.replace('#/stagings/', ''));
    await page
      .locator('#staging-summary [data-staging-status="Succeeded"]')
      .waitFor({ timeout: 120_000 });
    const view = await api.getStaging(id);
    expect(view.status).toBe('Succeeded');
    expect(view.nodes.map((n) => n.node)).toEqual(['NODE1', 'NODE2', 'NODE3']);
    // Per node: the outcome, files, bytes, digests verified, cache hits, as the API answered.
    for (const n of view.nodes) {
      const row = page.locator(`#staging-nodes tr[data-node="${n.node}"]`);
      expect(await row.getAttribute('data-status')).toBe(n.status);
      expect(await row.locator('.outcome').textContent()).toBe(n.status);
      expect(await row.locator('.files').textContent()).toBe(String(n.files));
      expect(await row.locator('.bytes').textContent()).toBe(n.bytes.toLocaleString('en'));
      expect(await row.locator('.digests').textContent()).toBe(
        `${n.digestsVerified} of ${n.files}`,
      );
      expect(await row.locator('.cache-hits').textContent()).toBe(String(n.cacheHits));
    }
    expect(view.nodes.some((n) => n.files > 0 && n.digestsVerified === n.files)).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'dashboard-staging.png'), fullPage: true });

    // Opened again by its id from the start page; an unknown id is the API's 404, as text.
    await page.goto(`${dashboard.url}/#/stagings`);
    await page.locator('input[name="staging-id"]').fill(id);
    await page.click('[data-action="open-staging"]');
    await page.locator('#staging-nodes tr[data-node="NODE3"]').waitFor();
    await page.goto(`${dashboard.url}/#/stagings/no-such-staging`);
    await page.locator('.error').waitFor();
    expect(await page.locator('.error').textContent()).toContain(
      'no staging run "no-such-staging"',
    );
  }, 300_000);
});
