/**
 * Issue 11, sandbox speed (this round): the clock's timers in a heap, the fleet's invocations by
 * command and instance, and adaptation 11 (the sandbox's DynamoDB client does not compute SigV4
 * signatures) keep what they replace: timers fire in time order, then in scheduling order, a
 * cancelled one never fires; dynalite still answers the unsigned requests, and still refuses a
 * request with no Authorization at all.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessHandler } from '../../sandbox/aws-fakes.js';
import { VirtualClock } from '../../sandbox/clock.js';
import { SANDBOX_AUTHORIZATION, unsignedDynamoDbAuth } from '../../sandbox/sandbox-signer.js';
import { type HeapTimer, TimerHeap } from '../../sandbox/timer-heap.js';

/** A seeded generator, so a failure repeats. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 9301 + 49297) % 233280;
    return s / 233280;
  };
}

describe('TimerHeap', () => {
  it('pops live timers by time, then by scheduling order, skipping cancelled ones', () => {
    // Arrange: 2,000 timers on 50 distinct times, a third of them cancelled.
    const random = seeded(7);
    const heap = new TimerHeap<HeapTimer>();
    const all: HeapTimer[] = [];
    for (let seq = 0; seq < 2000; seq++) {
      const timer = { at: Math.floor(random() * 50) * 1000, seq, cancelled: false };
      all.push(timer);
      heap.push(timer);
    }
    for (const timer of all) {
      if (random() < 0.34) {
        timer.cancelled = true;
        heap.noteCancelled();
      }
    }
    // Act
    const popped: HeapTimer[] = [];
    for (let t = heap.pop(); t !== undefined; t = heap.pop()) popped.push(t);
    // Assert: exactly the live ones, in the order a scan for the earliest would give.
    const expected = all
      .filter((t) => !t.cancelled)
      .sort((a, b) => a.at - b.at || a.seq - b.seq)
      .map((t) => t.seq);
    expect(popped.map((t) => t.seq)).toEqual(expected);
    expect(heap.size).toBe(0);
  });

  it('sweeps cancelled timers once they are most of the heap', () => {
    const heap = new TimerHeap<HeapTimer>();
    const timers = Array.from({ length: 200 }, (_, seq) => ({ at: seq, seq, cancelled: false }));
    for (const t of timers) heap.push(t);
    for (const t of timers.slice(0, 150)) {
      t.cancelled = true;
      heap.noteCancelled();
    }
    expect(heap.size).toBeLessThan(200);
    expect(heap.pop()?.seq).toBe(150);
  });
});

describe('VirtualClock with the heap', () => {
  it('fires timers in time order, same-time timers in the order scheduled, never a cancelled one', async () => {
    // Arrange
    const clock = new VirtualClock(new Date('2026-01-13T22:00:00Z'));
    const start = clock.now().getTime();
    const fired: string[] = [];
    clock.schedule(start + 3000, () => fired.push('c'));
    clock.schedule(start + 1000, () => fired.push('a1'));
    const cancel = clock.schedule(start + 2000, () => fired.push('cancelled'));
    clock.schedule(start + 1000, () => fired.push('a2'));
    clock.schedule(start + 2000, () => {
      fired.push('b');
      // A timer scheduled while firing, at the current time, fires before later ones.
      clock.schedule(clock.now(), () => fired.push('b-now'));
    });
    cancel();
    cancel(); // a second cancel changes nothing
    // Act
    await clock.run(clock.sleep(5000));
    // Assert
    expect(fired).toEqual(['a1', 'a2', 'b', 'b-now', 'c']);
    expect(clock.now().getTime()).toBe(start + 5000);
  });

  it('lets a timer cancel itself after it fired without harm', async () => {
    const clock = new VirtualClock(new Date('2026-01-13T22:00:00Z'));
    let cancelOwn = () => {};
    let count = 0;
    cancelOwn = clock.schedule(clock.now().getTime() + 10, () => {
      count++;
      cancelOwn();
    });
    await clock.run(clock.sleep(100));
    expect(count).toBe(1);
  });
});

describe('adaptation 11: the sandbox DynamoDB client does not sign', () => {
  const server = dynalite({ createTableMs: 0 });
  const listener = server.listeners('request')[0] as (req: unknown, res: unknown) => void;
  afterAll(() => server.close());

  it('sends the placeholder Authorization (no signature computed), and dynalite answers it', async () => {
    // Arrange
    const seen: Record<string, string>[] = [];
    const handler = new InProcessHandler(listener);
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      requestHandler: {
        handle: (request: { headers: Record<string, string> }) => {
          seen.push({ ...request.headers });
          return handler.handle(request as never);
        },
        updateHttpClientConfig() {},
        httpHandlerConfigs: () => ({}),
        destroy() {},
      } as never,
      ...(unsignedDynamoDbAuth() as object),
    });
    // Act
    const listed = await client.send(new ListTablesCommand({}));
    // Assert
    expect(listed.TableNames).toEqual([]);
    expect(seen[0]?.authorization).toBe(SANDBOX_AUTHORIZATION);
    expect(seen[0]?.['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    client.destroy();
  });

  it('is still refused by dynalite without any Authorization (the header is what it checks)', async () => {
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      requestHandler: new InProcessHandler(listener) as never,
      httpAuthSchemes: [
        {
          schemeId: 'aws.auth#sigv4',
          identityProvider: () => async () => ({ accessKeyId: 'x', secretAccessKey: 'y' }),
          signer: { sign: async (request: unknown) => request },
        },
      ],
    } as never);
    await expect(client.send(new ListTablesCommand({}))).rejects.toMatchObject({
      name: 'MissingAuthenticationTokenException',
    });
    client.destroy();
  });
});
