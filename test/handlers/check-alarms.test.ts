import 'aws-sdk-client-mock-vitest/extend';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { makeCheckAlarmsHandler } from '../../lambdas/handlers/check-alarms.js';

const cw = mockClient(CloudWatchClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);
const handler = () =>
  makeCheckAlarmsHandler({
    cloudwatch: new CloudWatchClient({ region: 'eu-west-1' }),
    tagging: new ResourceGroupsTaggingAPIClient({ region: 'eu-west-1' }),
  });
const ARN = (name: string) => `arn:aws:cloudwatch:eu-west-1:111122223333:alarm:${name}`;

afterEach(() => {
  cw.reset();
  tagging.reset();
});

describe('check-alarms', () => {
  it('reads named alarms and stops on one in ALARM, with its StateReason', async () => {
    // Arrange
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: 'cpu-high', StateValue: 'ALARM', StateReason: 'Threshold Crossed' },
        { AlarmName: 'disk', StateValue: 'OK', StateReason: 'ok' },
      ],
    });
    // Act
    const verdict = await handler()({
      runId: 'run-1',
      gates: { alarmNames: ['cpu-high', 'disk'] },
      checkpoint: 'beforeNode',
      node: 'NODE2',
    });
    // Assert
    expect(verdict).toMatchObject({
      runId: 'run-1',
      action: 'stop',
      firing: [{ name: 'cpu-high', reason: 'Threshold Crossed' }],
    });
    expect(cw).toHaveReceivedCommandWith(DescribeAlarmsCommand, {
      AlarmNames: ['cpu-high', 'disk'],
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
    });
    expect(tagging).not.toHaveReceivedCommand(GetResourcesCommand);
  });

  it('resolves a tag with the Tagging API, through its pages, then reads those alarms', async () => {
    // Arrange
    tagging
      .on(GetResourcesCommand)
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: ARN('a') }], PaginationToken: 't' })
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: ARN('b') }], PaginationToken: '' });
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: 'a', StateValue: 'OK', StateReason: '' }],
      CompositeAlarms: [{ AlarmName: 'b', StateValue: 'OK', StateReason: '' }],
    });
    // Act
    const verdict = await handler()({
      runId: 'run-1',
      gates: { alarmTag: { key: 'rollout', value: 'CLUSTER1' } },
      checkpoint: 'beforeWave',
    });
    // Assert
    expect(verdict).toMatchObject({ action: 'proceed', checked: ['a', 'b'] });
    expect(tagging).toHaveReceivedCommandTimes(GetResourcesCommand, 2);
    expect(tagging).toHaveReceivedNthCommandWith(GetResourcesCommand, 1, {
      ResourceTypeFilters: ['cloudwatch:alarm'],
      TagFilters: [{ Key: 'rollout', Values: ['CLUSTER1'] }],
    });
    expect(cw).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNames: ['a', 'b'] });
  });

  it('a named alarm that does not exist fails the gate, naming it', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    const verdict = await handler()({
      runId: 'run-1',
      gates: { alarmNames: ['typo-alarm'], onAlarm: 'approve' },
      checkpoint: 'beforeNode',
      node: 'NODE1',
    });
    expect(verdict).toMatchObject({ action: 'fail', missing: ['typo-alarm'] });
    expect(verdict.message).toContain('CloudWatch alarm "typo-alarm" does not exist');
  });

  it('refuses a bad event naming the field', async () => {
    await expect(
      handler()({ runId: 'run-1', gates: { alarmNames: ['a'] }, checkpoint: 'midNode' }),
    ).rejects.toMatchObject({
      name: 'InvalidEvent',
      message: expect.stringContaining('checkpoint'),
    });
  });
});
