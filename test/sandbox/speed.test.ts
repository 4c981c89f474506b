/**
 * The sandbox's speed changes (issue 11) keep its behaviour: DynamoDB through dynalite's own
 * listener in-process (adaptation 8 in sandbox/adapt.ts) answers as dynalite over HTTP does, and
 * the clock's idle detection still waits for tracked real work before moving time.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessHandler } from '../../sandbox/aws-fakes.js';
import { VirtualClock } from '../../sandbox/clock.js';

describe('DynamoDB in-process (adaptation 8)', () => {
  const server = dynalite({ createTableMs: 0 });
  const listener = server.listeners('request')[0] as (req: unknown, res: unknown) => void;
  const client = new DynamoDBClient({
    // Nothing listens here: every request must go through the in-process handler.
    endpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    requestHandler: new InProcessHandler(listener) as never,
  });
  afterAll(() => client.destroy());

  it('creates a table, writes, reads and queries through dynalite without a socket', async () => {
    // Arrange
    await client.send(
      new CreateTableCommand({
        TableName: 'Speed',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20)); // dynalite flips it ACTIVE
    // Act
    for (const sk of ['NODE#A', 'NODE#B', 'META']) {
      await client.send(
        new PutItemCommand({
          TableName: 'Speed',
          Item: { pk: { S: 'RUN#1' }, sk: { S: sk }, n: { N: '7' } },
        }),
      );
    }
    const got = await client.send(
      new GetItemCommand({ TableName: 'Speed', Key: { pk: { S: 'RUN#1' }, sk: { S: 'META' } } }),
    );
    const nodes = await client.send(
      new QueryCommand({
        TableName: 'Speed',
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :node)',
        ExpressionAttributeValues: { ':pk': { S: 'RUN#1' }, ':node': { S: 'NODE#' } },
      }),
    );
    // Assert
    expect(got.Item?.n).toEqual({ N: '7' });
    expect(nodes.Items?.map((i) => i.sk?.S)).toEqual(['NODE#A', 'NODE#B']);
  });

  it("keeps DynamoDB's error names (a failed condition is ConditionalCheckFailedException)", async () => {
    const put = client.send(
      new PutItemCommand({
        TableName: 'Speed',
        Item: { pk: { S: 'RUN#1' }, sk: { S: 'META' } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await expect(put).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('names a missing table as ResourceNotFoundException', async () => {
    const get = client.send(
      new GetItemCommand({ TableName: 'Absent', Key: { pk: { S: 'x' }, sk: { S: 'y' } } }),
    );
    await expect(get).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('VirtualClock idle detection', () => {
  it('does not move time while tracked real work is in flight, then fires the timer', async () => {
    // Arrange
    const clock = new VirtualClock(new Date('2026-01-13T22:00:00Z'));
    const seen: string[] = [];
    clock.schedule(clock.now().getTime() + 60_000, () =>
      seen.push(`timer at ${clock.now().toISOString()}`),
    );
    // Real work: 30 ms of wall time, then a note of the virtual time it saw.
    const work = clock.track(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      seen.push(`work ended at ${clock.now().toISOString()}`);
    });
    // Act
    await clock.run(Promise.all([work, clock.sleep(120_000)]));
    // Assert
    expect(seen).toEqual([
      'work ended at 2026-01-13T22:00:00.000Z',
      'timer at 2026-01-13T22:01:00.000Z',
    ]);
    expect(clock.now().toISOString()).toBe('2026-01-13T22:02:00.000Z');
  });
});
