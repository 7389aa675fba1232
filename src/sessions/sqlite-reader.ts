/**
 * `moltbot sessions list` on the SQLite store without opening it as a writer: a read-only
 * connection, one query. Opening the store (`openSqliteStore`) makes its files private,
 * sets WAL pragmas, checks migrations, takes an instance lock file and runs a write
 * transaction to mark dead instances' turns interrupted; a listing needs none of it, and
 * beside a busy gateway that transaction waited for the write lock.
 *
 * The answer is the store's own whenever it can be read as is: when it cannot (no store
 * yet, a schema older or newer than this code's, a file that will not open read-only) or
 * a listed transcript shows a running turn (which may belong to a dead process: only the
 * writer's open marks those), the caller opens the store as before.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { SCHEMA_VERSION } from './sqlite-schema.js';
import { LIST_SQL, listBounds, toSession, type SessionRow } from './sqlite-rows.js';
import type { ListSessionsOptions, SessionInfo } from './store.js';

/** `listSessions(options)` read from the store at `path` without writing; undefined when the store must be opened. */
export function listSessionsReadOnly(path: string, options: ListSessionsOptions): SessionInfo[] | undefined {
  if (!existsSync(path)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    if (db.pragma('user_version', { simple: true }) !== SCHEMA_VERSION) return undefined;
    const [updatedAt, id] = listBounds(options);
    const limit = options.limit ?? -1;
    const rows =
      options.agentId === undefined
        ? db.prepare<[number, string, number], SessionRow>(LIST_SQL.all).all(updatedAt, id, limit)
        : db.prepare<[number, string, string, number], SessionRow>(LIST_SQL.byAgent).all(updatedAt, id, options.agentId, limit);
    if (rows.some((row) => row.last_status === 'running')) return undefined;
    return rows.map(toSession);
  } catch {
    // Whatever it was, the writer's open reports it in words (StoreOpenError).
    return undefined;
  } finally {
    db?.close();
  }
}
