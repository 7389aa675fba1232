/**
 * The errors the HTTP edge raises itself, before or around a handler: routing, auth, the
 * body, validation, the spec's documents. Each is a `GatewayError` with a documented
 * code; the few that come with headers of their own (`Allow`, `WWW-Authenticate`,
 * `Accept-Encoding`) are `HttpError`s, which only this edge knows. Rendered by
 * `error-response.ts` like every other error.
 */
import type { OperationErrorHeaders } from '../../generated/operations.js';
import { GatewayError, type ErrorCode, type GatewayErrorInit } from '../domain/errors.js';

/** A header an error response may carry, as the spec declares them. */
export type ErrorHeaderName = OperationErrorHeaders[keyof OperationErrorHeaders];

/** An edge error with response headers of its own. */
export class HttpError extends GatewayError {
  constructor(
    init: GatewayErrorInit,
    readonly headers: Readonly<Partial<Record<ErrorHeaderName, string>>>,
  ) {
    super(init);
  }
}

/** 400 for input the client can fix; `param` names the field or header at fault. */
export function invalidRequest(message: string, param: string | null, code: ErrorCode = 'invalid_value'): GatewayError {
  return new GatewayError({ code, message, param });
}

/** 404 with no code, as OpenAI answers an unknown URL. */
export function routeNotFound(method: string, path: string): GatewayError {
  return new GatewayError({ status: 404, type: 'invalid_request_error', code: null, message: `Invalid URL (${method} ${path.slice(0, 200)})` });
}

/** 405 with `Allow`: the path exists, the method does not. */
export function methodNotAllowed(method: string, path: string, allow: string): GatewayError {
  return new HttpError({ code: 'method_not_allowed', message: `Method ${method} is not allowed on ${path.slice(0, 200)}; use ${allow}.` }, { allow });
}

/** 404 `model_not_found` of `GET /v1/models/{model}`. */
export function modelNotFound(requested: string): GatewayError {
  return new GatewayError({
    code: 'model_not_found',
    param: 'model',
    message: `The model '${requested.slice(0, 256)}' does not exist: GET /v1/models lists the agents.`,
  });
}

/** 401 in OpenAI's shape; never says what was sent. */
export function unauthorized(): GatewayError {
  return new HttpError(
    { code: 'invalid_api_key', message: "Missing or invalid bearer token: send 'Authorization: Bearer <token>' with the gateway's secret." },
    { 'www-authenticate': 'Bearer' },
  );
}

/** 429: the address failed authentication too often; blocked for `seconds`, even with the right secret. */
export function tooManyAuthFailures(seconds: number): GatewayError {
  return new GatewayError({
    code: 'too_many_auth_failures',
    message: `Too many failed authentication attempts from this address; retry after ${seconds} s.`,
    retryAfterSeconds: seconds,
  });
}

/** 400: a header that may appear once came more than once. */
export function duplicateHeader(name: string): GatewayError {
  return invalidRequest(`The request has more than one '${name}' header; send it once.`, name, 'duplicate_header');
}

/** 413: a body over `maxBodyBytes` (declared, received or decoded). */
export function payloadTooLarge(limit: number): GatewayError {
  return new GatewayError({ code: 'request_too_large', message: `The request body exceeds the limit of ${limit} bytes.` });
}

/** 415 with `Accept-Encoding`: a content coding the edge does not decode. */
export function unsupportedContentEncoding(coding: string, accepted: string): GatewayError {
  return new HttpError(
    { code: 'unsupported_content_encoding', message: `Content-Encoding '${coding.slice(0, 100)}' is not supported; send the body as is, or with gzip, deflate or br.` },
    { 'accept-encoding': accepted },
  );
}

/** 415: a body that is not JSON. */
export function unsupportedMediaType(contentType: string): GatewayError {
  return new GatewayError({
    code: 'unsupported_media_type',
    message: `Content-Type '${contentType.slice(0, 100)}' is not supported; send 'Content-Type: application/json'.`,
  });
}

/** What Node refuses before any handler runs: oversized headers, a slow client, malformed HTTP. */
export function clientError(nodeCode: string | undefined, maxHeaderBytes: number): GatewayError {
  if (nodeCode === 'HPE_HEADER_OVERFLOW') return new GatewayError({ code: 'headers_too_large', message: `The request headers exceed ${maxHeaderBytes} bytes.` });
  if (nodeCode === 'ERR_HTTP_REQUEST_TIMEOUT') return new GatewayError({ code: 'request_timeout', message: 'The request was not received in time.' });
  return new GatewayError({ code: 'malformed_request', message: 'The request is not valid HTTP.' });
}

/** 500: a file the gateway serves is missing from its installation. */
export function docsMissing(what: string, cause: unknown): GatewayError {
  return new GatewayError({ code: 'docs_missing', message: `The ${what} is not available; run 'npm run build'.`, cause });
}

