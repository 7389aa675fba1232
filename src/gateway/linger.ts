/**
 * A lingering close, as nginx does it, for a request refused before its body was read
 * (401, 404, 413, ...). Closing at once while the client is still sending makes the
 * kernel answer its next bytes with a reset, and many clients (fetch, the openai SDK,
 * curl) then report EPIPE or a connection error instead of the status (and the SDK
 * retries the whole upload). So the answer goes out whole (with `Connection: close`),
 * the rest of the body is read and thrown away as it arrives, never kept, and only then
 * is the connection closed: when the body has ended or the client has left, or at the
 * latest after `LINGER_MAX_BYTES` or `LINGER_MAX_MS`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Bytes of a refused body read and discarded at most before the connection is closed. */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** How long at most a refused body is read and discarded. */
export const LINGER_MAX_MS = 10_000;

/** Connections reading out a refused body: their answer is already written. */
const lingering = new WeakSet<object>();

/** Whether the connection has a complete answer and is only reading out the request's body. */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/** Whether the request has a body the handler has not read to its end. */
export function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Writes `body` (the whole answer; the head is already set with its length and
 * `Connection: close`), then reads and discards the rest of the request before ending
 * the response, which closes the connection.
 */
export function answerThenDiscard(req: IncomingMessage, res: ServerResponse, body: string): void {
  const socket = req.socket;
  lingering.add(socket);
  res.write(body);
  let discarded = 0;
  const finish = (): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', finish);
    req.off('close', finish);
    lingering.delete(socket);
    if (!res.writableEnded) res.end();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > LINGER_MAX_BYTES) finish();
  };
  const timer = setTimeout(finish, LINGER_MAX_MS);
  req.on('data', onData);
  req.once('end', finish);
  req.once('close', finish);
  req.resume();
}
