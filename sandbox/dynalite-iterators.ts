/**
 * Dynalite 4.0.0 leaks a LevelDB iterator per Query and Scan (issue 15: about 0.3 KB each, 9 MiB
 * per 30,000 API requests, never freed). Its streams close an iterator by calling
 * `iterator.return()`, the async-iterator protocol's method, but abstract-level 3 iterators
 * have only `close()`: the call is skipped, and each iterator stays attached to the database
 * (`db.attachResource`) for the life of the process. Every Query does it, a full one included.
 *
 * The work-around, until dynalite calls `close()`: give abstract-level's iterators the `return()`
 * dynalite expects, closing the iterator, on the copy of abstract-level that dynalite loads. It
 * changes nothing else: a closed iterator is one dynalite has finished with. Installed once per
 * process by the sandbox before it starts dynalite; test/sandbox/dynalite.test.ts pins both the
 * leak's cause and the fix.
 */
import { createRequire } from 'node:module';

type IteratorPrototype = { return?: () => Promise<unknown>; close(): Promise<void> };

/** The prototype every abstract-level iterator (keys, values, entries) inherits from. */
export function dynaliteIteratorPrototype(): IteratorPrototype {
  const fromHere = createRequire(import.meta.url);
  const fromDynalite = createRequire(fromHere.resolve('dynalite'));
  const fromMemoryLevel = createRequire(fromDynalite.resolve('memory-level'));
  const { AbstractValueIterator } = fromMemoryLevel('abstract-level') as {
    AbstractValueIterator: { prototype: object };
  };
  return Object.getPrototypeOf(AbstractValueIterator.prototype) as IteratorPrototype;
}

/**
 * Makes dynalite's Query and Scan close their iterators. Idempotent; returns true when it
 * installed the method, false when the iterators already had one (a fixed dynalite or
 * abstract-level: then this does nothing).
 */
export function closeDynaliteIterators(): boolean {
  const prototype = dynaliteIteratorPrototype();
  if (typeof prototype.return === 'function') return false;
  Object.defineProperty(prototype, 'return', {
    configurable: true,
    writable: true,
    value: function closeOnReturn(this: IteratorPrototype) {
      return this.close().then(() => ({ done: true, value: undefined }));
    },
  });
  return true;
}
