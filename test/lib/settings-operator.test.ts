/** Issue 12 §5 and §6: one list syntax, placeholders refused, no stack for bad context. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../lib/rollout-stack.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const context =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];
const ROLE_A = 'arn:aws:iam::111122223333:role/NodeA';
const ROLE_B = 'arn:aws:iam::111122223333:role/NodeB';

describe('nodeRoleArns takes the JSON list syntax schedules takes', () => {
  it.each([
    { value: JSON.stringify([ROLE_A, ROLE_B]), source: '-c nodeRoleArns=\'["arn:…","arn:…"]\'' },
    { value: ` ${JSON.stringify([ROLE_A, ROLE_B])} `, source: 'with spaces around' },
    { value: [ROLE_A, ROLE_B], source: 'cdk.json list' },
    { value: `${ROLE_A},${ROLE_B}`, source: 'comma-separated, still accepted' },
  ])('$source', ({ value }) => {
    expect(readSettings(context({ nodeRoleArns: value })).nodeRoleArns).toEqual([ROLE_A, ROLE_B]);
  });

  it('a malformed JSON list names the key and the value', () => {
    expect(() => readSettings(context({ nodeRoleArns: '["arn:aws:iam::1' }))).toThrow(
      'nodeRoleArns ("[\\"arn:aws:iam::1"): expected a JSON list of IAM role ARNs',
    );
  });
});

describe('placeholders and malformed role ARNs are refused', () => {
  it.each([
    {
      key: 'nodeRoleArns',
      value: 'arn:aws:iam::<account>:role/<windows-instance-role>',
      says: 'a placeholder from the README',
    },
    {
      key: 'releaseRoleArn',
      value: 'arn:aws:iam::111122223333:role/<release-role>',
      says: 'a placeholder from the README',
    },
    {
      key: 'nodeRoleArns',
      value: 'arn:aws:iam::1234:role/Short',
      says: 'expected an IAM role ARN',
    },
    {
      key: 'releaseRoleArn',
      value: 'arn:aws:iam::111122223333:user/Someone',
      says: 'expected an IAM role ARN',
    },
  ])('$key $value', ({ key, value, says }) => {
    let error: unknown;
    try {
      readSettings(context({ [key]: value }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    expect((error as Error).message).toContain(`${key} (${JSON.stringify(value)}): ${says}`);
  });
});

describe('cdk synth with bad context', () => {
  it('prints every problem and no stack trace, exit 1', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: REPO,
      encoding: 'utf8',
      env: {
        ...process.env,
        ROLLOUT_DEBUG: '',
        CDK_CONTEXT_JSON: JSON.stringify({
          nodeRoleArns: 'arn:aws:iam::<account>:role/<windows-instance-role>',
          lockLeaseHours: '0',
        }),
      },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('cdk.json context is invalid');
    expect(result.stderr).toContain('nodeRoleArns');
    expect(result.stderr).toContain('lockLeaseHours ("0")');
    expect(result.stderr).not.toMatch(/\n\s+at \S+/);
  }, 60_000);
});
