/**
 * Issue 16 point 1, WebSocket part: `moltbot_ws_connections` counts the connections open
 * (from the upgrade, authenticated or not) and comes back to 0 once every one closed,
 * whoever closed it; `moltbot_ws_frames_total{direction}` moves by exactly the messages
 * received (`in`) and sent (`out`). Ticks are pushed out of the test's time so that
 * every frame is one the test caused.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { baseConfig, startGateway, type TestGateway } from '../helpers/gateway.js';
import { moved, scrape } from '../helpers/metrics.js';
import { openRaw, openRawAuthenticated } from '../helpers/ws.js';

let gateway: TestGateway;
beforeAll(async () => {
  const file = baseConfig();
  file.gateway = { ...file.gateway, ws: { tickIntervalSeconds: 3600 } };
  gateway = await startGateway(file);
});
afterAll(async () => {
  await gateway.close();
});

describe('WebSocket metrics', () => {
  it('count connections while open and every message each way, and the gauge returns to 0 after close', async () => {
    const before = await scrape(gateway);
    expect(before.families.get('moltbot_ws_connections')).toBe('gauge');
    expect(before.families.get('moltbot_ws_frames_total')).toBe('counter');
    expect(before.value('moltbot_ws_connections')).toBe(0);

    // A: challenge out, connect in, hello-ok out.
    const a = await openRawAuthenticated(gateway);
    // Two requests and an unparseable frame: three in, three answers out.
    a.send({ type: 'req', id: 'h1', method: 'health' });
    a.send({ type: 'req', id: 'h2', method: 'health' });
    a.send('{"not json');
    await a.frame((f) => f.id === 'h2');
    await a.frame((f) => f.id === 'invalid');
    // B: only the challenge out; it stays unauthenticated for now.
    const b = await openRaw(gateway.wsUrl);
    await b.frame((f) => f.event === 'connect.challenge');

    const open = await scrape(gateway);
    expect(open.value('moltbot_ws_connections')).toBe(2);
    expect(moved(before, open, 'moltbot_ws_frames_total', { direction: 'in' })).toBe(4);
    expect(moved(before, open, 'moltbot_ws_frames_total', { direction: 'out' })).toBe(6);

    // The client closes A; the gateway closes B (a first frame that is no connect request: 1008).
    a.ws.close();
    b.send({ type: 'nonsense' });
    expect((await b.closed).code).toBe(1008);
    await a.closed;
    await vi.waitFor(async () => expect((await scrape(gateway)).value('moltbot_ws_connections')).toBe(0));
    const after = await scrape(gateway);
    expect(moved(before, after, 'moltbot_ws_frames_total', { direction: 'in' })).toBe(5);
    expect(moved(before, after, 'moltbot_ws_frames_total', { direction: 'out' })).toBe(6);
  });

  it('a connection refused at the upgrade (past maxConnections) is never counted; many closed at once, cleanly or not, leave 0', async () => {
    const file = baseConfig();
    file.gateway = { ...file.gateway, ws: { tickIntervalSeconds: 3600, maxConnections: 20 } };
    const capped = await startGateway(file);
    try {
      const sockets = await Promise.all(Array.from({ length: 20 }, () => openRawAuthenticated(capped)));
      const refused = await new Promise<number>((resolve) => {
        const ws = new WebSocket(capped.wsUrl);
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.on('open', () => resolve(101));
        ws.on('error', () => undefined);
      });
      expect(refused).toBe(503);
      expect((await scrape(capped)).value('moltbot_ws_connections')).toBe(20);
      // Half close cleanly, half drop the TCP connection without a close frame.
      for (const [i, socket] of sockets.entries()) {
        if (i % 2 === 0) socket.ws.close();
        else socket.ws.terminate();
      }
      await vi.waitFor(async () => expect((await scrape(capped)).value('moltbot_ws_connections')).toBe(0));
    } finally {
      await capped.close();
    }
  });
});
