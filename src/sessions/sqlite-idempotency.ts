/**
 * Idempotency keys in the SQLite store. A key is claimed inside the write transaction of
 * its turn's start and settled inside that of its end (group commit, `BEGIN IMMEDIATE`),
 * so two processes on one file never both claim a key and a key costs no write of its
 * own. Keys older than the window are treated as absent and deleted on the way; a key
 * held by an instance that is gone (a crash) can be claimed again by the same request.
 */
import type { Database } from 'better-sqlite3';
import { IDEMPOTENCY_WINDOW_MS, IdempotencyKeyTaken, type IdempotencyRequest, type IdempotencyState, type TurnIdempotency, type TurnRef } from './store.js';

interface KeyRow {
  fingerprint: string;
  state: string;
  owner: string | null;
  session_id: string | null;
  seq: number | null;
  payload: string | null;
  created_at: number;
}

export interface SqliteIdempotency {
  /** The key's state as of now (a read outside any transaction). */
  lookup(request: IdempotencyRequest): IdempotencyState;
  /** Throws `IdempotencyKeyTaken` unless the key is free; inside the start's write transaction, before `claim`. */
  check(claim: TurnIdempotency, now: number): void;
  /** Claims the (checked) key for the turn `ref`; inside its start's write transaction. */
  claim(claim: TurnIdempotency, ref: TurnRef, now: number): void;
  /** Completes (`ok`) or frees the key this instance claimed; inside its end's write transaction. */
  settle(claim: TurnIdempotency, ok: boolean): void;
}

export function createSqliteIdempotency(db: Database, self: string, alive: (id: string) => boolean): SqliteIdempotency {
  const statements = {
    expire: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE created_at < ?'),
    read: db.prepare<[string, string], KeyRow>('SELECT fingerprint, state, owner, session_id, seq, payload, created_at FROM idempotency_keys WHERE scope = ? AND key = ?'),
    claim: db.prepare(
      `INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint, state, owner, session_id, seq, payload, created_at)
       VALUES (@scope, @key, @fingerprint, 'running', @owner, @sessionId, @seq, @payload, @now)`,
    ),
    complete: db.prepare("UPDATE idempotency_keys SET state = 'done' WHERE scope = ? AND key = ? AND owner = ? AND state = 'running'"),
    release: db.prepare("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND owner = ? AND state = 'running'"),
  };

  /** What `row` means to a request with `fingerprint` at `now`. */
  const stateOf = (row: KeyRow | undefined, fingerprint: string, now: number): IdempotencyState => {
    if (!row || row.created_at < now - IDEMPOTENCY_WINDOW_MS) return { state: 'free' };
    if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
    if (row.state !== 'done') {
      // Held by an instance that is gone: the same request may run again.
      return row.owner !== self && (row.owner === null || !alive(row.owner)) ? { state: 'free' } : { state: 'running' };
    }
    return {
      state: 'done',
      result: Object.assign(
        {},
        row.session_id !== null && row.seq !== null ? { turn: { sessionId: row.session_id, seq: row.seq } } : {},
        row.payload === null ? {} : { payload: JSON.parse(row.payload) as unknown },
      ),
    };
  };

  return {
    lookup: (request) => stateOf(statements.read.get(request.scope, request.key), request.fingerprint, request.now),
    check(claim, now) {
      statements.expire.run(now - IDEMPOTENCY_WINDOW_MS);
      const found = stateOf(statements.read.get(claim.scope, claim.key), claim.fingerprint, now);
      if (found.state !== 'free') throw new IdempotencyKeyTaken(found.state);
    },
    claim(claim, ref, now) {
      statements.claim.run({
        scope: claim.scope,
        key: claim.key,
        fingerprint: claim.fingerprint,
        owner: self,
        sessionId: ref.sessionId,
        seq: ref.seq,
        payload: claim.payload === undefined ? null : JSON.stringify(claim.payload),
        now,
      });
    },
    settle(claim, ok) {
      (ok ? statements.complete : statements.release).run(claim.scope, claim.key, self);
    },
  };
}
