/**
 * Failed-auth counters shared by the replicas on one PostgreSQL: a failure is one upsert
 * that counts it in the address's window and, at the limit, blocks the address for
 * everyone; it returns the block, which this replica then remembers. A request with the
 * right secret is checked only against what this replica remembers (no round trip): a
 * replica learns of a block at the first failure it sees from that address, so an
 * address blocked elsewhere gets at most one attempt per replica through before it is
 * refused there too. If the database cannot be reached, failures are counted in memory.
 */
import { createAuthLimiter, type AuthLimiterOptions } from '../../domain/auth-limiter.js';
import type { AuthFailureCounter } from '../../domain/auth-failure-counter.js';
import type { Database } from './database.js';

export type PgAuthCounterOptions = Omit<AuthLimiterOptions, 'now'> & { now?: () => number };

export function createPgAuthFailureCounter(db: Database, s: string, options: PgAuthCounterOptions): AuthFailureCounter {
  const now = options.now ?? Date.now;
  /** Blocks this replica knows of, by address (bounded like the in-memory limiter). */
  const known = new Map<string, number>();
  const fallback = createAuthLimiter(options);
  const remember = (address: string, until: number): void => {
    known.delete(address);
    if (until <= now()) return;
    known.set(address, until);
    while (known.size > options.maxTracked) known.delete(known.keys().next().value as string);
  };
  const count = {
    name: 'moltbot_auth_failed',
    // $1 address, $2 now, $3 window, $4 max failures, $5 block. `blocked_before`: blocked when this failure came.
    text: `WITH params AS (SELECT $1::text AS address, $2::bigint AS now, $3::bigint AS win, $4::integer AS max, $5::bigint AS block),
      before AS (SELECT blocked_until FROM ${s}.auth_failures WHERE address = $1::text)
      INSERT INTO ${s}.auth_failures AS a (address, window_start, failures, blocked_until)
        SELECT address, now, 1, CASE WHEN 1 >= max THEN now + block ELSE 0 END FROM params
      ON CONFLICT (address) DO UPDATE SET
        window_start = CASE WHEN a.blocked_until > $2::bigint THEN a.window_start WHEN $2::bigint - a.window_start >= $3::bigint THEN $2::bigint ELSE a.window_start END,
        failures = CASE WHEN a.blocked_until > $2::bigint THEN a.failures
                        WHEN $2::bigint - a.window_start >= $3::bigint THEN 1 ELSE a.failures + 1 END,
        blocked_until = CASE WHEN a.blocked_until > $2::bigint THEN a.blocked_until
                             WHEN (CASE WHEN $2::bigint - a.window_start >= $3::bigint THEN 1 ELSE a.failures + 1 END) >= $4::integer THEN $2::bigint + $5::bigint
                             ELSE a.blocked_until END
      RETURNING a.blocked_until, coalesce((SELECT blocked_until FROM before), 0) AS blocked_before`,
  };
  const seconds = (until: number): number => Math.max(0, Math.ceil((until - now()) / 1000));
  return {
    blockedFor(address) {
      if (options.exempt(address)) return 0;
      const until = known.get(address);
      if (until === undefined) return fallback.blockedFor(address);
      if (until <= now()) {
        known.delete(address);
        return 0;
      }
      return seconds(until);
    },
    async failed(address) {
      if (options.exempt(address)) return 0;
      const at = now();
      try {
        const [row] = await db.query<{ blocked_until: number; blocked_before: number }>(count, [address, at, options.windowMs, options.maxFailures, options.blockMs]);
        if (!row) return 0;
        remember(address, row.blocked_until);
        return row.blocked_before > at ? seconds(row.blocked_before) : 0;
      } catch (err) {
        // The database is away: this replica counts on its own meanwhile. Anything else is a bug.
        if ((err as { code?: unknown }).code !== 'store_unavailable') throw err;
        const before = fallback.blockedFor(address);
        fallback.failed(address);
        return before;
      }
    },
  };
}
