/**
 * Marking running turns of dead instances `interrupted` on SQLite, and telling the
 * store's opener (`StoreEvents.onInterrupted`) of each such turn once its marking is
 * committed. Markings happen inside transactions that may still roll back (a group
 * commit's batch retried write by write, a turn refused after it marked one): they are
 * held until the transaction settles, then told or dropped.
 */
import type { Database } from 'better-sqlite3';
import type { InstanceLiveness } from './instance-liveness.js';
import type { InterruptedTurn, StoreEvents } from './store.js';

export interface SqliteInterrupts {
  /** Marks a running turn `interrupted` (inside a write transaction). */
  interrupt(agentId: string, sessionId: string, seq: number): void;
  /** Marks every running turn of an instance that is gone, in a transaction of its own (at open). */
  recover(): void;
  /** The write transaction the markings were made in committed (told now) or rolled back (dropped). */
  settled(committed: boolean): void;
}

export function createSqliteInterrupts(db: Database, liveness: InstanceLiveness, events: StoreEvents): SqliteInterrupts {
  const statements = {
    running: db.prepare<[], { session_id: string; seq: number; owner: string | null; agent_id: string }>(
      "SELECT t.session_id, t.seq, t.owner, s.agent_id FROM turns t INDEXED BY turns_running JOIN sessions s ON s.id = t.session_id WHERE t.status = 'running'",
    ),
    interrupt: db.prepare("UPDATE turns SET status = 'interrupted', owner = NULL, ended_at = @at WHERE session_id = @sessionId AND seq = @seq AND status = 'running'"),
    interruptSession: db.prepare("UPDATE sessions SET last_status = 'interrupted' WHERE id = @sessionId AND last_status = 'running'"),
  };
  /** Marked in the transaction under way, not yet told. */
  let marked: InterruptedTurn[] = [];

  const interrupt = (agentId: string, sessionId: string, seq: number): void => {
    if (statements.interrupt.run({ at: Date.now(), sessionId, seq }).changes === 0) return;
    statements.interruptSession.run({ sessionId });
    marked.push({ agentId, sessionId, seq });
  };

  const settled = (committed: boolean): void => {
    if (marked.length === 0) return;
    const turns = marked;
    marked = [];
    if (committed) events.onInterrupted?.(turns);
  };

  // Turns left `running` by an instance that is gone (crash, SIGKILL, power loss) were cut
  // short: marked at once, however recently that instance died.
  const recoverAll = db.transaction(() => {
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
