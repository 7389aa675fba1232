/**
 * The PostgreSQL store's statements, for one schema. Hot ones are named (prepared once
 * per connection). Row shapes are those of `sqlite-rows.ts` (the same column names), so
 * both stores build their `SessionInfo` and `Turn` values in one place.
 */
import { quoteIdentifier } from './connection.js';

export interface Statement {
  name?: string;
  text: string;
}

const TURN_COLUMNS =
  't.session_id, s.key, s.agent_id, t.seq, t.status, t.input, t.reply, t.reply_original_bytes, t.instructions, t.finish_reason, t.usage, t.error, t.started_at, t.ended_at';

export function statementsFor(schema: string) {
  const s = quoteIdentifier(schema);
  // Prepared statement names are per connection, and each store has its own pool.
  const named = (name: string, text: string): Statement => ({ name: `moltbot_${name}`, text });
  return {
    current: named('current', `SELECT * FROM ${s}.sessions WHERE key = $1 AND agent_id = $2 ORDER BY n DESC LIMIT 1`),
    byId: named('by_id', `SELECT * FROM ${s}.sessions WHERE id = $1`),
    recentOk: named(
      'recent_ok',
      `SELECT * FROM (SELECT ${TURN_COLUMNS} FROM ${s}.turns t JOIN ${s}.sessions s ON s.id = t.session_id
        WHERE t.session_id = $1 AND t.status = 'ok' ORDER BY t.seq DESC LIMIT $2) recent ORDER BY seq`,
    ),
    allTurns: named('all_turns', `SELECT ${TURN_COLUMNS} FROM ${s}.turns t JOIN ${s}.sessions s ON s.id = t.session_id WHERE t.session_id = $1 ORDER BY t.seq`),
    oneTurn: named('one_turn', `SELECT ${TURN_COLUMNS} FROM ${s}.turns t JOIN ${s}.sessions s ON s.id = t.session_id WHERE t.session_id = $1 AND t.seq = $2`),
    turnsOf: { text: `SELECT ${TURN_COLUMNS} FROM ${s}.turns t JOIN ${s}.sessions s ON s.id = t.session_id WHERE t.session_id = ANY($1) ORDER BY t.session_id, t.seq` },
    byKey: { text: `SELECT * FROM ${s}.sessions WHERE key = $1 ORDER BY agent_id, n` },
    byKeyAndAgent: { text: `SELECT * FROM ${s}.sessions WHERE key = $1 AND agent_id = $2 ORDER BY n` },
    // A page after ($1, $2) in (updated_at, id) order, down the sessions_by_update index; LIMIT NULL is no limit.
    list: { text: `SELECT * FROM ${s}.sessions WHERE (updated_at, id) < ($1, $2) ORDER BY updated_at DESC, id DESC LIMIT $3` },
    listByAgent: { text: `SELECT * FROM ${s}.sessions WHERE (updated_at, id) < ($1, $2) AND agent_id = $4 ORDER BY updated_at DESC, id DESC LIMIT $3` },
    beginTurn: named('begin_turn', `SELECT ${s}.begin_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) AS seq`),
    beginKeyedTurn: named(
      'begin_keyed_turn',
      `SELECT ${s}.begin_keyed_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) AS seq`,
    ),
    // Settles the turn's idempotency key too ($11 scope, $12 key; NULL without one).
    finishTurn: named('finish_keyed_turn', `SELECT ${s}.finish_keyed_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS changed`),
    runningElsewhere: named(
      'running_elsewhere',
      `SELECT ${s}.live_turn_elsewhere(cur.id, $3, false, 0) AS live
       FROM (SELECT id FROM ${s}.sessions WHERE key = $1 AND agent_id = $2 ORDER BY n DESC LIMIT 1) cur`,
    ),
    // Reset and delete, under the session's start lock (the one `begin_turn` takes).
    sessionLock: { text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))' },
    insertEmptySession: {
      text: `INSERT INTO ${s}.sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES ($1, $2, $3, $4, $5, $5, 0, NULL)`,
    },
    liveInSession: {
      text: `SELECT bool_or(${s}.live_turn_elsewhere(id, $3, true, $4)) AS live FROM ${s}.sessions WHERE key = $1 AND agent_id = $2`,
    },
    deleteSession: { text: `DELETE FROM ${s}.sessions WHERE key = $1 AND agent_id = $2 RETURNING id` },
    interruptDead: { text: `SELECT ${s}.interrupt_dead($1, $2) AS interrupted` },
    ownRunning: { text: `SELECT session_id, seq FROM ${s}.turns WHERE status = 'running' AND owner = $1` },
    // Turns marked interrupted (by anyone) not yet counted: taken by the sweep of a replica that counts.
    takeInterrupted: { text: `DELETE FROM ${s}.interrupted_turns RETURNING agent_id, session_id, seq` },
    interruptOne: { text: `SELECT ${s}.interrupt_turn($1, $2, $3)` },
    trySweepLock: { text: 'SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked' },
    // Retention: a slice of the sessions table in creation order, then deletes that re-check.
    lastN: { text: `SELECT coalesce(max(n), 0) AS n FROM ${s}.sessions` },
    scan: { text: `SELECT n, id, kind, agent_id, updated_at, turns FROM ${s}.sessions WHERE n > $1 AND n <= $2 ORDER BY n LIMIT $3` },
    prune: {
      text: `DELETE FROM ${s}.sessions d USING unnest($1::text[], $2::bigint[]) AS c(id, updated_at)
        WHERE d.id = c.id AND d.updated_at = c.updated_at
          AND NOT EXISTS (SELECT 1 FROM ${s}.turns r WHERE r.session_id = d.id AND r.status = 'running')
        RETURNING d.turns`,
    },
    schema: s,
  };
}

export type PgStatements = ReturnType<typeof statementsFor>;
