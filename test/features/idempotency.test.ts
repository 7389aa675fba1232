/**
 * `Idempotency-Key` on `POST /v1/chat/completions`, on SQLite and on PostgreSQL (there
 * across two replicas): a repeat within the window runs nothing and gets the first
 * response again (JSON: the same completion and id; stream: the reply replayed, ending
 * `[DONE]`); 409 `idempotency_key_in_use` with `Retry-After` while the first runs; 409
 * `idempotency_key_reused` for another request under the key; a failed run frees its key;
 * the same request at once on both replicas runs once; a completed key outlives a restart.
 * The WebSocket protocol's `idempotencyKey` (same code path): the same run at once on
 * both replicas runs once.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseConfig, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { DATABASE_URL, HAS_POSTGRES, dropSchemas, freshSchema } from '../helpers/postgres.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { openClient, type TestClient } from '../helpers/ws.js';
import { GatewayRequestError } from '../../src/client/gateway-client.js';
import type { ConfigFile } from '../../src/config/types.js';

let upstream: FakeUpstream;
const gateways: TestGateway[] = [];
beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close();
  await upstream.close();
});
afterAll(dropSchemas);

function config(): ConfigFile {
  return {
    ...baseConfig(),
    models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl, maxRetries: 0 } } },
    agents: { list: [{ id: 'main', model: 'up/m' }] },
  };
}

/** Two gateways on one store: two replicas on one PostgreSQL schema, or one SQLite gateway twice. */
async function pair(kind: 'sqlite' | 'postgres'): Promise<[TestGateway, TestGateway]> {
  if (kind === 'sqlite') {
    const one = await startGateway(config());
    gateways.push(one);
    return [one, one];
  }
  const postgres = { url: DATABASE_URL ?? '', schema: freshSchema('idem') };
  const started = [await startGateway(config(), { postgres }), await startGateway(config(), { postgres })] as const;
  gateways.push(...started);
  return [started[0], started[1]];
}

const body = { model: 'moltbot', user: 'ida', messages: [{ role: 'user', content: 'once only' }] };

/** Lets the held upstream calls finish, and answers any call from now on at once with the same reply (`deltas`). */
function releaseHeld(deltas: string[]): void {
  upstream.behave({ kind: 'reply', deltas });
  upstream.release();
}

/**
 * The key ran its request once. A duplicate racing it on the other replica may have
 * reached the upstream while its start committed (docs/decisions/0015): at most one call
 * per other replica, aborted at the refusal or left unread, and nothing of it recorded
 * or answered (the callers check the answers and the transcript).
 */
function ranOnceUpstream(kind: 'sqlite' | 'postgres'): void {
  expect(upstream.requests.length).toBeGreaterThanOrEqual(1);
  expect(upstream.requests.length).toBeLessThanOrEqual(kind === 'sqlite' ? 1 : 2);
}

