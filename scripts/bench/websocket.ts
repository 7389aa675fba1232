/**
 * Scenario 7, turns/s over the WebSocket protocol against HTTP, on one echo gateway in the
 * same run: `c` workers each run whole turns back to back for `durationS`, over WS as
 * the reference CLI calls it (`agent` with expectFinal, one connection per worker; every
 * event of the run is received) and over HTTP (non-streaming POST, keep-alive). Both
 * clients are lean (the WS one parses only responses, the HTTP one drains the body), so
 * the figure is the gateway's cost, not the driver's on the same cores. Each turn gets a
 * session of its own on both, so the store does the same work. A third series is HTTP with
 * an `Idempotency-Key` on every request, as every WS run has one. Rounds rotate the
 * order, so a noisy moment slows every side alike; the gateway's CPU per turn (from
 * /proc) is reported beside the turns/s, being less sensitive to other processes.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import WebSocket from 'ws';
import { MESSAGE, REQUEST_HEADERS, TOKEN } from './payloads.mjs';
import { startGateway } from './procs.js';
import { cpuSeconds } from './usage.js';

export interface WsSeries {
  /** Turns per second per round. */
  ws: number[];
  http: number[];
  /** HTTP turns carrying an `Idempotency-Key` (as every WS run does), per round. */
  httpKey?: number[];
  /** The gateway's CPU per turn (user + system, µs) per round, by series. */
  cpu?: { ws: number[]; http: number[]; httpKey: number[] };
}

function postTurn(url: URL, agent: Agent, key: string, idempotencyKey?: string): Promise<void> {
  const body = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: MESSAGE }] });
  const headers = { ...REQUEST_HEADERS, 'x-moltbot-session-key': key, 'content-length': Buffer.byteLength(body), ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP turn answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function httpRound(base: string, workers: number, durationMs: number, withKey = false): Promise<number> {
  const url = new URL('/v1/chat/completions', base);
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  const deadline = performance.now() + durationMs;
  let turns = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < deadline) {
        await postTurn(url, agent, `agent:main:bench-http-${w}-${randomUUID()}`, withKey ? randomUUID() : undefined);
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

export async function wsRound(wsUrl: string, workers: number, durationMs: number): Promise<number> {
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
  const durationMs = options.durationS * 1000;
  try {
    for (const c of options.concurrencies) {
      const series = { ws: [] as number[], http: [] as number[], httpKey: [] as number[], cpu: { ws: [] as number[], http: [] as number[], httpKey: [] as number[] } };
      const kinds = {
        ws: () => wsRound(wsUrl, c, durationMs),
        http: () => httpRound(gateway.url, c, durationMs),
        httpKey: () => httpRound(gateway.url, c, durationMs, true),
      };
      await wsRound(wsUrl, c, options.warmupS * 1000);
      await httpRound(gateway.url, c, options.warmupS * 1000);
      await httpRound(gateway.url, c, options.warmupS * 1000, true);
      const order = ['ws', 'http', 'httpKey'] as const;
      for (let round = 0; round < options.rounds; round += 1) {
        // Rotate which goes first.
        for (let i = 0; i < order.length; i += 1) {
          const kind = order[(round + i) % order.length] as (typeof order)[number];
          const cpuBefore = cpuSeconds(gateway.proc.pid);
          const rate = await kinds[kind]();
          series[kind].push(rate);
          series.cpu[kind].push(((cpuSeconds(gateway.proc.pid) - cpuBefore) * 1e6) / (rate * options.durationS));
        }
        const at = (kind: (typeof order)[number]) => `${series[kind].at(-1)?.toFixed(0)} turns/s (${series.cpu[kind].at(-1)?.toFixed(0)} µs CPU/turn)`;
        process.stderr.write(`   c=${c} round ${round + 1}: ws ${at('ws')}, http ${at('http')}, http+key ${at('httpKey')}\n`);
      }
      out[`c=${c}`] = series;
    }
  } finally {
    await gateway.proc.stop();
  }
  return out;
}
