/**
 * Per-session lanes: turns of one session (an agent's key: the same key under two agents
 * is two sessions) run one at a time, in arrival order, within this process. Turns of
 * one session in different processes are serialised by the store (`beginTurn`).
 */
import type { CallerSignal } from '../domain/caller-signal.js';
import { RunAbortedError } from '../domain/errors.js';

/** A session: which agent, and its key. */
export interface LaneId {
  agentId: string;
  key: string;
}

export interface Lanes {
  /**
   * Waits until every earlier turn of the session has released, then returns this turn's
   * release. Rejects with `RunAbortedError` if `signal` aborts first; the turn then
   * leaves the lane without holding up the ones behind it.
   */
  acquire(session: LaneId, signal: CallerSignal): Promise<() => void>;
  /** Sessions with a turn running or waiting. */
  readonly size: number;
}

export function createLanes(): Lanes {
  const tails = new Map<string, Promise<void>>();
  return {
    get size() {
      return tails.size;
    },
    async acquire(session, signal) {
      // Agent ids never contain a newline, so the pair maps to one string and back.
      const key = `${session.agentId}\n${session.key}`;
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
