/**
 * Retention for the SQLite store: old transcripts are deleted in small transactions
 * (`BEGIN IMMEDIATE`), with the event loop free between them, so a gateway keeps serving
 * while it prunes and a `moltbot sessions prune` beside it holds the write lock only for
 * milliseconds at a time. The sessions table is walked in creation order, a slice at a
 * time, rather than through an index on the update time (which every turn would have to
 * move). Freed pages are then given back to the file system with `incremental_vacuum`,
 * a step at a time. Every transaction, delete or vacuum, stops or is sized to stay near
 * `TRANSACTION_BUDGET_MS`: while it runs, the gateway's requests wait.
 */
import type { Database } from 'better-sqlite3';
import type { PruneOptions, PrunePace, PruneResult, SessionKind } from './store.js';

/** Sessions looked at per step. */
const SCAN_ROWS = 250;
/** Transcripts deleted per transaction at most... */
const DELETE_BATCH = 50;
/**
 * ...and no more once a transaction has run this long: on a store of a million sessions
 * the pages a delete touches are rarely cached, and 50 deletes held the event loop for
 * 20-110 ms on this machine.
 */
export const TRANSACTION_BUDGET_MS = 4;
/** Transactions between two waits for the WAL to be checkpointed (`paceWrites`). */
const TRANSACTIONS_PER_CATCH_UP = 4;
/**
 * Pages given back per vacuum step: the first step's, and the bounds of the steps that
 * follow, each sized from the last one's time per page to fit the budget. A fixed 128
 * pages (512 KiB) took 4-360 ms a step on a store of a million sessions (moving a page
 * rewrites its parent and pointer-map pages too): the longest waits of a pruning pass.
 */
export const VACUUM_PAGES = { first: 16, min: 4, max: 1024 };

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Candidate {
  n: number;
  id: string;
  kind: string;
  agent_id: string;
  updated_at: number;
  turns: number;
}

/** The next vacuum step's pages: the last step's rate scaled to the budget, at most doubling. */
export function nextVacuumPages(pages: number, ms: number): number {
  const fitting = ms > 0 ? Math.floor((pages * TRANSACTION_BUDGET_MS) / ms) : pages * 2;
  return Math.max(VACUUM_PAGES.min, Math.min(VACUUM_PAGES.max, pages * 2, fitting));
}

/**
 * `whenOpen` resolves when the store's writes are not held (the checkpointer holds them
 * for a moment without writes): every batch waits for it, as queued writes do.
 * `catchUp`, every few transactions, waits for the WAL to be checkpointed (without
 * holding anyone's writes): a pass deleting 900,000 sessions otherwise grew the log so
 * far ahead that the checkpointer's restart held the gateway's writes for 1.4 s.
 * `clock` (ms) times the transactions; tests replace it.
 */
export function createPruner(
  db: Database,
  whenOpen: () => Promise<void> = () => Promise.resolve(),
  catchUp: () => Promise<void> = () => Promise.resolve(),
  clock: () => number = () => performance.now(),
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
  const vacuumStep = db.transaction((pages: number) => db.pragma(`incremental_vacuum(${pages})`));

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
      const began = clock();
      let [sessions, turns, taken] = [0, 0, 0];
      for (const id of ids) {
        taken += 1;
        if (deletable(statements.byId.get(id))) {
          turns += statements.deleteTurns.run(id).changes;
          statements.deleteSession.run(id);
          sessions += 1;
        }
        if (clock() - began > TRANSACTION_BUDGET_MS) break;
      }
      return { sessions, turns, taken };
    });
    const pace: PrunePace = { transactions: 0, deletingMs: 0, vacuumingMs: 0, longestStepMs: 0, longestStep: 'scan' };
    let lastStepMs = 0;
    /** Runs one synchronous step, timed into `pace` and `lastStepMs`. */
    const step = <T>(kind: PrunePace['longestStep'], run: () => T): T => {
      const began = clock();
      const value = run();
      lastStepMs = clock() - began;
      if (lastStepMs > pace.longestStepMs) Object.assign(pace, { longestStepMs: lastStepMs, longestStep: kind });
      return value;
    };
    const pause = async (): Promise<void> => {
      pace.transactions += 1;
      if (pace.transactions % TRANSACTIONS_PER_CATCH_UP === 0) await catchUp();
      await yieldToEventLoop();
    };

    const pagesBefore = pragma('page_count');
    const result: PruneResult = { sessions: 0, turns: 0, reclaimedBytes: 0 };
    // Transcripts created while the pass runs are new: the walk ends where the table ended
    // when it began (otherwise steady traffic would keep it walking forever).
    const last = statements.last.get()?.n ?? 0;
    const deleting = clock();
    for (let after = 0; ; ) {
      options.signal?.throwIfAborted();
      const scanned = step('scan', () => statements.scan.all(after, last, SCAN_ROWS));
      if (scanned.length === 0) break;
      after = (scanned.at(-1) as Candidate).n;
      const rows = step('scan', () => scanned.filter(deletable));
      if (options.dryRun) {
        result.sessions += rows.length;
        result.turns += rows.reduce((sum, row) => sum + row.turns, 0);
      }
      for (let i = 0; !options.dryRun && i < rows.length; ) {
        await whenOpen();
        const done = step('delete', () => remove.immediate(rows.slice(i, i + DELETE_BATCH).map((row) => row.id)));
        i += done.taken;
        result.sessions += done.sessions;
        result.turns += done.turns;
        await pause();
      }
      await yieldToEventLoop();
    }
    pace.deletingMs = clock() - deleting;
    if (options.dryRun || result.sessions === 0) return result;
    // 2 = INCREMENTAL (every store since schema version 4).
    if (pragma('auto_vacuum') === 2) {
      const vacuuming = clock();
      for (let pages = VACUUM_PAGES.first; pragma('freelist_count') > 0; ) {
        options.signal?.throwIfAborted();
        await whenOpen();
        step('vacuum', () => vacuumStep.immediate(pages));
        pages = nextVacuumPages(pages, lastStepMs);
        await pause();
      }
      pace.vacuumingMs = clock() - vacuuming;
      result.reclaimedBytes = Math.max(0, pagesBefore - pragma('page_count')) * pragma('page_size');
    }
    return Object.assign({}, result, { pace });
  };
}
