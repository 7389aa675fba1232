/**
 * A replica's liveness on PostgreSQL: its own connection (outside the pool) holds a
 * session-level advisory lock keyed by its instance id for as long as the replica lives,
 * and its row in `instances` gets a heartbeat. When the replica dies (SIGKILL included)
 * the server closes the connection and the lock goes at once; other replicas ask
 * `instance_alive(id)` (the lock is in `pg_locks`). If the connection is lost while the
 * replica lives (the database restarted), it reconnects with a backoff and takes the lock
 * again; meanwhile the replica counts as dead to the others, who may interrupt its running
 * turns (`finish_turn` still records how they end).
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { clientConfig, type PostgresStoreOptions } from './connection.js';
import { INSTANCE_LOCK_PREFIX } from './locks.js';

export interface PgLiveness {
  readonly self: string;
  /** Whether this replica holds its lock now (false while reconnecting). */
  readonly connected: boolean;
  /** Refreshes the heartbeat; reconnects (in the background) when the connection is gone. */
  heartbeat(): Promise<void>;
  close(): Promise<void>;
}

const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 2_000;

/**
 * Takes the lock for `self` (throws if the first connection fails: the caller turns it
 * into a start-up error). `onChange` is told when the connection is lost or regained.
 */
export async function holdPgInstanceLock(
  options: PostgresStoreOptions,
  schema: string,
  self: string,
  onChange: (connected: boolean, err?: unknown) => void,
): Promise<PgLiveness> {
  const s = `"${schema.replaceAll('"', '""')}"`;
  let client: pg.Client | undefined;
  let connected = false;
  let closing = false;
  let reconnecting: Promise<void> | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client(clientConfig(options, 'moltbot-gateway-instance'));
    // A lost connection is reported here, not thrown at whoever holds the client.
    next.on('error', (err) => lost(next, err));
    next.on('end', () => lost(next));
    await next.connect();
    try {
      await next.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [INSTANCE_LOCK_PREFIX + self]);
      const now = Date.now();
      await next.query(
        `INSERT INTO ${s}.instances (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
        [self, hostname(), process.pid, now],
      );
    } catch (err) {
      await next.end().catch(() => undefined);
      throw err;
    }
    client = next;
    connected = true;
    onChange(true);
  };

  function lost(which: pg.Client, err?: unknown): void {
    if (which !== client || closing) return;
    client = undefined;
    connected = false;
    onChange(false, err);
    which.end().catch(() => undefined);
    reconnect();
  }

  function reconnect(): void {
    if (reconnecting || closing) return;
    reconnecting = (async () => {
      for (let delay = RECONNECT_FIRST_MS; !closing && !connected; delay = Math.min(delay * 2, RECONNECT_MAX_MS)) {
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        if (closing) return;
        try {
          await connect();
        } catch {
          // Still down: the next attempt waits longer.
        }
      }
    })().finally(() => {
      reconnecting = undefined;
    });
  }

  await connect();
  return {
    self,
    get connected() {
      return connected;
    },
    async heartbeat() {
      const current = client;
      if (!current) {
        reconnect();
        return;
      }
      try {
        await current.query(`UPDATE ${s}.instances SET heartbeat_at = $2 WHERE id = $1`, [self, Date.now()]);
      } catch (err) {
        lost(current, err);
      }
    },
    async close() {
      closing = true;
      await reconnecting;
      const current = client;
      client = undefined;
      connected = false;
      if (!current) return;
      // Closing the connection releases the lock; the row goes too (a clean exit).
      await current.query(`DELETE FROM ${s}.instances WHERE id = $1`, [self]).catch(() => undefined);
      await current.end().catch(() => undefined);
    },
  };
}
