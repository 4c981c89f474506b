/**
 * The sandbox's in-process DynamoDB after `Sandbox.stop()`: a request fails at once, naming the
 * operation, instead of never being answered (the API-run invariant checks hung on that: they
 * read the run store after the test had stopped the sandbox).
 */
import { describe, expect, it } from 'vitest';
import { Sandbox } from '../../sandbox/engine.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

describe('the sandbox run store once the sandbox has stopped', () => {
  it('answers before the stop, and rejects at once after it, naming the operation', async () => {
    // Arrange
    const sandbox = await Sandbox.start({ ssm: () => ({ send: async () => ({}) }) });
    expect(await sandbox.store.getRun('run-1')).toBeUndefined();

    // Act
    await sandbox.stop();
    const error = await sandbox.store.getRunItems('run-1').then(
      () => undefined,
      (e: unknown) => e as Error,
    );

    // Assert: an error, not a wait (before the fix this never settled: the test timed out).
    expect(error?.message).toMatch(
      /^the sandbox has stopped: its DynamoDB is closed, so DynamoDB_20120810\.Query cannot run/,
    );
  });
});
