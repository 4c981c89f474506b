/**
 * lambdas/shared/xray.ts: the handlers' X-Ray subsegments for SDK calls, in place of Powertools'
 * Tracer and the X-Ray SDK (issue 11 §4). Run against a real SDK v3 client whose transport is a
 * stub answering as DynamoDB would, and a real UDP socket standing in for the daemon.
 */
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import {
  captureAWSv3Client,
  daemonAddress,
  type SubsegmentDocument,
  sendToDaemon,
  tracingEnabled,
  XRAY_MIDDLEWARE_NAME,
} from '../../lambdas/shared/xray.js';

const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const PARENT = '53995c3f42cd8ad8';

/** A DynamoDB client whose requests get `status` and `body`; records each request's headers. */
function client(status: number, body: unknown, headers: Record<string, string>[] = []) {
  return new DynamoDBClient({
    region: 'eu-west-1',
    endpoint: 'https://dynamodb.eu-west-1.amazonaws.com',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        headers.push({ ...request.headers });
        return {
          response: {
            statusCode: status,
            headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'REQ1' },
            body: new TextEncoder().encode(JSON.stringify(body)),
          },
        };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
      destroy() {},
    } as never,
  });
}

afterEach(() => {
  delete process.env._X_AMZN_TRACE_ID;
});

describe('captureAWSv3Client', () => {
  it('sends a subsegment for a sampled call and passes the trace on with it as parent', async () => {
    // Arrange
    process.env._X_AMZN_TRACE_ID = `Root=${ROOT};Parent=${PARENT};Sampled=1;Lineage=a:1`;
    const docs: SubsegmentDocument[] = [];
    const headers: Record<string, string>[] = [];
    const dynamo = captureAWSv3Client(
      client(200, { TableNames: ['T'] }, headers),
      (d) => docs.push(d),
      true,
    );
    // Act
    const out = await dynamo.send(new ListTablesCommand({}));
    // Assert
    expect(out.TableNames).toEqual(['T']);
    expect(docs).toHaveLength(1);
    const doc = docs[0] as SubsegmentDocument;
    expect(doc).toMatchObject({
      type: 'subsegment',
      trace_id: ROOT,
      parent_id: PARENT,
      name: 'DynamoDB',
      namespace: 'aws',
      aws: { operation: 'ListTables', region: 'eu-west-1', request_id: 'REQ1', retries: 0 },
      http: { response: { status: 200 } },
    });
    expect(doc.id).toMatch(/^[0-9a-f]{16}$/);
    expect(doc.end_time).toBeGreaterThanOrEqual(doc.start_time);
    expect(doc.error ?? doc.fault ?? doc.throttle).toBeUndefined();
    expect(headers[0]?.['X-Amzn-Trace-Id'] ?? headers[0]?.['x-amzn-trace-id']).toBe(
      `Root=${ROOT};Parent=${doc.id};Sampled=1;Lineage=a:1`,
    );
  });

  it('passes the trace on but sends nothing when the request is not sampled', async () => {
    process.env._X_AMZN_TRACE_ID = `Root=${ROOT};Parent=${PARENT};Sampled=0`;
    const docs: SubsegmentDocument[] = [];
    const headers: Record<string, string>[] = [];
    const dynamo = captureAWSv3Client(
      client(200, { TableNames: [] }, headers),
      (d) => docs.push(d),
      true,
    );
    await dynamo.send(new ListTablesCommand({}));
    expect(docs).toEqual([]);
    expect(headers[0]?.['X-Amzn-Trace-Id']).toMatch(
      new RegExp(`^Root=${ROOT};Parent=[0-9a-f]{16};Sampled=0$`),
    );
  });

  it.each([
    [400, 'ResourceNotFoundException', { error: true }],
    [400, 'ThrottlingException', { error: true, throttle: true }],
    [500, 'InternalServerError', { fault: true }],
  ])('marks a %i %s and records it as the cause, then rethrows it', async (status, type, flags) => {
    process.env._X_AMZN_TRACE_ID = `Root=${ROOT};Parent=${PARENT};Sampled=1`;
    const docs: SubsegmentDocument[] = [];
    const dynamo = captureAWSv3Client(
      client(status, { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'no' }),
      (d) => docs.push(d),
      true,
    );
    await expect(dynamo.send(new ListTablesCommand({}))).rejects.toMatchObject({ name: type });
    const doc = docs[0] as SubsegmentDocument;
    expect({ error: doc.error, throttle: doc.throttle, fault: doc.fault }).toEqual({
      error: undefined,
      throttle: undefined,
      fault: undefined,
      ...flags,
    });
    expect(doc.http?.response.status).toBe(status);
    expect(doc.cause?.exceptions[0]).toMatchObject({ type, message: 'no', remote: true });
  });

  it('sends nothing and adds no header outside a traced invocation', async () => {
    const docs: SubsegmentDocument[] = [];
    const headers: Record<string, string>[] = [];
    const dynamo = captureAWSv3Client(
      client(200, { TableNames: [] }, headers),
      (d) => docs.push(d),
      true,
    );
    await dynamo.send(new ListTablesCommand({}));
    expect(docs).toEqual([]);
    expect(headers[0]?.['X-Amzn-Trace-Id']).toBeUndefined();
  });

  it('leaves the client untouched with tracing off, and adds its middleware once when on', () => {
    const off = captureAWSv3Client(client(200, {}), () => {}, false);
    expect(off.middlewareStack.identify().some((m) => m.startsWith(XRAY_MIDDLEWARE_NAME))).toBe(
      false,
    );
    const on = captureAWSv3Client(
      captureAWSv3Client(client(200, {}), () => {}, true),
      () => {},
      true,
    );
    expect(
      on.middlewareStack.identify().filter((m) => m.startsWith(XRAY_MIDDLEWARE_NAME)),
    ).toHaveLength(1);
  });
});

