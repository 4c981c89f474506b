import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  commandTimeout,
  LIFECYCLE_EVENT_SOURCE,
  LIFECYCLE_EVENT_TYPES,
  MAX_COMMAND_TIMEOUT_SECONDS,
  NODE_STATUSES,
  NODE_STEPS,
  PAYLOAD_ALLOWED_PATTERN,
  PAYLOAD_PARAMETER,
  TERMINAL_STATUSES,
} from '../../lambdas/core/contracts.js';

const FIELDS = { count: 'updates', minutes: 'HotfixInstallerTimeoutMinutes' };

describe('commandTimeout: installers x minutes + overhead, within SSM 48 h', () => {
  it.each([
    { count: 3, minutes: 60, overhead: 900, seconds: 3 * 3600 + 900, source: 'hotfix default' },
    { count: 1, minutes: 1, overhead: 0, seconds: 60, source: 'smallest' },
    { count: 0, minutes: 30, overhead: 900, seconds: 900, source: 'nothing to run' },
    {
      count: 47,
      minutes: 60,
      overhead: 3600,
      seconds: MAX_COMMAND_TIMEOUT_SECONDS,
      source: 'exactly the cap',
    },
  ])(
    '$count x $minutes min + $overhead s → $seconds s ($source)',
    ({ count, minutes, overhead, seconds }) => {
      expect(commandTimeout(count, minutes, overhead, FIELDS)).toEqual({ seconds });
    },
  );

  it('one second over the cap names the fields and the largest values that fit', () => {
    expect(MAX_COMMAND_TIMEOUT_SECONDS).toBe(48 * 3600);
    expect(commandTimeout(47, 60, 3601, FIELDS)).toEqual({
      problem:
        "47 updates x HotfixInstallerTimeoutMinutes=60 minutes + 3601 s is a command timeout of 172801 s, over SSM's 172800 s (48 h); lower HotfixInstallerTimeoutMinutes to at most 59 or send at most 46 updates per run",
    });
  });

  it('suggests values for the count and the minutes separately', () => {
    const result = commandTimeout(100, 1440, 900, FIELDS);
    expect(result).toEqual({
      problem: expect.stringContaining(
        'lower HotfixInstallerTimeoutMinutes to at most 28 or send at most 1 updates per run',
      ),
    });
  });
});

describe('TERMINAL_STATUSES (SSM "Understanding command statuses")', () => {
  it('lists every final status of a command invocation', () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual(
      [
        'AccessDenied',
        'Cancelled',
        'DeliveryTimedOut',
        'ExecutionTimedOut',
        'Failed',
        'InvalidPlatform',
        'Success',
        'Terminated',
        'TimedOut',
        'Undeliverable',
      ].sort(),
    );
  });

  it.each(['Pending', 'InProgress', 'Delayed', 'Cancelling'])('%s is not final', (status) => {
    expect(TERMINAL_STATUSES).not.toContain(status);
  });
});

describe('PAYLOAD_PARAMETER: the one document parameter the scripts read', () => {
  it('is the environment variable SSM_<name> that Read-RolloutPayload reads (ssm/_common.ps1)', () => {
    const common = readFileSync(new URL('../../ssm/_common.ps1', import.meta.url), 'utf8');
    expect(common).toContain(`$encoded = $env:SSM_${PAYLOAD_PARAMETER}\n`);
  });
});

describe('PAYLOAD_ALLOWED_PATTERN: the Payload parameter takes base64 only', () => {
  const pattern = new RegExp(PAYLOAD_ALLOWED_PATTERN);
  it.each(['', 'eyJhIjoxfQ==', 'ab+/', 'YQ='])('accepts %j', (text) => {
    expect(pattern.test(text)).toBe(true);
  });
  it.each(['a b', 'YQ===', '$(calc)', 'a=b', 'ab"', 'ab\n'])('rejects %j', (text) => {
    expect(pattern.test(text)).toBe(false);
  });
});

describe('events/README.md documents the lifecycle events as published', () => {
  const readme = readFileSync(new URL('../../events/README.md', import.meta.url), 'utf8');

  it('has one table row per detail-type, with its schema file', () => {
    const rows = [
      ...readme.matchAll(/^\| `((?:Rollout|Node) [^`]+)` +\|.*\(schemas\/([a-z-]+\.json)\)/gm),
    ];
    expect(rows.map((r) => r[1]).sort()).toEqual(Object.values(LIFECYCLE_EVENT_TYPES).sort());
    for (const [, type, file] of rows) {
      expect(file).toBe(`${type?.toLowerCase().replaceAll(' ', '-')}.json`);
    }
  });

  it('names the event source subscribers match', () => {
    expect(readme).toContain(`"source": ["${LIFECYCLE_EVENT_SOURCE}"]`);
  });

  it('lists the node statuses of Rollout Node Updated', () => {
    const line = /`status` \(([^)]*)\)/.exec(readme.replace(/\n\s*/g, ' '))?.[1] ?? '';
    expect([...line.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1])).toEqual([...NODE_STATUSES]);
  });
});

describe('the README documents the live node view as served', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('lists the steps of the live node view in the order they happen', () => {
    const section = readme.slice(readme.indexOf('#### The live node view')).replace(/\n\s*/g, ' ');
    const line = /mapped to a step, in the order they happen: ([^(]*)\(/.exec(section)?.[1] ?? '';
    expect([...line.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1])).toEqual([...NODE_STEPS]);
  });
});
