/**
 * Request bodies at the edge. What can be refused on the headers alone is refused
 * before a byte of the body is read (a declared length over the limit, a type that is
 * not JSON, a content coding that is not gzip, deflate or br); the body is then read,
 * decoded with Node's zlib, with the limit enforced on the bytes received and on the
 * decoded bytes while they arrive, and only after the request was routed and
 * authenticated.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, type BrotliDecompress, type Gunzip, type Inflate } from 'node:zlib';
import { invalidRequest, payloadTooLarge, unsupportedContentEncoding, unsupportedMediaType } from './http-errors.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/iu;

/** The content codings a body may have, and their decoders (`identity` and none need none). */
const DECODERS: Record<string, (() => Gunzip | Inflate | BrotliDecompress) | undefined> = {
  identity: undefined,
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
export const ACCEPTED_ENCODINGS = 'gzip, deflate, br';

/** The body's content coding, lower-cased ('' for none). */
function codingOf(req: IncomingMessage): string {
  return (req.headers['content-encoding'] ?? '').trim().toLowerCase();
}

/** Whether the request says a body follows: a length above 0, or a transfer coding. */
export function declaresBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Refuses, on the headers alone, a body the gateway would refuse anyway: a declared
 * length over `limit` (413), a Content-Type other than JSON (415; none at all is
 * taken as JSON, as curl and some SDKs send it), a Content-Encoding other than gzip,
 * deflate, br or identity (415 with `Accept-Encoding`, RFC 9110 §15.5.16).
 */
export function checkBodyHeaders(req: IncomingMessage, limit: number): void {
  if (Number(req.headers['content-length']) > limit) throw payloadTooLarge(limit);
  const coding = codingOf(req);
  if (coding !== '' && !(coding in DECODERS)) throw unsupportedContentEncoding(coding, ACCEPTED_ENCODINGS);
  const contentType = req.headers['content-type'];
  if (contentType !== undefined && !JSON_TYPE.test(contentType)) throw unsupportedMediaType(contentType);
}

/** An HTTP/1.1 request waiting for `100 Continue` before it sends its body (RFC 9110 §10.1.1). */
export function expectsContinue(req: IncomingMessage): boolean {
  return req.httpVersion === '1.1' && /(?:^|[\s,;])100-continue(?:$|[\s,;])/iu.test(req.headers.expect ?? '');
}

/**
 * Reads a request body, decoding its content coding, and enforces `limit` while reading
 * on the bytes received and on the decoded bytes alike (a gzip bomb stops at the limit,
 * as do endless empty gzip members): past it, rejects with 413 at once without
 * buffering the rest (which stays unread: the error response discards it). A body that
 * does not decode is a 400.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const coding = codingOf(req);
  const decoder = DECODERS[coding]?.();
  const source: Readable = decoder ? req.pipe(decoder) : req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let received = 0;
    const cleanup = (): void => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      if (decoder) {
        req.off('data', onReceived);
        req.off('error', fail);
        req.unpipe(decoder);
        // Whatever it still says once stopped is of no interest.
        decoder.on('error', () => undefined);
        decoder.destroy();
      }
    };
    const fail = (err: Error): void => {
      cleanup();
      req.pause();
      reject(err);
    };
    const onReceived = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limit) fail(payloadTooLarge(limit));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        fail(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    // The decoder's errors are the body's fault; the request's own (a client gone) are not.
    const onError = (err: Error): void => {
      if (source === req) fail(err);
      else fail(invalidRequest(`The request body is not valid ${coding} data (Content-Encoding: ${coding}).`, null, 'invalid_body_encoding'));
    };
    if (decoder) {
      req.on('data', onReceived);
      req.on('error', fail);
    }
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
  });
}
