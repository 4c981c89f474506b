import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import {
  CancelCommandCommand,
  SendCommandCommand,
  SSMClient,
  ThrottlingException,
} from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  commandComment,
  DELIVERY_TIMEOUT_SECONDS,
  makeSendCommandHandler,
  parseCommandComment,
} from '../../lambdas/handlers/send-command.js';
import { RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const ssm = mockClient(SSMClient);
const NOW = new Date('2025-03-01T10:00:00.000Z');
const INSTANCE = 'i-0123456789abcdef0';

function makeHandler(commandLogGroup?: string) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return makeSendCommandHandler({
    ssm: new SSMClient({ region: 'eu-west-1' }),
    store: new RunStore({ client, tableName: 'runs' }),
    documentPrefix: 'rollout-prod',
    ...(commandLogGroup ? { commandLogGroup } : {}),
    now: () => NOW,
  });
}

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the call resolved');
}

const input = (overrides: Record<string, unknown> = {}) => ({
  taskToken: 'token-abc',
  runId: 'run-20250301-abc',
  node: 'NODE1',
  instanceId: INSTANCE,
  document: 'installHotfixes',
  payload: { bucket: 'hotfixes', timeoutMinutes: 30, updates: [] },
  timeoutSeconds: 1800,
  ...overrides,
});

const decode = (value: string | undefined) =>
  JSON.parse(Buffer.from(value ?? '', 'base64').toString('utf8'));

afterEach(() => {
  ddb.reset();
  ssm.reset();
});

