/**
 * Every way an OpenAI-compatible upstream can fail, through a real gateway to real
 * sockets on 127.0.0.1: refused, unresolvable, TLS spoken to plain HTTP, silent, stalled
 * mid-stream, cut mid-stream, malformed SSE, and error statuses with JSON and HTML
 * bodies. Each must end in the documented gateway error (502 `upstream_unavailable` /
 * `upstream_error` / `upstream_incomplete`, 504 `upstream_timeout`, 504 `run_timeout`,
 * or a final stream error event once bytes have gone out), with a message naming the
 * provider, recorded in the transcript, leaving the gateway serving the next request —
 * and the upstream API key, which every failing upstream here echoes, never reaching the
 * client, the transcript or the gateway's log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import type { Turn } from '../../src/sessions/store.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { postChat, startGateway, TEST_TOKEN, type TestGateway } from '../helpers/gateway.js';
import {
  contentEvent,
  finishEvent,
  sseEvent,
  startScriptedUpstream,
  startSilentServer,
  startSse,
  writeThenDestroy,
  type Script,
  type ScriptedUpstream,
  type SilentServer,
} from '../helpers/hostile-upstream.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { closedPortBaseUrl } from '../helpers/scenarios.js';
import { keyAgent } from '../helpers/keys.js';

/** The upstream API key every provider is configured with; failing upstreams echo it. */
const UPSTREAM_KEY = 'sk-upstream-7f3a9c1e5b2d4f60';

let gateway: TestGateway;
let scripted: ScriptedUpstream;
let silent: SilentServer;
let held: FakeUpstream;
let plainForTls: ScriptedUpstream;
let sessions = 0;

/** Agents, each on its own provider, all with the API key and no retries. */
async function failureConfig(): Promise<ConfigFile> {
  const provider = (baseUrl: string, extra: Record<string, unknown> = {}) => ({
    api: 'openai-completions' as const,
    baseUrl,
    apiKey: UPSTREAM_KEY,
    maxRetries: 0,
    ...extra,
  });
  return {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    session: { reset: { mode: 'never' } },
    models: {
      providers: {
        refused: provider(await closedPortBaseUrl()),
        nowhere: provider('http://moltbot-test.invalid/v1'),
        tls: provider(`https://127.0.0.1:${plainForTls.port}/v1`),
        silent: provider(silent.baseUrl, { timeoutSeconds: 0.5 }),
        stalled: provider(held.baseUrl),
        scripted: provider(scripted.baseUrl),
      },
    },
    agents: {
      list: [
        { id: 'main', model: 'echo/echo' },
        { id: 'refused', model: 'refused/m' },
        { id: 'nowhere', model: 'nowhere/m' },
        { id: 'tls', model: 'tls/m' },
        { id: 'silent', model: 'silent/m' },
        { id: 'stalled', model: 'stalled/m', timeoutSeconds: 0.5 },
        { id: 'scripted', model: 'scripted/m' },
      ],
    },
  };
}

beforeAll(async () => {
  scripted = await startScriptedUpstream();
  plainForTls = await startScriptedUpstream(({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`plain HTTP, key ${UPSTREAM_KEY}`);
  });
  silent = await startSilentServer();
  held = await startFakeUpstream({ kind: 'hold', deltas: ['stalled', ' reply'], rest: [' never'] });
  gateway = await startGateway(await failureConfig());
});

afterAll(async () => {
  await gateway.close();
  await Promise.all([scripted.close(), plainForTls.close(), silent.close(), held.close()]);
});

afterEach(() => {
  // Whatever happened in the test, nothing the gateway logged carries the upstream key.
  expect(gateway.logs.join('')).not.toContain(UPSTREAM_KEY);
});

type Mode = 'json' | 'stream';

interface Failure {
  status: number;
  type: string;
  code: string;
  /** The message contains each of these. */
  mentions: (string | RegExp)[];
}

interface Outcome {
  key: string;
  raw: string;
  error: { message: string; type: string; code: string | null | undefined };
  /** What the client saw streamed before the error event. */
  streamed?: string;
}

