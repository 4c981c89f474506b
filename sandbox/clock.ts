/**
 * Virtual time for the sandbox: a 30-minute install or a 10-minute restart takes no wall time,
 * while every handler and the simulated fleet read the same simulated clock.
 *
 * Time advances only when the sandbox is idle: no handler is running and nothing but virtual
 * timers is pending. Then the clock jumps to the earliest timer and fires it. Work that does
 * real I/O (the local DynamoDB on loopback) is wrapped in {@link VirtualClock.track} so the
 * clock never moves while it runs.
 */

import { TimerHeap } from './timer-heap.js';

/** A virtual timer: fires `fn` when the clock reaches `at` (epoch milliseconds). */
interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
  /** Left the heap to fire (a later cancel has nothing to remove). */
  fired?: boolean;
}

/** What the simulated fleet and the handlers need from the clock. */
export interface Clock {
  /** The current simulated time. */
  now(): Date;
  /** Runs `fn` when the simulated time reaches `at`; returns a cancel function. */
  schedule(at: Date | number, fn: () => void): () => void;
  /** Resolves when `ms` simulated milliseconds have passed. */
  sleep(ms: number): Promise<void>;
}

/** Real milliseconds with nothing to run before the sandbox reports itself stuck. */
const STALL_LIMIT_MS = 5_000;

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

export class VirtualClock implements Clock {
  private current: number;
  private readonly timers = new TimerHeap<Timer>();
  private seq = 0;
  /** Tracked work in flight (read and written through `inFlight`). */
  private tracked = 0;
  /** Who waits for the tracked work to reach zero. */
  private readonly quietWaiters: (() => void)[] = [];
  private running = false;
  /** Simulated milliseconds the clock has advanced in total. */
  advancedMs = 0;

  constructor(start: Date = new Date('2026-01-13T22:00:00Z')) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  schedule(at: Date | number, fn: () => void): () => void {
    const when = Math.max(typeof at === 'number' ? at : at.getTime(), this.current);
    const timer: Timer = { at: when, seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      // Once fired it has left the heap; only a pending timer counts towards a sweep.
      if (!timer.fired) this.timers.noteCancelled();
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.schedule(this.current + Math.max(0, ms), resolve));
  }

  /**
   * A sleep for tracked work (a handler backing off): it stops holding the clock while it
   * sleeps, or the clock could never reach the end of the sleep.
   */
  async pauseTracked(ms: number): Promise<void> {
    this.inFlight--;
    try {
      await this.sleep(ms);
    } finally {
      this.inFlight++;
    }
  }

  /** Marks real work in progress (a handler call): the clock does not move until it settles. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Drives time until `done` settles: whenever the sandbox is idle, jump to the earliest timer
   * and fire it. Returns the value of `done`.
   */
  async run<T>(done: Promise<T>): Promise<T> {
    if (this.running) throw new Error('VirtualClock.run is already driving this clock');
    this.running = true;
    let settled = false;
    const watched = done.finally(() => {
      settled = true;
    });
    let stalledSince: number | undefined;
    try {
      while (!settled) {
        await this.idle();
        if (settled) break;
        const next = this.nextTimer();
        if (!next) {
          // Nothing scheduled and nothing running: give real I/O a chance, but not forever.
          stalledSince ??= performance.now();
          if (performance.now() - stalledSince > STALL_LIMIT_MS) {
            throw new Error(
              `the sandbox is stuck: nothing has run and no timer is pending for ${STALL_LIMIT_MS} ms (a wait that nothing will complete)`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        stalledSince = undefined;
        this.advancedMs += next.at - this.current;
        this.current = next.at;
        next.fn();
      }
      return await watched;
    } finally {
      this.running = false;
    }
  }

  /**
   * Waits until no tracked work runs for several consecutive macrotask turns. While work is in
   * flight it waits for the count to reach zero (woken by {@link track}), not on a 1 ms poll:
   * the poll slept at least a timer tick per turn and was half the sandbox's wall time.
   */
  private async idle(): Promise<void> {
    let quiet = 0;
    while (quiet < 4) {
      if (this.inFlight > 0) {
        await new Promise<void>((resolve) => this.quietWaiters.push(resolve));
        quiet = 0;
      }
      await macrotask();
      quiet = this.inFlight === 0 ? quiet + 1 : 0;
    }
  }

  private set inFlight(value: number) {
    this.tracked = value;
    if (value === 0 && this.quietWaiters.length > 0) {
      for (const wake of this.quietWaiters.splice(0)) wake();
    }
  }

  private get inFlight(): number {
    return this.tracked;
  }

  private nextTimer(): Timer | undefined {
    const timer = this.timers.pop();
    if (timer) timer.fired = true;
    return timer;
  }
}
