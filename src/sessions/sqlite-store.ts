/**
 * The embedded session store: SQLite (better-sqlite3) in WAL mode. Each write is atomic
 * (writes from one event-loop turn share a transaction: `group-commit.ts`), so a crash
 * leaves either the whole write or none of it. Several processes on one machine may
 * share the file (`moltbot agent` beside a gateway).
 */
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { WAL_KEPT_BYTES, createCheckpointer, type Checkpointer } from './checkpointer.js';
import { createGroupCommit } from './group-commit.js';
import { holdInstanceLock } from './instance-lock-files.js';
import { soleInstance, type InstanceLiveness } from './instance-liveness.js';
import { createSqliteIdempotency } from './sqlite-idempotency.js';
import { createSqliteInterrupts } from './sqlite-interrupts.js';
import { createPruner } from './sqlite-prune.js';
import { migrate } from './sqlite-schema.js';
import { LIST_SQL, TURN_COLUMNS, listBounds, outcomeColumns, toSession, toTurn, type SessionRow, type TurnRow } from './sqlite-rows.js';
import { storageFailure } from './storage-errors.js';
import { StoreOpenError, preparePrivateFiles, storeOpenError } from './store-files.js';
import { SessionConflict, type BeginTurn, type SessionStore, type StoreEvents, type TurnIdempotency, type TurnOutcome, type TurnRef, type TurnWrite } from './store.js';

export interface SqliteStoreOptions extends StoreEvents {
  /**
   * Checkpoint the WAL from a worker thread instead of inside commits (a long-running
   * gateway). Off by default: the CLI's short-lived processes let SQLite do it.
   */
  backgroundCheckpoints?: boolean;
  /**
   * Largest the database file may grow, in bytes (SQLite's `max_page_count`); past it a
   * write fails as `storage_full`, as on a full disk. Unlimited when absent.
   */
  maxBytes?: number;
  /** Told every SQL statement the connection runs, as run (a diagnostic: what opening a store costs). */
  onStatement?: (sql: string) => void;
}

/**
 * How long a write waits for another process's write lock (`moltbot agent`, `sessions
 * prune`) before failing. Their transactions last milliseconds; the wait blocks this
 * process's event loop, which is why every writer keeps its transactions short.
 */
export const BUSY_TIMEOUT_MS = 10_000;

