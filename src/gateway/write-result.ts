/**
 * Writes handler results to the socket: JSON, static documents, and SSE streams with
 * keep-alive comments while the agent is thinking.
 */
import type { ServerResponse } from 'node:http';
import type { CallerSignal } from '../domain/caller-signal.js';
import { RunAbortedError, toGatewayError } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';
import { textPieces } from '../text-pieces.js';
import { errorBody, logFailure, sendError } from './error-response.js';
import type { OperationId } from '../../generated/operations.js';
import type { HandlerResult, StreamResult } from './handler.js';
import { SSE_HEADERS, endStream, writeEvent } from './sse.js';

export interface WriteOptions {
  /** Aborted when the client left. */
  signal: CallerSignal;
  /** The request's logger, made when first needed (only a failure logs here). */
  logger: () => Logger;
  /** Silence after which a stream gets a `: keep-alive` comment. */
  keepAliveMs: number;
  /** Told once, when a stream's first chunk is written (not a keep-alive comment). */
  onFirstByte?: () => void;
}

/**
 * Resolves when the socket can take more, or the client is gone; either way both
 * listeners are removed (a slow reader waits here thousands of times per response).
 */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Longest piece of a JSON body written at once. */
const BODY_PIECE_CHARS = 256 * 1024;

async function writeStream(res: ServerResponse, result: StreamResult<OperationId>, { signal, logger, keepAliveMs, onFirstByte }: WriteOptions): Promise<void> {
  let first = true;
  const iterator = result.events[Symbol.asyncIterator]();
  const start = (): void => {
    if (!res.headersSent) res.writeHead(200, Object.assign({}, SSE_HEADERS, result.headers));
  };
  // One timer per stream, pushed back by every event: a comment goes out only after
  // `keepAliveMs` of silence (a timer and a promise race per event cost ~7% of a streamed
  // turn's allocations with hundreds of streams open).
  const keepAlive = setTimeout(function tick() {
    if (res.destroyed || res.writableEnded) return;
    // A slow model: commit to the stream so clients and proxies see it is alive.
    start();
    if (!res.writableNeedDrain) res.write(': keep-alive\n\n');
    keepAlive.refresh();
  }, keepAliveMs);
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (err) {
        if (signal.aborted || err instanceof RunAbortedError) return;
        // Before the first byte an error is an HTTP status; after it, a final event.
        if (!res.headersSent) {
          sendError(res, err, logger(), result.headers);
          return;
        }
        const failure = toGatewayError(err);
        logFailure(logger(), failure, err);
        writeEvent(res, errorBody(failure));
        endStream(res);
        return;
      }
      if (signal.aborted) return;
      if (next.done) break;
      start();
      writeEvent(res, next.value);
      if (first) {
        first = false;
        onFirstByte?.();
      }
      keepAlive.refresh();
      if (res.writableNeedDrain) await drained(res);
    }
    start();
    endStream(res);
  } finally {
    clearTimeout(keepAlive);
    await iterator.return?.();
  }
}

export async function writeResult(res: ServerResponse, result: HandlerResult<OperationId>, options: WriteOptions): Promise<void> {
  if (result.kind === 'sse') return writeStream(res, result, options);
  if (result.kind === 'raw') {
    res.writeHead(result.status, Object.assign({}, result.headers, { 'content-type': result.contentType, 'content-length': result.body.length }));
    res.end(result.body);
    return;
  }
  let value: unknown;
  try {
    value = await result.body;
  } catch (err) {
    if (options.signal.aborted) return;
    // The result's headers (the session key) tell the client where the failed turn went.
    sendError(res, err, options.logger(), result.headers);
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(
    result.status,
    Object.assign({}, result.headers, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    }),
  );
  if (body.length <= BODY_PIECE_CHARS) {
    res.end(body);
    return;
  }
  // A reply of megabytes goes out in pieces, each once the socket has taken the last,
  // so encoding and writing it does not hold the event loop in one go.
  for (const piece of textPieces(body, BODY_PIECE_CHARS)) {
    if (res.destroyed) return;
    res.write(piece);
    if (res.writableNeedDrain) await drained(res);
  }
  res.end();
}
