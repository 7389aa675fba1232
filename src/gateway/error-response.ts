/**
 * The one place errors become HTTP: OpenAI's shape `{"error":{"message","type","param","code"}}`
 * with the status the spec gives the error's code, and its headers (`Retry-After` from
 * `retryAfterSeconds`). Responses written by a handler's server (`sendError`), stream
 * events (`errorBody`) and the raw answers to requests Node refuses before any handler
 * (`rawErrorResponse`) all come from here.
 */
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { ErrorResponse } from '../../generated/client/types.gen.js';
import { toGatewayError, type GatewayError } from '../domain/errors.js';
import { describeError, type Logger } from '../observability/logger.js';
import { HttpError } from './http-errors.js';
import { answerThenDiscard, bodyUnread } from './linger.js';

/** The OpenAI error body of a typed error. */
export function errorBody(err: GatewayError): ErrorResponse {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}

/** An error's status, headers (besides the request id) and body text. */
export function renderError(err: GatewayError): { status: number; headers: Record<string, string>; body: string } {
  const body = JSON.stringify(errorBody(err));
  return {
    status: err.status,
    headers: Object.assign<Record<string, string>, object, object, object>(
      {},
      err instanceof HttpError ? err.headers : {},
      err.retryAfterSeconds === undefined ? {} : { 'retry-after': String(err.retryAfterSeconds) },
      { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) },
    ),
    body,
  };
}

/**
 * Logs a failure a client is told about: unexpected ones (500) with their cause and
 * stack, expected operational ones (upstream, timeout, shutdown) as a one-line warning.
 */
export function logFailure(logger: Logger, err: GatewayError, thrown: unknown): void {
  const detail = err.logDetail === undefined ? {} : { detail: err.logDetail };
  if (err.status === 500) {
    logger.error({ status: err.status, code: err.code, ...describeError(err.cause ?? thrown), ...detail }, 'request failed');
  } else if (err.status > 500) {
    logger.warn({ status: err.status, code: err.code, error: err.message, ...detail }, 'request failed');
  }
}

/**
 * Sends any thrown value as an error response (unexpected ones as a bare 500, logged).
 * If the response has already started, the socket is closed instead: a half-written
 * body must not look complete. Given the request, a body it has not read to its end
 * (a request refused before its body) is read out and discarded after the answer, which
 * says `Connection: close` (see `linger.ts`).
 */
export function sendError(res: ServerResponse, thrown: unknown, logger: Logger, headers: OutgoingHttpHeaders = {}, req?: IncomingMessage): void {
  const err = toGatewayError(thrown);
  logFailure(logger, err, thrown);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const rendered = renderError(err);
  const unread = req !== undefined && bodyUnread(req);
  res.writeHead(rendered.status, Object.assign({}, headers, rendered.headers, unread ? { connection: 'close' } : {}));
  if (unread) answerThenDiscard(req, res, rendered.body);
  else res.end(rendered.body);
}

/**
 * A whole HTTP/1.1 response for a socket with no `ServerResponse` (a request Node refused
 * while parsing it), closing the connection.
 */
export function rawErrorResponse(err: GatewayError, requestId: string): string {
  const { status, headers, body } = renderError(err);
  const lines = Object.entries(Object.assign({}, headers, { 'x-request-id': requestId, connection: 'close' })).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}\r\n${body}`;
}
