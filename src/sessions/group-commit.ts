/**
 * Group commit for one SQLite connection: writes issued in the same turn of the event
 * loop share one transaction. Under load this turns many small commits into a few; a
 * caller still resolves only once its write is committed. Each write stays atomic on its
 * own: if any write in a batch throws, the batch is rolled back and every write retried
 * in a transaction of its own, so one failure costs only itself (a savepoint per write
 * cost more than this rare second pass).
 *
 * Every transaction is `BEGIN IMMEDIATE`: it takes the write lock up front, so a write
 * by another process (`moltbot agent`, `moltbot sessions prune`) makes it wait (the
 * connection's busy timeout) instead of failing with SQLITE_BUSY halfway, as a deferred
 * transaction that reads before it writes does in WAL mode.
 */
import type { Database } from 'better-sqlite3';

/** A write waiting for the next commit. */
export interface QueuedWrite {
  /** Runs inside the transaction; may be replaced until a flush takes it. */
  write: () => unknown;
  /** Set once a flush has taken it: its write can no longer change. */
  taken: boolean;
}

export interface GroupCommit {
  /** Queues `run` for the next commit; `done` settles with its result once committed. */
  enqueue<T>(run: () => T): { item: QueuedWrite; done: Promise<T> };
  /** Commits what is queued now, held or not (at close). */
  flush(): void;
  /**
   * Holds commits: writes queue and their callers wait, until the returned release is
   * called (once). Gives the checkpointer a moment without writes; the event loop stays free.
   */
  hold(): () => void;
  /** Resolves once commits are not held: writers outside the queue (pruning) wait on it. */
  whenOpen(): Promise<void>;
}

interface Pending extends QueuedWrite {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitHooks {
  /** Told how many writes each commit made durable. */
  committed?: (writes: number) => void;
  /** Maps a failed write's error to what its caller is given (e.g. a full disk to a 507). */
  failure?: (err: unknown) => unknown;
  /**
   * Told after each transaction (a batch, or one write of a failed batch's second pass)
   * whether it committed or was rolled back: what its writes did in memory holds or goes.
   */
  settled?: (committed: boolean) => void;
}

export function createGroupCommit(db: Database, hooks: GroupCommitHooks = {}): GroupCommit {
  const committed = hooks.committed ?? (() => undefined);
  const failure = hooks.failure ?? ((err: unknown) => err);
  const settled = hooks.settled ?? (() => undefined);
  let queue: Pending[] = [];
  let scheduled = false;
  let holds = 0;
  const opened: (() => void)[] = [];
  const batchTransaction = db.transaction((batch: Pending[]): unknown[] => batch.map((item) => item.write()));
  const oneTransaction = db.transaction((item: Pending): unknown => item.write());
  const runBatch = (batch: Pending[]): unknown[] => batchTransaction.immediate(batch);
  const runOne = (item: Pending): unknown => oneTransaction.immediate(item);

  const flush = (): void => {
    const batch = queue;
    queue = [];
    for (const item of batch) item.taken = true;
    if (batch.length === 0) return;
    let values: unknown[] | undefined;
    try {
      values = runBatch(batch);
    } catch {
      values = undefined;
    }
    settled(values !== undefined);
    if (values) {
      committed(batch.length);
      batch.forEach((item, i) => item.resolve(values[i]));
      return;
    }
    let succeeded = 0;
    for (const item of batch) {
      let value: unknown;
      try {
        value = runOne(item);
      } catch (err) {
        settled(false);
        item.reject(failure(err));
        continue;
      }
      settled(true);
      succeeded += 1;
      item.resolve(value);
    }
    committed(succeeded);
  };

  const schedule = (): void => {
    if (scheduled || holds > 0 || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (holds === 0) flush();
    });
  };

  return {
    enqueue<T>(run: () => T) {
      let item: Pending | undefined;
      const done = new Promise<T>((resolve, reject) => {
        item = { write: run, resolve: resolve as (value: unknown) => void, reject, taken: false };
      });
      queue.push(item as Pending);
      schedule();
      return { item: item as Pending, done };
    },
    flush,
    hold() {
      holds += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds -= 1;
        if (holds > 0) return;
        for (const resolve of opened.splice(0)) resolve();
        schedule();
      };
    },
    whenOpen() {
      return holds === 0 ? Promise.resolve() : new Promise((resolve) => opened.push(resolve));
    },
  };
}
