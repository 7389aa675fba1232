/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the
 * commit that crosses its threshold, stalling the gateway for milliseconds (it was most
 * of the p99 latency at concurrency 1). Here the writing connection never checkpoints;
 * a worker thread with its own connection copies the WAL back into the database
 * (`PASSIVE`: it never blocks the writer) whenever enough writes have been committed.
 *
 * That alone never bounds the WAL under steady load (200,000 turns grew it to 2.7 GB):
 * the next write reuses the log from its start only if the log was wholly copied when it
 * begins, and with writes arriving all the time some always arrived during the copy. So
 * once the file passes `WAL_RESTART_BYTES`, the checkpointer holds the store's writes
 * (they queue in the group commit, their callers wait, the event loop stays free) while
 * the worker copies what is left; the first write after it restarts the log, and
 * `journal_size_limit` cuts the file back. Not `wal_checkpoint(TRUNCATE)`: it holds
 * SQLite's write lock through its copy and fsync, and a write on the event loop then
 * blocks behind it (85-140 ms stalls measured while pruning).
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Committed writes (turn starts and ends) between two checkpoint requests. */
const WRITES_PER_CHECKPOINT = 200;
/** A WAL file larger than this is caught up with writes held, so that the log restarts. */
export const WAL_RESTART_BYTES = 16 * 1024 * 1024;
/** What a restarted WAL file is cut back to (`journal_size_limit`). */
export const WAL_KEPT_BYTES = 4 * 1024 * 1024;
/** How often the WAL file's size is looked at (a stat), for large writes between two requests. */
const SIZE_CHECK_MS = 500;
/** Writes are never held longer than this, even if the worker does not answer. */
const MAX_HOLD_MS = 2000;

/**
 * The worker's code. Inline rather than a module file so the same code runs from `src/`
 * under the test runner (a worker cannot load TypeScript) and from `dist/`. Errors (a
 * full disk) are answered, not thrown: the worker stays up and the next request retries.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
parentPort.on('message', () => {
  try {
    parentPort.postMessage(db.pragma('wal_checkpoint(PASSIVE)')[0]);
  } catch (err) {
    parentPort.postMessage({ busy: 1, log: -1, checkpointed: -1, error: String((err && err.code) || err) });
  }
});
`;

/** SQLite's answer to a checkpoint: WAL frames in the log, and how many are now in the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
  /** The failure's code, when the checkpoint failed (e.g. SQLITE_FULL). */
  error?: string;
}

export interface CheckpointerHooks {
  /** Holds the store's writes (they queue) until the returned release is called. */
  holdWrites: () => () => void;
  /** Called once if the worker fails: the writer must then checkpoint for itself again. */
  fallBack: () => void;
}

export interface Checkpointer {
  /**
   * Counts `writes` committed; every so many, asks the worker for a checkpoint and
   * returns its outcome (callers need not wait for it).
   */
  committed(writes: number): Promise<CheckpointResult> | undefined;
  /**
   * If the WAL file has passed `WAL_RESTART_BYTES`: holds writes, has the worker copy all
   * of the log, and releases them; resolves with that checkpoint (undefined if not needed).
   */
  restartIfLarge(): Promise<CheckpointResult | undefined>;
  /**
   * For a long run of writes outside the group commit (retention): has the worker copy
   * the log now, writes going on meanwhile, then restarts it if large. Waiting for this
   * between its transactions keeps the writer from outrunning the checkpoints, so that a
   * restart never has much left to copy while it holds the store's writes.
   */
  catchUp(): Promise<void>;
  /** Stops the worker (the last connection to close checkpoints what is left). */
  close(): Promise<void>;
}

/**
 * Starts checkpointing `path` in the background. The worker starts at the first request,
 * so a short-lived process (`moltbot agent`) never pays for it.
 */
export function createCheckpointer(path: string, hooks: CheckpointerHooks): Checkpointer {
  let worker: Worker | undefined;
  let failed = false;
  let closing = false;
  let since = 0;
  let restarting: Promise<CheckpointResult | undefined> | undefined;
  const waiting: ((result: CheckpointResult) => void)[] = [];

  const start = (): Worker => {
    const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3') } });
    // An idle worker must not keep the process alive.
    started.unref();
    const fail = (): void => {
      if (closing || failed) return;
      failed = true;
      for (const resolve of waiting.splice(0)) resolve({ busy: 1, log: -1, checkpointed: -1, error: 'worker stopped' });
      hooks.fallBack();
    };
    started.once('error', fail);
    started.once('exit', fail);
    started.on('message', (result: CheckpointResult) => waiting.shift()?.(result));
    return started;
  };
  const checkpoint = (): Promise<CheckpointResult> | undefined => {
    if (failed || closing) return undefined;
    worker ??= start();
    worker.postMessage('checkpoint');
    return new Promise((resolve) => waiting.push(resolve));
  };
  const walBytes = (): number => {
    try {
      return statSync(`${path}-wal`).size;
    } catch {
      return 0;
    }
  };

  const restartIfLarge = (): Promise<CheckpointResult | undefined> => {
    if (restarting || walBytes() <= WAL_RESTART_BYTES) return restarting ?? Promise.resolve(undefined);
    const release = hooks.holdWrites();
    const asked = checkpoint();
    if (!asked) {
      release();
      return Promise.resolve(undefined);
    }
    const limit = setTimeout(release, MAX_HOLD_MS);
    restarting = asked.finally(() => {
      clearTimeout(limit);
      release();
      restarting = undefined;
    });
    return restarting;
  };

  const sizeCheck = setInterval(() => void restartIfLarge(), SIZE_CHECK_MS);
  sizeCheck.unref();

  return {
    committed(writes) {
      if (failed || closing) return undefined;
      since += writes;
      if (since < WRITES_PER_CHECKPOINT) return undefined;
      since = 0;
      const result = checkpoint();
      void result?.then(() => restartIfLarge());
      return result;
    },
    restartIfLarge,
    async catchUp() {
      await checkpoint();
      await restartIfLarge();
    },
    async close() {
      closing = true;
      clearInterval(sizeCheck);
      await restarting;
      await worker?.terminate();
    },
  };
}
