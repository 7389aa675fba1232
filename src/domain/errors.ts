/**
 * Typed errors shared by the core, the store and the providers, and every function that
 * builds one (the HTTP edge's own are in `gateway/http-errors.ts`). Anything a client can
 * see is a `GatewayError` whose `code` is one of the spec's `ErrorCode`s (generated from
 * openapi.yaml, so an undocumented code does not compile); its status and type are the
 * ones the spec gives that code. Nothing here is HTTP: a wait is `retryAfterSeconds`, and
 * an input at fault is a `TurnField` that each edge names its own way (`named`).
 */
import { errorCodes, type ErrorCode, type ErrorType } from '../../generated/error-codes.js';

export type { ErrorCode, ErrorType };

/**
 * Which input of a turn request was at fault, in the turn request's own terms
 * (`TurnRequest` in agents/core-api.ts): an edge maps it to its own name for it (a
 * header, a field path, a command-line flag).
 */
export type TurnField = 'agentId' | 'sessionKey' | 'model' | 'input' | 'idempotencyKey' | `input[${number}].images[${number}]`;

interface ErrorDetails {
  message: string;
  param?: string | null;
  /** The turn input at fault; `describe` words the message for a name of it. */
  field?: TurnField;
  describe?: (name: string) => string;
  /** True when the same request may succeed later (upstream down, timeout). */
  retryable?: boolean;
  /** Seconds the client should wait before retrying. */
  retryAfterSeconds?: number;
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
  /** The status the spec gives `code` (an HTTP status; other transports may ignore it). */
  readonly status: number;
  readonly type: ErrorType;
  readonly code: ErrorCode | null;
  /** The request field or header at fault, as the edge that took the request names it. */
  readonly param: string | null;
  /** The turn input at fault, until an edge has named it (`named`). */
  readonly field: TurnField | undefined;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly logDetail: string | undefined;
  private readonly init: GatewayErrorInit;

  constructor(init: GatewayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GatewayError';
    const spec = init.code === null ? init : errorCodes[init.code];
    this.init = init;
    this.status = spec.status;
    this.type = spec.type;
    this.code = init.code;
    this.param = init.param ?? init.field ?? null;
    this.field = init.field;
    this.retryable = init.retryable ?? false;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.logDetail = init.logDetail;
  }

  /** This error with its field named `name`: as `param`, and in the message. */
  named(name: string): GatewayError {
    const { field: _field, describe, ...rest } = this.init;
    return new GatewayError(Object.assign({}, rest, { param: name }, describe ? { message: describe(name) } : {}));
  }
}

/** Thrown when a run is aborted by its owner (client gone, shutdown); never rendered. */
export class RunAbortedError extends Error {
  constructor(reason = 'The run was aborted.') {
    super(reason);
    this.name = 'RunAbortedError';
  }
}

/** Seconds a client is asked to wait when the session store is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 2;

/**
 * The session store (PostgreSQL) cannot be reached or did not answer in time, so the turn
 * could not be read or recorded. Nothing half-done is acknowledged; the gateway reconnects
 * by itself and the same request succeeds once the store is back.
 */
export function storeUnavailable(cause?: unknown): GatewayError {
  return new GatewayError({
    code: 'store_unavailable',
    message: "The gateway's session store is unavailable, so this turn could not be run or recorded. Retry after the time in Retry-After.",
    retryable: true,
    retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
    cause,
  });
}

/** 409, retry after a second: a request with this idempotency key is still running. */
export function idempotencyKeyInUse(): GatewayError {
  return new GatewayError({
    code: 'idempotency_key_in_use',
    field: 'idempotencyKey',
    describe: (name) => `A request with this ${name} is still running; retry in 1 s to get its response.`,
    message: 'A request with this idempotency key is still running; retry in 1 s to get its response.',
    retryAfterSeconds: 1,
  });
}

/** 409: this idempotency key came with a different request within its window. */
export function idempotencyKeyReused(): GatewayError {
  return new GatewayError({
    code: 'idempotency_key_reused',
    field: 'idempotencyKey',
    describe: (name) => `This ${name} was used for a different request within the last 10 minutes; use a new key for a new request.`,
    message: 'This idempotency key was used for a different request within the last 10 minutes; use a new key for a new request.',
  });
}

/** Any thrown value as a `GatewayError`; unknown failures become a generic 500. */
export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : internalError(err);
}

/** 500 with a fixed message: used for anything unexpected, so no internals leak. */
export function internalError(cause?: unknown): GatewayError {
  return new GatewayError({ code: 'internal_error', message: 'The gateway failed to process the request.', cause });
}

/** 400 naming the turn input at fault; `describe` words the message for a name of it. */
function invalidInput(field: TurnField, code: ErrorCode, describe: (name: string) => string): GatewayError {
  return new GatewayError({ code, field, describe, message: describe(field) });
}

// ---------------------------------------------------------------------------
// Routing a turn

/** 400 `invalid_agent_id`: an agent id (explicit, or a model prefix's) that is not the spec's `AgentId`. */
export function invalidAgentId(raw: string, field: 'agentId' | 'model'): GatewayError {
  return invalidInput(
    field,
    'invalid_agent_id',
    (name) => `Invalid agent id '${raw.slice(0, 80)}' in ${name}: ids are 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit.`,
  );
}

/** 404 `model_not_found`: the request names an agent that is not configured. */
export function agentNotFound(agentId: string, field: 'agentId' | 'model', requested: string): GatewayError {
  return invalidInput(field, 'model_not_found', () => `The model '${requested}' does not exist: no agent with id '${agentId}' is configured.`);
}

