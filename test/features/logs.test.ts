/**
 * Structured logs (pino): one JSON line per request with its id, route, agent, status,
 * duration, first-byte time, token counts, session kind and the session key hashed
 * (never its text); one per recorded run; one per upstream retry; and no secret in any
 * line: not the gateway's token (right or wrong), not the upstream's API key, not an
 * `Authorization` header a caller puts in a field (pino's redact paths).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { postChat, startGateway, TEST_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';

const UPSTREAM_KEY = 'sk-upstream-4f0c9a7e2b';
const SESSION_KEY = 'my-private-session-91e2';
const USER = 'carol@example.com';

type Line = Record<string, unknown>;

let upstream: FakeUpstream;
let gateway: TestGateway;
beforeAll(async () => {
  upstream = await startFakeUpstream({ kind: 'reply', deltas: ['Hi', ' you'] });
  gateway = await startGateway({
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    session: { reset: { mode: 'never' } },
    models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl, apiKey: UPSTREAM_KEY, maxRetries: 1 } } },
    agents: { list: [{ id: 'main', model: 'up/m' }] },
  });
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

const parsed = (): Line[] => gateway.logs.map((line) => JSON.parse(line) as Line);

/** The lines of one request, once its access line (written as the response closes) is there. */
async function linesOf(requestId: string): Promise<Line[]> {
  await vi.waitFor(() => expect(parsed().some((line) => line.requestId === requestId && line.message === 'request')).toBe(true));
  return parsed().filter((line) => line.requestId === requestId);
}

describe('log lines', () => {
  it('a streamed turn: the request line has route, agent, status, ms, first byte, tokens, session kind and a hashed key; a run line', async () => {
    await readStream(await postChat(gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'log-stream-1', 'x-moltbot-session-key': SESSION_KEY }));
    const lines = await linesOf('log-stream-1');
    const request = lines.find((line) => line.message === 'request');
    expect(request).toMatchObject({
      level: 'info',
      method: 'POST',
      route: '/v1/chat/completions',
      status: 200,
      agent: 'main',
      sessionKind: 'explicit',
      promptTokens: 11,
      completionTokens: 3,
    });
    expect(request?.time).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/u));
    expect(request?.ms).toEqual(expect.any(Number));
    expect(request?.firstByteMs).toEqual(expect.any(Number));
    expect(request?.firstByteMs as number).toBeLessThanOrEqual(request?.ms as number);
    expect(request?.sessionKeyHash).toMatch(/^[0-9a-f]{16}$/u);
    expect(lines.find((line) => line.message === 'run ended')).toMatchObject({ agent: 'main', provider: 'up', status: 'ok', promptTokens: 11, completionTokens: 3 });
  });

  it('the same session key hashes the same; the key and the user never appear', async () => {
    await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'again' }] }, { 'x-request-id': 'log-json-2', 'x-moltbot-session-key': SESSION_KEY }));
    await readCompletion(await postChat(gateway, { model: 'moltbot', user: USER, messages: [{ role: 'user', content: 'hey' }] }, { 'x-request-id': 'log-user-3' }));
    const [json] = (await linesOf('log-json-2')).filter((line) => line.message === 'request');
    const [first] = (await linesOf('log-stream-1')).filter((line) => line.message === 'request');
    expect(json?.sessionKeyHash).toBe(first?.sessionKeyHash);
    expect(json?.firstByteMs).toBeUndefined();
    const [byUser] = (await linesOf('log-user-3')).filter((line) => line.message === 'request');
    expect(byUser).toMatchObject({ sessionKind: 'user' });
    expect(byUser?.sessionKeyHash).not.toBe(json?.sessionKeyHash);
    const all = gateway.logs.join('');
    expect(all).not.toContain(SESSION_KEY);
    expect(all).not.toContain(USER);
  });

  it('an upstream 503 retried: a warn line per retry, under the request id', async () => {
    upstream.behaveOnce({ kind: 'status', status: 503, body: { error: { message: `overloaded, key ${UPSTREAM_KEY}` } }, headers: { 'retry-after-ms': '1' } });
    await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'retry' }] }, { 'x-request-id': 'log-retry-4' }));
    const retry = (await linesOf('log-retry-4')).find((line) => line.message === 'upstream retry');
    expect(retry).toMatchObject({ level: 'warn', provider: 'up', agent: 'main', retry: 1, after: '503' });
  });

  it('no line holds a secret: the gateway token, a wrong token, the upstream API key', async () => {
    await readError(await postChat({ url: gateway.url, token: 'wrong-token-5d2a' }, { model: 'moltbot', messages: [] }), 401);
    upstream.behaveOnce({ kind: 'status', status: 400, body: { error: { message: `bad key ${UPSTREAM_KEY}` } } });
    await readError(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'fail' }] }, { 'x-request-id': 'log-fail-5' }), 502);
    await linesOf('log-fail-5');
    const all = gateway.logs.join('');
    expect(gateway.logs.length).toBeGreaterThan(8);
    for (const secret of [TEST_TOKEN, 'wrong-token-5d2a', UPSTREAM_KEY]) expect(all).not.toContain(secret);
  });
});

describe('redaction', () => {
  it('removes secrets a caller puts in fields, at the top level and in headers and provider objects', () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    logger.info(
      {
        authorization: 'Bearer top-1',
        token: 'top-2',
        password: 'top-3',
        apiKey: 'top-4',
        headers: { authorization: 'Bearer nested-5', cookie: 'c=nested-6', 'x-api-key': 'nested-8' },
        provider: { apiKey: 'nested-7' },
        req: { headers: { authorization: 'Bearer nested-9' } },
      },
      'a careless line',
    );
    const text = lines.join('');
    for (const secret of ['top-1', 'top-2', 'top-3', 'top-4', 'nested-5', 'nested-6', 'nested-7', 'nested-8', 'nested-9']) expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({ level: 'info', message: 'a careless line', authorization: '[redacted]', headers: { authorization: '[redacted]' } });
  });
});