/** Sends one turn to `agent` on a new session and reads the response whole (validated). */
async function send(agent: string, mode: Mode, content = 'are you there?'): Promise<{ key: string; res: Response; raw: string }> {
  sessions += 1;
  const key = `agent:${agent}:failure-${sessions}`;
  const res = await postChat(
    gateway,
    { model: `moltbot:${agent}`, messages: [{ role: 'user', content }], ...(mode === 'stream' ? { stream: true } : {}) },
    { 'x-moltbot-session-key': key },
  );
  expect(res.headers.get('x-moltbot-session-key')).toBe(key);
  const raw = await res.clone().text();
  expect(raw).not.toContain(UPSTREAM_KEY);
  return { key, res, raw };
}

/** A failure before anything was sent: an HTTP error status, for JSON and streaming requests alike. */
async function expectStatus(agent: string, mode: Mode, failure: Failure): Promise<Outcome> {
  const { key, res, raw } = await send(agent, mode);
  expect(res.headers.get('content-type'), 'an error status, not an SSE stream').toMatch(/^application\/json/u);
  const error = await readError(res, failure.status);
  checkError(error, failure);
  return { key, raw, error };
}

/** A failure after the first streamed byte: 200, the deltas so far, then a final error event and [DONE]. */
async function expectStreamError(agent: string, failure: Failure, streamedBefore: string): Promise<Outcome> {
  const { key, res, raw } = await send(agent, 'stream');
  const stream = await readStream(res);
  expect(stream.error, raw).toBeDefined();
  const error = stream.error as NonNullable<typeof stream.error>;
  checkError(error, failure);
  expect(streamedText(stream)).toBe(streamedBefore);
  // Never a finish_reason: the reply did not finish.
  expect(stream.chunks.every((c) => (c.choices[0]?.finish_reason ?? null) === null)).toBe(true);
  return { key, raw, error, streamed: streamedText(stream) };
}

function checkError(error: { message: string; type: string; code?: string | null }, failure: Failure): void {
  expect(error).toMatchObject({ type: failure.type, code: failure.code });
  for (const mention of failure.mentions) {
    if (typeof mention === 'string') expect(error.message).toContain(mention);
    else expect(error.message).toMatch(mention);
  }
  expect(error.message).not.toContain(UPSTREAM_KEY);
}

/** The transcript has the failed turn, with how it ended, and nothing of the key. */
async function expectRecorded(
  outcome: Outcome,
  expected: { status: Turn['status']; code: string; partial?: string },
): Promise<void> {
  const turns = await gateway.store.loadTurns(keyAgent(outcome.key), outcome.key);
  expect(turns).toHaveLength(1);
  const [turn] = turns as [Turn];
  expect(turn).toMatchObject({ status: expected.status, input: [{ role: 'user', content: 'are you there?' }] });
  expect(turn.error).toMatchObject({ type: outcome.error.type, code: expected.code, message: outcome.error.message });
  expect(turn.endedAt).toBeTypeOf('number');
  if (expected.partial === undefined) expect(turn.reply).toBeUndefined();
  else expect(turn.reply).toEqual({ role: 'assistant', content: expected.partial });
  expect(JSON.stringify(turn)).not.toContain(UPSTREAM_KEY);
  expect(turn.finishReason).toBeUndefined();
}

/** The gateway still serves: an echo turn right after the failure succeeds. */
async function expectStillServing(): Promise<void> {
  const res = await postChat(gateway, { model: 'moltbot:main', messages: [{ role: 'user', content: 'still there' }] });
  const body = await readCompletion(res);
  expect(body.choices[0]?.message.content).toBe('still there');
}

const PROVIDER = (id: string): string => `'${id}'`;

