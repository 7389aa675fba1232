/**
 * The replica's periodic chores, every few seconds: refresh its heartbeat (reconnecting
 * its instance lock if it was lost), write turn endings the database could not take when
 * they happened, interrupt its own running turns that nothing of it runs any more (a
 * start committed whose answer was lost), and, on one replica at a time (`pg_try_advisory_xact_lock`), interrupt
 * running turns of replicas that are gone, take the turns marked interrupted since (by
 * anyone) for its `onInterrupted` listener when it has one, and delete expired
 * idempotency keys and stale failed-auth counters.
 */
import { IDEMPOTENCY_WINDOW_MS, type InterruptedTurn, type StoreEvents } from '../store.js';
import type { Database } from './database.js';
import type { PgLiveness } from './liveness.js';
import { LOCK } from './locks.js';
import type { PgStatements } from './queries.js';

export interface PgSweeper {
  /** One sweep now; rejects when the database cannot be reached. */
  run(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /** A `finish_turn` call that failed for want of a database: retried until it is written. */
  retryFinish(values: unknown[]): void;
}

/** Failed-auth counters are kept this long after their window and block ended. */
const AUTH_FAILURES_KEPT_MS = 60 * 60_000;
/** Unwritten turn endings kept for retrying, at most. */
const MAX_PENDING_FINISHES = 10_000;

export function createPgSweeper(
  db: Database,
  q: PgStatements,
  schema: string,
  liveness: PgLiveness,
  intervalMs: number,
  inFlight: (sessionId: string) => boolean,
  events: StoreEvents = {},
): PgSweeper {
  const pending: unknown[][] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const writePending = async (): Promise<void> => {
    while (pending.length > 0) {
      await db.query(q.finishTurn, pending[0]);
      pending.shift();
    }
  };

  /** This replica's own running turns that no turn of it is working on: orphans of lost answers. */
  const interruptOrphans = async (now: number): Promise<void> => {
    const own = await db.query<{ session_id: string; seq: number }>(q.ownRunning, [liveness.self]);
    for (const { session_id: sessionId, seq } of own) {
      if (!inFlight(sessionId)) await db.query(q.interruptOne, [sessionId, seq, now]);
    }
  };

  const sweep = async (): Promise<void> => {
    await liveness.heartbeat();
    await writePending();
    const now = Date.now();
    await interruptOrphans(now);
    const interrupted = await db.transaction(async (run): Promise<InterruptedTurn[]> => {
      const [lock] = await run<{ locked: boolean }>(q.trySweepLock, [LOCK.sweep, schema]);
      // Another replica is sweeping: its sweep covers this one's.
      if (!lock?.locked) return [];
      await run(q.interruptDead, [liveness.self, now]);
      // Without a listener (a `moltbot sessions` command) they stay for a replica that counts.
      const taken = events.onInterrupted ? await run<{ agent_id: string; session_id: string; seq: number }>(q.takeInterrupted) : [];
      await run({ text: `DELETE FROM ${q.schema}.idempotency_keys WHERE created_at < $1` }, [now - IDEMPOTENCY_WINDOW_MS]);
      await run({ text: `DELETE FROM ${q.schema}.auth_failures WHERE greatest(window_start, blocked_until) < $1` }, [now - AUTH_FAILURES_KEPT_MS]);
      await run({ text: `DELETE FROM ${q.schema}.instances i WHERE heartbeat_at < $1 AND NOT ${q.schema}.instance_alive(i.id)` }, [now - AUTH_FAILURES_KEPT_MS]);
      return taken.map((row) => ({ agentId: row.agent_id, sessionId: row.session_id, seq: row.seq }));
    });
    // Told once committed: a sweep rolled back leaves them for the next.
    if (interrupted.length > 0) events.onInterrupted?.(interrupted);
  };

  const run = (): Promise<void> => {
    running ??= sweep().finally(() => {
      running = undefined;
    });
    return running;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      run()
        .catch(() => undefined)
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  return {
    run,
    start: schedule,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
      await writePending().catch(() => undefined);
    },
    retryFinish(values) {
      if (pending.length >= MAX_PENDING_FINISHES) return;
      // The client was told the turn failed (503): it is recorded as an error, with what the model said.
      const error = JSON.stringify({ type: 'server_error', code: 'store_unavailable', message: 'The session store was unavailable when the turn ended.' });
      const copy = [...values];
      if (copy[3] === 'ok') [copy[3], copy[6], copy[8]] = ['error', null, error];
      pending.push(copy);
    },
  };
}