/** 400: a session key's `agent:<id>:` prefix names another agent (which the message does not repeat). */
export function sessionAgentMismatch(agentId: string): GatewayError {
  return invalidInput(
    'sessionKey',
    'session_agent_mismatch',
    () =>
      `The session key's 'agent:<id>:' prefix names a different agent than the one this request runs ('${agentId}'); use a key with the prefix 'agent:${agentId}:' or without an agent prefix.`,
  );
}

// ---------------------------------------------------------------------------
// A turn's input

/** 400 `missing_new_turn`: nothing for the model to answer after the last assistant message. */
export function missingNewTurn(): GatewayError {
  return invalidInput('input', 'missing_new_turn', (name) => `${name} must end with at least one user or tool message after the last assistant message.`);
}

/** 400 `too_many_images`: more images than the policy's `maxCount`. */
export function tooManyImages(count: number, max: number): GatewayError {
  return invalidInput('input', 'too_many_images', () => `The request has ${count} images; the limit is ${max}.`);
}

/** 400 `images_not_supported`: images for an agent whose provider takes none. */
export function imagesNotSupported(agentId: string, providerId: string): GatewayError {
  return invalidInput(
    'input',
    'images_not_supported',
    () => `Agent '${agentId}' runs on provider '${providerId}', which cannot take images; send text only or use an agent with a vision-capable provider.`,
  );
}

/** 400 `image_too_large`: an image larger than the policy's `maxBytes`, decoded or as fetched. */
export function imageTooLarge(field: TurnField, bytes: number, maxBytes: number): GatewayError {
  return invalidInput(field, 'image_too_large', (name) => `The image at '${name}' is ${bytes} bytes; the limit is ${maxBytes}.`);
}

/** 400 `invalid_image`: an empty image, or one that is neither a data: URI nor an http(s) URL. */
export function invalidImage(field: TurnField, problem: 'empty' | 'scheme'): GatewayError {
  return invalidInput(field, 'invalid_image', (name) =>
    problem === 'empty' ? `The image at '${name}' is empty.` : `The image at '${name}' must be a data:image/...;base64 URI or an http(s) URL.`,
  );
}

/** 400 `image_url_not_allowed`: an http(s) image while the policy fetches none. */
export function imageUrlNotAllowed(field: TurnField): GatewayError {
  return invalidInput(
    field,
    'image_url_not_allowed',
    (name) => `Image URLs are not fetched by this gateway (gateway.http.images.allowUrls is off); send the image at '${name}' as a data:image/...;base64 URI.`,
  );
}

/** 400 `image_fetch_failed`: an image URL that could not be fetched, `why` in words that name no internals. */
export function imageFetchFailed(field: TurnField, why: string): GatewayError {
  return invalidInput(field, 'image_fetch_failed', (name) => `The image at '${name}' could not be fetched: ${why}.`);
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

/** The 502 codes of a failed provider. */
export type UpstreamErrorCode = 'upstream_error' | 'upstream_unavailable' | 'upstream_incomplete' | 'upstream_event_too_large' | 'upstream_reply_too_large';

/**
 * 502: the provider could not be reached or answered with an error; `logDetail` goes to
 * the log only, `retryAfterSeconds` is what the provider asked to wait.
 */
export function upstreamError(
  message: string,
  code: UpstreamErrorCode = 'upstream_error',
  extra: { cause?: unknown; retryAfterSeconds?: number | undefined; logDetail?: string | undefined } = {},
): GatewayError {
  return new GatewayError({
    code,
    message,
    retryable: true,
    cause: extra.cause,
    ...(extra.logDetail === undefined ? {} : { logDetail: extra.logDetail }),
    ...(extra.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: extra.retryAfterSeconds }),
  });
}

/** 504: the provider did not answer in time. */
export function upstreamTimeout(message: string, cause?: unknown, logDetail?: string): GatewayError {
  return new GatewayError({ code: 'upstream_timeout', message, retryable: true, cause, ...(logDetail === undefined ? {} : { logDetail }) });
}

/** 502: the model's reply outgrew the agent's `maxReplyBytes`; the run ends (the upstream request is closed). */
export function replyTooLarge(providerId: string, maxReplyBytes: number): GatewayError {
  return upstreamError(
    `The model provider '${providerId}' sent a reply longer than ${maxReplyBytes} bytes (maxReplyBytes); the run was ended.`,
    'upstream_reply_too_large',
  );
}

/** 504: the agent run took longer than its `timeoutSeconds`. */
export function runTimeout(seconds: number): GatewayError {
  return new GatewayError({ code: 'run_timeout', message: `The agent run did not finish within ${seconds} s.`, retryable: true });
}

/** Seconds a client refused by a stopping gateway is told to wait: a load balancer has moved on by then. */
export const SHUTDOWN_RETRY_SECONDS = 1;

/** 503: the gateway is shutting down and ended or refused the run. */
export function shuttingDown(): GatewayError {
  return new GatewayError({
    code: 'shutting_down',
    message: 'The gateway is shutting down; retry against another instance or after it restarts.',
    retryable: true,
    retryAfterSeconds: SHUTDOWN_RETRY_SECONDS,
  });
}

/** 503 from the readiness probe: the gateway is draining before it stops and takes no new turns. */
export function draining(): GatewayError {
  return new GatewayError({
    code: 'draining',
    message: 'The gateway is draining before it stops; it takes no new turns. Send them to another instance.',
    retryable: true,
    retryAfterSeconds: SHUTDOWN_RETRY_SECONDS,
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