describe('upstream not reachable', () => {
  it.each(['json', 'stream'] as const)('connection refused (closed port) → 502 upstream_unavailable (%s)', async (mode) => {
    const failure = { status: 502, type: 'upstream_error', code: 'upstream_unavailable', mentions: [PROVIDER('refused'), 'could not be reached: the connection was refused'] };
    const outcome = await expectStatus('refused', mode, failure);
    expect(outcome.raw).not.toContain('127.0.0.1');
    await expectRecorded(outcome, { status: 'error', code: 'upstream_unavailable' });
    await expectStillServing();
  });

  it.each(['json', 'stream'] as const)('DNS failure (.invalid host) → 502 upstream_unavailable (%s)', async (mode) => {
    const failure = { status: 502, type: 'upstream_error', code: 'upstream_unavailable', mentions: [PROVIDER('nowhere'), 'its host name did not resolve'] };
    const logged = gateway.logs.length;
    const outcome = await expectStatus('nowhere', mode, failure);
    // The client is not told where the upstream is; the operator's log is.
    expect(outcome.raw).not.toContain('moltbot-test.invalid');
    expect(gateway.logs.slice(logged).join('')).toContain('http://moltbot-test.invalid/v1');
    await expectRecorded(outcome, { status: 'error', code: 'upstream_unavailable' });
    await expectStillServing();
  });

  it.each(['json', 'stream'] as const)('TLS spoken to a plain-HTTP server → 502 upstream_unavailable (%s)', async (mode) => {
    const failure = { status: 502, type: 'upstream_error', code: 'upstream_unavailable', mentions: [PROVIDER('tls'), 'the TLS handshake failed'] };
    const outcome = await expectStatus('tls', mode, failure);
    expect(outcome.raw).not.toContain('127.0.0.1');
    await expectRecorded(outcome, { status: 'error', code: 'upstream_unavailable' });
    await expectStillServing();
  });

  it.each(['json', 'stream'] as const)('the upstream resets the connection before answering → 502 upstream_unavailable (%s)', async (mode) => {
    scripted.respond(({ res }) => res.socket?.destroy());
    const failure = { status: 502, type: 'upstream_error', code: 'upstream_unavailable', mentions: [PROVIDER('scripted')] };
    const outcome = await expectStatus('scripted', mode, failure);
    await expectRecorded(outcome, { status: 'error', code: 'upstream_unavailable' });
    await expectStillServing();
  });
});

describe('upstream too slow', () => {
  it.each(['json', 'stream'] as const)('accepts the connection and sends nothing: provider timeoutSeconds 0.5 → 504 upstream_timeout (%s)', async (mode) => {
    const before = silent.requested;
    const started = performance.now();
    const failure = { status: 504, type: 'upstream_error', code: 'upstream_timeout', mentions: [PROVIDER('silent'), '0.5 s'] };
    const outcome = await expectStatus('silent', mode, failure);
    const elapsed = performance.now() - started;
    expect(silent.requested - before, 'the request reached the silent upstream (exactly one attempt)').toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5_000);
    const [turn] = await gateway.store.loadTurns(keyAgent(outcome.key), outcome.key);
    expect(['error', 'timeout']).toContain(turn?.status);
    await expectRecorded(outcome, { status: turn?.status ?? 'error', code: 'upstream_timeout' });
    await expectStillServing();
  });

  it('sent headers and deltas, then nothing: agent timeoutSeconds 0.5 ends the stream with a run_timeout event', async () => {
    const before = held.requests.length;
    const failure = { status: 504, type: 'server_error', code: 'run_timeout', mentions: ['0.5 s'] };
    const outcome = await expectStreamError('stalled', failure, 'stalled reply');
    await expectRecorded(outcome, { status: 'timeout', code: 'run_timeout', partial: 'stalled reply' });
    // The stalled upstream request was closed by the gateway, not left hanging.
    await held.requests[before]?.closedEarly;
    await expectStillServing();
  });

  it('sent headers and deltas, then nothing: a JSON request gets 504 run_timeout', async () => {
    const before = held.requests.length;
    const outcome = await expectStatus('stalled', 'json', { status: 504, type: 'server_error', code: 'run_timeout', mentions: ['0.5 s'] });
    await expectRecorded(outcome, { status: 'timeout', code: 'run_timeout', partial: 'stalled reply' });
    await held.requests[before]?.closedEarly;
    await expectStillServing();
  });
});

