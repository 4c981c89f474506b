/**
 * The virtual clock's pending timers, earliest first (issue 11, sandbox speed): a binary
 * min-heap by time, then by scheduling order, so the next timer costs O(log n) where a scan of
 * every timer cost O(n) per step (quadratic in a 1,000-node fleet, whose cancelled task
 * timeouts stayed in the list until it emptied). Cancelled timers leave lazily: skipped when
 * they reach the top, and swept out when they are most of the heap.
 */

/** A timer as the heap orders it: `at` (epoch ms), then `seq` (the order it was scheduled in). */
export interface HeapTimer {
  readonly at: number;
  readonly seq: number;
  cancelled: boolean;
}

export class TimerHeap<T extends HeapTimer> {
  private items: T[] = [];
  private cancelledCount = 0;

  /** Timers in the heap, cancelled ones included until they leave. */
  get size(): number {
    return this.items.length;
  }

  push(timer: T): void {
    this.items.push(timer);
    this.up(this.items.length - 1);
  }

  /** Notes that a timer in the heap was cancelled; sweeps when cancelled ones are most of it. */
  noteCancelled(): void {
    this.cancelledCount++;
    if (this.cancelledCount > 64 && this.cancelledCount * 2 > this.items.length) this.sweep();
  }

  /** Removes and returns the earliest live timer, or undefined when none is left. */
  pop(): T | undefined {
    while (this.items.length > 0) {
      const top = this.items[0] as T;
      const last = this.items.pop() as T;
      if (this.items.length > 0) {
        this.items[0] = last;
        this.down(0);
      }
      if (!top.cancelled) return top;
      this.cancelledCount--;
    }
    this.cancelledCount = 0;
    return undefined;
  }

  private sweep(): void {
    this.items = this.items.filter((t) => !t.cancelled);
    this.cancelledCount = 0;
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private before(a: T, b: T): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(index: number): void {
    const items = this.items;
    let i = index;
    const item = items[i] as T;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as T;
      if (!this.before(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  private down(index: number): void {
    const items = this.items;
    const n = items.length;
    let i = index;
    const item = items[i] as T;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(items[right] as T, items[left] as T) ? right : left;
      if (!this.before(items[child] as T, item)) break;
      items[i] = items[child] as T;
      i = child;
    }
    items[i] = item;
  }
}
