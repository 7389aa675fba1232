/**
 * The session store on PostgreSQL, for several gateway replicas (and `moltbot` commands
 * beside them) sharing one database. Same interface and behaviour as the SQLite store:
 * a turn is two atomic writes (its idempotency key, when it has one, written with them);
 * `beginTurn` is one call of the database function
 * `begin_turn` (`migrations.ts`), which serialises starts per session under an advisory
 * transaction lock and refuses (`SessionConflict`) a turn whose history is stale or whose
 * session has a turn running on another live replica. Each replica holds an instance lock
 * (`liveness.ts`); running turns of dead replicas are interrupted by the next start in
 * their session and by a sweep every few seconds. A database that cannot be reached makes
 * calls fail with 503 `store_unavailable`; the pool reconnects by itself.
 */
import { randomUUID } from 'node:crypto';
import { listBounds, toSession, toTurn, outcomeColumns, type SessionRow, type TurnRow } from '../sqlite-rows.js';
import { IDEMPOTENCY_WINDOW_MS, SessionConflict, type BeginTurn, type SessionStore, type StoreEvents, type StoreHealth, type TurnIdempotency, type TurnOutcome, type TurnRef, type TurnWrite } from '../store.js';
import { DEFAULT_POOL_SIZE, SCHEMA_NAME, clientConfig, createPool, describeTarget, redactor, type PostgresStoreOptions } from './connection.js';
import { createPipelines } from './pipelines.js';
import { createDatabase, type Database } from './database.js';
import { describePgFailure, isConnectFailure, storeOpenFailure } from './errors.js';
import { createPgIdempotency, keyTakenFailure } from './idempotency.js';
import { holdPgInstanceLock, type PgLiveness } from './liveness.js';
import { LOCK } from './locks.js';
import { migratePostgres } from './migrate.js';
import { createPgPruner } from './prune.js';
import { statementsFor } from './queries.js';
import { createPgSweeper } from './sweep.js';
import { createPgAuthFailureCounter, type PgAuthCounterOptions } from './auth-failures.js';
import type { AuthFailureCounter } from '../../domain/auth-failure-counter.js';

export type { PostgresStoreOptions } from './connection.js';

export const DEFAULT_SWEEP_INTERVAL_MS = 5_000;
/** Pipelined connections at most (one per 4 of `poolSize`): a handful carries thousands of turns a second. */
const MAX_PIPELINES = 4;

/**
 * `poolSize` split: pipelined connections for single statements (turns, reads), the rest
 * pooled for transactions (sweep, prune; at least one), so a replica opens `poolSize`
 * connections (at least 2) plus its instance connection.
 */
function connectionSplit(poolSize = DEFAULT_POOL_SIZE): { pipelines: number; pooled: number } {
  const pipelines = Math.max(1, Math.min(MAX_PIPELINES, Math.floor(poolSize / 4)));
  return { pipelines, pooled: Math.max(1, poolSize - pipelines) };
}

/** What the PostgreSQL store adds for the gateway: shared failed-auth counters. */
export interface PostgresSessionStore extends SessionStore {
  /** Failed-auth counting shared by every replica on this database. */
  authFailureCounter(options: PgAuthCounterOptions): AuthFailureCounter;
  /** Runs one sweep now (tests; the store runs one every `sweepIntervalMs`). */
  sweep(): Promise<void>;
}

/**
 * Told about the store's connection to the database (for the gateway's log), and of turns
 * marked interrupted (`StoreEvents`): every marking is noted in `interrupted_turns`, and
 * the sweep of a listening replica takes them, whichever replica or command marked them,
 * so each is told to one replica, within a sweep interval.
 */
export interface PostgresStoreEvents extends StoreEvents {
  onUnavailable?: (message: string) => void;
  onRecovered?: () => void;
}

/** SQLSTATEs raised by `begin_turn` that mean `SessionConflict`, and their messages. */
const CONFLICTS: Record<string, string> = {
  MB001: 'the session changed since its history was read',
  MB002: 'another process is running a turn in the session',
};

function beginFailure(err: unknown): unknown {
  const conflict = CONFLICTS[(err as { code?: unknown }).code as string];
  return conflict === undefined ? err : new SessionConflict(conflict);
}

/**
 * Connects, migrates (once across replicas), takes this instance's lock and interrupts
 * turns left running by replicas that are gone. Failures are `StoreOpenError`s (exit 2)
 * naming host:port/database and never the password.
 */