describe('upstream stream breaks', () => {
  const cutAfterDeltas: Script = ({ res }) => {
    startSse(res, contentEvent(null), contentEvent('half a'));
    writeThenDestroy(res, contentEvent(' reply'));
  };

  it('socket destroyed after deltas: the stream carries the deltas then an upstream_error event', async () => {
    scripted.respond(cutAfterDeltas);
    const outcome = await expectStreamError('scripted', { status: 502, type: 'upstream_error', code: 'upstream_error', mentions: [PROVIDER('scripted')] }, 'half a reply');
    await expectRecorded(outcome, { status: 'error', code: 'upstream_error', partial: 'half a reply' });
    await expectStillServing();
  });

  it('socket destroyed after deltas: a JSON request gets 502 upstream_error', async () => {
    scripted.respond(cutAfterDeltas);
    const outcome = await expectStatus('scripted', 'json', { status: 502, type: 'upstream_error', code: 'upstream_error', mentions: [PROVIDER('scripted')] });
    await expectRecorded(outcome, { status: 'error', code: 'upstream_error', partial: 'half a reply' });
    await expectStillServing();
  });

  it('the stream ends cleanly after deltas but without a finish_reason: upstream_incomplete', async () => {
    scripted.respond(({ res }) => {
      startSse(res, contentEvent(null), contentEvent('no'), contentEvent(' ending'));
      res.end(sseEvent('[DONE]'));
    });
    const failure = { status: 502, type: 'upstream_error', code: 'upstream_incomplete', mentions: [PROVIDER('scripted'), 'finish reason'] };
    const streamed = await expectStreamError('scripted', failure, 'no ending');
    await expectRecorded(streamed, { status: 'error', code: 'upstream_incomplete', partial: 'no ending' });
    const json = await expectStatus('scripted', 'json', failure);
    await expectRecorded(json, { status: 'error', code: 'upstream_incomplete', partial: 'no ending' });
    await expectStillServing();
  });
});

describe('malformed SSE from the upstream', () => {
  /** Cases: what the upstream writes, what the client saw streamed before the failure, the error. */
  const cases: { name: string; script: Script; before: string; code: string; partial?: string }[] = [
    {
      name: 'a `data: {not json` line first',
      script: ({ res }) => {
        startSse(res, `data: {not json ${UPSTREAM_KEY}\n\n`);
        res.end();
      },
      before: '',
      code: 'upstream_error',
    },
    {
      name: 'a `data: {not json` line after deltas',
      script: ({ res }) => {
        startSse(res, contentEvent(null), contentEvent('fine'), contentEvent(' so far'), 'data: {"choices": [{"index": 0, "delta": {"content": "trunc\n\n');
        res.end();
      },
      before: 'fine so far',
      code: 'upstream_error',
    },
    {
      name: 'a `data:` line with an error object',
      script: ({ res }) => {
        startSse(res, contentEvent(null), contentEvent('then'), sseEvent({ error: { message: `overloaded (key ${UPSTREAM_KEY})`, type: 'server_error', code: 'overloaded' } }));
        res.end();
      },
      before: 'then',
      code: 'upstream_error',
    },
    {
      name: 'garbage bytes instead of events',
      script: ({ res }) => {
        startSse(res);
        res.write(Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0x0a, 0xc3, 0x28, 0x0a, 0x0a]));
        res.end(`%%% not sse at all ${UPSTREAM_KEY}\n\n`);
      },
      before: '',
      code: 'upstream_incomplete',
    },
    {
      name: 'garbage bytes after deltas',
      script: ({ res }) => {
        startSse(res, contentEvent(null), contentEvent('some'), contentEvent(' text'));
        res.end(Buffer.from([0x00, 0x01, 0xff, 0x0a, 0x7f, 0x80, 0x0a, 0x0a]));
      },
      before: 'some text',
      code: 'upstream_incomplete',
    },
    {
      name: 'a 200 HTML page instead of a stream',
      script: ({ res }) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<html><body><h1>Welcome</h1><p>${UPSTREAM_KEY}</p></body></html>`);
      },
      before: '',
      code: 'upstream_incomplete',
    },
    {
      name: 'JSON events that are not chunks',
      script: ({ res }) => {
        startSse(res, sseEvent({ hello: 'world' }), sseEvent('[DONE]'));
        res.end();
      },
      before: '',
      code: 'upstream_error',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: streaming request`, async () => {
      scripted.respond(c.script);
      const failure = { status: 502, type: 'upstream_error', code: c.code, mentions: [PROVIDER('scripted')] };
      const outcome = c.before === '' ? await expectStatus('scripted', 'stream', failure) : await expectStreamError('scripted', failure, c.before);
      await expectRecorded(outcome, { status: 'error', code: c.code, ...(c.before === '' ? {} : { partial: c.before }) });
      await expectStillServing();
    });

    it(`${c.name}: JSON request → 502 ${c.code}`, async () => {
      scripted.respond(c.script);
      const outcome = await expectStatus('scripted', 'json', { status: 502, type: 'upstream_error', code: c.code, mentions: [PROVIDER('scripted')] });
      await expectRecorded(outcome, { status: 'error', code: c.code, ...(c.before === '' ? {} : { partial: c.before }) });
      await expectStillServing();
    });
  }
});