describe.each([
  { kind: 'sqlite' as const, skip: false },
  { kind: 'postgres' as const, skip: !HAS_POSTGRES },
])('Idempotency-Key ($kind)', ({ kind, skip }) => {
  it.skipIf(skip)('a repeated JSON request runs nothing and gets the same completion (same id); another body under the key is 409 idempotency_key_reused', async () => {
    const [a, b] = await pair(kind);
    upstream.behaveOnce({ kind: 'reply', deltas: ['first', ' answer'] });
    const first = await readCompletion(await postChat(a, body, { 'idempotency-key': 'key-json-1' }));
    const again = await postChat(b, body, { 'idempotency-key': 'key-json-1' });
    expect(again.headers.get('x-moltbot-session-key')).toBe('agent:main:openai-user:ida');
    expect(await readCompletion(again)).toEqual(first);
    expect(first.choices[0]?.message.content).toBe('first answer');
    expect(upstream.requests).toHaveLength(1);
    expect((await a.store.loadTurns('main', 'agent:main:openai-user:ida')).map((t) => t.status)).toEqual(['ok']);

    const reused = await readError(await postChat(b, { ...body, messages: [{ role: 'user', content: 'something else' }] }, { 'idempotency-key': 'key-json-1' }), 409);
    expect(reused).toMatchObject({ code: 'idempotency_key_reused', param: 'idempotency-key', type: 'invalid_request_error' });
    // Another key is another request.
    await readCompletion(await postChat(b, body, { 'idempotency-key': 'key-json-2' }));
    expect(upstream.requests).toHaveLength(2);
  });

  it.skipIf(skip)('while the first runs, a repeat is 409 with Retry-After; once done, a streamed repeat replays the reply ending [DONE]', async () => {
    const [a, b] = await pair(kind);
    upstream.behaveOnce({ kind: 'hold', deltas: ['slow'], rest: [' reply'] });
    const streamBody = { ...body, stream: true };
    const firstResponse = postChat(a, streamBody, { 'idempotency-key': 'key-stream' });
    await upstream.nthRequest(1);
    const busy = await postChat(b, streamBody, { 'idempotency-key': 'key-stream' });
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(await readError(busy, 409)).toMatchObject({ code: 'idempotency_key_in_use', param: 'idempotency-key' });
    upstream.release();
    const first = await readStream(await firstResponse);
    expect(streamedText(first)).toBe('slow reply');
    const replay = await readStream(await postChat(b, streamBody, { 'idempotency-key': 'key-stream' }));
    expect(streamedText(replay)).toBe('slow reply');
    expect(replay.chunks[0]?.id).toBe(first.chunks[0]?.id);
    expect(replay.chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(replay.raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
    // The first's call reaches the upstream while its start commits: the repeat on the other replica may have raced it.
    ranOnceUpstream(kind);
    expect((await a.store.loadTurns('main', 'agent:main:openai-user:ida')).map((t) => t.status)).toEqual(['ok']);
  });

  it.skipIf(skip)('a run that failed frees its key: the retry runs', async () => {
    const [a, b] = await pair(kind);
    upstream.behaveOnce({ kind: 'status', status: 500, body: { error: { message: 'boom' } } }, { kind: 'reply', deltas: ['second try'] });
    await readError(await postChat(a, body, { 'idempotency-key': 'key-fail' }), 502);
    const retried = await readCompletion(await postChat(b, body, { 'idempotency-key': 'key-fail' }));
    expect(retried.choices[0]?.message.content).toBe('second try');
    expect(upstream.requests).toHaveLength(2);
  });

  it.skipIf(skip)('the same request sent to both at once runs once: one answers, every other is 409 idempotency_key_in_use', async () => {
    const [a, b] = await pair(kind);
    upstream.behave({ kind: 'hold', deltas: [], rest: ['only once'] });
    const answered: Response[] = [];
    let fiveAnswered: () => void = () => undefined;
    const five = new Promise<void>((resolve) => {
      fiveAnswered = resolve;
    });
    const sent = [a, b, a, b, a, b].map((gateway) =>
      postChat(gateway, body, { 'idempotency-key': 'key-race' }).then((response) => {
        answered.push(response);
        if (answered.length === 5) fiveAnswered();
        return response;
      }),
    );
    // The one that runs is held at the upstream: the other five answer meanwhile.
    await five;
    for (const refused of answered) expect(await readError(refused, 409)).toMatchObject({ code: 'idempotency_key_in_use', param: 'idempotency-key' });
    releaseHeld(['only once']);
    await Promise.all(sent);
    const ran = answered[5] as Response;
    expect((await readCompletion(ran)).choices[0]?.message.content).toBe('only once');
    ranOnceUpstream(kind);
    expect((await a.store.loadTurns('main', 'agent:main:openai-user:ida')).map((t) => t.status)).toEqual(['ok']);
  });

  it.skipIf(skip)('a completed key still replays after the gateway restarts on the same store', async () => {
    const postgres = { url: DATABASE_URL ?? '', schema: freshSchema('idem') };
    const storePath = join(mkdtempSync(join(tmpdir(), 'moltbot-idem-')), 'sessions.sqlite');
    const start = () => startGateway(config(), kind === 'postgres' ? { postgres } : { storePath });
    const first = await start();
    const completed = await readCompletion(await postChat(first, body, { 'idempotency-key': 'key-restart' }));
    await first.close();
    const second = await start();
    gateways.push(second);
    expect(await readCompletion(await postChat(second, body, { 'idempotency-key': 'key-restart' }))).toEqual(completed);
    expect(upstream.requests).toHaveLength(1);
  });

  it.skipIf(skip)('a malformed key is a 400 naming the header', async () => {
    const [a] = await pair(kind);
    const err = await readError(await postChat(a, body, { 'idempotency-key': 'k'.repeat(256) }), 400);
    expect(err.param).toMatch(/idempotency-key/iu);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe.each([
  { kind: 'sqlite' as const, skip: false },
  { kind: 'postgres' as const, skip: !HAS_POSTGRES },
])('WebSocket idempotencyKey ($kind)', ({ kind, skip }) => {
  const clients: TestClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  it.skipIf(skip)('the same agent run sent to both gateways at once runs once; each gets its final or UNAVAILABLE (retryable); a repeat replays it', async () => {
    const [a, b] = await pair(kind);
    const [one, two] = [await openClient(a), await openClient(b)];
    clients.push(one, two);
    upstream.behave({ kind: 'hold', deltas: ['held'], rest: [' once'] });
    const params = { message: 'once across replicas', sessionKey: 'agent:main:ws-race', idempotencyKey: 'ws-race-key' };
    type Final = { status: string; result: { payloads: { text: string }[] } };
    let answered = 0;
    let twoAnswered: () => void = () => undefined;
    const loserAnswered = new Promise<void>((resolve) => {
      twoAnswered = resolve;
    });
    const run = (c: TestClient) =>
      c.client
        .request<Final>('agent', params, { expectFinal: true })
        .catch((err: GatewayRequestError) => err)
        .finally(() => {
          answered += 1;
          if (answered === 2) twoAnswered();
        });
    const sent = [run(one), run(two), run(one), run(two)];
    // The replica that lost the key answers both of its requests while the run is held at the upstream.
    await (kind === 'sqlite' ? upstream.nthRequest(1) : loserAnswered);
    releaseHeld(['held', ' once']);
    const answers = await Promise.all(sent);
    for (const answer of answers) {
      if (answer instanceof GatewayRequestError) expect(answer.error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      else expect(answer.result.payloads).toEqual([{ text: 'held once', mediaUrl: null }]);
    }
    expect(answers.some((answer) => !(answer instanceof GatewayRequestError))).toBe(true);
    const replayed = await run(two);
    expect(replayed).not.toBeInstanceOf(GatewayRequestError);
    expect((replayed as Final).result.payloads).toEqual([{ text: 'held once', mediaUrl: null }]);
    ranOnceUpstream(kind);
    expect((await a.store.loadTurns('main', 'agent:main:ws-race')).map((t) => t.status)).toEqual(['ok']);
  });
});

