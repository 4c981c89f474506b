/**
 * The API's pure model: routing, request reading, idempotency hashing, content negotiation, the
 * status and report views, the CSV report (RFC 4180), and the OpenAPI document, which must be
 * exactly what `api/openapi.json` holds (regenerate with UPDATE_OPENAPI=1, then format with
 * `npx biome check --write api/openapi.json`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  API_PATHS,
  API_ROUTES,
  buildRunReport,
  canonicalJson,
  csvField,
  executionArnFor,
  INTEGRATION_URI_PLACEHOLDER,
  listQuerySchema,
  MAX_BODY_BYTES,
  matchRoute,
  nestsDeeperThan,
  parseJsonBody,
  parseRequest,
  parseRolloutRequest,
  REPORT_CSV_COLUMNS,
  type RunView,
  reportFormat,
  reportToCsv,
  requestHash,
  rolloutIdempotencyKey,
  rolloutStatusView,
  type UpdateResultView,
} from '../../lambdas/core/api-model.js';
import { documentedMethods, openApiDocument } from '../../lambdas/core/api-openapi.js';
import { runReportSchema } from '../../lambdas/core/api-responses.js';
import type { LedgerEntry } from '../../lambdas/core/install-ledger.js';
import type { RunReport } from '../../sandbox/report.js';
import { apiError } from '../helpers/api-error.js';

const NOW = new Date('2025-05-13T22:00:00.000Z');
const OPENAPI = new URL('../../api/openapi.json', import.meta.url);

const cluster = (nodes = 3) => ({
  kind: 'cluster',
  name: 'CLUSTER1',
  nodes: Array.from({ length: nodes }, (_, i) => ({
    name: `NODE${i + 1}`,
    instanceId: `i-0123456789abcdef${i}`,
  })),
});

/** An RFC 4180 reader, to check the writer round-trips every value. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

describe('matchRoute', () => {
  it.each([
    { method: 'POST', path: '/rollouts', operationId: 'startRollout', params: {} },
    { method: 'GET', path: '/rollouts', operationId: 'listRollouts', params: {} },
    { method: 'GET', path: '/rollouts/', operationId: 'listRollouts', params: {} },
    { method: 'get', path: '/rollouts/r-1', operationId: 'getRollout', params: { id: 'r-1' } },
    {
      method: 'GET',
      path: '/rollouts/r-1/report',
      operationId: 'getRolloutReport',
      params: { id: 'r-1' },
    },
    {
      method: 'POST',
      path: '/rollouts/a%2Fb/cancel',
      operationId: 'cancelRollout',
      params: { id: 'a/b' },
    },
    {
      method: 'POST',
      path: '/rollouts/x/approve',
      operationId: 'approveRollout',
      params: { id: 'x' },
    },
    {
      method: 'POST',
      path: '/rollouts/x/reject',
      operationId: 'rejectRollout',
      params: { id: 'x' },
    },
    { method: 'POST', path: '/scans', operationId: 'scan', params: {} },
    {
      method: 'GET',
      path: '/nodes/NODE1/ledger',
      operationId: 'getLedger',
      params: { id: 'NODE1' },
    },
    {
      method: 'POST',
      path: '/nodes/NODE1/removals',
      operationId: 'requestRemoval',
      params: { id: 'NODE1' },
    },
    {
      method: 'POST',
      path: '/rollouts/%E0%A4%A/cancel',
      operationId: 'cancelRollout',
      params: { id: '%E0%A4%A' },
    },
  ])('$method $path → $operationId', ({ method, path, operationId, params }) => {
    // Act
    const match = matchRoute(method, path);
    // Assert
    expect(match).toMatchObject({ kind: 'route', route: { operationId }, params });
  });

  it.each([
    { method: 'DELETE', path: '/rollouts', allowed: ['POST', 'GET'] },
    { method: 'POST', path: '/rollouts/x', allowed: ['GET'] },
    { method: 'GET', path: '/rollouts/x/cancel', allowed: ['POST'] },
    { method: 'PUT', path: '/nodes/N/ledger', allowed: ['GET'] },
  ])('$method $path is a known path: 405 allowing $allowed', ({ method, path, allowed }) => {
    expect(matchRoute(method, path)).toEqual({ kind: 'wrongMethod', allowed });
  });

  it.each(['/', '/nodes', '/nodes/N', '/rollouts/x/y/z', '/rollouts//cancel', '/scan', ''])(
    'no route at %j',
    (path) => {
      expect(matchRoute('GET', path)).toEqual({ kind: 'none' });
    },
  );
});

describe('parseJsonBody', () => {
  it('reads JSON, base64 too, and nothing as undefined when not required', () => {
    expect(parseJsonBody({ body: '{"a":1}', required: true })).toEqual({ a: 1 });
    expect(
      parseJsonBody({
        body: Buffer.from('{"a":2}').toString('base64'),
        isBase64Encoded: true,
        required: true,
      }),
    ).toEqual({ a: 2 });
    expect(parseJsonBody({ body: null, required: false })).toBeUndefined();
    expect(parseJsonBody({ body: '  ', required: false })).toBeUndefined();
    expect(
      parseJsonBody({ body: '{}', contentType: 'application/merge-patch+json', required: true }),
    ).toEqual({});
  });

  it.each([
    { case: 'missing body', body: '', code: 'ValidationFailed', status: 400, field: '(body)' },
    { case: 'not JSON', body: '{"a":', code: 'InvalidJson', status: 400, field: '(body)' },
    {
      case: 'nested deeper than any request',
      body: `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
      code: 'ValidationFailed',
      status: 400,
      field: '(body)',
    },
    {
      case: 'too large',
      body: `"${'x'.repeat(MAX_BODY_BYTES)}"`,
      code: 'PayloadTooLarge',
      status: 413,
      field: '(body)',
    },
    {
      case: 'not JSON by Content-Type',
      body: '{}',
      contentType: 'text/plain',
      code: 'UnsupportedMediaType',
      status: 415,
      field: 'Content-Type',
    },
  ])('$case → $status $code', ({ body, contentType, code, status, field }) => {
    // Act
    const error = apiError(() =>
      parseJsonBody({ body, required: true, ...(contentType ? { contentType } : {}) }),
    );
    // Assert
    expect(error).toMatchObject({ code, status, field });
    expect(error.toBody().error.message.length).toBeGreaterThan(10);
  });

  it('measures depth without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, 32)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 32)).toBe(false);
  });
});

describe('parseRolloutRequest', () => {
  it('resolves the rollout and builds the execution input: the body and the run id', () => {
    // Arrange
    const body = {
      target: cluster(3),
      changeTicket: { system: 'ServiceNow', id: 'CHG1' },
      approvalGate: { afterNodes: 1, timeoutMinutes: 60 },
    };
    // Act
    const request = parseRolloutRequest(body, NOW, { random: () => 0.5 });
    // Assert
    expect(request.rollout.runId).toMatch(/^20250513T220000-[0-9a-z]{6}$/);
    expect(request.approvalGate).toMatchObject({ afterNodes: 1, timeoutMinutes: 60 });
    expect(request.input).toEqual({ ...body, runId: request.rollout.runId });
  });

  it.each([
    {
      case: 'no target',
      body: { plugins: [] },
      fields: ['target', 'plugins'],
    },
    {
      case: 'a node twice',
      body: {
        target: {
          ...cluster(2),
          nodes: [
            { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
            { name: 'node1', instanceId: 'i-0123456789abcdef1' },
          ],
        },
      },
      fields: ['target.nodes[1].name'],
    },
    {
      case: 'a pilot as large as the target',
      body: { target: cluster(2), approvalGate: { afterNodes: 2, timeoutMinutes: 60 } },
      fields: ['approvalGate.afterNodes'],
    },
    {
      case: 'a pilot of no nodes',
      body: { target: cluster(2), approvalGate: { afterNodes: 0, timeoutMinutes: 60 } },
      fields: ['approvalGate.afterNodes'],
    },
    {
      case: 'health gates that stop on nothing',
      body: { target: cluster(2), healthGates: { onAlarm: 'approve' } },
      fields: ['healthGates'],
    },
    {
      case: 'health gates that ignore an alarm',
      body: { target: cluster(2), healthGates: { alarmNames: ['web-5xx'], onAlarm: 'ignore' } },
      fields: ['healthGates.onAlarm'],
    },
    {
      case: 'an unknown field',
      body: { target: cluster(2), colour: 'blue' },
      fields: ['colour'],
    },
    { case: 'not an object', body: [1, 2], fields: ['(root)'] },
  ])('$case → 400 naming $fields', ({ body, fields }) => {
    // Act
    const error = apiError(() => parseRolloutRequest(body, NOW));
    // Assert
    expect(error.status).toBe(400);
    expect(error.code).toBe('ValidationFailed');
    expect(error.problems?.map((p) => p.field)).toEqual(expect.arrayContaining(fields));
    expect(error.field).toBe(error.problems?.[0]?.field);
    for (const field of fields) expect(error.message).toContain(field);
  });
});

describe('idempotency', () => {
  it('hashes a request the same whatever its key order, and another request differently', () => {
    const a = { target: { kind: 'cluster', name: 'C' }, changeTicket: { id: '1', system: 'S' } };
    const b = { changeTicket: { system: 'S', id: '1' }, target: { name: 'C', kind: 'cluster' } };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(requestHash('startRollout', a)).toBe(requestHash('startRollout', b));
    expect(requestHash('startRollout', a)).not.toBe(
      requestHash('startRollout', { ...a, drain: 'always' }),
    );
    expect(requestHash('startRollout', [1, 2])).not.toBe(requestHash('startRollout', [2, 1]));
  });

  it('keys by the header, else by the change ticket, in separate namespaces', () => {
    const ticket = { system: 'ServiceNow', id: 'CHG1' };
    expect(rolloutIdempotencyKey('abc', ticket)).toBe('rollouts:key:abc');
    expect(rolloutIdempotencyKey(undefined, ticket)).toBe('rollouts:ticket:ServiceNow:CHG1');
    expect(rolloutIdempotencyKey(undefined, null)).toBeUndefined();
  });
});

describe('listQuerySchema', () => {
  it.each([
    { query: {}, field: 'cluster' },
    { query: { cluster: 'C1', group: 'g1' }, field: 'cluster' },
    { query: { cluster: 'not a name!' }, field: 'cluster' },
    { query: { group: '-bad' }, field: 'group' },
    { query: { cluster: 'C1', limit: '0' }, field: 'limit' },
    { query: { cluster: 'C1', limit: '101' }, field: 'limit' },
    { query: { cluster: 'C1', limit: 'ten' }, field: 'limit' },
    { query: { cluster: 'C1', sort: 'asc' }, field: 'sort' },
  ])('$query → 400 naming $field', ({ query, field }) => {
    const error = apiError(() => parseRequest('the query', listQuerySchema, query));
    expect(error).toMatchObject({ status: 400, field });
  });

  it('reads limit as a number', () => {
    expect(parseRequest('the query', listQuerySchema, { group: 'web-1', limit: '5' })).toEqual({
      group: 'web-1',
      limit: 5,
    });
  });
});

describe('reportFormat (Accept)', () => {
  it.each([
    { accept: undefined, format: 'json' },
    { accept: '', format: 'json' },
    { accept: '*/*', format: 'json' },
    { accept: 'application/json', format: 'json' },
    { accept: 'text/csv', format: 'csv' },
    { accept: 'text/*', format: 'csv' },
    { accept: 'TEXT/CSV; charset=utf-8', format: 'csv' },
    { accept: 'text/csv;q=0.5, application/json', format: 'json' },
    { accept: 'text/csv, application/json;q=0.9', format: 'csv' },
    { accept: 'text/csv, */*;q=0.1', format: 'csv' },
    { accept: 'application/json, text/csv', format: 'json' },
    { accept: 'text/csv, application/json', format: 'csv' },
    { accept: 'text/html', format: undefined },
    { accept: 'application/json;q=0, text/csv;q=0', format: undefined },
  ])('$accept → $format', ({ accept, format }) => {
    expect(reportFormat(accept)).toBe(format);
  });
});