describe('upstream error statuses', () => {
  const bodies = {
    'an OpenAI JSON error': {
      type: 'application/json',
      text: (status: number) => JSON.stringify({ error: { message: `upstream says ${status} for key ${UPSTREAM_KEY}`, type: 'invalid_request_error', param: null, code: 'nope' } }),
      shows: (status: number) => `upstream says ${status} for key ***`,
    },
    'an Ollama-style JSON error': {
      type: 'application/json',
      text: (status: number) => JSON.stringify({ error: `status ${status}: bad key ${UPSTREAM_KEY}` }),
      shows: (status: number) => `status ${status}: bad key ***`,
    },
    'an HTML error page': {
      type: 'text/html; charset=utf-8',
      text: (status: number) => `<!DOCTYPE html><html><head><title>${status} Error</title></head><body><h1>Proxy error ${status}</h1><pre>key=${UPSTREAM_KEY}</pre></body></html>`,
      shows: (status: number) => `Proxy error ${status}`,
    },
  } as const;

  const statuses = [400, 401, 403, 404, 429, 500, 503];
  const table = statuses.flatMap((status) =>
    (Object.keys(bodies) as (keyof typeof bodies)[]).flatMap((body) => (['json', 'stream'] as const).map((mode) => ({ status, body, mode }))),
  );

  it.each(table)('upstream $status with $body → 502 upstream_error ($mode)', async ({ status, body, mode }) => {
    const shape = bodies[body];
    scripted.respond(({ res }) => {
      res.writeHead(status, { 'content-type': shape.type, ...(status === 429 ? { 'retry-after': '1' } : {}) });
      res.end(shape.text(status));
    });
    const before = scripted.requests;
    const failure = { status: 502, type: 'upstream_error', code: 'upstream_error', mentions: [PROVIDER('scripted'), `answered ${status}`, shape.shows(status)] };
    const outcome = await expectStatus('scripted', mode, failure);
    // maxRetries: 0 — one attempt, even for 429/5xx.
    expect(scripted.requests - before).toBe(1);
    await expectRecorded(outcome, { status: 'error', code: 'upstream_error' });
    await expectStillServing();
  });

  it.each([
    { name: "a 429's retry-after: 7", headers: { 'retry-after': '7' } as Record<string, string>, status: 429, expected: '7' },
    { name: "a 503's retry-after-ms: 2500, rounded up", headers: { 'retry-after-ms': '2500' }, status: 503, expected: '3' },
    { name: 'a 500 that asks nothing', headers: {}, status: 500, expected: null },
  ])('the 502 passes on what the provider asked to wait: $name', async ({ headers, status, expected }) => {
    for (const mode of ['json', 'stream'] as const) {
      scripted.respond(({ res }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error', param: null, code: null } }));
      });
      const { res } = await send('scripted', mode);
      expect(res.headers.get('retry-after'), mode).toBe(expected);
      checkError(await readError(res, 502), { status: 502, type: 'upstream_error', code: 'upstream_error', mentions: [`answered ${status}`] });
    }
  });

  it('the upstream received the configured key (so the echoes above were real)', async () => {
    let authorization: string | undefined;
    scripted.respond(({ req, res }) => {
      authorization = req.headers.authorization;
      startSse(res, contentEvent(null), contentEvent('ok'), finishEvent());
      res.end(sseEvent('[DONE]'));
    });
    const res = await postChat(gateway, { model: 'moltbot:scripted', messages: [{ role: 'user', content: 'hi' }] });
    expect((await readCompletion(res)).choices[0]?.message.content).toBe('ok');
    expect(authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });
});
