/**
 * Idempotency keys on PostgreSQL, shared by every replica: a claim is one upsert that
 * takes the key when it is new, expired (older than the window) or held by a replica
 * that is gone; otherwise the key's row says what the first request left.
 */
import { IDEMPOTENCY_WINDOW_MS, type IdempotencyClaim, type IdempotencyRequest, type IdempotencyResult } from '../store.js';
import type { Database } from './database.js';

interface KeyRow {
  fingerprint: string;
  state: string;
  session_id: string | null;
  seq: number | null;
  payload: string | null;
}

export function createPgIdempotency(db: Database, s: string, self: string) {
  const claim = {
    name: 'moltbot_idem_claim',
    text: `INSERT INTO ${s}.idempotency_keys AS k (scope, key, fingerprint, state, owner, created_at) VALUES ($1, $2, $3, 'running', $4, $5)
      ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running', owner = excluded.owner,
        session_id = NULL, seq = NULL, payload = NULL, created_at = excluded.created_at
      WHERE k.created_at < $6
        OR (k.state = 'running' AND k.fingerprint = excluded.fingerprint AND k.owner IS DISTINCT FROM excluded.owner
            AND NOT ${s}.instance_alive(k.owner))
      RETURNING 1 AS claimed`,
  };
  const read = { name: 'moltbot_idem_read', text: `SELECT fingerprint, state, session_id, seq, payload FROM ${s}.idempotency_keys WHERE scope = $1 AND key = $2` };
  const complete = {
    name: 'moltbot_idem_complete',
    text: `UPDATE ${s}.idempotency_keys SET state = 'done', session_id = $3, seq = $4, payload = $5 WHERE scope = $1 AND key = $2 AND owner = $6 AND state = 'running'`,
  };
  const release = { name: 'moltbot_idem_release', text: `DELETE FROM ${s}.idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3 AND state = 'running'` };

  return {
    async claim(request: IdempotencyRequest): Promise<IdempotencyClaim> {
      const { scope, key, fingerprint, now } = request;
      const taken = await db.query(claim, [scope, key, fingerprint, self, now, now - IDEMPOTENCY_WINDOW_MS]);
      if (taken.length > 0) return { state: 'claimed' };
      const [row] = await db.query<KeyRow>(read, [scope, key]);
      // Deleted in between (released by its request): a retry finds it free.
      if (!row) return this.claim(request);
      if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
      if (row.state !== 'done') return { state: 'running' };
      return {
        state: 'done',
        result: {
          ...(row.session_id !== null && row.seq !== null ? { turn: { sessionId: row.session_id, seq: row.seq } } : {}),
          ...(row.payload === null ? {} : { payload: JSON.parse(row.payload) as unknown }),
        },
      };
    },
    async complete(scope: string, key: string, result: IdempotencyResult): Promise<void> {
      await db.query(complete, [scope, key, result.turn?.sessionId ?? null, result.turn?.seq ?? null, result.payload === undefined ? null : JSON.stringify(result.payload), self]);
    },
    async release(scope: string, key: string): Promise<void> {
      await db.query(release, [scope, key, self]);
    },
  };
}
