/**
 * A soak on loopback, bounded in count and time: SOAK_REQUESTS (default 20,000) requests
 * mixed — JSON and streaming turns on echo and on a fast fake upstream, streams the
 * client hangs up on after the first content chunk, bad input (400) and wrong tokens
 * (401) — from 32 concurrent workers over one keep-alive agent against an in-process
 * gateway. Every answer must have its request type's status and validate; resident
 * memory after the run must stay within 20% of after the warm-up; open handles must not
 * grow; and the transcripts of the user sessions must be what their clients were told.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { TEST_TOKEN } from '../helpers/gateway.js';
import { asResponse, KeepAliveClient, type Answer } from '../helpers/keepalive-client.js';
import { startObservedGateway, type ObservedGateway } from '../helpers/observed-gateway.js';
import { replyFor, startPacedUpstream, type PacedUpstream } from '../helpers/paced-upstream.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { schemaProblems } from '../helpers/schemas.js';
import { parseSse } from '../helpers/sse.js';
import { keyAgent } from '../helpers/keys.js';

const TOTAL = Number(process.env.SOAK_REQUESTS ?? 20_000);
const WARM_UP = Math.min(2_000, Math.floor(TOTAL / 10));
const CONCURRENCY = 32;
/** Workers whose user sessions are checked against the store: 13 × 2 agents × 2 sessions = 52. */
const SAMPLED_WORKERS = 13;

type Kind = 'json-echo' | 'stream-echo' | 'json-up' | 'stream-up' | 'hang-up' | 'bad-input' | 'bad-token';

/** Status each kind must get; anything else is unexpected. */
const EXPECTED_STATUS: Record<Kind, number> = {
  'json-echo': 200,
  'stream-echo': 200,
  'json-up': 200,
  'stream-up': 200,
  'hang-up': 200,
  'bad-input': 400,
  'bad-token': 401,
};

/** The mix, one slot per request in each run of 40. */
const MIX: Kind[] = [
  ...Array<Kind>(14).fill('json-echo'),
  ...Array<Kind>(12).fill('stream-echo'),
  ...Array<Kind>(2).fill('json-up'),
  ...Array<Kind>(2).fill('stream-up'),
  ...Array<Kind>(2).fill('hang-up'),
  ...Array<Kind>(4).fill('bad-input'),
  ...Array<Kind>(4).fill('bad-token'),
];

const BAD_BODIES = [
  '{"model": "moltbot", "messages": [',
  JSON.stringify({ model: 'moltbot', messages: [] }),
  JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'two please' }], n: 2 }),
  JSON.stringify({ model: 'moltbot', messages: [{ role: 'wizard', content: 'x' }] }),
];

function soakConfig(upstreamBaseUrl: string): ConfigFile {
  return {
    gateway: {
      auth: { mode: 'token', token: TEST_TOKEN, rateLimit: { exemptLoopback: true } },
      http: { endpoints: { chatCompletions: { enabled: true } } },
    },
    session: { reset: { mode: 'never' } },
    models: { providers: { up: { api: 'openai-completions', baseUrl: upstreamBaseUrl, maxRetries: 0 } } },
    agents: {
      defaults: { maxConcurrent: 16, maxQueued: 256, history: { maxTurns: 2 } },
      list: [
        { id: 'main', model: 'echo/echo' },
        { id: 'up', model: 'up/m' },
      ],
    },
  };
}

/** What a client was told about one turn of a user session. */
interface Told {
  content: string;
  status: 'ok' | 'aborted';
  reply: string;
}

interface Tally {
  byKind: Record<Kind, number>;
  unexpected: string[];
  /** Per sampled user session key, the turns in the order its (single) worker ran them. */
  told: Map<string, Told[]>;
}

function counts(): Record<string, number> {
  const byType: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) byType[type] = (byType[type] ?? 0) + 1;
  return byType;
}

/** The complete `data:` events of a stream cut short, each a valid chunk; their content joined. */
function partialStreamText(answer: Answer): string {
  expect(answer.headers.get('content-type')).toBe('text/event-stream');
  const complete = answer.body.slice(0, answer.body.lastIndexOf('\n\n') + 2);
  const { events, framingErrors } = parseSse(complete);
  expect(framingErrors).toEqual([]);
  let text = '';
  for (const event of events) {
    const payload = JSON.parse(event) as { choices: { delta: { content?: string } }[] };
    expect(schemaProblems('chunk', payload)).toEqual([]);
    text += payload.choices[0]?.delta.content ?? '';
  }
  return text;
}

