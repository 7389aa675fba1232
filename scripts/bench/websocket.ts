/**
 * Scenario 7, turns/s over the WebSocket protocol against HTTP, on one echo gateway in the
 * same run: `c` workers each run whole turns back to back for `durationS`, over WS as
 * the reference CLI calls it (`agent` with expectFinal, one connection per worker; every
 * event of the run is received) and over HTTP (non-streaming POST, keep-alive). Both
 * clients are lean (the WS one parses only responses, the HTTP one drains the body), so
 * the figure is the gateway's cost, not the driver's on the same cores. Each turn gets a
 * session of its own on both, so the store does the same work. Rounds alternate WS and
 * HTTP, so a noisy moment slows both sides alike.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import WebSocket from 'ws';
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

/** A connection after the handshake, answering requests by id (events are received and skipped). */
async function leanConnection(wsUrl: string): Promise<{ turn: (params: object) => Promise<void>; close: () => void }> {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  const waiting = new Map<string, (frame: { ok: boolean; payload?: { status?: string } }) => void>();
  ws.on('message', (data) => {
    const text = String(data);
    if (!text.startsWith('{"type":"res"')) return;
    const frame = JSON.parse(text) as { id: string; ok: boolean; payload?: { status?: string } };
    if (frame.payload?.status === 'accepted') return;
    waiting.get(frame.id)?.(frame);
    waiting.delete(frame.id);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const request = (method: string, params: object): Promise<{ ok: boolean; payload?: { status?: string } }> => {
    const id = randomUUID();
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ type: 'req', id, method, params }));
    });
  };
  const hello = await request('connect', { minProtocol: 3, maxProtocol: 3, client: { id: 'cli', version: 'bench', platform: process.platform, mode: 'cli' }, auth: { token: TOKEN } });
  if (!hello.ok) throw new Error(`connect refused: ${JSON.stringify(hello)}`);
  return {
    async turn(params) {
      const final = await request('agent', params);
      if (!final.ok || final.payload?.status !== 'ok') throw new Error(`WS turn ended ${JSON.stringify(final).slice(0, 200)}`);
    },
    close: () => ws.close(),
  };
}

async function wsRound(wsUrl: string, workers: number, durationMs: number): Promise<number> {
  const connections = await Promise.all(Array.from({ length: workers }, () => leanConnection(wsUrl)));
  const deadline = performance.now() + durationMs;
  let turns = 0;
  await Promise.all(
    connections.map(async (connection, w) => {
      while (performance.now() < deadline) {
        await connection.turn({ message: MESSAGE, sessionKey: `agent:main:bench-ws-${w}-${randomUUID()}`, idempotencyKey: randomUUID() });
        turns += 1;
      }
    }),
  );
  for (const connection of connections) connection.close();
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
