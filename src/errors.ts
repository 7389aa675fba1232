/**
 * Typed errors shared by every layer, and every function that builds one. Anything a
 * client can see is a `GatewayError` whose `code` is one of the spec's `ErrorCode`s
 * (generated from openapi.yaml, so an undocumented code does not compile); its HTTP
 * status and type are the ones the spec gives that code. The HTTP edge renders it in one
 * place (`gateway/error-response.ts`) in OpenAI's shape `{"error":{"message","type","param","code"}}`.
 */
import { errorCodes, type ErrorCode, type ErrorType } from '../generated/error-codes.js';

export type { ErrorCode, ErrorType };

interface ErrorDetails {
  message: string;
  param?: string | null;
  /** True when the same request may succeed later (upstream down, timeout). */
  retryable?: boolean;
  /** Seconds the client should wait before retrying (`Retry-After` over HTTP). */
  retryAfterSeconds?: number;
  /** Response headers that belong to the error (`allow`, `www-authenticate`). */
  headers?: Record<string, string>;
  /** What the log line adds (the upstream's address, its own words); never shown to clients. */
  logDetail?: string;
  cause?: unknown;
}

/**
 * What a typed error carries: a documented code (its status and type come from the spec),
 * or no code at all for the one error OpenAI answers without one (an unknown route).
 */
export type GatewayErrorInit = ErrorDetails & ({ code: ErrorCode } | { code: null; status: number; type: ErrorType });

/** An error whose message is safe to show to the client. */
export class GatewayError extends Error {
  /** The HTTP status the spec gives `code`. */
  readonly status: number;
  readonly type: ErrorType;
  readonly code: ErrorCode | null;
  readonly param: string | null;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly logDetail: string | undefined;

  constructor(init: GatewayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GatewayError';
    const spec = init.code === null ? init : errorCodes[init.code];
    this.status = spec.status;
    this.type = spec.type;
    this.code = init.code;
    this.param = init.param ?? null;
    this.retryable = init.retryable ?? false;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.headers = init.headers ?? {};
    this.logDetail = init.logDetail;
  }
}

// ---------------------------------------------------------------------------
// The request: 400s and the routing 404

/** 400 for input the client can fix; `param` names the field or header at fault. */
export function invalidRequest(message: string, param: string | null, code: ErrorCode = 'invalid_value'): GatewayError {
  return new GatewayError({ code, message, param });
}

/** 404 `model_not_found`: the request names an agent that is not configured. */
export function agentNotFound(agentId: string, param: string, requested: string): GatewayError {
  return new GatewayError({
    code: 'model_not_found',
    param,
    message: `The model '${requested}' does not exist: no agent with id '${agentId}' is configured.`,
  });
}

/** 404 `model_not_found` of `GET /v1/models/{model}`. */
export function modelNotFound(requested: string): GatewayError {
  return new GatewayError({
    code: 'model_not_found',
    param: 'model',
    message: `The model '${requested.slice(0, 256)}' does not exist: GET /v1/models lists the agents.`,
  });
}

// ---------------------------------------------------------------------------
// The HTTP edge: before a handler runs

/** 404 with no code, as OpenAI answers an unknown URL. */
export function routeNotFound(method: string, path: string): GatewayError {
  return new GatewayError({ status: 404, type: 'invalid_request_error', code: null, message: `Invalid URL (${method} ${path.slice(0, 200)})` });
}

export function methodNotAllowed(method: string, path: string, allow: string): GatewayError {
  return new GatewayError({
    code: 'method_not_allowed',
    message: `Method ${method} is not allowed on ${path.slice(0, 200)}; use ${allow}.`,
    headers: { allow },
  });
}

/** 401 in OpenAI's shape; never says what was sent. */
export function unauthorized(): GatewayError {
  return new GatewayError({
    code: 'invalid_api_key',
    message: "Missing or invalid bearer token: send 'Authorization: Bearer <token>' with the gateway's secret.",
    headers: { 'www-authenticate': 'Bearer' },
  });
}

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

