/**
 * Typed errors shared by every layer. Anything a client can see is a `GatewayError`;
 * the HTTP edge renders it in one place (`gateway/error-response.ts`) in OpenAI's shape
 * `{"error":{"message","type","param","code"}}`.
 */

/** OpenAI's error classes, plus ours for failures of the agent's model provider. */
export type ErrorType = 'invalid_request_error' | 'server_error' | 'upstream_error';

/** What a typed error carries; `status` is the HTTP status it maps to. */
export interface GatewayErrorInit {
  status: number;
  type: ErrorType;
  code: string | null;
  message: string;
  param?: string | null;
  /** True when the same request may succeed later (upstream down, timeout). */
  retryable?: boolean;
  /** Response headers that belong to the error (`retry-after`). */
  headers?: Record<string, string>;
  /** What the log line adds (the upstream's address, its own words); never shown to clients. */
  logDetail?: string;
  cause?: unknown;
}

/** An error whose message is safe to show to the client. */
export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryable: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly logDetail: string | undefined;

  constructor(init: GatewayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GatewayError';
    this.status = init.status;
    this.type = init.type;
    this.code = init.code;
    this.param = init.param ?? null;
    this.retryable = init.retryable ?? false;
    this.headers = init.headers ?? {};
    this.logDetail = init.logDetail;
  }
}

/** 400 for input the client can fix; `param` names the field or header at fault. */
export function invalidRequest(message: string, param: string | null, code = 'invalid_value'): GatewayError {
  return new GatewayError({ status: 400, type: 'invalid_request_error', code, message, param });
}

/** 404 `model_not_found`: the request names an agent that is not configured. */
export function agentNotFound(agentId: string, param: string, requested: string): GatewayError {
  return new GatewayError({
    status: 404,
    type: 'invalid_request_error',
    code: 'model_not_found',
    param,
    message: `The model '${requested}' does not exist: no agent with id '${agentId}' is configured.`,
  });
}

/** 502: the provider could not be reached or answered with an error; `logDetail` goes to the log only. */
export function upstreamError(message: string, code = 'upstream_error', cause?: unknown, retryAfterSeconds?: number, logDetail?: string): GatewayError {
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code,
    message,
    retryable: true,
    cause,
    ...(logDetail === undefined ? {} : { logDetail }),
    // The provider asked to wait: the client is told the same.
    ...(retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } }),
  });
}

/** 504: the provider did not answer in time. */
export function upstreamTimeout(message: string, cause?: unknown, logDetail?: string): GatewayError {
  return new GatewayError({
    status: 504,
    type: 'upstream_error',
    code: 'upstream_timeout',
    message,
    retryable: true,
    cause,
    ...(logDetail === undefined ? {} : { logDetail }),
  });
}

/** 500 with a fixed message: used for anything unexpected, so no internals leak. */
export function internalError(cause?: unknown): GatewayError {
  return new GatewayError({
    status: 500,
    type: 'server_error',
    code: 'internal_error',
    message: 'The gateway failed to process the request.',
    cause,
  });
}

/** 504: the agent run took longer than its `timeoutSeconds`. */
export function runTimeout(seconds: number): GatewayError {
  return new GatewayError({
    status: 504,
    type: 'server_error',
    code: 'run_timeout',
    message: `The agent run did not finish within ${seconds} s.`,
    retryable: true,
  });
}

/** 503: the gateway is shutting down and ended or refused the run. */
export function shuttingDown(): GatewayError {
  return new GatewayError({
    status: 503,
    type: 'server_error',
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
    status: 507,
    type: 'server_error',
    code: 'storage_full',
    message: "The gateway's session storage is full, so this turn could not be recorded and no reply is returned. Retry once space has been freed.",
    retryable: true,
    cause,
  });
}

/** Seconds a client is asked to wait when the session store is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 2;

/**
 * 503: the session store (PostgreSQL) cannot be reached or did not answer in time, so
 * the turn could not be read or recorded. Nothing half-done is acknowledged; the gateway
 * reconnects by itself and the same request succeeds once the store is back.
 */
export function storeUnavailable(cause?: unknown): GatewayError {
  return new GatewayError({
    status: 503,
    type: 'server_error',
    code: 'store_unavailable',
    message: "The gateway's session store is unavailable, so this turn could not be run or recorded. Retry after the time in Retry-After.",
    retryable: true,
    headers: { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
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
