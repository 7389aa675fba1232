/**
 * Waiting for another process's turn in the same session (`moltbot agent` beside a
 * gateway): the store is polled with a backoff (10 ms doubling to 200 ms) until no other
 * live process runs a turn in it. The turn's signal ends the wait (client gone, timeout,
 * shutdown).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionStore } from '../sessions/store.js';
import type { LaneId } from './lanes.js';

const FIRST_DELAY_MS = 10;
const MAX_DELAY_MS = 200;

/**
 * Resolves once no other live process runs a turn in `session`, after at least one
 * short pause (a conflict means the session just changed). `onWait` is called once if
 * another process's turn had to be waited for. Rejects (AbortError) when `signal` aborts.
 */
export async function waitForSession(store: SessionStore, session: LaneId, signal: AbortSignal, onWait?: () => void): Promise<void> {
  let delay = FIRST_DELAY_MS;
  let told = false;
  for (;;) {
    await sleep(delay, undefined, { signal });
    if (!(await store.runningElsewhere(session.agentId, session.key))) return;
    if (!told) {
      told = true;
      onWait?.();
    }
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
}