/**
 * Request `n` overall, the worker's `local`-th. The kind and session follow the worker's
 * own count, not `n`: workers running in near lockstep would otherwise each see only a
 * few slots of the mix (with 32 workers, worker w would get n ≡ w mod 8 and never one
 * parity), so a sampled worker might never touch one of its sessions.
 */
async function one(client: KeepAliveClient, n: number, worker: number, local: number, tally: Tally): Promise<void> {
  const kind = MIX[(local + worker) % MIX.length] as Kind;
  tally.byKind[kind] += 1;
  const onUpstream = kind === 'json-up' || kind === 'stream-up' || kind === 'hang-up';
  const agent = onUpstream ? 'up' : 'main';
  // Each worker owns two user sessions per agent (alternating by pass through the mix) and runs
  // one request at a time, so a session's order is the worker's order.
  const session = Math.floor(local / MIX.length) % 2;
  const user = local % 3 === 0 && kind !== 'hang-up' ? undefined : `soak-w${worker}-${agent}-${session}`;
  const key = user === undefined ? undefined : `agent:${agent}:openai-user:${user}`;
  const content = kind === 'hang-up' ? `hang:soak-${n}` : `soak-${n}`;
  const streaming = kind === 'stream-echo' || kind === 'stream-up' || kind === 'hang-up';
  const body =
    kind === 'bad-input'
      ? (BAD_BODIES[n % BAD_BODIES.length] as string)
      : JSON.stringify({ model: `moltbot:${agent}`, messages: [{ role: 'user', content }], ...(user ? { user } : {}), ...(streaming ? { stream: true } : {}) });
  const answer = await client.send('/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${kind === 'bad-token' ? 'not-the-token' : TEST_TOKEN}`, 'content-type': 'application/json' },
    body,
    // Hang up once the first content delta is in.
    ...(kind === 'hang-up' ? { hangUpWhen: (received: string) => received.includes('"content":"ack') } : {}),
  });
  if (answer.status !== EXPECTED_STATUS[kind]) {
    tally.unexpected.push(`#${n} ${kind}: ${answer.status} ${answer.body.slice(0, 300)}`);
    return;
  }
  const expected = onUpstream ? replyFor(content) : content;
  let told: Told | undefined;
  switch (kind) {
    case 'bad-input':
      expect((await readError(asResponse(answer), 400)).type).toBe('invalid_request_error');
      return;
    case 'bad-token':
      expect((await readError(asResponse(answer), 401)).code).toBe('invalid_api_key');
      return;
    case 'json-echo':
    case 'json-up': {
      const completion = await readCompletion(asResponse(answer));
      const text = completion.choices[0]?.message.content ?? '';
      expect(text).toBe(expected);
      told = { content, status: 'ok', reply: text };
      break;
    }
    case 'stream-echo':
    case 'stream-up': {
      const stream = await readStream(asResponse(answer));
      expect(stream.error).toBeUndefined();
      expect(streamedText(stream)).toBe(expected);
      told = { content, status: 'ok', reply: streamedText(stream) };
      break;
    }
    case 'hang-up': {
      expect(answer.hungUp, 'the stream was still open when the client hung up').toBe(true);
      const text = partialStreamText(answer);
      expect(expected.startsWith(text) && text.length > 0 && text.length < expected.length).toBe(true);
      told = { content, status: 'aborted', reply: text };
      break;
    }
  }
  if (key !== undefined && told !== undefined && worker < SAMPLED_WORKERS) {
    const list = tally.told.get(key) ?? [];
    list.push(told);
    tally.told.set(key, list);
  }
}

/** Runs requests [from, to) from CONCURRENCY workers over one keep-alive client. */
async function phase(client: KeepAliveClient, from: number, to: number, tally: Tally): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let local = 0; next < to; local += 1) {
        const n = next;
        next += 1;
        await one(client, n, worker, local, tally);
      }
    }),
  );
}

/** No client, server or upstream socket left open: the state in which handles are counted. */
async function quiesce(client: KeepAliveClient, gateway: ObservedGateway, upstream: PacedUpstream): Promise<void> {
  await client.close();
  await gateway.connectionsClosed();
  await upstream.quiesce();
}

/**
 * A full GC: `global.gc` when the process runs with --expose-gc (not by default), else the
 * same function taken from a fresh V8 context once the flag is set — nothing global is
 * patched. Without it, RSS after a run mostly measures how far V8 chose to grow its heap.
 */
