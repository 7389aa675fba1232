/**
 * The SQLite store's schema as numbered migrations, applied in order and tracked in
 * `PRAGMA user_version`. A store is migrated in place when it opens: each migration runs
 * in its own `BEGIN IMMEDIATE` transaction that first re-reads the version, so two
 * processes opening an old store at once migrate it once. Migrations are append-only:
 * a released one never changes; a change is a new entry at the end.
 */
import type { Database } from 'better-sqlite3';
import { StoreOpenError } from './store-files.js';

export interface Migration {
  /** 1, 2, 3, ...: the `user_version` a store has once this migration ran. */
  version: number;
  /** What it does, for the reader. */
  name: string;
  /** The schema change, inside the migration's transaction. */
  up(db: Database): void;
  /**
   * Runs with foreign-key enforcement off (a table rebuild: SQLite's 12-step ALTER),
   * checked with `foreign_key_check` before the commit.
   */
  rebuildsTables?: boolean;
  /**
   * Work that cannot run in a transaction (VACUUM), run before it. Must be idempotent:
   * it runs again if the process dies before the version is recorded.
   */
  outsideTransaction?(db: Database): void;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // The schema stores were created with before migrations were numbered (user_version 0).
    name: 'baseline: sessions and turns',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS sessions (
          id TEXT PRIMARY KEY,
          key TEXT NOT NULL,
          agent_id TEXT NOT NULL,
          kind TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          turns INTEGER NOT NULL DEFAULT 0,
          last_status TEXT
        );
        CREATE INDEX IF NOT EXISTS sessions_by_key ON sessions (key);
        -- No index on (agent_id, updated_at): every turn moved its entry (10 µs of a 60 µs commit).
        DROP INDEX IF EXISTS sessions_by_agent;
        CREATE TABLE IF NOT EXISTS turns (
          session_id TEXT NOT NULL REFERENCES sessions (id),
          seq INTEGER NOT NULL,
          status TEXT NOT NULL,
          owner_pid INTEGER,
          input TEXT NOT NULL,
          reply TEXT,
          instructions TEXT,
          finish_reason TEXT,
          usage TEXT,
          error TEXT,
          started_at INTEGER NOT NULL,
          ended_at INTEGER,
          PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID;
        -- Only the running turns (a handful): found at start-up without scanning every turn.
        CREATE INDEX IF NOT EXISTS turns_running ON turns (session_id, seq) WHERE status = 'running';
        DROP INDEX IF EXISTS turns_by_status;
      `);
    },
  },
  {
    version: 2,
    // A running turn names the instance (per-boot id, see instance-liveness.ts) running it,
    // not its PID. Turns left running under a PID have no owner: the next open interrupts them.
    name: 'turns.owner: the instance running a turn, replacing owner_pid',
    up(db) {
      db.exec('ALTER TABLE turns ADD COLUMN owner TEXT; ALTER TABLE turns DROP COLUMN owner_pid;');
    },
  },
  {
    version: 3,
    // A session is the pair (agent, key): looked up by both. `n` is the creation order made
    // explicit (INTEGER PRIMARY KEY), since VACUUM may renumber an implicit rowid and a
    // key's newest transcript is its current one. An `agent:<id>:` prefix is stored in
    // lower case, as requests now canonicalise it.
    name: 'sessions scoped by (agent, key), explicit creation order, canonical agent prefixes',
    rebuildsTables: true,
    up(db) {
      db.exec(`
        CREATE TABLE sessions_v3 (
          n INTEGER PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          key TEXT NOT NULL,
          agent_id TEXT NOT NULL,
          kind TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          turns INTEGER NOT NULL DEFAULT 0,
          last_status TEXT
        );
        INSERT INTO sessions_v3 (n, id, key, agent_id, kind, created_at, updated_at, turns, last_status)
          SELECT rowid, id,
            CASE WHEN lower(substr(key, 1, 6)) = 'agent:' AND lower(substr(key, 7, length(agent_id) + 1)) = agent_id || ':'
              THEN 'agent:' || agent_id || substr(key, 7 + length(agent_id)) ELSE key END,
            agent_id, kind, created_at, updated_at, turns, last_status
          FROM sessions ORDER BY rowid;
        DROP TABLE sessions;
        ALTER TABLE sessions_v3 RENAME TO sessions;
        -- Serves (key, agent) lookups, and a key's transcripts across agents (\`sessions show\`).
        CREATE INDEX sessions_by_key_agent ON sessions (key, agent_id);
      `);
    },
  },
  {
    version: 4,
    // Pages freed by pruning are given back to the file system (`PRAGMA incremental_vacuum`).
    // A new store is created so (openSqliteStore sets it before the first table); an older
    // one is rebuilt once, which VACUUM alone can do.
    name: 'incremental auto-vacuum',
    up() {},
    outsideTransaction(db) {
      if (db.pragma('auto_vacuum', { simple: true }) === 2) return;
      db.pragma('auto_vacuum = INCREMENTAL');
      db.exec('VACUUM');
    },
  },
  {
    version: 5,
    // A reply larger than `session.maxStoredReplyBytes` is stored cut: its size before.
    name: 'turns.reply_original_bytes',
    up(db) {
      db.exec('ALTER TABLE turns ADD COLUMN reply_original_bytes INTEGER');
    },
  },
  {
    version: 6,
    // Idempotency keys of requests (HTTP `Idempotency-Key`), remembered for 10 minutes.
    name: 'idempotency_keys',
    up(db) {
      db.exec(`
        CREATE TABLE idempotency_keys (
          scope TEXT NOT NULL,
          key TEXT NOT NULL,
          fingerprint TEXT NOT NULL,
          state TEXT NOT NULL,
          owner TEXT,
          session_id TEXT,
          seq INTEGER,
          payload TEXT,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (scope, key)
        ) WITHOUT ROWID;
        CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
      `);
    },
  },
  {
    version: 7,
    // `sessions list` a page at a time, most recently updated first, on any store size
    // (a sort of every session took seconds on a million). Each turn moves its
    // transcript's entry, to the right-hand end of the index.
    name: 'sessions_by_update: pages of the session list',
    up(db) {
      db.exec('CREATE INDEX sessions_by_update ON sessions (updated_at, id)');
    },
  },
  {
    version: 8,
    // moltbot_runs_total{status="interrupted"}: a turn marked by a process that does not
    // count runs (`moltbot sessions`, `moltbot agent`) waits here for the next gateway.
    name: 'interrupted_turns: turns marked interrupted, until a process that counts takes them',
    up(db) {
      db.exec('CREATE TABLE interrupted_turns (session_id TEXT NOT NULL, seq INTEGER NOT NULL, agent_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (session_id, seq))');
    },
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

const userVersion = (db: Database): number => db.pragma('user_version', { simple: true }) as number;

/**
 * Brings the store at `path` up to `SCHEMA_VERSION`. Refuses (StoreOpenError) a store
 * written by a newer version, whose schema this code does not know.
 */
export function migrate(db: Database, path: string): void {
  const found = userVersion(db);
  if (found > SCHEMA_VERSION) {
    throw new StoreOpenError(
      `session store: ${path} has schema version ${found}, newer than this moltbot understands (${SCHEMA_VERSION}); run a moltbot at least as new as the one that wrote it.`,
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= found) continue;
    migration.outsideTransaction?.(db);
    // Only outside a transaction does this pragma take effect.
    if (migration.rebuildsTables) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        // Another process may have migrated since `found` was read.
        if (userVersion(db) >= migration.version) return;
        migration.up(db);
        if (migration.rebuildsTables && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new Error(`migration ${migration.version} (${migration.name}) broke a foreign key`);
        }
        db.pragma(`user_version = ${migration.version}`);
      }).immediate();
    } finally {
      if (migration.rebuildsTables) db.pragma('foreign_keys = ON');
    }
  }
}

/**
 * The migrations a store at `path` has not had yet (`moltbot sessions migrate --dry-run`),
 * read without changing it; all of them when there is no store yet.
 */
export function pendingSqliteMigrations(db: Database | undefined): Migration[] {
  const found = db ? userVersion(db) : 0;
  return MIGRATIONS.filter((migration) => migration.version > found);
}
