/**
 * Idempotency keys on PostgreSQL, shared by every replica. A key is claimed by the
 * statement that begins its turn and settled by the one that finishes it
 * (`begin_keyed_turn`, `finish_keyed_turn` in `migrations.ts`: the table's primary key
 * decides races); this is the read that answers a repeat before anything runs.
 */
import { IDEMPOTENCY_WINDOW_MS, IdempotencyKeyTaken, type IdempotencyRequest, type IdempotencyState } from '../store.js';
import type { Database } from './database.js';

interface KeyRow {
  fingerprint: string;
  state: string;
  session_id: string | null;
  seq: number | null;
  payload: string | null;
  created_at: string;
  owner_alive: boolean;
}

/** SQLSTATEs of `claim_idempotency_key`'s refusals. */
const KEY_TAKEN: Record<string, IdempotencyKeyTaken['state']> = { MB004: 'running', MB005: 'done', MB006: 'mismatch' };

/** A refused claim as `IdempotencyKeyTaken`; other errors as they are. */
export function keyTakenFailure(err: unknown): unknown {
  const state = KEY_TAKEN[(err as { code?: unknown }).code as string];
  return state === undefined ? err : new IdempotencyKeyTaken(state);
}

export function createPgIdempotency(db: Database, s: string, self: string) {
  const read = {
    name: 'moltbot_idem_lookup',
    text: `SELECT fingerprint, state, session_id, seq, payload, created_at,
        (state <> 'running' OR owner IS NOT DISTINCT FROM $3 OR (owner IS NOT NULL AND ${s}.instance_alive(owner))) AS owner_alive
      FROM ${s}.idempotency_keys WHERE scope = $1 AND key = $2`,
  };

  return {
    async lookup({ scope, key, fingerprint, now }: IdempotencyRequest): Promise<IdempotencyState> {
      const [row] = await db.query<KeyRow>(read, [scope, key, self]);
      if (!row || Number(row.created_at) < now - IDEMPOTENCY_WINDOW_MS) return { state: 'free' };
      if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
      // Held by a replica that is gone: the same request may run again.
      if (row.state !== 'done') return row.owner_alive ? { state: 'running' } : { state: 'free' };
      return {
        state: 'done',
        result: Object.assign(
          {},
          row.session_id !== null && row.seq !== null ? { turn: { sessionId: row.session_id, seq: row.seq } } : {},
          row.payload === null ? {} : { payload: JSON.parse(row.payload) as unknown },
        ),
      };
    },
  };
}