const RUN: RunView = {
  runId: 'run-1',
  target: 'CLUSTER1',
  targetKind: 'cluster',
  nodes: ['NODE1', 'NODE2', 'NODE3'],
  status: 'Running',
  startedAt: '2025-05-13T22:00:00.000Z',
  changeTicket: { system: 'ServiceNow', id: 'CHG1' },
  requestedBy: 'alice',
};

describe('rolloutStatusView', () => {
  const execution = { arn: 'arn:exec', status: 'RUNNING', startDate: NOW };

  it('names the first unfinished node of a cluster as the current step', () => {
    // Act
    const view = rolloutStatusView({
      rolloutId: 'run-1',
      run: RUN,
      nodes: [{ node: 'node1', status: 'Succeeded', startedAt: RUN.startedAt, restarts: 1 }],
      execution,
    });
    // Assert
    expect(view.status).toBe('Running');
    expect(view.currentStep).toMatchObject({ phase: 'UpdatingNodes', nodes: ['NODE2'] });
    expect(view.progress).toMatchObject({ total: 3, finished: 1, succeeded: 1, pending: 2 });
    expect(view.nodes.map((n) => n.status)).toEqual(['Succeeded', 'Pending', 'Pending']);
  });

  it('shows a waiting approval gate and when it times out', () => {
    const view = rolloutStatusView({
      rolloutId: 'run-1',
      run: RUN,
      nodes: [{ node: 'NODE1', status: 'Succeeded', startedAt: RUN.startedAt }],
      execution,
      approval: { afterNodes: 1, timeoutMinutes: 60, requestedAt: '2025-05-13T23:00:00.000Z' },
    });
    expect(view.currentStep.phase).toBe('AwaitingApproval');
    expect(view.approval?.decideBy).toBe('2025-05-14T00:00:00.000Z');
  });

  it.each([
    [undefined, undefined, 'the pilot (1 node(s)) is done'],
    [undefined, { index: 0, name: 'canary' }, 'phase "canary" (phases[0]) is done after 1 node(s)'],
    [
      'FleetPhaseBakeHealthGate',
      { index: 0, name: 'canary' },
      'health gate FleetPhaseBakeHealthGate holds the run (an alarm is in ALARM) during phase "canary" (phases[0]), after 1 node(s)',
    ],
  ])('says what the approval waits for (heldBy %s, phase %j): %s', (heldBy, phase, text) => {
    const view = rolloutStatusView({
      rolloutId: 'run-1',
      run: RUN,
      nodes: [{ node: 'NODE1', status: 'Succeeded', startedAt: RUN.startedAt }],
      execution,
      approval: {
        afterNodes: 1,
        timeoutMinutes: 60,
        requestedAt: '2025-05-13T23:00:00.000Z',
        ...(heldBy ? { heldBy } : {}),
        ...(phase ? { phase } : {}),
      },
    });
    expect(view.approval?.waitingFor).toBe(text);
    expect(view.currentStep.description).toBe(
      `${text}; waiting for approve or reject until 2025-05-14T00:00:00.000Z`,
    );
  });

  it('reports Failed when the execution ended without recording the run', () => {
    const view = rolloutStatusView({
      rolloutId: 'run-1',
      run: RUN,
      nodes: [],
      execution: { arn: 'arn:exec', status: 'ABORTED', startDate: NOW, stopDate: NOW },
    });
    expect(view.status).toBe('Failed');
    expect(view.reason).toContain('ABORTED');
    expect(view.currentStep.phase).toBe('Finished');
  });

  it('reports Pending while a started execution has not recorded the run yet', () => {
    const view = rolloutStatusView({ rolloutId: 'run-2', nodes: [], execution });
    expect(view).toMatchObject({ status: 'Pending', target: null });
    expect(view.currentStep.phase).toBe('Starting');
  });
});

