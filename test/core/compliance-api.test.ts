import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lambdas/core/api-openapi.js';
import { compliancePageSchema } from '../../lambdas/core/api-responses.js';
import { assessNode, type NodeCompliance } from '../../lambdas/core/compliance.js';
import {
  COMPLIANCE_DEFAULT_PAGE_SIZE,
  COMPLIANCE_MAX_PAGE_SIZE,
  compliancePageView,
  complianceQuerySchema,
} from '../../lambdas/core/compliance-api.js';
import { createLedger, recordInstall } from '../../lambdas/core/install-ledger.js';

const messages = (query: unknown) => {
  const parsed = complianceQuerySchema.safeParse(query);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('complianceQuerySchema (GET /compliance)', () => {
  it('takes a target and an optional limit and cursor', () => {
    expect(complianceQuerySchema.parse({ target: 'web' })).toEqual({ target: 'web' });
    expect(
      complianceQuerySchema.parse({ target: 'CLUSTER1', limit: '100', cursor: 'abc' }),
    ).toEqual({
      target: 'CLUSTER1',
      limit: 100,
      cursor: 'abc',
    });
    expect(complianceQuerySchema.parse({ target: 'w', limit: '1' }).limit).toBe(1);
    expect([COMPLIANCE_DEFAULT_PAGE_SIZE, COMPLIANCE_MAX_PAGE_SIZE]).toEqual([50, 100]);
  });

  it.each([
    [{}, 'target: missing; expected a cluster or group name: 1 to 64 letters'],
    [{ target: '-web' }, 'target: expected a cluster or group name: 1 to 64 letters'],
    [{ target: 'web', limit: '0' }, 'limit: expected a whole number from 1 to 100'],
    [{ target: 'web', limit: '101' }, 'limit: expected a whole number from 1 to 100'],
    [{ target: 'web', limit: '12345' }, 'limit: expected a whole number from 1 to 100'],
    [{ target: 'web', limit: '1.5' }, 'limit: expected a whole number from 1 to 100'],
    [{ target: 'web', cursor: '' }, 'cursor: expected the cursor of the previous page'],
    [
      { target: 'web', cursor: 'x'.repeat(4097) },
      'cursor: expected the cursor of the previous page',
    ],
    [{ target: 'web', group: 'web' }, ': expected query parameters target, limit, cursor'],
  ])('refuses %j naming the field', (query, message) => {
    expect(messages(query).join('\n')).toContain(message);
  });

  it('accepts a cursor of 4096 characters', () => {
    expect(messages({ target: 'web', cursor: 'x'.repeat(4096) })).toEqual([]);
  });
});

describe('compliancePageView', () => {
  const node = (name: string, pendingRestart: boolean): NodeCompliance =>
    assessNode({
      target: 'web',
      assessmentId: 'a-2',
      assessedAt: '2026-12-05T03:00:00.000Z',
      scan: {
        node: name,
        scannedAt: '2026-12-05T03:00:00.000Z',
        status: 'Scanned',
        error: null,
        pendingRestart,
        updates: [{ source: 'windowsUpdate', kb: 'KB5002222', title: 'x' }],
      },
      ledger: recordInstall(createLedger(name), {
        updateId: 'KB1000001',
        installedAt: '2026-12-01T00:00:00Z',
        runId: 'r-1',
        hotpatched: true,
        replacedFiles: [],
      }),
      lastRun: {
        runId: 'r-1',
        updates: [{ update: 'KB3000003', attempt: 1, outcome: 'Failed', exitCode: 1603 }],
      },
      previous: {
        state: 'Compliant',
        assessedAt: '2026-12-04T03:00:00.000Z',
        lastKnownState: 'Compliant',
      },
    });

  it('shows every field the API documents, counts the page and passes the cursor on', () => {
    // Act
    const view = compliancePageView('web', [node('WEB01', true)], 'next');
    // Assert
    expect(compliancePageSchema.parse(view)).toEqual(view);
    expect(view).toEqual({
      target: 'web',
      nodes: [
        {
          node: 'WEB01',
          state: 'NonCompliant',
          reasons: [
            '1 applicable update is missing: KB5002222',
            '1 update failed on the last attempt in run r-1: KB3000003',
            'a restart is pending: installed updates are not in effect',
          ],
          assessmentId: 'a-2',
          assessedAt: '2026-12-05T03:00:00.000Z',
          previousState: 'Compliant',
          previousAssessedAt: '2026-12-04T03:00:00.000Z',
          change: 'FellOut',
          installed: [
            {
              kb: 'KB1000001',
              installedAt: '2026-12-01T00:00:00Z',
              runId: 'r-1',
              hotpatched: true,
              installedPendingReboot: false,
            },
          ],
          missing: [{ kb: 'KB5002222', title: 'x', source: 'windowsUpdate' }],
          failed: [
            {
              update: 'KB3000003',
              kb: 'KB3000003',
              runId: 'r-1',
              attempt: 1,
              exitCode: 1603,
              detail: null,
            },
          ],
          pendingRestart: true,
        },
      ],
      counts: { Compliant: 0, NonCompliant: 1, Unknown: 0 },
      cursor: 'next',
    });
  });

  it('says null for the last page', () => {
    expect(compliancePageView('web', [], undefined)).toEqual({
      target: 'web',
      nodes: [],
      counts: { Compliant: 0, NonCompliant: 0, Unknown: 0 },
      cursor: null,
    });
  });

  it('leaves out what the store keeps besides (the notification time)', () => {
    const stored = { ...node('WEB02', false), changeNotifiedAt: '2026-12-05T03:05:00.000Z' };
    expect(compliancePageView('web', [stored], undefined).nodes[0]).not.toHaveProperty(
      'changeNotifiedAt',
    );
  });
});

describe('the published OpenAPI document (api/openapi.json)', () => {
  const published = JSON.parse(
    readFileSync(new URL('../../api/openapi.json', import.meta.url), 'utf8'),
  ) as { components: { schemas: Record<string, unknown> }; paths: Record<string, unknown> };

  it('documents the CompliancePage this module defines, field by field', () => {
    const generated = openApiDocument() as typeof published;
    expect(published.components.schemas.CompliancePage).toEqual(
      generated.components.schemas.CompliancePage,
    );
    expect(published.paths['/compliance']).toEqual(generated.paths['/compliance']);
  });

  it('says what each state means and that counts are whole numbers from 0', () => {
    const page = JSON.stringify(published.components.schemas.CompliancePage);
    expect(page).toContain('Compliant, NonCompliant, or Unknown (the scan did not answer)');
    expect(page).toContain('"minimum":0');
  });
});
