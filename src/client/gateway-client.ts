/**
 * A client of the gateway's WebSocket protocol that behaves as the reference client
 * (`GatewayClient` of clawdbot@2026.1.24) does on the wire: it waits up to 750 ms for
 * `connect.challenge` and signs its nonce in the `device` block, sends `connect` with
 * `auth: {token, password}`, drops any frame that fails the frame schemas, treats a
 * response whose payload says `accepted` as not final for `expectFinal` requests, and
 * closes with 4000 when no `tick` came for twice `tickIntervalMs`. `moltbot agent` and
 * `moltbot status` use it; the tests drive the gateway with it.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { validateEventFrame, validateResponseFrame } from '../../generated/ws/methods.js';
import type { ErrorShape, EventFrame, HelloOk } from '../../generated/ws/types.js';
import { signDevice, type DeviceIdentity } from './device-identity.js';

export interface GatewayClientOptions {
  url: string;
  token?: string;
  password?: string;
  /** The device to sign `connect` with; a function is called only once the socket is open. */
  deviceIdentity?: DeviceIdentity | (() => DeviceIdentity | undefined);
  clientName?: string;
  mode?: string;
  role?: string;
  scopes?: string[];
  instanceId?: string;
  minProtocol?: number;
  maxProtocol?: number;
  onEvent?: (event: EventFrame) => void;
  onGap?: (gap: { expected: number; received: number }) => void;
  /** Frames dropped for failing the frame schemas (the reference drops them silently). */
  onInvalidFrame?: (raw: string) => void;
}

/** A refused request: the error's message, with the whole error shape kept. */
export class GatewayRequestError extends Error {
  constructor(readonly error: ErrorShape | undefined, readonly payload: unknown) {
    super(error?.message ?? 'unknown error');
    this.name = 'GatewayRequestError';
  }
}

/** The connection closed before an answer (or before hello). */
export class GatewayClosedError extends Error {
  constructor(readonly code: number, readonly reason: string) {
    super(`gateway closed (${code}): ${reason}`);
    this.name = 'GatewayClosedError';
  }
}

interface Pending {
  resolve: (payload: unknown) => void;
  reject: (err: Error) => void;
  expectFinal: boolean;
}

export class GatewayClient {
  readonly ws: WebSocket;
  hello: HelloOk | undefined;
  private readonly pending = new Map<string, Pending>();
  private connectSent = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private lastSeq: number | null = null;
  /** Set once the socket closed. */
  closed: { code: number; reason: string } | undefined;
  private readonly ready: Promise<HelloOk>;

  constructor(readonly options: GatewayClientOptions) {
    this.ws = new WebSocket(options.url, { maxPayload: 25 * 1024 * 1024 });
    this.ready = new Promise<HelloOk>((resolve, reject) => {
      this.ws.on('open', () => {
        this.connectTimer = setTimeout(() => this.sendConnect(undefined).then(resolve, reject), 750);
      });
      this.ws.on('message', (data) => this.handleMessage(String(data), (nonce) => this.sendConnect(nonce).then(resolve, reject)));
      this.ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        clearInterval(this.tickTimer);
        clearTimeout(this.connectTimer);
        const err = new GatewayClosedError(code, reason.toString());
        for (const pending of this.pending.values()) pending.reject(err);
        this.pending.clear();
        reject(err);
      });
      this.ws.on('error', (err) => reject(err));
    });
    // A refused connect is reported through `connected()`; never unhandled.
    this.ready.catch(() => undefined);
  }

  /** Resolves with hello-ok once the handshake passed; rejects if it did not. */
  connected(): Promise<HelloOk> {
    return this.ready;
  }

  /** Sends a request; with `expectFinal`, an `accepted` response is skipped. */
  request<T = unknown>(method: string, params?: unknown, options: { expectFinal?: boolean } = {}): Promise<T> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new GatewayClosedError(this.closed?.code ?? 1006, 'not connected'));
    const id = randomUUID();
    const frame = { type: 'req', id, method, ...(params === undefined ? {} : { params }) };
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (payload: unknown) => void, reject, expectFinal: options.expectFinal === true });
      this.ws.send(JSON.stringify(frame));
    });
  }

  /** Closes as the reference's `stop()` does (no code). */
  stop(): void {
    clearInterval(this.tickTimer);
    clearTimeout(this.connectTimer);
    this.ws.close();
  }

  private sendConnect(nonce: string | undefined): Promise<HelloOk> {
    if (this.connectSent) return this.ready;
    this.connectSent = true;
    clearTimeout(this.connectTimer);
    const role = this.options.role ?? 'operator';
    const scopes = this.options.scopes ?? ['operator.admin'];
    const clientId = this.options.clientName ?? 'gateway-client';
    const mode = this.options.mode ?? 'backend';
    const auth = this.options.token || this.options.password ? { token: this.options.token, password: this.options.password } : undefined;
    const identity = typeof this.options.deviceIdentity === 'function' ? this.options.deviceIdentity() : this.options.deviceIdentity;
    const device = identity
      ? signDevice(identity, { clientId, clientMode: mode, role, scopes, token: this.options.token, nonce, signedAtMs: Date.now() })
      : undefined;
    const params = {
      minProtocol: this.options.minProtocol ?? 3,
      maxProtocol: this.options.maxProtocol ?? 3,
      client: { id: clientId, version: 'dev', platform: process.platform, mode, instanceId: this.options.instanceId },
      caps: [],
      auth,
      role,
      scopes,
      device,
    };
    // JSON drops the undefined members, as the reference's frames do.
    return this.request<HelloOk>('connect', JSON.parse(JSON.stringify(params))).then(
      (hello) => {
        this.hello = hello;
        const tickIntervalMs = typeof hello.policy?.tickIntervalMs === 'number' ? hello.policy.tickIntervalMs : 30_000;
        this.lastTick = Date.now();
        this.tickTimer = setInterval(() => {
          if (Date.now() - this.lastTick > tickIntervalMs * 2) this.ws.close(4000, 'tick timeout');
        }, Math.max(tickIntervalMs, 1000));
        this.tickTimer.unref();
        return hello;
      },
      (err: Error) => {
        this.ws.close(1008, 'connect failed');
        throw err;
      },
    );
  }

  private handleMessage(raw: string, onChallenge: (nonce: string) => void): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      this.options.onInvalidFrame?.(raw);
      return;
    }
    if (validateEventFrame(parsed)) {
      if (parsed.event === 'connect.challenge') {
        const nonce = (parsed.payload as { nonce?: unknown } | undefined)?.nonce;
        if (typeof nonce === 'string' && !this.connectSent) onChallenge(nonce);
        return;
      }
      if (typeof parsed.seq === 'number') {
        if (this.lastSeq !== null && parsed.seq > this.lastSeq + 1) this.options.onGap?.({ expected: this.lastSeq + 1, received: parsed.seq });
        this.lastSeq = parsed.seq;
      }
      if (parsed.event === 'tick') this.lastTick = Date.now();
      this.options.onEvent?.(parsed);
      return;
    }
    if (validateResponseFrame(parsed)) {
      const pending = this.pending.get(parsed.id);
      if (!pending) return;
      if (pending.expectFinal && (parsed.payload as { status?: unknown } | undefined)?.status === 'accepted') return;
      this.pending.delete(parsed.id);
      if (parsed.ok) pending.resolve(parsed.payload);
      else pending.reject(new GatewayRequestError(parsed.error, parsed.payload));
      return;
    }
    this.options.onInvalidFrame?.(raw);
  }
}
