/**
 * The one place errors become HTTP: OpenAI's shape
 * `{"error":{"message","type","param","code"}}` with the error's status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, toGatewayError } from '../errors.js';
import { describeError, type Logger } from '../log.js';
import { answerThenDiscard, bodyUnread } from './linger.js';

/** The OpenAI error body of a typed error. */
export function errorBody(err: GatewayError): { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}

/**
 * Logs a failure a client is told about: unexpected ones (500) with their cause and
 * stack, expected operational ones (upstream, timeout, shutdown) as a one-line warning.
 */
export function logFailure(logger: Logger, err: GatewayError, thrown: unknown): void {
  const detail = err.logDetail === undefined ? {} : { detail: err.logDetail };
  if (err.status === 500) {
    logger.log('error', 'request failed', { status: err.status, code: err.code, ...describeError(err.cause ?? thrown), ...detail });
  } else if (err.status > 500) {
    logger.log('warn', 'request failed', { status: err.status, code: err.code, message: err.message, ...detail });
  }
}

/**
 * Sends any thrown value as an error response (unexpected ones as a bare 500, logged).
 * If the response has already started, the socket is closed instead: a half-written
 * body must not look complete. Given the request, a body it has not read to its end
 * (a request refused before its body) is read out and discarded after the answer, which
 * says `Connection: close` (see `linger.ts`).
 */
export function sendError(res: ServerResponse, thrown: unknown, logger: Logger, headers: Record<string, string> = {}, req?: IncomingMessage): void {
  const err = toGatewayError(thrown);
  logFailure(logger, err, thrown);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(err));
  const unread = req !== undefined && bodyUnread(req);
  res.writeHead(err.status, {
    ...headers,
    ...err.headers,
    ...(unread ? { connection: 'close' } : {}),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  if (unread) answerThenDiscard(req, res, body);
  else res.end(body);
}
