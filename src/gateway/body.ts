import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/** 413 in OpenAI's shape. */
export function payloadTooLarge(limit: number): GatewayError {
  return new GatewayError({
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    message: `The request body exceeds the limit of ${limit} bytes.`,
  });
}

/**
 * Reads a request body, enforcing `limit` while reading: a declared or streamed size over
 * the limit rejects with 413 as soon as it is known, without buffering the rest.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(payloadTooLarge(limit));
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

/** Why a body cannot be a request at all; reported only after auth. */
export type BodyProblem = 'invalid_json' | 'not_object';

/**
 * Parses a JSON body. Text that is not JSON, and JSON that is a string, come back as a
 * problem with no body: openapi-backend would otherwise JSON-parse a string body again.
 */
export function parseJsonBody(raw: Buffer): { body: unknown; problem?: BodyProblem } {
  if (raw.length === 0) return { body: undefined };
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return { body: undefined, problem: 'invalid_json' };
  }
  return typeof body === 'string' ? { body: undefined, problem: 'not_object' } : { body };
}