export async function openPostgresStore(options: PostgresStoreOptions, events: PostgresStoreEvents = {}): Promise<PostgresSessionStore> {
  const schema = options.schema ?? 'public';
  if (!SCHEMA_NAME.test(schema)) throw storeOpenFailure('use the schema', describeTarget(options.url), new Error(`'${schema}' is not a plain lower-case identifier`), (t) => t);
  const redact = redactor(options.url);
  const target = describeTarget(options.url);
  const split = connectionSplit(options.poolSize);
  const pool = createPool(Object.assign({}, options, { poolSize: split.pooled }));
  let unavailableSince: number | undefined;
  const markUnavailable = (err: unknown): void => {
    if (unavailableSince !== undefined) return;
    unavailableSince = Date.now();
    events.onUnavailable?.(`PostgreSQL at ${target} is unavailable: ${describePgFailure(err, redact)}`);
  };
  // An idle pooled connection that breaks is reported here; without a listener it would end the process.
  pool.on('error', (err) => markUnavailable(err));
  const self = randomUUID();
  // Declared before use by the callbacks below; set once both exist.
  let checkRecovered = (): void => undefined;
  let liveness: PgLiveness;
  try {
    await migratePostgres(pool, schema);
    liveness = await holdPgInstanceLock(options, schema, self, (connected, err) => {
      if (!connected) markUnavailable(err ?? new Error('the instance connection closed'));
      else checkRecovered();
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    if ((err as Error).name === 'StoreOpenError') throw err;
    throw storeOpenFailure(isConnectFailure(err) ? 'connect to' : 'prepare the store in', target, err, redact);
  }

  const pipelines = createPipelines(split.pipelines, clientConfig(options, 'moltbot-gateway'));
  const db: Database = createDatabase(pool, pipelines, redact, markUnavailable, () => checkRecovered());
  checkRecovered = () => {
    if (unavailableSince === undefined || !db.reachable || !liveness.connected) return;
    unavailableSince = undefined;
    events.onRecovered?.();
  };
  const q = statementsFor(schema);
  /**
   * Transcripts with a turn of this replica between its start and its end, by count. A
   * running turn of this replica outside them is an orphan (its start was committed but
   * the answer lost with the connection): the sweep interrupts it, or no other replica
   * could take the session while this one lives.
   */
  const inFlight = new Map<string, number>();
  const track = (sessionId: string, delta: 1 | -1): void => {
    const n = (inFlight.get(sessionId) ?? 0) + delta;
    if (n > 0) inFlight.set(sessionId, n);
    else inFlight.delete(sessionId);
  };
  const sweeper = createPgSweeper(db, q, schema, liveness, options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, (sessionId) => inFlight.has(sessionId), events);
  try {
    await sweeper.run();
  } catch (err) {
    await liveness.close();
    await pipelines.close();
    await pool.end().catch(() => undefined);
    throw storeOpenFailure('recover interrupted turns in', target, err, redact);
  }
  sweeper.start();
  let closed = false;
  const open = (): void => {
    if (closed) throw new Error('the session store is closed');
  };

  const health = (): StoreHealth => (db.reachable && liveness.connected ? 'ok' : 'unavailable');

  /** A turn's start: one call of `begin_turn` (`begin_keyed_turn` with its idempotency key). */
  const begin = async (turn: BeginTurn): Promise<TurnRef> => {
    open();
    const { id, key, agentId, kind } = turn.session;
    const values = [
      id, key, agentId, kind, turn.newTranscript, turn.expected.sessionId ?? null, turn.expected.turns,
      turn.expected.lastStatus !== undefined, turn.expected.lastStatus ?? null, JSON.stringify(turn.input), turn.instructions ?? null, turn.startedAt, self,
    ];
    const claim = turn.idempotency;
    track(id, 1);
    try {
      const [row] = claim
        ? await db.query<{ seq: number }>(q.beginKeyedTurn, [
            ...values, claim.scope, claim.key, claim.fingerprint, claim.payload === undefined ? null : JSON.stringify(claim.payload), turn.startedAt - IDEMPOTENCY_WINDOW_MS,
          ])
        : await db.query<{ seq: number }>(q.beginTurn, values);
      return { sessionId: id, seq: (row as { seq: number }).seq };
    } catch (err) {
      track(id, -1);
      throw keyTakenFailure(beginFailure(err));
    }
  };

  /**
   * A turn's end, with its idempotency key's: one call of `finish_keyed_turn`. A finish
   * the database could not take is retried by the sweeper.
   */
  const finish = async (ref: TurnRef, outcome: TurnOutcome, claim: TurnIdempotency | undefined): Promise<void> => {
    open();
    const c = outcomeColumns(outcome);
    const values = [ref.sessionId, ref.seq, self, c.status, c.reply, c.replyOriginalBytes, c.finishReason, c.usage, c.error, c.endedAt, claim?.scope ?? null, claim?.key ?? null];
    try {
      await db.query(q.finishTurn, values);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'store_unavailable') sweeper.retryFinish(values);
      throw err;
    } finally {
      track(ref.sessionId, -1);
    }
  };

  const turnsOf = async (rows: SessionRow[]) => {
    if (rows.length === 0) return [];
    const turns = await db.query<TurnRow>(q.turnsOf, [rows.map((row) => row.id)]);
    return rows.map((row) => ({ session: toSession(row), turns: turns.filter((t) => t.session_id === row.id).map(toTurn) }));
  };

  const idempotency = createPgIdempotency(db, q.schema, self);
  const prune = createPgPruner(db, q, schema);

  return {
    async currentSession(agentId, key) {
      open();
      const [row] = await db.query<SessionRow>(q.current, [key, agentId]);
      return row ? toSession(row) : undefined;
    },
    async recentTurns(sessionId, limit) {
      open();
      return (await db.query<TurnRow>(q.recentOk, [sessionId, limit])).map(toTurn);
    },
    beginTurn(turn): TurnWrite {
      const started = begin(turn);
      return {
        started,
        // One round trip for the start, one for the end (the database functions): there is
        // no queued start to merge the outcome into, as on SQLite.
        async finish(outcome) {
          await finish(await started, outcome, turn.idempotency);
        },
      };
    },
    async runningElsewhere(agentId, key) {
      open();
      const [row] = await db.query<{ live: boolean }>(q.runningElsewhere, [key, agentId, self]);
      return row?.live === true;
    },
    async loadTurns(agentId, key) {
      open();
      const [row] = await db.query<SessionRow>(q.current, [key, agentId]);
      return row ? (await db.query<TurnRow>(q.allTurns, [row.id])).map(toTurn) : [];
    },
    async listSessions(options = {}) {
      open();
      const params = [...listBounds(options), options.limit ?? null];
      const rows = options.agentId === undefined ? await db.query<SessionRow>(q.list, params) : await db.query<SessionRow>(q.listByAgent, [...params, options.agentId]);
      return rows.map(toSession);
    },
    async sessionHistory(key, filter = {}) {
      open();
      const rows =
        filter.agentId === undefined ? await db.query<SessionRow>(q.byKey, [key]) : await db.query<SessionRow>(q.byKeyAndAgent, [key, filter.agentId]);
      return turnsOf(rows);
    },
    async getTurn(ref) {
      open();
      const [row] = await db.query<TurnRow>(q.oneTurn, [ref.sessionId, ref.seq]);
      return row ? toTurn(row) : undefined;
    },
    async resetSession(session, at) {
      open();
      await db.transaction(async (run) => {
        await run(q.sessionLock, [LOCK.session, `${session.agentId}\n${session.key}`]);
        await run(q.insertEmptySession, [session.id, session.key, session.agentId, session.kind, at]);
      });
      return Object.assign({}, session, { createdAt: at, updatedAt: at, turns: 0, lastStatus: null });
    },
    async deleteSession(agentId, key) {
      open();
      return db.transaction(async (run) => {
        await run(q.sessionLock, [LOCK.session, `${agentId}\n${key}`]);
        const [live] = await run<{ live: boolean | null }>(q.liveInSession, [key, agentId, self, Date.now()]);
        if (live?.live === true) throw new SessionConflict('another process is running a turn in the session');
        return (await run(q.deleteSession, [key, agentId])).length > 0;
      });
    },
    lookupIdempotencyKey: (request) => (open(), idempotency.lookup(request)),
    prune: (pruneOptions) => (open(), prune(pruneOptions)),
    health,
    sweep: () => sweeper.run(),
    authFailureCounter: (counterOptions) => createPgAuthFailureCounter(db, q.schema, counterOptions),
    async close() {
      if (closed) return;
      closed = true;
      await sweeper.stop();
      await liveness.close();
      await pipelines.close();
      await pool.end();
    },
  };
}

