/**
 * Issue 11: a group of 2,000 nodes fits Step Functions' 256 KB state. The scan's output drops
 * the per-node list of a large group (its fleet map reads the list from S3), and the resolved
 * rollout itself stays well under the limit with the longest NetBIOS names.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_GROUP_NODES, parseRolloutInput } from '../../lambdas/core/rollout-input.js';
import { MAX_SCAN_OUTPUT_BYTES, makeScanHandler } from '../../lambdas/handlers/scan.js';

const s3Mock = mockClient(S3Client);
const ssmMock = mockClient(SSMClient);
afterEach(() => {
  s3Mock.reset();
  ssmMock.reset();
});

const NOW = new Date('2026-12-04T22:00:00.000Z');
const STATE_LIMIT = 256 * 1024;
/** 15 characters, the longest NetBIOS name. */
const longName = (i: number) => `WEBSERVER${String(i + 1).padStart(6, '0')}`;
const rollout = (count: number) =>
  parseRolloutInput(
    {
      target: {
        kind: 'group',
        name: 'web-prod',
        nodes: Array.from({ length: count }, (_, i) => ({
          name: longName(i),
          instanceId: `i-${(i + 1).toString(16).padStart(17, '0')}`,
        })),
      },
      policy: { maxConcurrency: '10%', maxFailedNodes: '1%' },
    },
    NOW,
    { defaultRunId: 'run-1' },
  );

describe(`a group of ${MAX_GROUP_NODES} nodes in the workflow state`, () => {
  it('the resolved rollout stays under three quarters of the 256 KB state limit', () => {
    const bytes = Buffer.byteLength(JSON.stringify(rollout(MAX_GROUP_NODES)));
    expect(bytes).toBeGreaterThan(100_000); // it is the node list that weighs
    expect(bytes).toBeLessThan(STATE_LIMIT * 0.75);
  });

  it('the scan keeps its output under 128 KB by leaving the nodes to the S3 list', async () => {
    // Arrange
    ssmMock.on(DescribeInstanceInformationCommand).callsFake((input) => ({
      InstanceInformationList: (input.Filters?.[0]?.Values ?? []).map((InstanceId: string) => ({
        InstanceId,
        PingStatus: 'Online',
      })),
    }));
    s3Mock.on(PutObjectCommand).resolves({});
    const handler = makeScanHandler({
      s3: new S3Client({}),
      ssm: new SSMClient({}),
      now: () => NOW,
      artifactsBucket: 'artifacts',
    });
    // Act
    const result = await handler({ rollout: rollout(MAX_GROUP_NODES) });
    // Assert
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThanOrEqual(MAX_SCAN_OUTPUT_BYTES);
    expect(result.nodes).toEqual([]);
    expect(result.nodesOmitted).toBe(MAX_GROUP_NODES);
    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toBe(result.nodeListKey);
    expect(JSON.parse(String(put?.Body))).toHaveLength(MAX_GROUP_NODES);
  });

  it('a small group keeps its per-node list', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    s3Mock.on(PutObjectCommand).resolves({});
    const result = await makeScanHandler({
      s3: new S3Client({}),
      ssm: new SSMClient({}),
      now: () => NOW,
      artifactsBucket: 'artifacts',
    })({ rollout: rollout(20) });
    expect(result.nodes).toHaveLength(20);
    expect(result.nodesOmitted).toBeUndefined();
  });
});
