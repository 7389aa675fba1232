/**
 * Points 3, 5 and 6: frames (unknown methods, invalid params and frames answered with
 * INVALID_REQUEST on an open socket; bad JSON, binary frames, huge ids), events (tick on
 * every connection, per-connection seq +1, shutdown), and limits (1009 past the frame
 * size, a slow consumer closed 1008 with the gateway's buffer bounded, caps on
 * connections and on unauthenticated ones, 1001 at shutdown).
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { baseConfig, startGateway, type TestGateway } from '../helpers/gateway.js';
import { openClient, openRaw, openRawAuthenticated } from '../helpers/ws.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { coreConfig } from '../core/support.js';

let gateway: TestGateway | undefined;
let upstream: FakeUpstream | undefined;
afterEach(async () => {
  await gateway?.close();
  await upstream?.close();
  gateway = undefined;
  upstream = undefined;
});

const start = async (ws: NonNullable<NonNullable<ConfigFile['gateway']>['ws']> = {}, file: ConfigFile = baseConfig()): Promise<TestGateway> => {
  file.gateway = { ...file.gateway, ws };
  gateway = await startGateway(file);
  return gateway;
};

/** The HTTP status an upgrade is refused with (or 101 when it is accepted). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', () => undefined);
  });
}

describe('frames', () => {
  it('an unknown method, a second connect and invalid params are error responses; the socket stays open', async () => {
    const g = await start();
    const raw = await openRawAuthenticated(g);
    raw.send({ type: 'req', id: 'u1', method: 'no.such.method' });
    expect(await raw.frame((f) => f.id === 'u1')).toEqual({ type: 'res', id: 'u1', ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown method: no.such.method' } });
    raw.send({ type: 'req', id: 'c2', method: 'connect', params: {} });
    expect(await raw.frame((f) => f.id === 'c2')).toMatchObject({ ok: false, error: { message: 'connect is only valid as the first request' } });
    raw.send({ type: 'req', id: 'p1', method: 'chat.send', params: { sessionKey: 'x', message: 'y' } });
    expect(await raw.frame((f) => f.id === 'p1')).toMatchObject({
      ok: false,
      error: { code: 'INVALID_REQUEST', message: "invalid chat.send params: at root: must have required property 'idempotencyKey'", details: { param: '/idempotencyKey' } },
    });
    raw.send({ type: 'req', id: 'p2', method: 'sessions.preview', params: { keys: [] } });
    expect(await raw.frame((f) => f.id === 'p2')).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('at /keys') } });
    raw.send({ type: 'req', id: 'h1', method: 'health' });
    expect(await raw.frame((f) => f.id === 'h1')).toMatchObject({ ok: true, payload: { ok: true } });
    expect(raw.ws.readyState).toBe(WebSocket.OPEN);
    raw.ws.close();
  });

  it('bad JSON, frames that are not requests, binary frames and huge ids get a clear error; nothing crashes', async () => {
    const g = await start();
    const raw = await openRawAuthenticated(g);
    raw.send('{"type":"req",');
    expect(await raw.frame((f) => f.type === 'res' && f.id === 'invalid')).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: 'invalid request frame: not JSON' } });
    raw.send({ type: 'req', id: 'n1' });
    expect(await raw.frame((f) => f.id === 'n1')).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining("must have required property 'method'") } });
    raw.ws.send(Buffer.from(JSON.stringify({ type: 'req', id: 'b1', method: 'health' })), { binary: true });
    expect(await raw.frame((f) => f.id === 'b1')).toMatchObject({ ok: true });
    raw.send({ type: 'req', id: 'x'.repeat(100_000), method: 'health' });
    expect(await raw.frame((f) => f.type === 'res' && f.id === 'invalid' && String((f.error as { message: string }).message).includes('longer than'))).toMatchObject({ ok: false });
    raw.send({ type: 'req', id: 7, method: 'health' });
    raw.send({ type: 'req', id: 'after', method: 'health' });
    expect(await raw.frame((f) => f.id === 'after')).toMatchObject({ ok: true });
    raw.ws.close();
  });
});

describe('events', () => {
  it('tick reaches every connection each tickIntervalMs; seq goes up by one per connection', async () => {
    const g = await start({ tickIntervalSeconds: 0.05 });
    const [a, b] = [await openClient(g), await openClient(g)];
    for (const c of [a, b]) {
      await c.event((e) => e.event === 'tick' && (e.seq ?? 0) >= 3);
      const seqs = c.events.map((e) => e.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(c.gaps).toEqual([]);
      expect(c.client.hello?.policy.tickIntervalMs).toBe(50);
      c.close();
    }
  });

  it('shutdown: a shutdown event, running turns still get their final, then close 1001', async () => {
    upstream = await startFakeUpstream();
    const g = await start({}, coreConfig(upstream.baseUrl));
    upstream.behaveOnce({ kind: 'hold', deltas: ['almost'], rest: [' done'] });
    const c = await openClient(g);
    const final = c.client.request('agent', { message: 'finish me', idempotencyKey: 'at-shutdown' }, { expectFinal: true });
    await upstream.nthRequest(1);
    g.ws.shutdown();
    expect((await c.event((e) => e.event === 'shutdown')).payload).toEqual({ reason: 'gateway stopping' });
    expect(await upgradeStatus(g.wsUrl)).toBe(503);
    upstream.release();
    expect(await final).toMatchObject({ status: 'ok', result: { payloads: [{ text: 'almost done' }] } });
    await g.ws.runsSettled(5000);
    const closed = new Promise<number>((resolve) => c.client.ws.once('close', (code) => resolve(code)));
    g.ws.closeAll(1001, 'gateway stopping');
    expect(await closed).toBe(1001);
  });
});

describe('loaded on the first upgrade', () => {
  it('upgrades that arrive together while the protocol loads all connect and authenticate', async () => {
    const g = await start();
    expect(g.ws.connections).toBe(0);
    const clients = await Promise.all([openClient(g), openClient(g), openClient(g)]);
    expect(g.ws.connections).toBe(3);
    for (const c of clients) expect(c.client.hello?.protocol).toBe(3);
    for (const c of clients) c.close();
  });

  it('a shutdown before any upgrade: the first upgrade (which loads the protocol) is refused 503, not served', async () => {
    const g = await start();
    g.ws.shutdown();
    await g.ws.runsSettled(1000);
    expect(await upgradeStatus(g.wsUrl)).toBe(503);
    expect(g.ws.connections).toBe(0);
  });

  it('closeAll before any upgrade: later upgrades are refused', async () => {
    const g = await start();
    g.ws.closeAll(1001, 'gateway stopping');
    expect(await upgradeStatus(g.wsUrl)).toBe(503);
  });
});

describe('limits', () => {
  it('a frame past maxPayloadBytes closes the socket with 1009', async () => {
    const g = await start({ maxPayloadBytes: 4096 });
    const raw = await openRawAuthenticated(g);
    raw.send({ type: 'req', id: 'big', method: 'health', params: { pad: 'x'.repeat(5000) } });
    expect((await raw.closed).code).toBe(1009);
    // Before the handshake too.
    const early = await openRaw(g.wsUrl);
    early.send('x'.repeat(5000));
    expect((await early.closed).code).toBe(1009);
  });

  it('a slow consumer is closed (1008, slow consumer) with what the gateway buffered for it bounded, and its run aborted', async () => {
    upstream = await startFakeUpstream();
    const maxBufferedBytes = 64 * 1024;
    const g = await start({ maxBufferedBytes }, coreConfig(upstream.baseUrl));
    // 8 runs at once, each 100 deltas of 8 KiB: agent and chat events carry the cumulative
    // text, so the runs queue tens of MB of frames, none larger than ~1 MB.
    upstream.behave({ kind: 'hold', deltas: Array.from({ length: 100 }, (_, i) => `${String(i).padStart(4, '0')}${'x'.repeat(8188)}`) });
    const c = await openClient(g);
    const socket = (c.client.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const closed = new Promise<{ code: number; reason: string }>((resolve) => c.client.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    for (let i = 0; i < 8; i += 1) {
      c.client.ws.send(JSON.stringify({ type: 'req', id: `slow-${i}`, method: 'chat.send', params: { sessionKey: `slow-${i}`, message: 'flood me', idempotencyKey: `slow-run-${i}` } }));
    }
    const requests = await Promise.all(Array.from({ length: 8 }, (_, i) => upstream!.nthRequest(i + 1)));
    await expect.poll(() => g.ws.connections, { timeout: 20_000 }).toBe(0);
    socket.resume();
    expect(await closed).toEqual({ code: 1008, reason: 'slow consumer' });
    const line = g.logs.map((l) => JSON.parse(l) as { message: string; bufferedBytes?: number }).find((l) => l.message === 'websocket slow consumer closed');
    console.log(`[ws] slow consumer closed with ${line?.bufferedBytes} bytes buffered (limit ${maxBufferedBytes})`);
    // The limit plus at most one frame (the largest here is under 1 MiB).
    expect(line?.bufferedBytes).toBeLessThanOrEqual(maxBufferedBytes + 1024 * 1024);
    // Nobody is left to watch the runs: they are aborted, their upstream requests closed.
    await Promise.all(requests.map((request) => request.closedEarly));
  });

  it('caps open connections and unauthenticated ones (503 at the upgrade); an authenticated one frees an unauthenticated place', async () => {
    const g = await start({ maxConnections: 3, maxUnauthenticated: 2 });
    const first = await openRaw(g.wsUrl);
    await openRaw(g.wsUrl);
    expect(await upgradeStatus(g.wsUrl)).toBe(503);
    // The first authenticates: one unauthenticated place is free again.
    await first.frame();
    first.send({ type: 'req', id: 'c', method: 'connect', params: { minProtocol: 3, maxProtocol: 3, client: { id: 'test', version: '1', platform: 'x', mode: 'test' }, auth: { token: g.token } } });
    expect(await first.frame((f) => f.id === 'c')).toMatchObject({ ok: true });
    await openRaw(g.wsUrl);
    // Three open: the total cap refuses the fourth.
    expect(await upgradeStatus(g.wsUrl)).toBe(503);
    expect(g.ws.connections).toBe(3);
  });

  it('caps requests in flight per connection', async () => {
    upstream = await startFakeUpstream({ kind: 'hold', deltas: ['x'] });
    const g = await start({ maxInFlightPerConnection: 2 }, coreConfig(upstream.baseUrl));
    const raw = await openRawAuthenticated(g);
    for (const id of ['w1', 'w2', 'w3']) raw.send({ type: 'req', id, method: 'agent', params: { message: 'x', sessionKey: `k-${id}`, idempotencyKey: id } });
    expect(await raw.frame((f) => f.id === 'w3')).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', retryable: true, message: expect.stringContaining('too many requests in flight') } });
    upstream.release();
    raw.ws.close();
  });
});
