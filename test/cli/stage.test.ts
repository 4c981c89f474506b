/**
 * `rollout stage --local` (issue 13 item 5): stages the scenario's rollouts through the
 * synthesized staging workflow and prints the per-node table; refuses what it cannot do.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('rollout stage', () => {
  it('--local stages each node and prints files, bytes, digests verified and cache hits', async () => {
    // Act
    const { status, stdout } = await run('stage', '--local', '--fleet', 'model');
    // Assert
    expect(status).toBe(0);
    expect(stdout).toContain('Staging staging-staging-1: SUCCEEDED');
    expect(stdout).toMatch(/node\s+status\s+files\s+bytes\s+digests verified\s+cache hits/);
    expect(stdout).toMatch(/NODE1\s+Staged\s+1\s+\d+\s+1\s+0/);
    expect(stdout).toMatch(/NODE2\s+Staged\s+2\s+\d+\s+2\s+0/);
  });

  it('--json prints the staging records', async () => {
    const { status, stdout } = await run('stage', '--local', '--fleet', 'model', '--json');
    expect(status).toBe(0);
    const json = JSON.parse(stdout) as {
      staging: { status: string; records: { node: string }[] }[];
    };
    expect(json.staging[0]?.status).toBe('SUCCEEDED');
    expect(json.staging[0]?.records.map((r) => r.node)).toEqual(['NODE1', 'NODE2']);
  });

  it('without --local needs --input or --status, saying so', async () => {
    const { status, stderr } = await run('stage', '--endpoint', 'https://x.example/v1');
    expect(status).toBe(2);
    expect(stderr).toContain('give --input <rollout.json> to start a staging run or --status <id>');
  });

  it('refuses API flags with --local, naming the flag', async () => {
    const { status, stderr } = await run('stage', '--local', '--status', 's-1');
    expect(status).toBe(2);
    expect(stderr).toContain('--status is for the deployed API');
  });

  it('refuses a bad staging block in the scenario, naming the field and the value', async () => {
    const { status, stderr } = await run(
      'stage',
      '--local',
      '--fleet',
      'model',
      '--scenario',
      'examples/scenarios/invalid/staging-hours-too-many.json',
    );
    expect(status).not.toBe(0);
    expect(stderr).toContain('staging.hoursBeforeWindow (200)');
  });
});

describe('rollout stage against the deployed API', () => {
  // A loopback HTTP server stands in for API Gateway: it records each signed request.
  interface Seen {
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: string;
  }
  const seen: Seen[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  let server: Server;
  let endpoint = '';
  const saved = { ...process.env };

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        seen.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        response.writeHead(answer.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'example-secret';
  });
  afterAll(async () => {
    process.env = saved;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    seen.length = 0;
  });

  const INPUT = {
    target: { kind: 'cluster', name: 'CLUSTER1', nodes: [{ name: 'NODE1' }, { name: 'NODE2' }] },
    staging: { maxConcurrency: 2 },
  };
  const inputFile = join(mkdtempSync(join(tmpdir(), 'stage-cli-')), 'rollout.json');
  writeFileSync(inputFile, JSON.stringify(INPUT));

  const api = (...argv: string[]) =>
    run('stage', ...argv, '--endpoint', endpoint, '--region', 'eu-west-1');

  it('--input starts a staging run: POST /stagings, signed, with the input and the client token', async () => {
    // Arrange
    answer = {
      status: 202,
      body: {
        stagingId: 's-1',
        executionArn: 'arn:aws:states:eu-west-1:000000000000:execution:Staging:s-1',
        status: 'Running',
        idempotencyKey: 'Idempotency-Key "tok-1"',
      },
    };
    // Act
    const { status, stdout } = await api('--input', inputFile, '--idempotency-key', 'tok-1');
    // Assert
    expect(status).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/stagings' });
    expect(seen[0]?.headers['idempotency-key']).toBe('tok-1');
    expect(seen[0]?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request/,
    );
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual(INPUT);
    expect(stdout).toContain('Staging s-1 Running');
    expect(stdout).toContain('rollout stage --status s-1');
  });

  it('--status shows the staging run and its per-node table: GET /stagings/{id}', async () => {
    // Arrange
    const node = (name: string, status: string, problems: string[] = []) => ({
      node: name,
      status,
      files: 2,
      bytes: 4096,
      digestsVerified: 2,
      cacheHits: 1,
      windowsUpdates: 0,
      problems,
      stagedDigests: [],
      stagedAt: '2025-05-13T21:30:00.000Z',
    });
    answer = {
      status: 200,
      body: {
        stagingId: 's-1',
        executionArn: null,
        status: 'Failed',
        startedAt: null,
        stoppedAt: null,
        counts: { Staged: 1, Failed: 1 },
        nodes: [node('NODE1', 'Staged'), node('NODE2', 'Failed', ['KB9: hash mismatch'])],
      },
    };
    // Act
    const { status, stdout } = await api('--status', 's-1');
    // Assert
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/v1/stagings/s-1' });
    expect(status).toBe(1);
    expect(stdout).toContain('Staging s-1: Failed (1 Staged, 1 Failed)');
    expect(stdout).toMatch(/NODE1\s+Staged\s+2\s+4096\s+2\s+1/);
    expect(stdout).toContain('NODE2: KB9: hash mismatch');
  });

  it("prints the API's refusal naming the field, with the usual exit status", async () => {
    // Arrange
    answer = {
      status: 400,
      body: {
        error: {
          code: 'ValidationFailed',
          message: 'staging.maxConcurrency (51): expected 1 to 50',
          field: 'staging.maxConcurrency',
          value: 51,
        },
      },
    };
    // Act
    const { status, stderr } = await api('--input', inputFile);
    // Assert
    expect(status).toBe(3);
    expect(stderr).toContain('staging.maxConcurrency (51)');
    expect(stderr).toContain('field staging.maxConcurrency');
  });
});
