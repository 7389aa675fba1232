/**
 * `JSON.parse` of large upstream events in a worker thread. Parsing an event of several
 * MiB on the event loop stalls every other request for as long as it takes (measured
 * here: a 7 MiB event, 23-46 ms on a loaded 2-core machine); off the loop the gateway
 * only pays for handing the bytes over (moved, not copied) and the value back. Callers
 * parse small events (below `OFF_THREAD_CHARS`) inline: the round trip would cost more
 * than the parse. One worker, started on first use, never keeping the process alive.
 */
import { Worker } from 'node:worker_threads';

/** Events of at least this many characters are parsed in the worker. */
export const OFF_THREAD_CHARS = 1024 * 1024;

// Plain JavaScript evaluated as the worker's CommonJS module (no file to ship or resolve).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const utf8 = new TextDecoder('utf-8');
parentPort.on('message', ({ id, text, buffer, offset, length }) => {
  let value;
  try {
    value = JSON.parse(text ?? utf8.decode(new Uint8Array(buffer, offset, length)));
  } catch {
    parentPort.postMessage({ id, ok: false });
    return;
  }
  parentPort.postMessage({ id, ok: true, value });
});
`;

interface Waiting {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

let worker: Worker | undefined;
const waiting = new Map<number, Waiting>();
let nextId = 0;

function failAll(err: Error): void {
  worker = undefined;
  for (const entry of waiting.values()) entry.reject(err);
  waiting.clear();
}

function startWorker(): Worker {
  const started = new Worker(WORKER_SOURCE, { eval: true });
  started.unref();
  started.on('message', ({ id, ok, value }: { id: number; ok: boolean; value?: unknown }) => {
    const entry = waiting.get(id);
    waiting.delete(id);
    if (ok) entry?.resolve(value);
    else entry?.reject(new SyntaxError('not valid JSON'));
  });
  started.on('error', (err) => failAll(err));
  started.on('exit', () => failAll(new Error('the JSON worker exited')));
  return started;
}

/**
 * Parses JSON in the worker: text, or UTF-8 bytes (invalid ones read as U+FFFD), whose
 * whole `ArrayBuffer` is moved to the worker (the caller must not use it again).
 * Rejects with a `SyntaxError` on invalid JSON.
 */
export function parseJsonOffThread(json: string | Uint8Array): Promise<unknown> {
  const id = (nextId += 1);
  worker ??= startWorker();
  const result = new Promise<unknown>((resolve, reject) => waiting.set(id, { resolve, reject }));
  if (typeof json === 'string') {
    worker.postMessage({ id, text: json });
  } else {
    const { buffer, byteOffset: offset, byteLength: length } = json;
    worker.postMessage({ id, buffer, offset, length }, [buffer as ArrayBuffer]);
  }
  return result;
}
