/**
 * The sandbox delivers SSM's completion events to complete-command as Lambda's asynchronous
 * invocation does (issue 8, point 13): a function error is retried twice, then the event is
 * dead-lettered, and the dead letter is visible (Sandbox.deadLetters), as the stack's queue is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ASYNC_RETRY_DELAYS_MS, Sandbox } from '../../sandbox/engine.js';

let sandbox: Sandbox | undefined;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

/** An SSM that knows no command: complete-command fails on every delivery of its event. */
async function start() {
  let emit: (event: unknown) => void = () => undefined;
  const ssm = {
    send: async () => {
      const error = new Error('the invocation does not exist');
      error.name = 'InvocationDoesNotExist';
      throw error;
    },
  };
  const s = await Sandbox.start({
    ssm: (_clock, onEvent) => {
      emit = onEvent;
      return ssm;
    },
  });
  sandbox = s;
  const event = {
    version: '0',
    id: 'event-1',
    'detail-type': 'EC2 Command Invocation Status-change Notification',
    source: 'aws.ssm',
    account: '000000000000',
    time: '2026-01-13T22:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:ec2:us-east-1:000000000000:instance/i-0123456789abcdef0'],
    detail: {
      'command-id': '11111111-2222-3333-4444-555555555555',
      'document-name': `${s.synth.documentPrefix}-InstallHotfixes`,
      'instance-id': 'i-0123456789abcdef0',
      'requested-date-time': '2026-01-13T21:50:00.000Z',
      status: 'Success',
      'status-details': 'Success',
    },
  };
  return { sandbox: s, emit: () => emit(event) };
}

describe('completion events: Lambda async delivery', () => {
  it('a completion complete-command keeps failing on is tried 3 times (2 retries), then dead-lettered and visible', async () => {
    // Arrange
    const { sandbox: s, emit } = await start();
    const started = s.clock.now().getTime();
    // Act
    emit();
    await s.clock.run(s.clock.sleep(30 * 60_000));
    // Assert
    expect(s.deliveredEvents).toBe(3);
    expect(s.deadLetters).toHaveLength(1);
    const [letter] = s.deadLetters;
    expect(letter?.attempts).toBe(3);
    // The retries come 1 and 2 minutes after the failures (each try polls SSM a few seconds).
    const retried = started + ASYNC_RETRY_DELAYS_MS[0] + ASYNC_RETRY_DELAYS_MS[1];
    expect(letter?.at.getTime()).toBeGreaterThanOrEqual(retried);
    expect(letter?.at.getTime()).toBeLessThan(retried + 60_000);
    expect(letter?.error).toMatch(
      /11111111-2222-3333-4444-555555555555|InvocationDoesNotExist|not/,
    );
    expect((letter?.event as { detail: { status: string } } | undefined)?.detail.status).toBe(
      'Success',
    );
  });

  it('an event outside the rule pattern is not delivered at all', async () => {
    // Arrange
    const { sandbox: s } = await start();
    // Act: a document that is not ours.
    (s as unknown as { deliverEvent: (e: unknown, a: number) => void }).deliverEvent(
      { source: 'aws.ssm', detail: { 'document-name': 'AWS-RunShellScript', status: 'Success' } },
      0,
    );
    await s.clock.run(s.clock.sleep(10 * 60_000));
    // Assert
    expect(s.deliveredEvents).toBe(0);
    expect(s.deadLetters).toEqual([]);
  });
});