/** 413 in OpenAI's shape. */
export function payloadTooLarge(limit: number): GatewayError {
  return new GatewayError({ code: 'request_too_large', message: `The request body exceeds the limit of ${limit} bytes.` });
}

export function unsupportedContentEncoding(coding: string, accepted: string): GatewayError {
  return new GatewayError({
    code: 'unsupported_content_encoding',
    message: `Content-Encoding '${coding.slice(0, 100)}' is not supported; send the body as is, or with gzip, deflate or br.`,
    headers: { 'accept-encoding': accepted },
  });
}

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

// ---------------------------------------------------------------------------
// Running a turn

/** Seconds a client refused at capacity is asked to wait; runs usually take a few seconds. */
export const AT_CAPACITY_RETRY_SECONDS = 1;

/** 429: the gateway (`queue_full`) or a provider with its own cap (`provider_queue_full`) is at capacity. */
export function atCapacity(code: 'queue_full' | 'provider_queue_full', what: string, maxConcurrent: number, maxQueued: number): GatewayError {
  return new GatewayError({
    code,
    message: `${what} is at capacity (${maxConcurrent} running, ${maxQueued} queued); retry after ${AT_CAPACITY_RETRY_SECONDS} s.`,
    retryable: true,
    retryAfterSeconds: AT_CAPACITY_RETRY_SECONDS,
  });
}

/** 502: the provider could not be reached or answered with an error; `logDetail` goes to the log only. */
export function upstreamError(
  message: string,
  code: 'upstream_error' | 'upstream_unavailable' | 'upstream_incomplete' | 'upstream_event_too_large' | 'upstream_reply_too_large' = 'upstream_error',
  cause?: unknown,
  retryAfterSeconds?: number,
  logDetail?: string,
): GatewayError {
  return new GatewayError({
    code,
    message,
    retryable: true,
    cause,
    ...(logDetail === undefined ? {} : { logDetail }),
    // The provider asked to wait: the client is told the same.
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/** 504: the provider did not answer in time. */
export function upstreamTimeout(message: string, cause?: unknown, logDetail?: string): GatewayError {
  return new GatewayError({ code: 'upstream_timeout', message, retryable: true, cause, ...(logDetail === undefined ? {} : { logDetail }) });
}

/** 500 with a fixed message: used for anything unexpected, so no internals leak. */
export function internalError(cause?: unknown): GatewayError {
  return new GatewayError({ code: 'internal_error', message: 'The gateway failed to process the request.', cause });
}

/** 504: the agent run took longer than its `timeoutSeconds`. */
export function runTimeout(seconds: number): GatewayError {
  return new GatewayError({ code: 'run_timeout', message: `The agent run did not finish within ${seconds} s.`, retryable: true });
}

/** 503: the gateway is shutting down and ended or refused the run. */
export function shuttingDown(): GatewayError {
  return new GatewayError({
    code: 'shutting_down',
    message: 'The gateway is shutting down; retry against another instance or after it restarts.',
    retryable: true,
  });
}

/**
 * 507: the session store has no room (disk full, or `session.maxStoreBytes` reached), so
 * the turn could not be recorded. Nothing of the turn is kept and no reply is returned;
 * the same request succeeds once space is freed.
 */
export function storageFull(cause?: unknown): GatewayError {
  return new GatewayError({
    code: 'storage_full',
    message: "The gateway's session storage is full, so this turn could not be recorded and no reply is returned. Retry once space has been freed.",
    retryable: true,
    cause,
  });
}

/** Any thrown value as a `GatewayError`; unknown failures become a generic 500. */
export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : internalError(err);
}

/** Thrown when a run is aborted by its owner (client gone, shutdown); never rendered. */
export class RunAbortedError extends Error {
  constructor(reason = 'The run was aborted.') {
    super(reason);
    this.name = 'RunAbortedError';
  }
}
