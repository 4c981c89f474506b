/**
 * run-history `recordStaging` (issue 13 item 5): a node's StageUpdates lines checked and summed
 * up, stored in the staging run's partition and as the node's latest staging.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRunHistoryHandler } from '../../lambdas/handlers/run-history.js';
import { RunStore } from '../../lambdas/shared/run-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2026-03-28T14:00:00.000Z');
const A = 'a'.repeat(64);

function makeHandler() {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return makeRunHistoryHandler({
    store: new RunStore({ client, tableName: 'runs' }),
    now: () => NOW,
  });
}

const staged = {
  kind: 'file',
  index: 0,
  file: 'CAUHotfix_All/KB1.msu',
  sha256: A,
  bytes: 10,
  outcome: 'staged',
};

describe('run-history recordStaging', () => {
  afterEach(() => {
    ddb.reset();
  });

  it('stores the summary twice: in the staging run, and as the node latest staging', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    // Act
    const result = await makeHandler()({
      action: 'recordStaging',
      runId: 'staging-1',
      node: 'NODE1',
      commandStatus: 'Success',
      results: [staged],
    });
    // Assert
    expect(result).toMatchObject({ node: 'NODE1', status: 'Staged', files: 1, stagedDigests: [A] });
    const items = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item);
    expect(items.map((i) => [i?.pk, i?.sk, i?.kind])).toEqual([
      ['RUN#staging-1', 'STAGING#NODE1', 'staging'],
      ['STAGING#NODE1', 'LATEST', 'staging'],
    ]);
    expect(items[1]).toMatchObject({ runId: 'staging-1', stagedAt: NOW.toISOString(), files: 1 });
  });

  it('records malformed lines as a failed staging naming the field, losing nothing else', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    // Act
    const result = await makeHandler()({
      action: 'recordStaging',
      runId: 'staging-1',
      node: 'NODE1',
      commandStatus: 'Success',
      results: [{ ...staged, outcome: 'installed' }],
    });
    // Assert
    expect(result).toMatchObject({ status: 'Failed', files: 0, stagedDigests: [] });
    expect((result as unknown as { problems: string[] }).problems[0]).toContain(
      'results[0].outcome ("installed")',
    );
  });

  it('records a command that never ran (error) as Failed, with the reason', async () => {
    // Arrange
    ddb.on(PutCommand).resolves({});
    // Act
    const result = await makeHandler()({
      action: 'recordStaging',
      runId: 'staging-1',
      node: 'NODE1',
      commandStatus: 'Failed',
      results: [],
      error: 'StageUpdates did not end: States.Timeout',
    });
    // Assert
    expect(result).toMatchObject({ status: 'Failed' });
    expect((result as unknown as { problems: string[] }).problems).toContain(
      'StageUpdates did not end: States.Timeout',
    );
  });

  it('refuses an event without a node, naming it', async () => {
    await expect(
      makeHandler()({
        action: 'recordStaging',
        runId: 'staging-1',
        commandStatus: 'Success',
        results: [],
      }),
    ).rejects.toThrow(/node/);
  });
});
