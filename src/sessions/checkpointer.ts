/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the
 * commit that crosses its threshold, stalling the gateway for milliseconds (it was most
 * of the p99 latency at concurrency 1). Here the writing connection never checkpoints;
 * a worker thread with its own connection copies the WAL back into the database
 * (`PASSIVE`: it never blocks the writer) whenever enough writes have been committed.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Committed writes (turn starts and ends) between two checkpoint requests. */
const WRITES_PER_CHECKPOINT = 200;

/**
 * The worker's code. Inline rather than a module file so the same code runs from `src/`
 * under the test runner (a worker cannot load TypeScript) and from `dist/`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
parentPort.on('message', () => {
  parentPort.postMessage(db.pragma('wal_checkpoint(PASSIVE)')[0]);
});
`;

/** SQLite's answer to a checkpoint: WAL frames in the log, and how many are now in the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export interface Checkpointer {
  /**
   * Counts `writes` committed; every so many, asks the worker for a checkpoint and
   * returns its outcome (callers need not wait for it).
   */
  committed(writes: number): Promise<CheckpointResult> | undefined;
  /** Stops the worker (the last connection to close checkpoints what is left). */
  close(): Promise<void>;
}

/**
 * Starts checkpointing `path` in the background. The worker starts at the first
 * checkpoint request, so a short-lived process (`moltbot agent`) never pays for it. If it
 * fails, `fallBack` is called once: the writer must then checkpoint for itself again.
 */
export function createCheckpointer(path: string, fallBack: () => void): Checkpointer {
  let worker: Worker | undefined;
  let failed = false;
  let closing = false;
  let since = 0;
  const waiting: ((result: CheckpointResult) => void)[] = [];

  const start = (): Worker => {
    const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3') } });
    // An idle worker must not keep the process alive.
    started.unref();
    const fail = (): void => {
      if (closing || failed) return;
      failed = true;
      fallBack();
    };
    started.once('error', fail);
    started.once('exit', fail);
    started.on('message', (result: CheckpointResult) => waiting.shift()?.(result));
    return started;
  };

  return {
    committed(writes) {
      if (failed || closing) return undefined;
      since += writes;
      if (since < WRITES_PER_CHECKPOINT) return undefined;
      since = 0;
      worker ??= start();
      worker.postMessage('checkpoint');
      return new Promise((resolve) => waiting.push(resolve));
    },
    async close() {
      closing = true;
      await worker?.terminate();
    },
  };
}
