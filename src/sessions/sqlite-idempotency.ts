/**
 * Idempotency keys in the SQLite store: claimed, completed and released in the store's
 * write transactions (group commit), so two processes on one file never both claim a
 * key. Keys older than the window are treated as absent and deleted on the way; a key
 * held by an instance that is gone (a crash) can be claimed again.
 */
import type { Database } from 'better-sqlite3';
import { IDEMPOTENCY_WINDOW_MS, type IdempotencyClaim, type IdempotencyRequest, type IdempotencyResult } from './store.js';

interface KeyRow {
  fingerprint: string;
  state: string;
  owner: string | null;
  session_id: string | null;
  seq: number | null;
  payload: string | null;
  created_at: number;
}

export function createSqliteIdempotency(db: Database, write: <T>(run: () => T) => Promise<T>, self: string, alive: (id: string) => boolean) {
  const statements = {
    expire: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE created_at < ?'),
    read: db.prepare<[string, string], KeyRow>('SELECT fingerprint, state, owner, session_id, seq, payload, created_at FROM idempotency_keys WHERE scope = ? AND key = ?'),
    claim: db.prepare(
      `INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint, state, owner, created_at) VALUES (@scope, @key, @fingerprint, 'running', @owner, @now)`,
    ),
    complete: db.prepare(
      "UPDATE idempotency_keys SET state = 'done', session_id = @sessionId, seq = @seq, payload = @payload WHERE scope = @scope AND key = @key AND owner = @owner AND state = 'running'",
    ),
    release: db.prepare("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND owner = ? AND state = 'running'"),
  };
  return {
    claim(request: IdempotencyRequest): Promise<IdempotencyClaim> {
      return write((): IdempotencyClaim => {
        statements.expire.run(request.now - IDEMPOTENCY_WINDOW_MS);
        const row = statements.read.get(request.scope, request.key);
        const free = !row || (row.state === 'running' && row.fingerprint === request.fingerprint && row.owner !== self && (row.owner === null || !alive(row.owner)));
        if (free) {
          statements.claim.run({ ...request, owner: self });
          return { state: 'claimed' };
        }
        if (row.fingerprint !== request.fingerprint) return { state: 'mismatch' };
        if (row.state !== 'done') return { state: 'running' };
        const result: IdempotencyResult = {
          ...(row.session_id !== null && row.seq !== null ? { turn: { sessionId: row.session_id, seq: row.seq } } : {}),
          ...(row.payload === null ? {} : { payload: JSON.parse(row.payload) as unknown }),
        };
        return { state: 'done', result };
      });
    },
    async complete(scope: string, key: string, result: IdempotencyResult): Promise<void> {
      await write(() =>
        statements.complete.run({
          scope,
          key,
          owner: self,
          sessionId: result.turn?.sessionId ?? null,
          seq: result.turn?.seq ?? null,
          payload: result.payload === undefined ? null : JSON.stringify(result.payload),
        }),
      );
    },
    async release(scope: string, key: string): Promise<void> {
      await write(() => statements.release.run(scope, key, self));
    },
  };
}
