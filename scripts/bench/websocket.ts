/**
 * Scenario 7, turns/s over the WebSocket protocol against HTTP, on one echo gateway in the
 * same run: `c` workers each run whole turns back to back for `durationS`, over WS as
 * the reference CLI does (`agent` with expectFinal, one connection per worker, every
 * event received and checked against the frame schemas) and over HTTP (non-streaming
 * POST, keep-alive). Each turn gets a session of its own on both, so the store does the
 * same work. Rounds alternate WS and HTTP, so a noisy moment slows both sides alike.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { GatewayClient } from '../../src/client/gateway-client.js';
import { MESSAGE, REQUEST_HEADERS, TOKEN } from './payloads.mjs';
import { startGateway } from './procs.js';

export interface WsSeries {
  /** Turns per second per round. */
  ws: number[];
  http: number[];
}

function postTurn(url: URL, agent: Agent, key: string): Promise<void> {
  const body = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: MESSAGE }] });
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...REQUEST_HEADERS, 'x-moltbot-session-key': key, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP turn answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function httpRound(base: string, workers: number, durationMs: number): Promise<number> {
  const url = new URL('/v1/chat/completions', base);
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  const deadline = performance.now() + durationMs;
  let turns = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < deadline) {
        await postTurn(url, agent, `agent:main:bench-http-${w}-${randomUUID()}`);
        turns += 1;
      }
    }),
  );
  agent.destroy();
  return turns / (durationMs / 1000);
}

async function wsRound(wsUrl: string, workers: number, durationMs: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: workers }, async () => {
      const client = new GatewayClient({ url: wsUrl, token: TOKEN, clientName: 'cli', mode: 'cli', onInvalidFrame: (raw) => { throw new Error(`invalid frame: ${raw.slice(0, 200)}`); } });
      await client.connected();
      return client;
    }),
  );
  const deadline = performance.now() + durationMs;
  let turns = 0;
  await Promise.all(
    clients.map(async (client, w) => {
      while (performance.now() < deadline) {
        const final = await client.request<{ status: string }>('agent', { message: MESSAGE, sessionKey: `agent:main:bench-ws-${w}-${randomUUID()}`, idempotencyKey: randomUUID() }, { expectFinal: true });
        if (final.status !== 'ok') throw new Error(`WS turn ended ${final.status}`);
        turns += 1;
      }
    }),
  );
  for (const client of clients) client.stop();
  return turns / (durationMs / 1000);
}

export async function websocketTurns(options: { rounds: number; durationS: number; warmupS: number; concurrencies: number[] }): Promise<Record<string, WsSeries>> {
  const gateway = await startGateway('gateway-ws');
  const wsUrl = gateway.url.replace(/^http:/u, 'ws:');
  const out: Record<string, WsSeries> = {};
  try {
    for (const c of options.concurrencies) {
      const series: WsSeries = { ws: [], http: [] };
      await wsRound(wsUrl, c, options.warmupS * 1000);
      await httpRound(gateway.url, c, options.warmupS * 1000);
      for (let round = 0; round < options.rounds; round += 1) {
        // Alternate which goes first.
        if (round % 2 === 0) {
          series.ws.push(await wsRound(wsUrl, c, options.durationS * 1000));
          series.http.push(await httpRound(gateway.url, c, options.durationS * 1000));
        } else {
          series.http.push(await httpRound(gateway.url, c, options.durationS * 1000));
          series.ws.push(await wsRound(wsUrl, c, options.durationS * 1000));
        }
        process.stderr.write(`   c=${c} round ${round + 1}: ws ${series.ws.at(-1)?.toFixed(0)} turns/s, http ${series.http.at(-1)?.toFixed(0)} turns/s\n`);
      }
      out[`c=${c}`] = series;
    }
  } finally {
    await gateway.proc.stop();
  }
  return out;
}
