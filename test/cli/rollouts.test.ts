/**
 * The rollout commands (issue 5, "Console and CLI"): end to end against the change-management
 * API in the local sandbox; over HTTPS with a fake fetch (SigV4 signing, routes, bodies, errors);
 * the report formats; following a run.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BackendError,
  type RolloutBackend,
  type RolloutStatus,
  type ScanView,
} from '../../cli/backend.js';
import { createStatusDisplay, followRollout } from '../../cli/commands/rollouts.js';
import { EXIT } from '../../cli/exit-status.js';
import { createHttpBackend, resolveRegion } from '../../cli/http-backend.js';
import { main } from '../../cli/main.js';
import { escapeHtml, renderReportHtml } from '../../cli/report-format.js';
import type { RunReportView } from '../../lambdas/core/api-model.js';
import { INVARIANTS } from '../../sandbox/invariants.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIO = join(REPO, 'examples/scenarios/change-management.json');

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'rollout-cli-')), name);
  writeFileSync(path, text);
  return path;
}

const scenarioJson = () => JSON.parse(readFileSync(SCENARIO, 'utf8'));

/** The scenario's rollout with an approval gate after the pilot node. */
const gatedInput = () =>
  tempFile(
    'gated.json',
    JSON.stringify({
      ...scenarioJson().rollout,
      approvalGate: { afterNodes: 1, timeoutMinutes: 600 },
    }),
  );

/** One line on stderr, no stack trace, nothing on stdout. */
function expectOneLineError(result: Awaited<ReturnType<typeof run>>, contains: string | RegExp) {
  expect(result.status).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\s+at \S+ \(/);
  if (typeof contains === 'string') expect(result.stderr).toContain(contains);
  else expect(result.stderr).toMatch(contains);
}

