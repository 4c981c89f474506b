/**
 * Staging through the API (issue 13 item 5) in the sandbox, as `rollout local up` serves it:
 * POST /stagings starts the synthesized staging workflow, GET /stagings/{id} reads its
 * execution and the per-node records the workflow wrote. Model fleet; the pwsh fleet's
 * StageUpdates is covered by staging.test.ts, which runs the same workflow.
 */
import { describe, expect, it } from 'vitest';
import {
  errorBodySchema,
  stagingAcceptedSchema,
  stagingStatusSchema,
} from '../../lambdas/core/api-responses.js';
import { runScenario } from '../../sandbox/run-scenario.js';
import { loadScenario } from '../../sandbox/scenario.js';
import { checkStagingRun } from '../../sandbox/staging-invariants.js';
import { type ApiRequest, apiEvent } from '../helpers/api-event.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const FILE = new URL('../../examples/scenarios/staging.json', import.meta.url).pathname;

async function start() {
  const scenario = await loadScenario(FILE);
  const result = await runScenario(scenario, { fleet: 'model', runRollouts: false });
  const handler = result.sandbox.api();
  const call = async (request: ApiRequest) => {
    const answer = await handler(apiEvent(request) as never);
    return { ...answer, json: JSON.parse(answer.body) as unknown };
  };
  const input = JSON.parse(JSON.stringify(scenario.runs[0]?.rollout)) as Record<string, unknown>;
  return { ...result, call, input };
}

describe('POST /stagings and GET /stagings/{id} on the sandbox (local up)', () => {
  it('start the staging workflow; its status and per-node records come back; nothing was installed', async () => {
    // Arrange
    const env = await start();
    try {
      // Act
      const accepted = await env.call({
        method: 'POST',
        path: '/stagings',
        body: { ...env.input, runId: 'stage-api-1' },
      });
      const running = await env.call({ method: 'GET', path: '/stagings/stage-api-1' });
      await env.sandbox.settle();
      const done = await env.call({ method: 'GET', path: '/stagings/stage-api-1' });

      // Assert
      expect(accepted.statusCode).toBe(202);
      const body = stagingAcceptedSchema.parse(accepted.json);
      expect(body.stagingId).toBe('stage-api-1');
      expect(body.executionArn).toMatch(/:execution:.*:stage-api-1$/);
      expect(stagingStatusSchema.parse(running.json).status).toBe('Running');
      expect(done.statusCode).toBe(200);
      const view = stagingStatusSchema.parse(done.json);
      expect(view.status).toBe('Succeeded');
      expect(view.executionArn).toBe(body.executionArn);
      expect(view.counts).toEqual({ Staged: 2 });
      expect(
        view.nodes.map((n) => [n.node, n.status, n.files, n.digestsVerified, n.cacheHits]),
      ).toEqual([
        ['NODE1', 'Staged', 1, 1, 0],
        ['NODE2', 'Staged', 2, 2, 0],
      ]);
      expect(view.nodes.every((n) => n.bytes > 0 && n.stagedDigests.length === n.files)).toBe(true);
      // Only StageUpdates ran: nothing drained, installed or restarted.
      const commands = env.fleet.log.filter((e) => e.kind === 'command');
      expect(new Set(commands.map((e) => e.document))).toEqual(new Set(['stageUpdates']));
      expect(commands.filter((e) => e.status === 'Success').map((e) => e.node)).toEqual([
        'NODE1',
        'NODE2',
      ]);
      expect(checkStagingRun(env.fleet.log)).toEqual([]);
    } finally {
      await env.sandbox.stop();
    }
  });

  it('a retry with the same Idempotency-Key is the same staging run; another body under it is 422', async () => {
    const env = await start();
    try {
      const headers = { 'Idempotency-Key': 'stage-window-7' };
      // Act
      const first = await env.call({ method: 'POST', path: '/stagings', body: env.input, headers });
      const again = await env.call({ method: 'POST', path: '/stagings', body: env.input, headers });
      const other = await env.call({
        method: 'POST',
        path: '/stagings',
        body: { ...env.input, staging: { maxConcurrency: 1 } },
        headers,
      });
      await env.sandbox.settle();

      // Assert
      const id = stagingAcceptedSchema.parse(first.json).stagingId;
      expect(again.statusCode).toBe(202);
      expect(again.headers?.['Idempotent-Replay'] ?? again.headers?.['idempotent-replay']).toBe(
        'true',
      );
      expect(stagingAcceptedSchema.parse(again.json).stagingId).toBe(id);
      expect(other.statusCode).toBe(422);
      expect(errorBodySchema.parse(other.json).error.code).toBe('IdempotencyKeyReused');
      // One execution of the staging workflow ran.
      const stagings = env.sandbox.executions.filter((e) =>
        e.executionArn.startsWith(
          env.sandbox.synth.staging.arn.replace(':stateMachine:', ':execution:'),
        ),
      );
      expect(stagings.map((e) => [e.executionArn.split(':').at(-1), e.status])).toEqual([
        [id, 'SUCCEEDED'],
      ]);
    } finally {
      await env.sandbox.stop();
    }
  });

  it('an unknown staging id is 404 naming it; a bad input is 400 naming the field', async () => {
    const env = await start();
    try {
      const missing = await env.call({ method: 'GET', path: '/stagings/no-such-staging' });
      const bad = await env.call({
        method: 'POST',
        path: '/stagings',
        body: { ...env.input, staging: { maxConcurrency: 0 } },
      });
      expect(missing.statusCode).toBe(404);
      expect(errorBodySchema.parse(missing.json).error.message).toContain('no-such-staging');
      expect(bad.statusCode).toBe(400);
      expect(errorBodySchema.parse(bad.json).error.message).toContain('staging.maxConcurrency');
      expect(env.sandbox.executions).toEqual([]);
    } finally {
      await env.sandbox.stop();
    }
  });
});
