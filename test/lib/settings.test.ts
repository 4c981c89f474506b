/**
 * `readSettings`: the stack's settings from cdk.json context or `-c key=value` (always strings),
 * with defaults, and one error naming every bad value.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type RolloutSettings, readSettings } from '../../lib/rollout-stack.js';

/** A context lookup over plain values, as `app.node.tryGetContext` gives them. */
const context =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

/** The error `readSettings` throws for these values (fails the test if it returns). */
function settingsError(values: Record<string, unknown>): Error {
  try {
    readSettings(context(values));
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected readSettings to reject ${JSON.stringify(values)}`);
}

const ROLE_A = 'arn:aws:iam::123456789012:role/NodeA';
const ROLE_B = 'arn:aws:iam::123456789012:role/NodeB';

describe("cdk.json's feature flags", () => {
  it("sets every one of aws-cdk-lib's recommended feature flags to its recommended value", () => {
    // Arrange
    const recommended = JSON.parse(
      readFileSync(
        new URL('../../node_modules/aws-cdk-lib/recommended-feature-flags.json', import.meta.url),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const cdkJson = JSON.parse(
      readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
    ) as { context: Record<string, unknown> };
    // Act
    const differing = Object.entries(recommended)
      .filter(([flag, value]) => JSON.stringify(cdkJson.context[flag]) !== JSON.stringify(value))
      .map(
        ([flag, value]) =>
          `${flag}: ${JSON.stringify(cdkJson.context[flag])}, recommended ${JSON.stringify(value)}`,
      );
    // Assert
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
    expect(differing).toEqual([]);
  });
});

describe('readSettings', () => {
  it('applies every default when nothing is set', () => {
    // Act
    const settings = readSettings(context({}));
    // Assert
    expect(settings).toEqual(DEFAULT_SETTINGS);
    expect(settings).not.toHaveProperty('releaseRoleArn');
  });

  it("cdk.json's context states the same defaults", () => {
    // Arrange
    const cdkJson = JSON.parse(
      readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
    ) as { context: Record<string, unknown> };
    // Act
    const settings = readSettings(context(cdkJson.context));
    // Assert
    expect(settings).toEqual(DEFAULT_SETTINGS);
  });

  it.each<{ key: keyof RolloutSettings; value: unknown; expected: unknown; source: string }>([
    { key: 'logRetentionDays', value: '30', expected: 30, source: '-c logRetentionDays=30' },
    { key: 'logRetentionDays', value: 3653, expected: 3653, source: 'cdk.json number, ten years' },
    { key: 'logRetentionDays', value: '1', expected: 1, source: 'shortest retention' },
    { key: 'lockLeaseHours', value: '12', expected: 12, source: '-c lockLeaseHours=12' },
    { key: 'lockLeaseHours', value: '1', expected: 1, source: 'shortest lease' },
    { key: 'lockLeaseHours', value: 72, expected: 72, source: 'longest lease' },
    { key: 'retainData', value: 'false', expected: false, source: '-c retainData=false' },
    { key: 'retainData', value: 'true', expected: true, source: '-c retainData=true' },
    { key: 'retainData', value: false, expected: false, source: 'cdk.json boolean' },
    {
      key: 'customerManagedKey',
      value: 'true',
      expected: true,
      source: '-c customerManagedKey=true',
    },
    { key: 'customerManagedKey', value: false, expected: false, source: 'cdk.json boolean' },
    {
      key: 'customerManagedKey',
      value: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      expected: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      source: 'a key of yours',
    },
    { key: 'workflowLogLevel', value: 'ALL', expected: 'ALL', source: '-c workflowLogLevel=ALL' },
    { key: 'workflowLogLevel', value: 'OFF', expected: 'OFF', source: 'no workflow logs' },
    { key: 'namePrefix', value: 'Ops-Rollout', expected: 'Ops-Rollout', source: '-c namePrefix' },
    { key: 'targetTagKey', value: 'PatchGroup', expected: 'PatchGroup', source: '-c targetTagKey' },
    { key: 'targetTagValue', value: 'wave1', expected: 'wave1', source: '-c targetTagValue' },
    {
      key: 'releaseRoleArn',
      value: 'arn:aws:iam::123456789012:role/Publisher',
      expected: 'arn:aws:iam::123456789012:role/Publisher',
      source: '-c releaseRoleArn',
    },
  ])('$key $value → $expected ($source)', ({ key, value, expected }) => {
    // Act
    const settings = readSettings(context({ [key]: value }));
    // Assert
    expect(settings[key]).toEqual(expected);
    // Every other setting keeps its default (toEqual ignores the undefined releaseRoleArn).
    expect({ ...settings, [key]: DEFAULT_SETTINGS[key] }).toEqual(DEFAULT_SETTINGS);
  });

  it.each<{ value: unknown; expected: string[]; source: string }>([
    { value: `${ROLE_A},${ROLE_B}`, expected: [ROLE_A, ROLE_B], source: '-c, comma-separated' },
    { value: ` ${ROLE_A} , ${ROLE_B} `, expected: [ROLE_A, ROLE_B], source: 'spaces around' },
    { value: `${ROLE_A},,`, expected: [ROLE_A], source: 'empty items dropped' },
    { value: '', expected: [], source: 'an empty -c value' },
    { value: [ROLE_A, ROLE_B], expected: [ROLE_A, ROLE_B], source: 'cdk.json list' },
    { value: [], expected: [], source: 'cdk.json empty list' },
  ])('nodeRoleArns $value → $expected ($source)', ({ value, expected }) => {
    expect(readSettings(context({ nodeRoleArns: value })).nodeRoleArns).toEqual(expected);
  });

  it.each<{ key: string; value: unknown; accepted: string }>([
    { key: 'namePrefix', value: '', accepted: 'expected a non-empty string' },
    { key: 'namePrefix', value: '   ', accepted: 'expected a non-empty string' },
    { key: 'targetTagKey', value: 42, accepted: 'expected a non-empty string' },
    {
      key: 'logRetentionDays',
      value: '31',
      accepted: "expected one of CloudWatch Logs' retention periods",
    },
    {
      key: 'logRetentionDays',
      value: 'abc',
      accepted: "expected one of CloudWatch Logs' retention periods",
    },
    {
      key: 'logRetentionDays',
      value: '30.5',
      accepted: "expected one of CloudWatch Logs' retention periods",
    },
    { key: 'lockLeaseHours', value: '0', accepted: 'expected whole hours from 1 to 72' },
    { key: 'lockLeaseHours', value: 73, accepted: 'expected whole hours from 1 to 72' },
    { key: 'lockLeaseHours', value: '1.5', accepted: 'expected whole hours from 1 to 72' },
    { key: 'lockLeaseHours', value: true, accepted: 'expected whole hours from 1 to 72' },
    { key: 'nodeRoleArns', value: 'NodeA', accepted: 'expected a list of IAM role ARNs' },
    { key: 'nodeRoleArns', value: [ROLE_A, 7], accepted: 'expected a list of IAM role ARNs' },
    { key: 'nodeRoleArns', value: 42, accepted: 'expected a list of IAM role ARNs' },
    { key: 'retainData', value: 'yes', accepted: 'expected true or false' },
    {
      key: 'customerManagedKey',
      value: 'alias/mine',
      accepted: 'expected true, false or a KMS key ARN',
    },
    { key: 'workflowLogLevel', value: 'all', accepted: 'expected ALL, ERROR, FATAL, OFF' },
    { key: 'releaseRoleArn', value: 'role/Publisher', accepted: 'expected an IAM role ARN' },
  ])(
    'rejects $key $value, naming the key, the value and what is accepted',
    ({ key, value, accepted }) => {
      // Act
      const error = settingsError({ [key]: value });
      // Assert
      expect(error.message).toContain(`${key} (${JSON.stringify(value)}): ${accepted}`);
    },
  );

  it('names every bad value in one error', () => {
    // Arrange
    const bad = {
      namePrefix: '',
      logRetentionDays: '31',
      lockLeaseHours: '0',
      nodeRoleArns: 'not-an-arn',
      retainData: 'yes',
      releaseRoleArn: 'Publisher',
      targetTagValue: 7,
    };
    // Act
    const error = settingsError({ ...bad, targetTagKey: 'PatchGroup' });
    const lines = error.message.split('\n').filter((line) => line.startsWith('  - '));
    // Assert
    expect(lines).toHaveLength(Object.keys(bad).length);
    for (const [key, value] of Object.entries(bad)) {
      expect(error.message).toContain(`${key} (${JSON.stringify(value)})`);
    }
    expect(error.message).not.toContain('targetTagKey');
  });

  it('lists the accepted retention periods', () => {
    // Act
    const error = settingsError({ logRetentionDays: '31' });
    // Assert
    expect(error.message).toMatch(/\b1, 3, 5, 7, 14, 30, 60, 90\b/);
    expect(error.message).toContain('365');
  });
});
