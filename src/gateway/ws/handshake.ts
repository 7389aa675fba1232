/**
 * The first client frame: it must be a `connect` request whose params pass the schema,
 * whose protocol range includes 3, with the gateway's secret (`auth.token` in token
 * mode, `auth.password` in password mode, compared in constant time, failures counted
 * by the same per-address limiter as HTTP's bearer auth) and, when it carries a `device`
 * block, a valid device signature. Role `node` is not offered (operators only); scopes
 * are taken as asked (none means `operator.admin`, as in the reference).
 */
import type { ConnectParams, ErrorShape, RequestFrame } from '../../../generated/ws/types.js';
import { validateConnectParams } from '../../../generated/ws/methods.js';
import type { AuthMode } from '../../config/types.js';
import type { AuthFailureCounter } from '../../domain/auth-failure-counter.js';
import { isLoopback } from '../../domain/auth-limiter.js';
import { deviceProblem } from './device-auth.js';
import { describeSchemaErrors, invalidRequest, toErrorShape, type ProtocolError } from './protocol-errors.js';

export const PROTOCOL_VERSION = 3;

export interface HandshakeContext {
  challengeNonce: string;
  remoteAddress: string;
  mode: AuthMode;
  checkSecret: (presented: string | undefined) => boolean;
  limiter: AuthFailureCounter | undefined;
  now: number;
}

/** Who connected, once the handshake passed. */
export interface Peer {
  client: ConnectParams['client'];
  role: 'operator';
  /** Effective scopes: as asked, or `operator.admin` when none were. */
  scopes: ReadonlySet<string>;
  deviceId: string | undefined;
}

export type HandshakeResult =
  | { ok: true; peer: Peer }
  | { ok: false; error: ErrorShape; close: { code: number; reason: string } };

/** Close reasons are at most 123 bytes; the reference cuts them to 120. */
function closeReason(message: string): string {
  const bytes = Buffer.from(message, 'utf8');
  return bytes.length <= 120 ? message : bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/u, '');
}

const refuse = (err: ProtocolError, code = 1008): HandshakeResult => ({ ok: false, error: toErrorShape(err), close: { code, reason: closeReason(err.message) } });

/** Checks the first request (already a valid `RequestFrame`). */
export function handshake(frame: RequestFrame, ctx: HandshakeContext): HandshakeResult {
  if (frame.method !== 'connect') return refuse(invalidRequest('invalid handshake: first request must be connect'));
  const params = frame.params ?? {};
  if (!validateConnectParams(params)) return refuse(invalidRequest(`invalid connect params: ${describeSchemaErrors(validateConnectParams.errors)}`));
  if (params.maxProtocol < PROTOCOL_VERSION || params.minProtocol > PROTOCOL_VERSION) {
    return refuse(invalidRequest('protocol mismatch', { expectedProtocol: PROTOCOL_VERSION }), 1002);
  }
  const role = params.role ?? 'operator';
  if (role !== 'operator') return refuse(invalidRequest(role === 'node' ? 'role node is not supported by this gateway (operators only)' : 'invalid role'));

  const blockedFor = ctx.limiter?.blockedFor(ctx.remoteAddress) ?? 0;
  if (blockedFor > 0) {
    const err = invalidRequest(`unauthorized: too many failed authentication attempts from this address; retry in ${blockedFor} s`);
    return { ok: false, error: Object.assign(toErrorShape(err), { retryable: true, retryAfterMs: blockedFor * 1000 }), close: { code: 1008, reason: closeReason(err.message) } };
  }
  const presented = ctx.mode === 'token' ? params.auth?.token : params.auth?.password;
  if (!ctx.checkSecret(presented)) {
    // Counted without waiting (on PostgreSQL it is a write shared by the replicas); a failed count is no reason to crash.
    ctx.limiter?.failed(ctx.remoteAddress).catch(() => undefined);
    const what = ctx.mode === 'token' ? 'token' : 'password';
    const why = presented === undefined || presented === '' ? 'missing' : 'mismatch';
    return refuse(invalidRequest(`unauthorized: gateway ${what} ${why} (set auth.${what} in connect to the gateway's ${what})`));
  }
  const requested = params.scopes ?? [];
  if (params.device) {
    const problem = deviceProblem(
      params.device,
      { clientId: params.client.id, clientMode: params.client.mode, role, scopes: requested, token: params.auth?.token ?? '' },
      ctx.challengeNonce,
      isLoopback(ctx.remoteAddress),
      ctx.now,
    );
    if (problem) return refuse(invalidRequest(problem));
  }
  return {
    ok: true,
    peer: { client: params.client, role: 'operator', scopes: new Set(requested.length > 0 ? requested : ['operator.admin']), deviceId: params.device?.id },
  };
}
