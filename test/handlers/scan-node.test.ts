/**
 * scan-node: one node's scan result from its ScanUpdates command (or why there is none), written
 * to the artifacts bucket at the contract's key.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ScanNodeResult, scanNodeResultSchema } from '../../lambdas/core/scan-result.js';
import { makeScanNodeHandler, type ScanNodeEvent } from '../../lambdas/handlers/scan-node.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const s3 = mockClient(S3Client);
const ssm = mockClient(SSMClient);
const NOW = new Date('2026-01-13T22:00:00.000Z');
const handler = (bucket: string | null = 'artifacts') =>
  makeScanNodeHandler({
    s3: new S3Client({ region: 'us-east-1' }),
    ssm: new SSMClient({ region: 'us-east-1' }),
    now: () => NOW,
    ...(bucket === null ? {} : { artifactsBucket: bucket }),
  });

const windowsUpdate = {
  name: 'Microsoft.WindowsUpdatePlugin',
  arguments: {
    includeRecommendedUpdates: false,
    queryString: 'IsInstalled=0',
    queryStringGiven: false,
  },
} as const;
const event = (overrides: Partial<ScanNodeEvent> = {}): ScanNodeEvent => ({
  action: 'scanNode',
  scanId: 'scan-1',
  node: { name: 'WEB01', instanceId: 'i-0123456789abcdef0' },
  plugins: [windowsUpdate],
  command: null,
  commandError: null,
  ...overrides,
});
const outcome = (status: string, results: unknown[], outputTail = '') => ({
  commandId: 'c-1',
  instanceId: 'i-0123456789abcdef0',
  document: 'scan',
  status,
  responseCode: status === 'Success' ? 0 : 1,
  results,
  outputTail,
});
const UPDATE = {
  kind: 'update',
  updateId: 'u-1',
  kb: 'KB5034127',
  title: 'Cumulative (KB5034127)',
  classification: 'Security Updates',
  msrcSeverity: 'Critical',
  restartExpected: true,
  isInstalled: false,
  excludedBy: null,
  excludedReason: null,
  skipReason: null,
};
const NODE = { kind: 'node', pendingRestart: false, found: 1, applicable: 1 };

/** The object written, checked against the contract. */
function written(): ScanNodeResult {
  const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
  expect(put?.Bucket).toBe('artifacts');
  expect(put?.Key).toBe('scans/scan-1/nodes/WEB01.json');
  return scanNodeResultSchema.parse(JSON.parse(String(put?.Body)));
}

beforeEach(() => {
  s3.on(PutObjectCommand).resolves({});
  ssm.on(DescribeInstanceInformationCommand).resolves({
    InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0', PingStatus: 'Online' }],
  });
});
afterEach(() => {
  s3.reset();
  ssm.reset();
});

describe('scan-node', () => {
  it('writes the search result and returns a summary', async () => {
    // Act
    const summary = await handler()(event({ command: outcome('Success', [UPDATE, NODE]) }));
    // Assert
    expect(summary).toEqual({
      node: 'WEB01',
      status: 'Scanned',
      updates: 1,
      excluded: 0,
      key: 'scans/scan-1/nodes/WEB01.json',
    });
    const result = written();
    expect(result).toMatchObject({ pingStatus: 'Online', scannedAt: NOW.toISOString() });
    expect(result.updates.map((u) => u.kb)).toEqual(['KB5034127']);
  });

  it.each([
    {
      case: 'a search that timed out',
      input: { commandError: { Error: 'States.Timeout', Cause: 'waited 1800 seconds' } },
      error: {
        code: 'States.Timeout',
        message:
          'the Windows Update search did not answer in time; it was cancelled (waited 1800 seconds)',
      },
    },
    {
      case: 'a Lambda error in the cause',
      input: {
        commandError: {
          Error: 'PayloadTooLarge',
          Cause: JSON.stringify({ errorType: 'PayloadTooLarge', errorMessage: 'too big' }),
        },
      },
      error: { code: 'PayloadTooLarge', message: 'too big' },
    },
    {
      case: 'an error without a cause',
      input: { commandError: { Error: 'States.TaskFailed' } },
      error: { code: 'States.TaskFailed', message: 'States.TaskFailed' },
    },
    {
      case: 'a command that failed on the node',
      input: { command: outcome('Failed', [], 'search ended with result code 4') },
      error: {
        code: 'ScanUpdatesFailed',
        message: 'ScanUpdates ended Failed (exit 1): search ended with result code 4',
      },
    },
    {
      case: 'a result line that is not the document’s',
      input: { command: outcome('Success', [{ error: 'line 3 is not JSON' }, NODE]) },
      error: {
        code: 'ScanOutputInvalid',
        message:
          'ScanUpdates printed a result line that is not an update or node line: {"error":"line 3 is not JSON"}',
      },
    },
    {
      case: 'no command and no error',
      input: {},
      error: { code: 'NotSearched', message: 'the Windows Update search was not run' },
    },
  ])('$case: a Failed result naming why', async ({ input, error }) => {
    const summary = await handler()(event(input as Partial<ScanNodeEvent>));
    expect(summary.status).toBe('Failed');
    expect(written().error).toEqual(error);
  });

  it('a node SSM does not know is recorded as not registered', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    await handler()(event({ command: outcome('Success', [NODE]) }));
    expect(written().pingStatus).toBeNull();
  });

  it('refuses a bad event naming the field, and writes nothing', async () => {
    await expect(handler()(event({ scanId: 'bad id' }))).rejects.toThrow(/scanId/);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });

  it('says what is missing without ARTIFACTS_BUCKET', async () => {
    await expect(handler(null)(event())).rejects.toThrow(/ARTIFACTS_BUCKET/);
  });
});