const update = (overrides: Partial<UpdateResultView>): UpdateResultView => ({
  node: 'NODE1',
  attempt: 1,
  index: 0,
  plugin: 'Microsoft.HotfixPlugin',
  update: 'CAUHotfix_All/KB5000001.msu',
  outcome: 'Success',
  exitCode: 0,
  rebootRequired: false,
  rebootInitiated: false,
  durationSeconds: 30,
  ...overrides,
});

const ledgerEntry = (sequence: number, updateId: string, runId = 'run-1'): LedgerEntry => ({
  node: 'NODE1',
  sequence,
  updateId,
  installedAt: '2025-05-13T22:10:00.000Z',
  runId,
  hotpatched: false,
  replacedFiles: [],
});

describe('buildRunReport', () => {
  it("is the sandbox's RunReport shape, with every attempt and this run's ledger entries", () => {
    // Arrange
    const finished: RunView = {
      ...RUN,
      status: 'Succeeded',
      finishedAt: '2025-05-13T23:00:00.000Z',
      summary: { reason: 'every node succeeded' },
    };
    // Act
    const report = buildRunReport({
      run: finished,
      nodes: [
        {
          node: 'NODE1',
          status: 'Succeeded',
          startedAt: RUN.startedAt,
          drained: true,
          restarts: 1,
          attempts: 2,
        },
      ],
      updates: [
        update({ attempt: 2, exitCode: 3010, outcome: 'Success_RebootRequired' }),
        update({ attempt: 1, exitCode: 1618, outcome: 'Failed', detail: 'another install' }),
      ],
      ledgers: new Map([
        ['node1', [ledgerEntry(1, 'KB1000001', 'other'), ledgerEntry(2, 'KB5000001')]],
      ]),
      lockHolder: 'run-2',
    });
    const asSandbox: RunReport = report;
    // Assert
    expect(runReportSchema.parse(report)).toEqual(report);
    expect(asSandbox.makespanSeconds).toBe(3600);
    expect(report).toMatchObject({ reason: 'every node succeeded', lockReleased: true });
    const node1 = report.nodes[0];
    expect(node1?.updates.map((u) => [u.attempt, u.exitCodeHex])).toEqual([
      [1, '0x652'],
      [2, '0xBC2'],
    ]);
    expect(node1?.ledger.map((e) => e.updateId)).toEqual(['KB5000001']);
    expect(node1).toMatchObject({ drained: true, restarts: 1, attempts: 2 });
    expect(report.nodes.slice(1).map((n) => n.status)).toEqual(['NotStarted', 'NotStarted']);
  });
});