describe('when tracing is on', () => {
  it.each([
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' }, true],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x', POWERTOOLS_TRACE_ENABLED: 'false' }, false],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x', AWS_SAM_LOCAL: 'true' }, false],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_amplify-mock' }, false],
    [{}, false],
  ])('%j → %s', (env, expected) => {
    expect(tracingEnabled(env)).toBe(expected);
  });
});

describe('the daemon', () => {
  it.each([
    [undefined, { host: '127.0.0.1', port: 2000 }],
    ['169.254.79.129:2000', { host: '169.254.79.129', port: 2000 }],
    ['tcp:10.0.0.1:2001 udp:10.0.0.2:2002', { host: '10.0.0.2', port: 2002 }],
  ])('address %s', (value, expected) => {
    expect(daemonAddress(value)).toEqual(expected);
  });

  it('gets the protocol header line, then the subsegment, in one UDP datagram', async () => {
    // Arrange
    const server = createSocket('udp4');
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const received = new Promise<string>((resolve) =>
      server.once('message', (m) => resolve(m.toString('utf8'))),
    );
    const before = process.env.AWS_XRAY_DAEMON_ADDRESS;
    process.env.AWS_XRAY_DAEMON_ADDRESS = `127.0.0.1:${port}`;
    try {
      // Act
      sendToDaemon({
        type: 'subsegment',
        id: '0123456789abcdef',
        trace_id: ROOT,
        parent_id: PARENT,
        name: 'SSM',
        namespace: 'aws',
        start_time: 1,
        end_time: 2,
        aws: { operation: 'SendCommand', retries: 0 },
      });
      const [header, body] = (await received).split('\n');
      // Assert
      expect(JSON.parse(header as string)).toEqual({ format: 'json', version: 1 });
      expect(JSON.parse(body as string)).toMatchObject({ name: 'SSM', trace_id: ROOT });
    } finally {
      if (before === undefined) delete process.env.AWS_XRAY_DAEMON_ADDRESS;
      else process.env.AWS_XRAY_DAEMON_ADDRESS = before;
      server.close();
    }
  });
});
