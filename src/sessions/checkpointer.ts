/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the
 * commit that crosses its threshold, stalling the gateway for milliseconds (it was most
 * of the p99 latency at concurrency 1). Here the writing connection never checkpoints;
 * a worker thread with its own connection copies the WAL back into the database
 * (`PASSIVE`: it never blocks the writer) whenever enough writes have been committed.
 *
 * A passive checkpoint never restarts the WAL while writes keep coming (the log is never
 * wholly copied at the moment the next write starts), so under steady load the file grew
 * without bound (2.7 GB after 200,000 turns). So once the WAL file passes
 * `WAL_TRUNCATE_BYTES` the worker follows with `TRUNCATE`: it waits (a short busy timeout
 * of its own, in the worker, never on the event loop) for a moment without a writer or an
 * old reader, copies the few frames the passive pass left, and empties the file. Writers
 * wait for that moment at most the worker's busy timeout plus the copy. It also looks at
 * the file's size on a timer, so large writes between two requests cannot run away.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Committed writes (turn starts and ends) between two checkpoint requests. */
const WRITES_PER_CHECKPOINT = 200;

/** A WAL file larger than this is checkpointed and truncated to zero. */
export const WAL_TRUNCATE_BYTES = 16 * 1024 * 1024;
/** How often the worker looks at the WAL file's size on its own. */
const SIZE_CHECK_MS = 500;
/** How long the worker's `TRUNCATE` may wait for writers and readers before trying later. */
const TRUNCATE_BUSY_MS = 100;

/**
 * The worker's code. Inline rather than a module file so the same code runs from `src/`
 * under the test runner (a worker cannot load TypeScript) and from `dist/`. Errors (a
 * full disk) are answered, not thrown: the worker stays up and tries again later.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = ' + workerData.truncateBusyMs);
const walSize = () => {
  try {
    return statSync(workerData.path + '-wal').size;
  } catch {
    return 0;
  }
};
const checkpoint = () => {
  try {
    const result = { ...db.pragma('wal_checkpoint(PASSIVE)')[0], truncated: false };
    if (walSize() > workerData.truncateBytes) result.truncated = db.pragma('wal_checkpoint(TRUNCATE)')[0].busy === 0;
    return result;
  } catch (err) {
    return { busy: 1, log: -1, checkpointed: -1, truncated: false, error: String((err && err.code) || err) };
  }
};
parentPort.on('message', () => parentPort.postMessage(checkpoint()));
setInterval(() => {
  if (walSize() > workerData.truncateBytes) checkpoint();
}, workerData.sizeCheckMs);
`;

/** SQLite's answer to a checkpoint: WAL frames in the log, and how many are now in the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
  /** Whether the WAL was also emptied (it had passed `WAL_TRUNCATE_BYTES`). */
  truncated: boolean;
  /** The failure's code, when the checkpoint failed (e.g. SQLITE_FULL); the next one tries again. */
  error?: string;
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
    const started = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path,
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        truncateBytes: WAL_TRUNCATE_BYTES,
        truncateBusyMs: TRUNCATE_BUSY_MS,
        sizeCheckMs: SIZE_CHECK_MS,
      },
    });
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