describe('buildRunReport: the rescan after the final restart (issue 13 item 6)', () => {
  it("carries a node's still-applicable updates and a failed search; nothing for a node not rescanned", () => {
    // Arrange
    const finding = {
      kb: 'KB5035002',
      title: '2026-01 Cumulative Update (KB5035002)',
      source: 'WindowsUpdate' as const,
      reason: 'newlyOffered' as const,
      detail: 'not tried by this run: offered only after its installs',
    };
    // Act
    const report = buildRunReport({
      run: { ...RUN, nodes: ['NODE1', 'NODE2'] },
      nodes: [
        {
          node: 'NODE1',
          status: 'Succeeded',
          startedAt: RUN.startedAt,
          stillApplicable: [finding],
          rescanError: 'Windows Update search failed: x',
        },
        { node: 'NODE2', status: 'Succeeded', startedAt: RUN.startedAt },
      ],
      updates: [],
      ledgers: new Map(),
      lockHolder: undefined,
    });
    // Assert
    expect(runReportSchema.parse(report)).toEqual(report);
    expect(report.nodes[0]).toMatchObject({
      status: 'Succeeded',
      stillApplicable: [finding],
      rescanError: 'Windows Update search failed: x',
    });
    expect(report.nodes[1]).not.toHaveProperty('stillApplicable');
    expect(report.nodes[1]).not.toHaveProperty('rescanError');
  });
});

