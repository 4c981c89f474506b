/**
 * The cost bench (issue 11 §6) counts DynamoDB requests by operation as they reach dynalite
 * in-process; each request is counted once, whatever its outcome.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll, expect, it } from 'vitest';
import { InProcessHandler } from '../../sandbox/aws-fakes.js';

const server = dynalite({ createTableMs: 0 });
const listener = server.listeners('request')[0] as (req: unknown, res: unknown) => void;
const operations = new Map<string, number>();
const client = new DynamoDBClient({
  endpoint: 'http://127.0.0.1:9',
  region: 'us-east-1',
  credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
  requestHandler: new InProcessHandler(listener, operations) as never,
});
afterAll(() => client.destroy());

it('counts each DynamoDB request under its operation name, a failed one included', async () => {
  // Arrange
  await client.send(
    new CreateTableCommand({
      TableName: 'Cost',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  // Act
  await client.send(new PutItemCommand({ TableName: 'Cost', Item: { pk: { S: 'a' } } }));
  await client
    .send(
      new PutItemCommand({
        TableName: 'Cost',
        Item: { pk: { S: 'a' } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    )
    .catch(() => undefined);
  await client.send(new GetItemCommand({ TableName: 'Cost', Key: { pk: { S: 'a' } } }));
  await client.send(
    new QueryCommand({
      TableName: 'Cost',
      KeyConditionExpression: 'pk = :a',
      ExpressionAttributeValues: { ':a': { S: 'a' } },
    }),
  );
  // Assert
  expect(Object.fromEntries(operations)).toEqual({
    CreateTable: 1,
    PutItem: 2,
    GetItem: 1,
    Query: 1,
  });
});