describe('send-command handler', () => {
  it('sends the prefixed document to the one node with the payload as base64 JSON', async () => {
    // Arrange
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ddb.on(PutCommand).resolves({});

    // Act
    const result = await makeHandler('/rollout/commands')(input());

    // Assert
    expect(result).toEqual({ commandId: 'cmd-1' });
    expect(ssm).toHaveReceivedCommandExactlyOnceWith(SendCommandCommand, {
      DocumentName: 'rollout-prod-InstallHotfixes',
      InstanceIds: [INSTANCE],
      TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
      Comment: 'run-20250301-abc NODE1 installHotfixes',
      CloudWatchOutputConfig: {
        CloudWatchOutputEnabled: true,
        CloudWatchLogGroupName: '/rollout/commands',
      },
    });
    const sent = ssm.commandCalls(SendCommandCommand)[0]?.args[0].input;
    const payload = sent?.Parameters?.Payload;
    expect(payload).toHaveLength(1);
    expect(payload?.[0]).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
    expect(decode(payload?.[0])).toEqual({
      bucket: 'hotfixes',
      timeoutMinutes: 30,
      updates: [],
      // Task start (now) + timeoutSeconds, in UTC.
      deadline: '2025-03-01T10:30:00.000Z',
    });
  });

  it('puts the deadline at the task start plus timeoutSeconds when the workflow gives the start', async () => {
    // Arrange
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ddb.on(PutCommand).resolves({});

    // Act
    await makeHandler()(input({ startedAt: '2025-03-01T09:58:30.250Z', timeoutSeconds: 172_800 }));

    // Assert
    const sent = ssm.commandCalls(SendCommandCommand)[0]?.args[0].input;
    expect(decode(sent?.Parameters?.Payload?.[0])).toMatchObject({
      deadline: '2025-03-03T09:58:30.250Z',
    });
  });

  it.each([
    [172_801, 'timeoutSeconds (172801)'],
    [29, 'timeoutSeconds (29)'],
  ])(
    'refuses timeoutSeconds %s, over SSM 48-hour cap or under 30',
    async (timeoutSeconds, named) => {
      // Act
      const error = await rejection(() => makeHandler()(input({ timeoutSeconds })));

      // Assert
      expect(error.name).toBe('InvalidEvent');
      expect(error.message).toContain(named);
      expect(error.message).toContain('48-hour');
      expect(ssm).not.toHaveReceivedAnyCommand();
    },
  );

  it('refuses a startedAt that is not an ISO instant, naming it', async () => {
    const error = await rejection(() => makeHandler()(input({ startedAt: 'yesterday' })));
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('startedAt');
  });

  it('leaves command output in SSM when no log group is configured', async () => {
    // Arrange
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ddb.on(PutCommand).resolves({});

    // Act
    await makeHandler()(input({ document: 'inventory', payload: { binaries: [] } }));

    // Assert
    const sent = ssm.commandCalls(SendCommandCommand)[0]?.args[0].input;
    expect(sent?.DocumentName).toBe('rollout-prod-Inventory');
    expect(sent).not.toHaveProperty('CloudWatchOutputConfig');
  });

  it('stores the task token under (CommandId, InstanceId) with a TTL past the timeout', async () => {
    // Arrange
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ddb.on(PutCommand).resolves({});

    // Act
    await makeHandler()(input());

    // Assert
    const nowSeconds = NOW.getTime() / 1000;
    expect(ddb).toHaveReceivedCommandExactlyOnceWith(PutCommand, {
      Item: {
        pk: `TASK#cmd-1#${INSTANCE}`,
        sk: 'TOKEN',
        kind: 'taskToken',
        commandId: 'cmd-1',
        instanceId: INSTANCE,
        taskToken: 'token-abc',
        runId: 'run-20250301-abc',
        node: 'NODE1',
        document: 'installHotfixes',
        expiresAt: nowSeconds + 1800 + 86_400,
      },
    });
  });

  it('sends a payload of 32,766 base64 characters, the most an environment variable holds', async () => {
    // Arrange
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ddb.on(PutCommand).resolves({});
    const overhead = Buffer.from(
      JSON.stringify({
        blob: '',
        deadline: '2025-03-01T10:30:00.000Z',
      }),
    ).length;
    // 24,573 bytes of JSON encode to 32,764 characters of base64; 24,574 to 32,768.
    const fits = { blob: 'x'.repeat(24_573 - overhead) };
    const over = { blob: 'x'.repeat(24_574 - overhead) };

    // Act
    await makeHandler()(input({ payload: fits }));
    await makeHandler()(input({ payload: over }));

    // Assert: plain base64 up to the cap; one byte more and it goes gzipped, which unpacks to it
    const [plain, packed] = ssm
      .commandCalls(SendCommandCommand)
      .map((call) => call.args[0].input.Parameters?.Payload?.[0] ?? '');
    expect(plain).toHaveLength(32_764);
    expect(JSON.parse(Buffer.from(plain ?? '', 'base64').toString('utf8')).blob).toBe(fits.blob);
    const packedBytes = Buffer.from(packed ?? '', 'base64');
    expect([...packedBytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(packed?.length).toBeLessThan(1000);
    expect(JSON.parse(gunzipSync(packedBytes).toString('utf8'))).toEqual({
      ...over,
      deadline: '2025-03-01T10:30:00.000Z',
    });
  });

  it('refuses a payload over the environment-variable cap, naming the document and the size', async () => {
    // Arrange
    // Random bytes: gzip cannot make them fit.
    const big = { blob: randomBytes(36_000).toString('base64') };

    // Act
    const error = await rejection(() => makeHandler()(input({ payload: big })));

    // Assert
    expect(error.name).toBe('PayloadTooLarge');
    expect(error.message).toContain('rollout-prod-InstallHotfixes');
    expect(error.message).toMatch(
      /is 4\d{4} characters in base64 \(gzipped\), over the 32766 a Windows environment variable \(SSM_Payload\) can hold/,
    );
    expect(ssm).not.toHaveReceivedAnyCommand();
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('throws InvalidEvent naming an unknown document', async () => {
    // Act
    const error = await rejection(() => makeHandler()(input({ document: 'reboot' })));

    // Assert
    expect(error.name).toBe('InvalidEvent');
    expect(error.message).toContain('document ("reboot")');
    expect(error.message).toContain('installHotfixes');
  });

  it('lets SSM throttling propagate and stores no token', async () => {
    // Arrange
    ssm.on(SendCommandCommand).rejects(
      new ThrottlingException({
        message: 'Rate exceeded',
        Message: 'Rate exceeded',
        $metadata: {},
      }),
    );

    // Act
    const error = await rejection(() => makeHandler()(input()));

    // Assert
    expect(error.name).toBe('ThrottlingException');
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('cancels the command when its token cannot be stored, then rethrows', async () => {
    // Arrange
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssm.on(CancelCommandCommand).resolves({});
    ddb
      .on(PutCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow', $metadata: {} }));

    // Act
    const error = await rejection(() => makeHandler()(input()));

    // Assert
    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(ssm).toHaveReceivedCommandWith(CancelCommandCommand, {
      CommandId: 'cmd-1',
      InstanceIds: [INSTANCE],
    });
  });
});

describe('commandComment', () => {
  it('keeps node and document whole and fits 100 characters', () => {
    // Act
    const comment = commandComment('r'.repeat(120), 'NODE1', 'windowsUpdate');

    // Assert
    expect(comment).toHaveLength(100);
    expect(parseCommandComment(comment)).toEqual({
      runId: 'r'.repeat(80),
      node: 'NODE1',
      document: 'windowsUpdate',
    });
  });

  it.each(['Patch run by ops', 'run-1 NODE1 notADocument', ''])(
    'does not read %j as one of ours',
    (comment) => {
      expect(parseCommandComment(comment)).toBeUndefined();
    },
  );
});