describe('CSV report (RFC 4180)', () => {
  it.each([
    { value: 'plain', csv: 'plain' },
    { value: 'a,b', csv: '"a,b"' },
    { value: 'say "hi"', csv: '"say ""hi"""' },
    { value: 'line1\nline2', csv: '"line1\nline2"' },
    { value: 'cr\rlf', csv: '"cr\rlf"' },
    { value: '=HYPERLINK("x")', csv: '"\'=HYPERLINK(""x"")"' },
    { value: '-2+3', csv: "'-2+3" },
    { value: -2145124329, csv: '-2145124329' },
    { value: true, csv: 'true' },
    { value: null, csv: '' },
  ])('$value → $csv', ({ value, csv }) => {
    expect(csvField(value)).toBe(csv);
  });

  it('writes one row per update, and the values read back with commas, quotes and newlines', () => {
    // Arrange
    const detail = 'KB5000001, "Security Update"\nline two';
    const report = buildRunReport({
      run: { ...RUN, nodes: ['NODE1', 'NODE2'] },
      nodes: [{ node: 'NODE1', status: 'Failed', startedAt: RUN.startedAt, detail: 'a, "b"' }],
      updates: [
        update({ update: 'Folder, with comma/KB5000001.msu', detail, exitCode: -2145124329 }),
        update({ index: 1, update: 'KB5000002.msu', exitCode: null, outcome: 'Failed' }),
      ],
      ledgers: new Map(),
    });
    // Act
    const csv = reportToCsv(report);
    const rows = parseCsv(csv);
    // Assert
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(rows[0]).toEqual([...REPORT_CSV_COLUMNS]);
    expect(rows).toHaveLength(1 + 2 + 1);
    const col = (row: string[] | undefined, name: (typeof REPORT_CSV_COLUMNS)[number]) =>
      row?.[REPORT_CSV_COLUMNS.indexOf(name)];
    expect(col(rows[1], 'update')).toBe('Folder, with comma/KB5000001.msu');
    expect(col(rows[1], 'detail')).toBe(detail);
    expect(col(rows[1], 'exitCode')).toBe('-2145124329');
    expect(col(rows[1], 'exitCodeHex')).toBe('0x80240017');
    expect(col(rows[2], 'exitCode')).toBe('');
    expect(col(rows[3], 'node')).toBe('NODE2');
    expect(col(rows[3], 'nodeStatus')).toBe('NotStarted');
    for (const row of rows) expect(row).toHaveLength(REPORT_CSV_COLUMNS.length);
  });
});

