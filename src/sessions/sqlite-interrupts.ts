/**
 * Marking running turns of dead instances `interrupted` on SQLite, and telling the
 * store's opener (`StoreEvents.onInterrupted`) of each such turn once its marking is
 * committed. Markings happen inside transactions that may still roll back (a group
 * commit's batch retried write by write, a turn refused after it marked one): they are
 * held until the transaction settles, then told or dropped. A store opened without a
 * listener (`moltbot sessions`, `moltbot agent`) notes its markings in `interrupted_turns`
 * instead, in the same transaction; the next store opened with one takes them at open.
 */
import type { Database } from 'better-sqlite3';
import type { InstanceLiveness } from './instance-liveness.js';
import type { InterruptedTurn, StoreEvents } from './store.js';

export interface SqliteInterrupts {
  /** Marks a running turn `interrupted` (inside a write transaction). */
  interrupt(agentId: string, sessionId: string, seq: number): void;
  /**
   * At open, in a transaction of its own: marks every running turn of an instance that is
   * gone, and with a listener takes the turns other stores noted.
   */
  recover(): void;
  /** The write transaction the markings were made in committed (told now) or rolled back (dropped). */
  settled(committed: boolean): void;
}

type Row = { session_id: string; seq: number; agent_id: string };

export function createSqliteInterrupts(db: Database, liveness: InstanceLiveness, events: StoreEvents): SqliteInterrupts {
  const { onInterrupted } = events;
  const statements = {
    running: db.prepare<[], Row & { owner: string | null }>(
      "SELECT turns.session_id, turns.seq, turns.owner, sessions.agent_id FROM turns INDEXED BY turns_running JOIN sessions ON sessions.id = turns.session_id WHERE turns.status = 'running'",
    ),
    interrupt: db.prepare("UPDATE turns SET status = 'interrupted', owner = NULL, ended_at = @at WHERE session_id = @sessionId AND seq = @seq AND status = 'running'"),
    interruptSession: db.prepare("UPDATE sessions SET last_status = 'interrupted' WHERE id = @sessionId AND last_status = 'running'"),
    note: db.prepare('INSERT OR IGNORE INTO interrupted_turns (session_id, seq, agent_id, at) VALUES (@sessionId, @seq, @agentId, @at)'),
    take: db.prepare<[], Row>('DELETE FROM interrupted_turns RETURNING session_id, seq, agent_id'),
  };
  /** Marked in the transaction under way, not yet told. */
  let marked: InterruptedTurn[] = [];

  const interrupt = (agentId: string, sessionId: string, seq: number): void => {
    const at = Date.now();
    if (statements.interrupt.run({ at, sessionId, seq }).changes === 0) return;
    statements.interruptSession.run({ sessionId });
    if (onInterrupted) marked.push({ agentId, sessionId, seq });
    else statements.note.run({ sessionId, seq, agentId, at });
  };

  const settled = (committed: boolean): void => {
    if (marked.length === 0) return;
    const turns = marked;
    marked = [];
    if (!committed) return;
    try {
      onInterrupted?.(turns);
    } catch {
      // Told from inside a group commit's flush: a throwing listener must not strand the writes it committed.
    }
  };

  // Turns left `running` by an instance that is gone (crash, SIGKILL, power loss) were cut
  // short: marked at once, however recently that instance died.
  const recoverAll = db.transaction(() => {
    if (onInterrupted) {
      for (const row of statements.take.all()) marked.push({ agentId: row.agent_id, sessionId: row.session_id, seq: row.seq });
    }
    for (const row of statements.running.all()) {
      if (row.owner === null || !liveness.instanceAlive(row.owner)) interrupt(row.agent_id, row.session_id, row.seq);
    }
  });

  return {
    interrupt,
    recover() {
      try {
        recoverAll.immediate();
      } catch (err) {
        settled(false);
        throw err;
      }
      settled(true);
    },
    settled,
  };
}
