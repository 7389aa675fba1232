/**
 * Per-session lanes: turns of one session key run one at a time, in arrival order.
 * `createLanes` serialises within one process; the core takes any `Lanes`, so replicas
 * sharing a PostgreSQL store can pass lanes that serialise through the store.
 */
import { RunAbortedError } from '../errors.js';

export interface Lanes {
  /**
   * Waits until every earlier turn of `key` has released, then returns this turn's
   * release. Rejects with `RunAbortedError` if `signal` aborts first; the turn then
   * leaves the lane without holding up the ones behind it.
   */
  acquire(key: string, signal: AbortSignal): Promise<() => void>;
  /** Keys with a turn running or waiting. */
  readonly size: number;
}

export function createLanes(): Lanes {
  const tails = new Map<string, Promise<void>>();
  return {
    get size() {
      return tails.size;
    },
    async acquire(key, signal) {
      const previous = tails.get(key);
      let release!: () => void;
      const mine = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tail = previous ? previous.then(() => mine) : mine;
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      if (signal.aborted) {
        release();
        throw new RunAbortedError();
      }
      // Nobody ahead (every new or stateless session): the lane is ours at once.
      if (!previous) return release;
      let onAbort: (() => void) | undefined;
      try {
        await Promise.race([
          previous,
          new Promise<never>((_resolve, reject) => {
            onAbort = () => reject(new RunAbortedError());
            signal.addEventListener('abort', onAbort, { once: true });
          }),
        ]);
      } catch (err) {
        // Leaving the queue: those behind now wait only for `previous`.
        release();
        throw err;
      } finally {
        if (onAbort) signal.removeEventListener('abort', onAbort);
      }
      return release;
    },
  };
}
