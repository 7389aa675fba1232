/**
 * Retention for the SQLite store: old transcripts are deleted in small transactions
 * (`DELETE_BATCH` transcripts each, `BEGIN IMMEDIATE`), with the event loop free between
 * them, so a gateway keeps serving while it prunes and a `moltbot sessions prune` beside
 * it holds the write lock only for milliseconds at a time. The sessions table is walked
 * in creation order, a slice at a time, rather than through an index on the update time
 * (which every turn would have to move). Freed pages are then given back to the file
 * system with `incremental_vacuum`, a step at a time. Sizes measured on 20,000 old
 * transcripts (2 cores): a 50-transcript delete ~3 ms, a 250-row scan step ~2 ms, the
 * longest event-loop stall of the whole pass 9 ms (with the gateway's background
 * checkpoints); batches of 200 and 1000 rows held it for 50-80 ms.
 */
import type { Database } from 'better-sqlite3';
import type { PruneOptions, PruneResult, SessionKind } from './store.js';

/** Sessions looked at per step. */
const SCAN_ROWS = 250;
/** Transcripts deleted per transaction at most... */
const DELETE_BATCH = 50;
/**
 * ...and no more once a transaction has run this long: on a store of a million sessions
 * the pages a delete touches are rarely cached, and 50 deletes held the event loop for
 * 20-110 ms on this machine.
 */
const TRANSACTION_BUDGET_MS = 4;
/** Transactions between two waits for the WAL to be checkpointed (`paceWrites`). */
const TRANSACTIONS_PER_CATCH_UP = 4;
/** Pages given back per step (512 KiB at SQLite's 4 KiB pages). */
const VACUUM_PAGES = 128;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Candidate {
  n: number;
  id: string;
  kind: string;
  agent_id: string;
  updated_at: number;
  turns: number;
}

/**
 * `whenOpen` resolves when the store's writes are not held (the checkpointer holds them
 * for a moment without writes): every batch waits for it, as queued writes do.
 * `catchUp`, every few transactions, waits for the WAL to be checkpointed (without
 * holding anyone's writes): a pass deleting 900,000 sessions otherwise grew the log so
 * far ahead that the checkpointer's restart held the gateway's writes for 1.4 s.
 */
export function createPruner(
  db: Database,
  whenOpen: () => Promise<void> = () => Promise.resolve(),
  catchUp: () => Promise<void> = () => Promise.resolve(),
): (options: PruneOptions) => Promise<PruneResult> {
  const statements = {
    scan: db.prepare<[number, number, number], Candidate>('SELECT n, id, kind, agent_id, updated_at, turns FROM sessions WHERE n > ? AND n <= ? ORDER BY n LIMIT ?'),
    last: db.prepare<[], { n: number | null }>('SELECT max(n) AS n FROM sessions'),
    byId: db.prepare<[string], Candidate>('SELECT n, id, kind, agent_id, updated_at, turns FROM sessions WHERE id = ?'),
    running: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM turns INDEXED BY turns_running WHERE session_id = ? AND status = 'running' LIMIT 1"),
    deleteTurns: db.prepare<[string]>('DELETE FROM turns WHERE session_id = ?'),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE id = ?'),
  };
  const pragma = (name: string): number => db.pragma(name, { simple: true }) as number;
  const vacuumStep = db.transaction(() => db.pragma(`incremental_vacuum(${VACUUM_PAGES})`));

  return async (options) => {
    const now = options.now ?? Date.now();
    const expired = (row: Candidate): boolean => {
      const age = options.olderThan[row.kind as SessionKind];
      return age !== undefined && row.updated_at <= now - age && (options.agentId === undefined || row.agent_id === options.agentId);
    };
    // Checked again inside the deleting transaction: a turn may have begun since the scan.
    const deletable = (row: Candidate | undefined): row is Candidate => row !== undefined && expired(row) && statements.running.get(row.id) === undefined;
    /** Deletes from the start of `ids` until done or over the time budget; `taken` says how far it got. */
    const remove = db.transaction((ids: string[]): { sessions: number; turns: number; taken: number } => {
      const began = performance.now();
      let [sessions, turns, taken] = [0, 0, 0];
      for (const id of ids) {
        taken += 1;
        if (deletable(statements.byId.get(id))) {
          turns += statements.deleteTurns.run(id).changes;
          statements.deleteSession.run(id);
          sessions += 1;
        }
        if (performance.now() - began > TRANSACTION_BUDGET_MS) break;
      }
      return { sessions, turns, taken };
    });
    let transactions = 0;
    const pause = async (): Promise<void> => {
      transactions += 1;
      if (transactions % TRANSACTIONS_PER_CATCH_UP === 0) await catchUp();
      await yieldToEventLoop();
    };

    const pagesBefore = pragma('page_count');
    const result: PruneResult = { sessions: 0, turns: 0, reclaimedBytes: 0 };
    // Transcripts created while the pass runs are new: the walk ends where the table ended
    // when it began (otherwise steady traffic would keep it walking forever).
    const last = statements.last.get()?.n ?? 0;
    for (let after = 0; ; ) {
      options.signal?.throwIfAborted();
      const rows = statements.scan.all(after, last, SCAN_ROWS);
      if (rows.length === 0) break;
      after = (rows.at(-1) as Candidate).n;
      const doomed = rows.filter(deletable);
      if (options.dryRun) {
        result.sessions += doomed.length;
        result.turns += doomed.reduce((sum, row) => sum + row.turns, 0);
      }
      for (let i = 0; !options.dryRun && i < doomed.length; ) {
        await whenOpen();
        const done = remove.immediate(doomed.slice(i, i + DELETE_BATCH).map((row) => row.id));
        i += done.taken;
        result.sessions += done.sessions;
        result.turns += done.turns;
        await pause();
      }
      await yieldToEventLoop();
    }
    // 2 = INCREMENTAL (every store since schema version 4).
    if (!options.dryRun && result.sessions > 0 && pragma('auto_vacuum') === 2) {
      while (pragma('freelist_count') > 0) {
        options.signal?.throwIfAborted();
        await whenOpen();
        vacuumStep.immediate();
        await pause();
      }
      result.reclaimedBytes = Math.max(0, pagesBefore - pragma('page_count')) * pragma('page_size');
    }
    return result;
  };
}