function fullGc(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed();
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/**
 * Resident and live-heap MiB once memory has settled: V8 gives pages back only over
 * successive full GCs (the first frees objects, a later one shrinks the heap, and the
 * freed pages leave RSS after that), so collect at least four times, and until neither
 * RSS nor the heap's size moved in the last round.
 */
function memory(): { rss: number; heap: number } {
  let last = { rss: 0, heapTotal: 0 };
  for (let round = 0; round < 10; round += 1) {
    fullGc();
    const { rss, heapTotal } = process.memoryUsage();
    const settled = Math.abs(rss - last.rss) < 2 ** 20 && Math.abs(heapTotal - last.heapTotal) < 2 ** 20;
    last = { rss, heapTotal };
    if (round >= 3 && settled) break;
  }
  const usage = process.memoryUsage();
  return { rss: usage.rss / 2 ** 20, heap: usage.heapUsed / 2 ** 20 };
}

const growth = (from: number, to: number): string => `${to >= from ? '+' : ''}${(((to - from) / from) * 100).toFixed(1)}%`;

describe('soak', () => {
  it(`${TOTAL} mixed requests: only expected statuses, flat memory and handles, consistent transcripts`, { timeout: 120_000 }, async () => {
    const upstream = await startPacedUpstream({ deltas: 2, delayMs: 0 });
    const gateway = await startObservedGateway(soakConfig(upstream.baseUrl));
    const tally: Tally = {
      byKind: Object.fromEntries(Object.keys(EXPECTED_STATUS).map((k) => [k, 0])) as Record<Kind, number>,
      unexpected: [],
      told: new Map(),
    };
    try {
      const warmClient = new KeepAliveClient(gateway.url, CONCURRENCY);
      await phase(warmClient, 0, WARM_UP, tally);
      await quiesce(warmClient, gateway, upstream);
      const before = memory();
      const handlesBefore = counts();

      const client = new KeepAliveClient(gateway.url, CONCURRENCY);
      const started = performance.now();
      await phase(client, WARM_UP, TOTAL, tally);
      const seconds = (performance.now() - started) / 1000;
      await quiesce(client, gateway, upstream);
      const after = memory();
      const handlesAfter = counts();

      const perSecond = Math.round((TOTAL - WARM_UP) / seconds);
      console.log(
        `soak: ${TOTAL} requests (${WARM_UP} warm-up) ${JSON.stringify(tally.byKind)}; ${perSecond} req/s after warm-up; ` +
          `after warm-up → after the run: RSS ${before.rss.toFixed(1)} → ${after.rss.toFixed(1)} MiB (${growth(before.rss, after.rss)}), ` +
          `live heap ${before.heap.toFixed(1)} → ${after.heap.toFixed(1)} MiB (${growth(before.heap, after.heap)}); ` +
          `handles before ${JSON.stringify(handlesBefore)}, after ${JSON.stringify(handlesAfter)}`,
      );

      expect(tally.unexpected).toEqual([]);
      expect(Object.values(tally.byKind).reduce((a, b) => a + b, 0)).toBe(TOTAL);
      // Resident memory and the live heap stay within 20%.
      expect(Math.abs(after.rss - before.rss) / before.rss).toBeLessThanOrEqual(0.2);
      expect(Math.abs(after.heap - before.heap) / before.heap).toBeLessThanOrEqual(0.2);
      // No type of handle grew beyond a small constant slack.
      for (const [type, count] of Object.entries(handlesAfter)) {
        expect(count, `${type} handles: ${handlesBefore[type] ?? 0} before, ${count} after`).toBeLessThanOrEqual((handlesBefore[type] ?? 0) + 2);
      }
      expect(gateway.openConnections).toBe(0);
      expect(upstream.openSockets).toBe(0);

      // The user sessions: what the store holds is what their clients were told, in order.
      const keys = [...tally.told.keys()].sort();
      expect(keys.length).toBe(SAMPLED_WORKERS * 4);
      let checkedTurns = 0;
      let aborted = 0;
      for (const key of keys) {
        const told = tally.told.get(key) ?? [];
        const turns = await gateway.store.loadTurns(keyAgent(key), key);
        expect(
          turns.map((t) => ({ content: t.input.map((m) => m.content).join(''), status: t.status, reply: t.reply?.content })),
          key,
        ).toEqual(told.map((t) => ({ content: t.content, status: t.status, reply: t.reply })));
        checkedTurns += turns.length;
        aborted += told.filter((t) => t.status === 'aborted').length;
      }
      expect(aborted).toBeGreaterThan(0);
      console.log(`soak: ${keys.length} user sessions checked, ${checkedTurns} turns (${aborted} aborted) as their clients were told`);
      // The gateway logged every request and no failure.
      expect(gateway.logLines).toBeGreaterThanOrEqual(TOTAL);
      expect(gateway.problems).toEqual([]);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});