describe('executionArnFor', () => {
  it('names the execution of a state machine', () => {
    expect(
      executionArnFor('arn:aws:states:eu-west-1:123456789012:stateMachine:Rollout', 'run-1'),
    ).toBe('arn:aws:states:eu-west-1:123456789012:execution:Rollout:run-1');
    expect(() => executionArnFor('arn:aws:lambda:eu-west-1:1:function:f', 'x')).toThrow(
      /not a state machine ARN/,
    );
  });
});

describe('the OpenAPI document', () => {
  it('is what api/openapi.json holds (UPDATE_OPENAPI=1 rewrites the file)', () => {
    // Arrange
    const generated = openApiDocument();
    if (process.env.UPDATE_OPENAPI === '1') {
      writeFileSync(OPENAPI, `${JSON.stringify(generated, null, 2)}\n`);
    }
    // Act
    const committed = JSON.parse(readFileSync(OPENAPI, 'utf8')) as unknown;
    // Assert
    expect(committed).toEqual(generated);
  });

  it('routes every API route and every other method to the handler, all with IAM (SigV4)', () => {
    // Arrange
    const document = openApiDocument();
    const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;
    // Act
    const methods = documentedMethods(document);
    // Assert
    expect(document.openapi).toBe('3.0.3');
    for (const route of API_ROUTES) {
      expect(methods).toContainEqual({ path: route.path, method: route.method });
      const operation = paths[route.path]?.[route.method.toLowerCase()];
      expect(operation?.operationId).toBe(route.operationId);
    }
    for (const { path, method } of methods) {
      const key = method === 'ANY' ? 'x-amazon-apigateway-any-method' : method.toLowerCase();
      const operation = paths[path]?.[key] as Record<string, unknown>;
      expect(operation['x-amazon-apigateway-auth'], `${method} ${path}`).toEqual({
        type: 'AWS_IAM',
      });
      expect(operation.security).toEqual([{ sigv4: [] }]);
      expect(operation['x-amazon-apigateway-integration']).toMatchObject({
        type: 'aws_proxy',
        uri: INTEGRATION_URI_PLACEHOLDER,
      });
    }
    for (const path of API_PATHS) {
      expect(paths[path]?.['x-amazon-apigateway-any-method']).toBeDefined();
      expect(methods).toContainEqual({ path, method: 'ANY' });
    }
    expect(methods).toContainEqual({ path: '/{proxy+}', method: 'ANY' });
    expect(
      (document.components as { securitySchemes: Record<string, unknown> }).securitySchemes.sigv4,
    ).toMatchObject({ 'x-amazon-apigateway-authtype': 'awsSigv4' });
  });

  it('resolves every $ref it makes', () => {
    const document = openApiDocument();
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of new Set(refs)) {
      const pointer = (JSON.parse(`{${ref}}`) as { $ref: string }).$ref;
      const target = pointer
        .slice(2)
        .split('/')
        .reduce<unknown>(
          (node, key) => (node as Record<string, unknown> | undefined)?.[key],
          document,
        );
      expect(target, pointer).toBeDefined();
    }
  });

  it('documents a 400 with the error schema on every route, and each request body', () => {
    const document = openApiDocument();
    const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;
    for (const route of API_ROUTES) {
      const operation = paths[route.path]?.[route.method.toLowerCase()] as {
        responses: Record<string, unknown>;
        requestBody?: unknown;
      };
      expect(operation.responses['400'], route.operationId).toEqual({
        $ref: '#/components/responses/BadRequest',
      });
      if (route.method === 'POST') expect(operation.requestBody, route.operationId).toBeDefined();
    }
    const schemas = (document.components as { schemas: Record<string, Record<string, unknown>> })
      .schemas;
    expect(schemas.Error?.required).toEqual(['error']);
    expect(
      (schemas.RolloutRequest?.properties as Record<string, unknown> | undefined)?.approvalGate,
    ).toMatchObject({ type: 'object' });
  });
});
