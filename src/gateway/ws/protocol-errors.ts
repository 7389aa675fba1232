/**
 * Errors of the WebSocket protocol, in its own shape (`ErrorShape`: `code`, `message`,
 * `details`, `retryable`, `retryAfterMs`, nothing else: clients drop a frame with any
 * other key). The codes are the protocol's: `INVALID_REQUEST` for anything the client
 * must change, `UNAVAILABLE` for a run or dependency that failed or is at capacity
 * (retryable, with a wait when known), `AGENT_TIMEOUT` for a run past its time,
 * `NOT_PAIRED` is never sent (no pairing). A `GatewayError` from the core keeps its own
 * code and field in `details`.
 */
import type { ErrorObject } from 'ajv';
import type { ErrorShape } from '../../../generated/ws/types.js';
import { GatewayError } from '../../domain/errors.js';

export type ProtocolErrorCode = 'INVALID_REQUEST' | 'UNAVAILABLE' | 'AGENT_TIMEOUT';

/** A request refused in the protocol's terms; `payload` rides along on `ok:false` (the `agent` final). */
export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    readonly extra: { details?: unknown; retryable?: boolean; retryAfterMs?: number; payload?: unknown } = {},
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export const invalidRequest = (message: string, details?: unknown): ProtocolError =>
  new ProtocolError('INVALID_REQUEST', message, details === undefined ? {} : { details });

export const unavailable = (message: string, retryAfterMs?: number): ProtocolError =>
  new ProtocolError('UNAVAILABLE', message, { retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

/** The core's error codes that mean the run took too long. */
const TIMEOUT_CODES = new Set(['run_timeout', 'upstream_timeout']);
/** The core's 4xx codes that are a wait, not a bad request. */
const RETRY_CODES = new Set(['idempotency_key_in_use']);

/** Any thrown value as an `ErrorShape`; unknown failures get a fixed message (no internals leak). */
export function toErrorShape(err: unknown): ErrorShape {
  if (err instanceof ProtocolError) {
    const { details, retryable, retryAfterMs } = err.extra;
    return {
      code: err.code,
      message: err.message || err.code,
      ...(details === undefined ? {} : { details }),
      ...(retryable === undefined ? {} : { retryable }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  const gateway = err instanceof GatewayError ? err : undefined;
  if (!gateway) return { code: 'UNAVAILABLE', message: 'The gateway failed to process the request.', retryable: true };
  const retry = gateway.status === 429 || gateway.status >= 500 || (gateway.code !== null && RETRY_CODES.has(gateway.code));
  const code = gateway.code !== null && TIMEOUT_CODES.has(gateway.code) ? 'AGENT_TIMEOUT' : retry ? 'UNAVAILABLE' : 'INVALID_REQUEST';
  const details = Object.assign({}, gateway.code === null ? {} : { code: gateway.code }, gateway.param === null ? {} : { param: gateway.param });
  return {
    code,
    message: gateway.message || 'The request failed.',
    details,
    ...(code === 'INVALID_REQUEST' ? {} : { retryable: gateway.retryable || retry }),
    ...(gateway.retryAfterSeconds === undefined ? {} : { retryAfterMs: gateway.retryAfterSeconds * 1000 }),
  };
}

/** Ajv's errors the way the reference words them: `at /client/id: must be ...; at root: unexpected property 'x'`. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  const parts = (errors ?? []).slice(0, 5).map((error) => {
    const where = error.instancePath === '' ? 'root' : error.instancePath;
    if (error.keyword === 'additionalProperties') return `at ${where}: unexpected property '${String((error.params as { additionalProperty: string }).additionalProperty).slice(0, 80)}'`;
    return `at ${where}: ${error.message ?? 'is invalid'}`;
  });
  return parts.join('; ') || 'is invalid';
}

/** The first field path an Ajv error points at (for `details.param`). */
export function schemaErrorField(errors: readonly ErrorObject[] | null | undefined): string | undefined {
  const error = errors?.[0];
  if (!error) return undefined;
  if (error.keyword === 'required') return `${error.instancePath}/${(error.params as { missingProperty: string }).missingProperty}`;
  if (error.keyword === 'additionalProperties') return `${error.instancePath}/${(error.params as { additionalProperty: string }).additionalProperty}`;
  return error.instancePath || undefined;
}