describe('rollout start --local (the sandbox runs the rollout to its end in-process)', () => {
  it('--json on the change-management scenario: a Succeeded run with 3 nodes', async () => {
    const result = await run('start', '--local', '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.accepted.rolloutId).toBe(json.status.rolloutId);
    expect(json.status.status).toBe('Succeeded');
    expect(json.status.nodes).toHaveLength(3);
    expect(json.report.status).toBe('Succeeded');
    expect(json.report.nodes.map((n: { status: string }) => n.status)).toEqual([
      'Succeeded',
      'Succeeded',
      'Succeeded',
    ]);
    expect(json.report.changeTicket.id).toBe('CHG0031337');
    expect(json.decision).toBeNull();
    // A sandbox run: every safety invariant checked on it, and each holds.
    expect(json.invariants.map((i: { name: string }) => i.name)).toEqual(
      INVARIANTS.map((i) => i.name),
    );
    expect(json.invariants.filter((i: { ok: boolean }) => !i.ok)).toEqual([]);
  });

  it('an approval gate and --reject: the run ends Cancelled after the pilot, exit 1', async () => {
    const result = await run('start', '--local', '--input', gatedInput(), '--reject', '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
    const json = JSON.parse(result.stdout);
    expect(json.decision).toMatchObject({ decision: 'rejected' });
    expect(json.status.status).toBe('Cancelled');
    expect(json.report.nodes.map((n: { status: string }) => n.status)).toEqual([
      'Succeeded',
      'NotStarted',
      'NotStarted',
    ]);
  });

  it('an approval gate and --approve: the rest are updated; text shows progress and the report', async () => {
    const result = await run('start', '--local', '--input', gatedInput(), '--approve');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/NODE1\s+\S+\s+updated/);
    expect(result.stdout).toContain('approved at');
    expect(result.stdout).toMatch(/on cluster CLUSTER1: Succeeded/);
    expect(result.stdout).toMatch(/NODE3\s+Succeeded/);
    expect(result.stdout).toContain(`Safety invariants: all ${INVARIANTS.length} hold`);
  });

  it('--cancel-after stops after the current node, leaving the rest untouched', async () => {
    const result = await run('start', '--local', '--cancel-after', '25', '--json');
    expect(result.status).toBe(1);
    const json = JSON.parse(result.stdout);
    expect(json.cancel).toMatchObject({ cancelRequested: true });
    expect(json.status.status).toBe('Cancelled');
    expect(json.report.nodes[0].status).toBe('Succeeded');
    expect(json.report.nodes[2].status).toBe('NotStarted');
  });
});

describe('the other commands with --local answer after the scenario ran its own rollouts', () => {
  it.each([
    [['status', 'change-management-1'], (j: Record<string, unknown>) => j.status === 'Succeeded'],
    [
      ['list', '--cluster', 'CLUSTER1'],
      (j: { rollouts: { rolloutId: string }[] }) =>
        j.rollouts[0]?.rolloutId === 'change-management-1',
    ],
    [
      ['report', 'change-management-1'],
      (j: { nodes: unknown[]; status: string }) => j.nodes.length === 3 && j.status === 'Succeeded',
    ],
    [['ledger', 'NODE1'], (j: { installed: string[] }) => j.installed.includes('KB5034439')],
    [
      ['scan'],
      (j: { nodes: unknown[]; status: string }) => j.nodes.length === 3 && j.status === 'Succeeded',
    ],
  ] as const)('%j --json parses', async (argv, check) => {
    const result = await run(...argv, '--local', '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect((check as (json: never) => boolean)(JSON.parse(result.stdout) as never)).toBe(true);
  });

  it('scan --local searches each node and shows in text everything the JSON has, before any rollout ran', async () => {
    const scenario = join(REPO, 'examples/scenarios/update-selection.json');
    const json = JSON.parse(
      (await run('scan', '--local', '--scenario', scenario, '--json')).stdout,
    ) as ScanView;
    const text = await run('scan', '--local', '--scenario', scenario);
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(json.status).toBe('Succeeded');
    // The scenario's rollout did not run first: the scan started at the simulated start.
    expect(json.startedAt).toBe('2026-01-13T22:00:00.000Z');
    expect(json.nodes.map((n) => n.updates.map((u) => u.kb))).toEqual([
      ['KB5034441', 'KB5034127'],
      ['KB5034441', 'KB5034127'],
    ]);
    expect(text.stdout).toContain(
      'updateSelection.classifications: Security Updates, Critical Updates',
    );
    // Every value of the JSON's per-node lists is in the text.
    for (const node of json.nodes) {
      expect(text.stdout).toContain(`${node.node} (${node.instanceId}`);
      expect(text.stdout).toContain(`scanned at ${node.scannedAt}`);
      for (const u of node.updates) {
        for (const value of [
          u.kb,
          u.title,
          u.restartReason,
          u.hotpatchReason,
          u.file ?? u.updateId,
        ]) {
          expect(text.stdout).toContain(String(value));
        }
        expect(text.stdout).toContain(`restart expected: ${u.restartExpected ? 'yes' : 'no'}`);
        expect(text.stdout).toContain(`hotpatch candidate: ${u.hotpatchCandidate ? 'yes' : 'no'}`);
        if (u.classification) expect(text.stdout).toContain(u.classification);
        if (u.msrcSeverity) expect(text.stdout).toContain(u.msrcSeverity);
      }
      for (const e of node.excluded) {
        expect(text.stdout).toContain(
          `${e.title} [${e.source === 'hotfix' ? `hotfix ${e.file}` : `Windows Update ${e.updateId}`}]`,
        );
        expect(text.stdout).toContain(`${e.rule} (${e.reason})`);
      }
      for (const reason of node.restartReasons) expect(text.stdout).toContain(reason);
    }
    expect(text.stdout).toContain(
      'windows10.0-kb5034439-x64.msu [hotfix CAUHotfix_All/windows10.0-kb5034439-x64.msu]: excludeKbs (KB5034439 is in excludeKbs)',
    );
  });

  it("report --format csv is the API renderer's CSV", async () => {
    const result = await run('report', '--local', 'change-management-1', '--format', 'csv');
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\r\n');
    expect(lines[0]).toMatch(/^runId,target,runStatus,node,nodeStatus/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^change-management-1,CLUSTER1,Succeeded,NODE1,Succeeded/);
  });

  it('report --format html escapes <script> in a value (here requestedBy)', async () => {
    const scenario = scenarioJson();
    scenario.rollout.requestedBy = '<script>alert("x")</script>';
    const file = tempFile('scenario.json', JSON.stringify(scenario));
    const out = join(mkdtempSync(join(tmpdir(), 'rollout-html-')), 'report.html');
    const result = await run(
      'report',
      '--local',
      '--scenario',
      file,
      'change-management-1',
      '--format',
      'html',
      '--out',
      out,
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).not.toMatch(/<script/i);
    expect(html).toMatch(/NODE3/);
  });

  it('an unknown rollout: 404 naming the field and the rollouts this sandbox knows', async () => {
    const result = await run('status', '--local', 'nope');
    expectOneLineError(result, /HTTP 404 NotFound; field id/);
    expect(result.stderr).toContain('change-management-1');
    expect(result.status).toBe(EXIT.refused);
  });
});

describe('bad input: non-zero exit, one clear line on stderr, no stack trace', () => {
  const malformed = tempFile('malformed.json', '{ "target": ');
  it.each([
    { argv: ['start', '--local', '--bogus'], status: 2, message: "Unknown option '--bogus'" },
    { argv: ['status', '--local', 'x', '--bogus'], status: 2, message: "Unknown option '--bogus'" },
    { argv: ['status', '--local'], status: 2, message: 'the rollout id is required' },
    { argv: ['status', 'a', 'b', '--local'], status: 2, message: 'unexpected argument "b"' },
    {
      argv: ['start', '--local', '--input', 'missing.json'],
      status: 2,
      message: '--input "missing.json": cannot read the file (no such file)',
    },
    { argv: ['start', '--local', '--input', malformed], status: 2, message: 'not valid JSON' },
    {
      argv: ['cancel', '--local', 'change-management-1'],
      status: 2,
      message: 'only makes sense inside start --local',
    },
    {
      argv: ['approve', '--local', 'change-management-1'],
      status: 2,
      message: 'only makes sense inside start --local',
    },
    { argv: ['start', '--approve'], status: 2, message: '--approve applies to start --local' },
    { argv: ['list', '--local'], status: 2, message: 'exactly one of --cluster' },
    { argv: ['report', 'x', '--format', 'pdf'], status: 2, message: '--format "pdf"' },
    { argv: ['status', 'x', '--scenario', 'f.json'], status: 2, message: 'only with --local' },
  ])('$argv', async ({ argv, status, message }) => {
    const saved = process.env.ROLLOUT_API_URL;
    delete process.env.ROLLOUT_API_URL;
    try {
      const result = await run(...argv);
      expectOneLineError(result, message);
      expect(result.status).toBe(status);
    } finally {
      if (saved !== undefined) process.env.ROLLOUT_API_URL = saved;
    }
  });

  it('without --local and without an endpoint: names --endpoint and ROLLOUT_API_URL', async () => {
    const saved = process.env.ROLLOUT_API_URL;
    delete process.env.ROLLOUT_API_URL;
    try {
      const result = await run('status', 'x');
      expectOneLineError(result, '--endpoint <url> is required (or set ROLLOUT_API_URL)');
    } finally {
      if (saved !== undefined) process.env.ROLLOUT_API_URL = saved;
    }
  });
});

describe('--help', () => {
  it.each(['start', 'status', 'list', 'report', 'cancel', 'approve', 'scan', 'ledger', 'remove'])(
    '%s --help documents --local and --json',
    async (name) => {
      const result = await run(name, '--help');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`Usage: rollout ${name}`);
      expect(result.stdout).toContain('--local');
      expect(result.stdout).toMatch(/--json|--format/);
    },
  );

  it('lists the rollout commands', async () => {
    const result = await run('--help');
    for (const name of ['start', 'status', 'list', 'report', 'cancel', 'approve', 'scan']) {
      expect(result.stdout).toMatch(new RegExp(`\\n  ${name}\\s`));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// HTTP

const ENDPOINT = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NOW = new Date('2026-01-13T22:00:00Z');

interface Sent {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/** A fetch that records each request and answers from `answer`. */
function fakeFetch(answer: (sent: Sent) => { status?: number; body: unknown; type?: string }) {
  const sent: Sent[] = [];
  const fetch = (async (input: string | URL, init: RequestInit = {}) => {
    const request: Sent = {
      url: new URL(String(input)),
      method: init.method ?? 'GET',
      headers: Object.fromEntries(
        Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [
          k.toLowerCase(),
          v,
        ]),
      ),
      body: init.body === undefined ? undefined : String(init.body),
    };
    sent.push(request);
    const a = answer(request);
    const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
    return new Response(text, {
      status: a.status ?? 200,
      headers: { 'content-type': a.type ?? 'application/json' },
    });
  }) as typeof globalThis.fetch;
  return { fetch, sent };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: string | Buffer, text: string) =>
  createHmac('sha256', key).update(text).digest();

/**
 * SigV4 computed independently (AWS's documented algorithm) over what fetch was given, with the
 * headers the Authorization header says were signed.
 */
function expectedSignature(sent: Sent): string {
  const auth = sent.headers.authorization ?? '';
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = { ...sent.headers, host: sent.url.host };
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${String(headers[h]).trim()}\n`).join('');
  const query = [...sent.url.searchParams.entries()]
    .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)])
    .sort(([a], [b]) => (a as string).localeCompare(b as string))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = sent.url.pathname
    .split('/')
    .map((segment) => encodeRfc3986(decodeURIComponent(segment)))
    .map((segment) => encodeRfc3986(segment))
    .join('/');
  const canonical = [
    sent.method,
    path,
    query,
    canonicalHeaders,
    signedHeaders.join(';'),
    sha256(sent.body ?? ''),
  ].join('\n');
  const amzDate = sent.headers['x-amz-date'] as string;
  const scope = `${amzDate.slice(0, 8)}/eu-west-1/execute-api/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, amzDate.slice(0, 8));
  for (const part of ['eu-west-1', 'execute-api', 'aws4_request']) key = hmac(key, part);
  return hmac(key, toSign).toString('hex');
}

const encodeRfc3986 = (text: string) =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

describe('the HTTP backend: SigV4-signed requests to the deployed API', () => {
  const backend = (fetch: typeof globalThis.fetch) =>
    createHttpBackend({ endpoint: ENDPOINT, credentials: CREDENTIALS, fetch, now: () => NOW });

  it('signs each request for execute-api and sends the route, method and JSON body', async () => {
    const { fetch, sent } = fakeFetch(() => ({ status: 202, body: { ok: true } }));
    const api = backend(fetch);
    const input = { target: { kind: 'cluster', name: 'CLUSTER1' } };
    await api.startRollout(input, 'chg-1');
    await api.getRollout('r-1');
    await api.listRollouts({ kind: 'cluster', name: 'CLUSTER1' }, { limit: 5, cursor: 'a+b/=' });
    await api.getReport('r-1', 'json');
    await api.cancel('r-1', 'window withdrawn');
    await api.decide('r-1', 'approve', 'pilot fine');
    await api.decide('r-1', 'reject');
    await api.scan(input);
    await api.getScan('s-1');
    await api.getLedger('NODE1');
    await api.requestRemoval('NODE1', { updates: ['KB5034439'], force: true });
    expect(sent.map((s) => `${s.method} ${s.url.pathname}${s.url.search}`)).toEqual([
      'POST /prod/rollouts',
      'GET /prod/rollouts/r-1',
      'GET /prod/rollouts?cluster=CLUSTER1&limit=5&cursor=a%2Bb%2F%3D',
      'GET /prod/rollouts/r-1/report',
      'POST /prod/rollouts/r-1/cancel',
      'POST /prod/rollouts/r-1/approve',
      'POST /prod/rollouts/r-1/reject',
      'POST /prod/scans',
      'GET /prod/scans/s-1',
      'GET /prod/nodes/NODE1/ledger',
      'POST /prod/nodes/NODE1/removals',
    ]);
    for (const s of sent) {
      expect(s.url.host).toBe('abc123.execute-api.eu-west-1.amazonaws.com');
      expect(s.headers['x-amz-date']).toBe('20260113T220000Z');
      expect(s.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260113\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*\bhost\b[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
      expect(s.headers.authorization).toContain('x-amz-date');
      expect(/Signature=([0-9a-f]{64})/.exec(s.headers.authorization ?? '')?.[1]).toBe(
        expectedSignature(s),
      );
    }
    const [start, , , , cancel, approve, reject, scan, , , removal] = sent;
    expect(start?.headers['content-type']).toBe('application/json');
    expect(start?.headers['idempotency-key']).toBe('chg-1');
    expect(start?.headers.authorization).toMatch(/SignedHeaders=[^,]*idempotency-key/);
    expect(JSON.parse(start?.body ?? '')).toEqual(input);
    expect(JSON.parse(cancel?.body ?? '')).toEqual({ reason: 'window withdrawn' });
    expect(JSON.parse(approve?.body ?? '')).toEqual({ comment: 'pilot fine' });
    expect(JSON.parse(reject?.body ?? '')).toEqual({});
    expect(JSON.parse(scan?.body ?? '')).toEqual(input);
    expect(JSON.parse(removal?.body ?? '')).toEqual({ updates: ['KB5034439'], force: true });
  });

  it('asks for CSV with Accept: text/csv and returns the text', async () => {
    const { fetch, sent } = fakeFetch(() => ({
      body: 'runId,target\r\nr-1,C\r\n',
      type: 'text/csv',
    }));
    expect(await backend(fetch).getReport('r-1', 'csv')).toBe('runId,target\r\nr-1,C\r\n');
    expect(sent[0]?.headers.accept).toBe('text/csv');
  });

  it('sends the session token of temporary credentials', async () => {
    const { fetch, sent } = fakeFetch(() => ({ body: {} }));
    await createHttpBackend({
      endpoint: ENDPOINT,
      credentials: { ...CREDENTIALS, sessionToken: 'TOKEN' },
      fetch,
      now: () => NOW,
    }).getLedger('NODE1');
    expect(sent[0]?.headers['x-amz-security-token']).toBe('TOKEN');
  });

  it('an error body { error: { code, message, field, problems } } becomes a BackendError keeping every line', async () => {
    const { fetch } = fakeFetch(() => ({
      status: 400,
      body: {
        error: {
          code: 'ValidationFailed',
          message:
            'rollout request is invalid (2 problems):\n  - target.name (""): expected a name\n  - policy.maxFailedNodes (-1): expected 0 or more',
          field: 'target.name',
          value: '',
          problems: [
            { field: 'target.name', value: '', message: 'expected a name' },
            { field: 'policy.maxFailedNodes', value: -1, message: 'expected 0 or more' },
          ],
        },
      },
    }));
    const error = await backend(fetch)
      .startRollout({})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ status: 400, code: 'ValidationFailed', field: 'target.name' });
    expect((error as Error).message.split('\n')).toEqual([
      'rollout request is invalid (2 problems): (HTTP 400 ValidationFailed; field target.name)',
      '  - target.name (""): expected a name',
      '  - policy.maxFailedNodes (-1): expected 0 or more',
    ]);
    expect((error as BackendError).problems).toHaveLength(2);
  });

  it("API Gateway's own 403 and an unreachable host are BackendErrors too", async () => {
    const denied = fakeFetch(() => ({
      status: 403,
      body: { message: 'Missing Authentication Token' },
    }));
    await expect(backend(denied.fetch).getRollout('x')).rejects.toThrow(
      /Missing Authentication Token \(HTTP 403/,
    );
    const down = (async () => {
      throw new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } });
    }) as unknown as typeof globalThis.fetch;
    await expect(backend(down).getRollout('x')).rejects.toThrow(
      /cannot reach the API \(ENOTFOUND\)/,
    );
  });

  it('the region: --region, else the execute-api host, else AWS_REGION', () => {
    expect(resolveRegion(new URL(ENDPOINT), undefined)).toBe('eu-west-1');
    expect(resolveRegion(new URL(ENDPOINT), 'us-east-2')).toBe('us-east-2');
    const saved = process.env.AWS_REGION;
    process.env.AWS_REGION = 'ap-southeast-2';
    try {
      expect(resolveRegion(new URL('https://rollouts.example.com/v1'), undefined)).toBe(
        'ap-southeast-2',
      );
    } finally {
      if (saved === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = saved;
    }
  });

  it('refuses a plain-http endpoint', () => {
    expect(() =>
      createHttpBackend({ endpoint: 'http://abc.execute-api.eu-west-1.amazonaws.com/prod' }),
    ).toThrow(/expected an https:\/\/ URL/);
  });
});

describe('the commands over HTTP (fake fetch, credentials from the environment chain)', () => {
  const saved: Record<string, string | undefined> = {};
  const env = {
    ROLLOUT_API_URL: ENDPOINT,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_PROFILE: undefined,
    AWS_SESSION_TOKEN: undefined,
  };
  let polls = 0;
  const status = (s: string): Partial<RolloutStatus> => ({
    rolloutId: 'r-1',
    target: { name: 'CLUSTER1', kind: 'cluster' },
    status: s as RolloutStatus['status'],
    reason: null,
    startedAt: '2026-01-13T22:00:00.000Z',
    finishedAt: null,
    stopAt: null,
    changeTicket: null,
    requestedBy: null,
    cancelRequested: false,
    approval: null,
    currentStep: {
      phase: s === 'Running' ? 'UpdatingNodes' : 'Finished',
      nodes: s === 'Running' ? ['NODE2'] : [],
      nodesOmitted: 0,
      description: s === 'Running' ? 'updating NODE2' : `the rollout ended ${s}`,
    },
    progress: {
      total: 2,
      finished: 1,
      succeeded: 1,
      failed: 0,
      nothingToInstall: 0,
      skipped: 0,
      installedPendingReboot: 0,
      pending: 1,
    },
    nodes: [
      { name: 'NODE1', status: 'Succeeded', restarts: 1 },
      { name: 'NODE2', status: s === 'Running' ? 'Pending' : 'Succeeded' },
    ],
  });
  const answers: Record<string, () => { status?: number; body: unknown }> = {
    'POST /prod/rollouts': () => ({
      status: 202,
      body: { rolloutId: 'r-1', executionArn: 'arn:x', status: 'Running', idempotencyKey: null },
    }),
    'GET /prod/rollouts/r-1': () => ({ body: status(++polls < 2 ? 'Running' : 'Succeeded') }),
    'POST /prod/rollouts/r-1/cancel': () => ({
      status: 202,
      body: {
        rolloutId: 'r-1',
        status: 'Running',
        cancelRequested: true,
        cancelRequestedAt: '2026-01-13T22:10:00.000Z',
        approvalCancelled: false,
        message: 'the rollout stops after the current node',
      },
    }),
    'POST /prod/rollouts/r-1/approve': () => ({
      status: 202,
      body: {
        rolloutId: 'r-1',
        decision: 'approved',
        decidedAt: '2026-01-13T22:10:00.000Z',
        decidedBy: 'arn:aws:iam::1:user/me',
        approvedBy: null,
        comment: null,
      },
    }),
    'POST /prod/targets/CLUSTER1/force-recovery': () => ({
      body: {
        target: 'CLUSTER1',
        recovered: true,
        rolloutId: 'r-0',
        executionArn: 'arn:aws:states:eu-west-1:1:execution:Rollout:r-0',
        executionStatus: 'ABORTED',
        recoveredAt: '2026-01-13T22:10:00.000Z',
        recoveredBy: 'arn:aws:iam::1:user/me',
        reason: 'stopped by hand',
        runMarkedFailed: true,
      },
    }),
    'POST /prod/targets/CLUSTER2/force-recovery': () => ({
      status: 409,
      body: {
        error: {
          code: 'RolloutStillRunning',
          message: 'target "CLUSTER2" is locked by rollout r-9, whose execution arn:x is running',
          field: 'id',
        },
      },
    }),
    'POST /prod/nodes/NODE1/removals': () => ({
      status: 409,
      body: {
        error: {
          code: 'RemovalOutOfOrder',
          message: 'removing from NODE1 out of order (KB823836)',
          field: 'updates',
        },
      },
    }),
  };
  let sent: Sent[] = [];

  beforeEach(() => {
    polls = 0;
    for (const [name, value] of Object.entries(env)) {
      saved[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    const fake = fakeFetch((s) => {
      const answer = answers[`${s.method} ${s.url.pathname}`];
      return answer
        ? answer()
        : { status: 404, body: { error: { code: 'RouteNotFound', message: 'no' } } };
    });
    sent = fake.sent;
    vi.stubGlobal('fetch', fake.fetch);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('start --wait --json follows the run until it ends; exit 0 for Succeeded', async () => {
    const input = tempFile(
      'input.json',
      JSON.stringify({ target: { kind: 'cluster', name: 'C' } }),
    );
    const result = await run('start', '--input', input, '--wait', '--interval', '1', '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.accepted.rolloutId).toBe('r-1');
    expect(json.status.status).toBe('Succeeded');
    expect(sent.map((s) => s.method)).toEqual(['POST', 'GET', 'GET']);
    expect(sent[0]?.headers.authorization).toContain('Credential=AKIDEXAMPLE/');
  });

  it.each([
    [['cancel', 'r-1', '--reason', 'no'], 'cancelRequested'],
    [['approve', 'r-1'], 'decision'],
    [['status', 'r-1'], 'currentStep'],
  ])('%j --json parses', async (argv, key) => {
    const result = await run(...argv, '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toHaveProperty(key);
  });

  it("force-recovery sends the reason to the target's route and says what it broke", async () => {
    // Act
    const result = await run('force-recovery', 'CLUSTER1', '--reason', 'stopped by hand');
    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(sent.map((s) => `${s.method} ${s.url.pathname}`)).toEqual([
      'POST /prod/targets/CLUSTER1/force-recovery',
    ]);
    expect(JSON.parse(sent[0]?.body ?? '')).toEqual({ reason: 'stopped by hand' });
    expect(result.stdout).toContain('held by rollout r-0');
    expect(result.stdout).toContain('ABORTED');
    expect(result.stdout).toContain('r-0 is now Failed');
  });

  it("force-recovery of a live rollout is the API's 409, one line, exit 4 (refused)", async () => {
    const result = await run('force-recovery', 'CLUSTER2', '--reason', 'stuck?');
    expectOneLineError(result, 'HTTP 409 RolloutStillRunning; field id');
    expect(result.status).toBe(EXIT.refused);
  });

  it('force-recovery without --reason is a usage error that sends nothing, exit 2', async () => {
    const result = await run('force-recovery', 'CLUSTER1');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--reason');
    expect(sent).toEqual([]);
  });

  it('an API 409 is one line naming the field, exit 4 (refused)', async () => {
    const result = await run('remove', 'NODE1', '--updates', 'KB5034439');
    expectOneLineError(result, 'HTTP 409 RemovalOutOfOrder; field updates');
    expect(result.status).toBe(EXIT.refused);
  });
});

// ---------------------------------------------------------------------------------------------
// Following, and the HTML report

describe('following a rollout (start --wait, status --wait)', () => {
  const view = (s: RolloutStatus['status'], node2: string): RolloutStatus =>
    ({
      rolloutId: 'r-1',
      target: { name: 'C', kind: 'cluster' },
      status: s,
      currentStep: {
        phase: s === 'Running' ? 'UpdatingNodes' : 'Finished',
        nodes: s === 'Running' ? ['NODE2'] : [],
        nodesOmitted: 0,
        description: s === 'Running' ? 'updating NODE2' : `the rollout ended ${s}`,
      },
      nodes: [
        { name: 'NODE1', status: 'Succeeded' },
        { name: 'NODE2', status: node2 },
      ],
    }) as unknown as RolloutStatus;

  it('polls at the interval until the status is terminal, through a throttled read', async () => {
    const answers: (RolloutStatus | BackendError)[] = [
      view('Running', 'Pending'),
      new BackendError({ status: 503, code: 'ServiceUnavailable', message: 'throttled' }),
      view('Running', 'Pending'),
      view('Failed', 'Failed'),
    ];
    const backend = {
      getRollout: async () => {
        const next = answers.shift();
        if (next instanceof Error) throw next;
        return next;
      },
    } as unknown as RolloutBackend;
    const sleeps: number[] = [];
    const lines: string[] = [];
    const display = createStatusDisplay((t) => lines.push(t), false);
    const final = await followRollout(backend, 'r-1', {
      intervalMs: 15_000,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      onStatus: (s) => display.update(s, new Date('2026-01-13T22:00:00Z')),
    });
    expect(final.status).toBe('Failed');
    expect(sleeps).toEqual([15_000, 15_000, 15_000]);
    const text = lines.join('');
    expect(text).toMatch(/NODE2\s+updating/);
    expect(text).toMatch(/NODE2\s+Failed/);
    expect(text.match(/NODE1/g)).toHaveLength(1); // a line only when a node changes
  });

  it('a refused read ends following at once', async () => {
    const backend = {
      getRollout: async () => {
        throw new BackendError({ status: 404, code: 'NotFound', message: 'no', field: 'id' });
      },
    } as unknown as RolloutBackend;
    await expect(
      followRollout(backend, 'x', { intervalMs: 1, sleep: async () => undefined }),
    ).rejects.toThrow(/HTTP 404 NotFound; field id/);
  });
});

describe('the HTML report (like Export-CauReport)', () => {
  const hostile = '<script>alert(1)</script>"\'&';
  const report: RunReportView = {
    runId: 'r-1',
    target: hostile,
    targetKind: 'cluster',
    status: 'Failed',
    reason: hostile,
    startedAt: '2026-01-13T22:00:00.000Z',
    finishedAt: '2026-01-13T23:00:00.000Z',
    makespanSeconds: 3600,
    lockReleased: true,
    changeTicket: { system: hostile, id: hostile, url: 'javascript:alert(1)' },
    requestedBy: hostile,
    nodes: [
      {
        name: 'NODE1',
        status: 'Failed',
        detail: hostile,
        drained: true,
        restarts: 0,
        attempts: 2,
        updates: [
          {
            plugin: hostile,
            update: hostile,
            attempt: 2,
            index: 0,
            outcome: 'Failed',
            exitCode: 1603,
            exitCodeHex: '0x643',
            rebootRequired: false,
            rebootInitiated: false,
            durationSeconds: 65,
            detail: hostile,
          },
        ],
        ledger: [
          {
            sequence: 1,
            updateId: hostile,
            installedAt: '2026-01-13T22:30:00.000Z',
            hotpatched: false,
          },
        ],
      },
    ],
  };

  it('escapes every value and runs nothing', () => {
    const html = renderReportHtml(report, NOW);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('<a ');
    const escaped = escapeHtml(hostile);
    expect(escaped).toBe('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;');
    // target (title, heading, summary), reason, ticket, requestedBy, detail, plugin, update, ledger
    expect(html.split(escaped).length - 1).toBeGreaterThanOrEqual(10);
    expect(html).toContain("default-src 'none'");
    expect(html).toMatch(/<td class="num">1603<\/td><td>0x643<\/td>/);
  });

  it('links an http(s) change ticket', () => {
    const html = renderReportHtml(
      {
        ...report,
        changeTicket: { system: 'ServiceNow', id: 'CHG1', url: 'https://x.invalid/?a=1&b="2"' },
      },
      NOW,
    );
    expect(html).toContain('<a href="https://x.invalid/?a=1&amp;b=&quot;2&quot;"');
  });
});
