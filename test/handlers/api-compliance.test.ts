/**
 * GET /compliance?target=… (issue 13, item 8) through the API handler, against dynalite: a page of
 * the target's nodes, paging, and every bad query refused with 400 naming the field and value.
 */

import { SFNClient } from '@aws-sdk/client-sfn';
import { beforeEach, describe, expect, it } from 'vitest';
import { compliancePageSchema, errorBodySchema } from '../../lambdas/core/api-responses.js';
import { assessNode } from '../../lambdas/core/compliance.js';
import { createLedger } from '../../lambdas/core/install-ledger.js';
import { type ApiDeps, makeApiHandler } from '../../lambdas/handlers/api.js';
import { ComplianceStore } from '../../lambdas/shared/compliance-store.js';
import { RunStore } from '../../lambdas/shared/run-store.js';
import { apiEvent } from '../helpers/api-event.js';
import { useDynalite } from '../helpers/dynalite.js';

const db = useDynalite();
let store: RunStore;
let compliance: ComplianceStore;

beforeEach(async () => {
  const { tableName, client } = await db.table('api-compliance');
  store = new RunStore({ client, tableName });
  compliance = new ComplianceStore({ client, tableName });
});

function get(query: Record<string, string | string[]> | null, deps: Partial<ApiDeps> = {}) {
  const handler = makeApiHandler({
    sfn: new SFNClient({ region: 'us-east-1' }),
    store,
    now: () => new Date('2026-12-05T04:00:00Z'),
    rolloutStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Rollout',
    compliance,
    ...deps,
  });
  return handler(
    apiEvent({
      method: 'GET',
      path: '/compliance',
      resource: { path: '/compliance', parameters: null },
      ...(query === null ? {} : { query }),
      callerArn: 'arn:aws:iam::000000000000:user/alice',
    }),
  );
}

async function seed(target: string, node: string, pendingRestart: boolean) {
  await compliance.putNodeCompliance(
    assessNode({
      target,
      assessmentId: 'a-1',
      assessedAt: '2026-12-05T03:00:00.000Z',
      scan: {
        node,
        scannedAt: '2026-12-05T03:00:00.000Z',
        status: 'Scanned',
        error: null,
        pendingRestart,
        updates: [],
      },
      ledger: createLedger(node),
      lastRun: null,
      previous: null,
    }),
    null,
  );
}

describe('GET /compliance', () => {
  it("answers a page of the target's nodes with their state, and the next page by cursor", async () => {
    // Arrange
    await seed('CLUSTER1', 'NODE1', true);
    await seed('CLUSTER1', 'NODE2', false);
    await seed('CLUSTER1', 'NODE3', false);
    await seed('OTHER', 'NODE9', true);

    // Act
    const first = await get({ target: 'cluster1', limit: '2' });
    const body = compliancePageSchema.parse(JSON.parse(first.body));
    const second = compliancePageSchema.parse(
      JSON.parse(
        (await get({ target: 'CLUSTER1', limit: '2', cursor: body.cursor as string })).body,
      ),
    );

    // Assert
    expect(first.statusCode).toBe(200);
    expect(body.target).toBe('cluster1');
    expect(body.nodes.map((n) => [n.node, n.state])).toEqual([
      ['NODE1', 'NonCompliant'],
      ['NODE2', 'Compliant'],
    ]);
    expect(body.nodes[0]?.reasons).toEqual([
      'a restart is pending: installed updates are not in effect',
    ]);
    expect(body.counts).toEqual({ Compliant: 1, NonCompliant: 1, Unknown: 0 });
    expect(second.nodes.map((n) => n.node)).toEqual(['NODE3']);
    expect(second.cursor).toBeNull();
  });

  it('a target never assessed has no nodes', async () => {
    const result = await get({ target: 'NEVER' });
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({
      target: 'NEVER',
      nodes: [],
      counts: { Compliant: 0, NonCompliant: 0, Unknown: 0 },
      cursor: null,
    });
  });

  it.each([
    [null, 'target', /target.*missing/],
    [{ limit: '5' }, 'target', /target.*missing/],
    [{ target: '-bad' }, 'target', /target \("-bad"\).*cluster or group name/],
    [{ target: 'has space' }, 'target', /target \("has space"\)/],
    [{ target: 'C', limit: '0' }, 'limit', /limit \("0"\).*1 to 100/],
    [{ target: 'C', limit: 'ten' }, 'limit', /limit \("ten"\)/],
    [{ target: 'C', cluster: 'C' }, 'cluster', /cluster.*unknown/i],
    [{ target: 'C', cursor: 'bm9wZQ' }, 'cursor', /cursor.*not a cursor this service returned/],
    [{ target: ['A', 'B'] }, 'target', /target: given more than once/],
  ])('%j: 400 naming %s', async (query, field, message) => {
    const result = await get(query as Record<string, string>);
    expect(result.statusCode).toBe(400);
    const { error } = errorBodySchema.parse(JSON.parse(result.body));
    expect(error.code).toBe('ValidationFailed');
    expect(error.field ?? error.problems?.[0]?.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it("refuses another target's cursor", async () => {
    await seed('CLUSTER1', 'NODE1', false);
    await seed('CLUSTER1', 'NODE2', false);
    const first = JSON.parse((await get({ target: 'CLUSTER1', limit: '1' })).body);
    const result = await get({ target: 'CLUSTER2', cursor: first.cursor });
    expect(result.statusCode).toBe(400);
    expect(result.body).toMatch(/another target/);
  });

  it('answers 501 where compliance is not wired', async () => {
    const result = await get({ target: 'C' }, { compliance: undefined });
    expect(result.statusCode).toBe(501);
  });
});
