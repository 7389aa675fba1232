/**
 * Driving the gateway's WebSocket protocol in tests: `openClient` connects with the
 * reference-like client (`src/client/gateway-client.ts`: challenge, signed device block,
 * expectFinal, frame validation) and records every event, dropped frame and seq gap;
 * `openRaw` is a bare `ws` socket for frames no client would send.
 */
import WebSocket from 'ws';
import { wsEventValidators, type WsEvent } from '../../generated/ws/methods.js';
import type { EventFrame } from '../../generated/ws/types.js';
import { createDeviceIdentity, type DeviceIdentity } from '../../src/client/device-identity.js';
import { GatewayClient, type GatewayClientOptions } from '../../src/client/gateway-client.js';

export const CLI_SCOPES = ['operator.admin', 'operator.approvals', 'operator.pairing'];

/** One device identity for the whole test run (key generation is not what is tested). */
export const TEST_DEVICE: DeviceIdentity = createDeviceIdentity();

export interface TestClient {
  client: GatewayClient;
  events: EventFrame[];
  /** Frames the client dropped for failing the frame schemas, and event payloads failing ours. */
  invalid: string[];
  gaps: { expected: number; received: number }[];
  /** Resolves with the first event matching `match` (already received or later). */
  event(match: (event: EventFrame) => boolean): Promise<EventFrame>;
  close(): void;
}

/** Connects as the reference CLI does (`cli`/`cli`, CLI scopes, a device block) unless options say otherwise. */
export async function openClient(gateway: { wsUrl: string; token: string }, options: Partial<GatewayClientOptions> & { device?: boolean } = {}): Promise<TestClient> {
  const events: EventFrame[] = [];
  const invalid: string[] = [];
  const gaps: TestClient['gaps'] = [];
  const waiters = new Set<{ match: (event: EventFrame) => boolean; resolve: (event: EventFrame) => void }>();
  const { device = true, ...rest } = options;
  const client = new GatewayClient({
    url: gateway.wsUrl,
    token: gateway.token,
    clientName: 'cli',
    mode: 'cli',
    scopes: CLI_SCOPES,
    ...(device ? { deviceIdentity: TEST_DEVICE } : {}),
    ...rest,
    onInvalidFrame: (raw) => invalid.push(raw),
    onGap: (gap) => gaps.push(gap),
    onEvent: (event) => {
      const validate = wsEventValidators[event.event as WsEvent];
      if (!validate || !validate(event.payload)) invalid.push(`${event.event} payload: ${JSON.stringify(validate?.errors ?? 'unknown event')}`);
      events.push(event);
      for (const waiter of waiters) {
        if (!waiter.match(event)) continue;
        waiters.delete(waiter);
        waiter.resolve(event);
      }
    },
  });
  await client.connected();
  return {
    client,
    events,
    invalid,
    gaps,
    event(match) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
    close: () => client.stop(),
  };
}

export interface RawSocket {
  ws: WebSocket;
  /** Every parsed frame received, in order. */
  frames: Record<string, unknown>[];
  /** Resolves with the next frame matching `match` (already received or later). */
  frame(match?: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
}

/** A bare socket: frames are sent as given (objects as JSON). */
export async function openRaw(url: string, options: WebSocket.ClientOptions = {}): Promise<RawSocket> {
  const ws = new WebSocket(url, options);
  const frames: Record<string, unknown>[] = [];
  const waiters = new Set<{ match: (frame: Record<string, unknown>) => boolean; resolve: (frame: Record<string, unknown>) => void }>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    frames.push(frame);
    for (const waiter of waiters) {
      if (!waiter.match(frame)) continue;
      waiters.delete(waiter);
      waiter.resolve(frame);
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    closed,
    frame(match = () => true) {
      const seen = frames.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
    send(frame) {
      ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
    },
  };
}

/** A raw socket that completed the handshake with the token (no device block). */
export async function openRawAuthenticated(gateway: { wsUrl: string; token: string }): Promise<RawSocket> {
  const raw = await openRaw(gateway.wsUrl);
  await raw.frame((f) => f.event === 'connect.challenge');
  raw.send({ type: 'req', id: 'c1', method: 'connect', params: { minProtocol: 3, maxProtocol: 3, client: { id: 'test', version: '1', platform: 'test', mode: 'test' }, auth: { token: gateway.token } } });
  const hello = await raw.frame((f) => f.id === 'c1');
  if (hello.ok !== true) throw new Error(`connect failed: ${JSON.stringify(hello)}`);
  return raw;
}