/** Opens the connection and brings the schema up to date; failures are `StoreOpenError`s. */
function openDatabase(path: string, options: SqliteStoreOptions): Database.Database {
  if (path !== ':memory:') preparePrivateFiles(path);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, options.onStatement ? { verbose: (sql) => options.onStatement?.(String(sql)) } : {});
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Only possible before the first table: a new store can give pruned space back (sqlite-prune.ts).
    if (db.pragma('page_count', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash (SIGKILL); only power loss may drop the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // A WAL that was restarted is cut back to this size at the next commit (see checkpointer.ts).
    db.pragma(`journal_size_limit = ${WAL_KEPT_BYTES}`);
    if (options.maxBytes !== undefined) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxBytes / pageSize))}`);
    }
    migrate(db, path);
    return db;
  } catch (err) {
    db?.close();
    throw err instanceof StoreOpenError ? err : storeOpenError('open the session database', path, err);
  }
}

/**
 * Opens (creating if needed) the store at `path`; `':memory:'` gives a private in-memory
 * one. The directory is made private (0700) and the files 0600. Throws `StoreOpenError`
 * when the store cannot be opened for writing.
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SessionStore {
  const db = openDatabase(path, options);
  let liveness: InstanceLiveness;
  try {
    liveness = path === ':memory:' ? soleInstance(randomUUID()) : holdInstanceLock(join(dirname(path), 'instances'));
  } catch (err) {
    db.close();
    throw err;
  }

  const statements = {
    current: db.prepare<[string, string], SessionRow>('SELECT * FROM sessions WHERE key = ? AND agent_id = ? ORDER BY n DESC LIMIT 1'),
    byKey: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE key = ? ORDER BY agent_id, n'),
    byKeyAndAgent: db.prepare<[string, string], SessionRow>('SELECT * FROM sessions WHERE key = ? AND agent_id = ? ORDER BY n'),
    list: db.prepare<[number, string, number], SessionRow>(LIST_SQL.all),
    listByAgent: db.prepare<[number, string, string, number], SessionRow>(LIST_SQL.byAgent),
    // No join: one transcript's turns share its key and agent, read once (the join per row cost 100 µs for 50 turns).
    recentOk: db.prepare<[string, number], Omit<TurnRow, 'key' | 'agent_id'>>(
      `SELECT session_id, seq, status, input, reply, reply_original_bytes, instructions, finish_reason, usage, error, started_at, ended_at
       FROM turns WHERE session_id = ? AND status = 'ok' ORDER BY seq DESC LIMIT ?`,
    ),
    byId: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id = ?'),
    oneTurn: db.prepare<[string, number], TurnRow>(`SELECT ${TURN_COLUMNS} FROM turns t JOIN sessions s ON s.id = t.session_id WHERE t.session_id = ? AND t.seq = ?`),
    allTurns: db.prepare<[string], TurnRow>(`SELECT ${TURN_COLUMNS} FROM turns t JOIN sessions s ON s.id = t.session_id WHERE t.session_id = ? ORDER BY t.seq`),
    insertSession: db.prepare(
      'INSERT INTO sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES (@id, @key, @agentId, @kind, @createdAt, @at, 1, @status)',
    ),
    insertEmptySession: db.prepare(
      'INSERT INTO sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES (@id, @key, @agentId, @kind, @at, @at, 0, NULL)',
    ),
    deleteTurnsOf: db.prepare<[string]>('DELETE FROM turns WHERE session_id = ?'),
    deleteSessionRow: db.prepare<[string]>('DELETE FROM sessions WHERE id = ?'),
    // The partial index holds running turns only; the planner would rather walk every turn of the transcript by primary key.
    runningIn: db.prepare<[string], { seq: number; owner: string | null }>("SELECT seq, owner FROM turns INDEXED BY turns_running WHERE session_id = ? AND status = 'running'"),
    insertTurn: db.prepare(
      `INSERT INTO turns (session_id, seq, status, owner, input, instructions, started_at)
       VALUES (@sessionId, @seq, 'running', @owner, @input, @instructions, @startedAt)`,
    ),
    insertFinishedTurn: db.prepare(
      `INSERT INTO turns (session_id, seq, status, owner, input, instructions, reply, reply_original_bytes, finish_reason, usage, error, started_at, ended_at)
       VALUES (@sessionId, @seq, @status, NULL, @input, @instructions, @reply, @replyOriginalBytes, @finishReason, @usage, @error, @startedAt, @endedAt)`,
    ),
    touchSession: db.prepare('UPDATE sessions SET turns = MAX(turns, @seq), updated_at = @at, last_status = @status WHERE id = @sessionId'),
    finishTurn: db.prepare(
      `UPDATE turns SET status = @status, owner = NULL, reply = @reply, reply_original_bytes = @replyOriginalBytes, finish_reason = @finishReason, usage = @usage, error = @error, ended_at = @endedAt
       WHERE session_id = @sessionId AND seq = @seq AND status = 'running'`,
    ),
  };

  // Running turns of instances that are gone (crash, SIGKILL, power loss) are marked before the store is used.
  const interrupts = createSqliteInterrupts(db, liveness, options);
  try {
    interrupts.recover();
  } catch (err) {
    liveness.close();
    db.close();
    throw storeOpenError('recover interrupted turns in', path, err);
  }

  /**
   * Whether a turn of transcript `sessionId` (agent `agentId`'s) is running under another
   * live instance. With `interruptDead`, running turns of instances that are gone are
   * marked `interrupted` on the way (only inside a write transaction).
   */
  const liveTurnElsewhere = (agentId: string, sessionId: string, interruptDead: boolean): boolean => {
    let live = false;
    for (const { seq, owner } of statements.runningIn.all(sessionId)) {
      if (owner === liveness.self) continue;
      if (owner !== null && liveness.instanceAlive(owner)) live = true;
      else if (interruptDead) interrupts.interrupt(agentId, sessionId, seq);
    }
    return live;
  };

  const idempotency = createSqliteIdempotency(db, liveness.self, (id) => liveness.instanceAlive(id));

  /**
   * Writes a turn's start, or with `outcome` the whole turn at once (start and end in one
   * write), after checking that the session is as the turn read it (`BeginTurn.expected`);
   * runs inside a group commit's `BEGIN IMMEDIATE` transaction (`group-commit.ts`), so no
   * other process can write between the check and the write.
   */
  const begin = (turn: BeginTurn, outcome?: TurnOutcome): TurnRef => {
    const { id: sessionId, key, agentId, kind } = turn.session;
    const { expected } = turn;
    const status = outcome?.status ?? 'running';
    const at = outcome?.endedAt ?? turn.startedAt;
    // The key first: a repeat is refused for its key, never made to wait for its session.
    if (turn.idempotency) idempotency.check(turn.idempotency, turn.startedAt);
    // A stateless key was minted for this turn: nobody else can know it.
    if (kind !== 'stateless') {
      const current = statements.current.get(key, agentId);
      const changed =
        current?.id !== expected.sessionId ||
        (current?.turns ?? 0) !== expected.turns ||
        (expected.lastStatus !== undefined && (current?.last_status ?? null) !== expected.lastStatus);
      if (changed) {
        throw new SessionConflict('the session changed since its history was read');
      }
      if (current && liveTurnElsewhere(agentId, current.id, true)) throw new SessionConflict('another process is running a turn in the session');
    }
    let seq = 1;
    if (turn.newTranscript) {
      // A new transcript's first turn is seq 1: no read-back, one session write.
      statements.insertSession.run({ id: sessionId, key, agentId, kind, createdAt: turn.startedAt, at, status });
    } else {
      if (kind === 'stateless' || sessionId !== expected.sessionId) throw new Error(`turn continues transcript ${sessionId}, not the session's current one`);
      seq = expected.turns + 1;
    }
    if (turn.idempotency) {
      // Claimed with the start, in its transaction: a taken key wrote nothing (above).
      idempotency.claim(turn.idempotency, { sessionId, seq }, turn.startedAt);
      if (outcome) idempotency.settle(turn.idempotency, outcome.status === 'ok');
    }
    const input = JSON.stringify(turn.input);
    const instructions = turn.instructions ?? null;
    const { startedAt } = turn;
    if (outcome) statements.insertFinishedTurn.run({ sessionId, seq, input, instructions, startedAt, ...outcomeColumns(outcome) });
    else statements.insertTurn.run({ sessionId, seq, input, instructions, startedAt, owner: liveness.self });
    if (!turn.newTranscript) statements.touchSession.run({ sessionId, seq, at, status });
    return { sessionId, seq };
  };

  /** Writes a turn's outcome and settles its idempotency key; runs inside a group commit's transaction. */
  const finish = (ref: TurnRef, outcome: TurnOutcome, key: TurnIdempotency | undefined): void => {
    const changed = statements.finishTurn.run({ sessionId: ref.sessionId, seq: ref.seq, ...outcomeColumns(outcome) }).changes;
    if (changed === 1) statements.touchSession.run({ sessionId: ref.sessionId, seq: ref.seq, at: outcome.endedAt, status: outcome.status });
    if (key) idempotency.settle(key, outcome.status === 'ok');
  };

  let checkpointer: Checkpointer | undefined;
  const commits = createGroupCommit(db, { committed: (writes) => checkpointer?.committed(writes), failure: storageFailure, settled: interrupts.settled });
  if (options.backgroundCheckpoints && path !== ':memory:') {
    checkpointer = createCheckpointer(path, { holdWrites: commits.hold, fallBack: () => db.pragma('wal_autocheckpoint = 1000') });
    db.pragma('wal_autocheckpoint = 0');
  }
  const prune = createPruner(db, commits.whenOpen, async () => checkpointer?.catchUp());
  const write = <T>(run: () => T): Promise<T> => commits.enqueue(run).done;

  return {
    async currentSession(agentId, key) {
      const row = statements.current.get(key, agentId);
      return row ? toSession(row) : undefined;
    },
    async recentTurns(sessionId, limit) {
      const session = statements.byId.get(sessionId);
      if (!session) return [];
      return statements.recentOk
        .all(sessionId, limit)
        .reverse()
        .map((row) => toTurn({ key: session.key, agent_id: session.agent_id, ...row }));
    },
    async runningElsewhere(agentId, key) {
      const current = statements.current.get(key, agentId);
      return current !== undefined && liveTurnElsewhere(agentId, current.id, false);
    },
    beginTurn(turn): TurnWrite {
      const { item, done } = commits.enqueue(() => begin(turn));
      return {
        started: done,
        async finish(outcome) {
          if (!item.taken) {
            // The start is not written yet: write the whole turn in its place, in one commit.
            item.write = () => begin(turn, outcome);
            await done;
            return;
          }
          const begun = await done;
          await write(() => finish(begun, outcome, turn.idempotency));
        },
      };
    },
    async loadTurns(agentId, key) {
      const row = statements.current.get(key, agentId);
      return row ? statements.allTurns.all(row.id).map(toTurn) : [];
    },
    async listSessions(options = {}) {
      const [updatedAt, id] = listBounds(options);
      const limit = options.limit ?? -1;
      const rows = options.agentId === undefined ? statements.list.all(updatedAt, id, limit) : statements.listByAgent.all(updatedAt, id, options.agentId, limit);
      return rows.map(toSession);
    },
    async sessionHistory(key, filter = {}) {
      const rows = filter.agentId === undefined ? statements.byKey.all(key) : statements.byKeyAndAgent.all(key, filter.agentId);
      return rows.map((row) => ({ session: toSession(row), turns: statements.allTurns.all(row.id).map(toTurn) }));
    },
    async resetSession(session, at) {
      await write(() => statements.insertEmptySession.run(Object.assign({}, session, { at })));
      return Object.assign({}, session, { createdAt: at, updatedAt: at, turns: 0, lastStatus: null });
    },
    deleteSession(agentId, key) {
      return write(() => {
        const rows = statements.byKeyAndAgent.all(key, agentId);
        if (rows.some((row) => liveTurnElsewhere(agentId, row.id, true))) throw new SessionConflict('another process is running a turn in the session');
        for (const row of rows) {
          statements.deleteTurnsOf.run(row.id);
          statements.deleteSessionRow.run(row.id);
        }
        return rows.length > 0;
      });
    },
    async getTurn(ref) {
      const row = statements.oneTurn.get(ref.sessionId, ref.seq);
      return row ? toTurn(row) : undefined;
    },
    async lookupIdempotencyKey(request) {
      return idempotency.lookup(request);
    },
    // The file is on this machine: it is there, or the process could not have opened it.
    health: () => 'ok',
    prune,
    async close() {
      commits.flush();
      await checkpointer?.close();
      if (db.open) db.close();
      liveness.close();
    },
  };
}
