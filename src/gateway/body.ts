/**
 * Request bodies at the edge. What can be refused on the headers alone is refused
 * before a byte of the body is read (a declared length over the limit, a type that is
 * not JSON); the body is then read with the limit enforced while it arrives, and only
 * after the request was routed and authenticated.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/** 413 in OpenAI's shape. */
function payloadTooLarge(limit: number): GatewayError {
  return new GatewayError({
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    message: `The request body exceeds the limit of ${limit} bytes.`,
  });
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/iu;

/** Whether the request says a body follows: a length above 0, or a transfer coding. */
export function declaresBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Refuses, on the headers alone, a body the gateway would refuse anyway: a declared
 * length over `limit` (413), a Content-Type other than JSON (415; none at all is
 * taken as JSON, as curl and some SDKs send it).
 */
export function checkBodyHeaders(req: IncomingMessage, limit: number): void {
  if (Number(req.headers['content-length']) > limit) throw payloadTooLarge(limit);
  const contentType = req.headers['content-type'];
  if (contentType !== undefined && !JSON_TYPE.test(contentType)) {
    throw new GatewayError({
      status: 415,
      type: 'invalid_request_error',
      code: 'unsupported_media_type',
      message: `Content-Type '${contentType.slice(0, 100)}' is not supported; send 'Content-Type: application/json'.`,
    });
  }
}

/** An HTTP/1.1 request waiting for `100 Continue` before it sends its body (RFC 9110 §10.1.1). */
export function expectsContinue(req: IncomingMessage): boolean {
  return req.httpVersion === '1.1' && /(?:^|[\s,;])100-continue(?:$|[\s,;])/iu.test(req.headers.expect ?? '');
}

/**
 * Reads a request body, enforcing `limit` while reading: past it, rejects with 413 at
 * once without buffering the rest (which stays unread: the error response discards it).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
