/**
 * `x-request-id`: on every response (JSON, SSE, and each error status), the client's
 * sane id echoed and an insane one replaced, and the gateway's log lines carry it
 * without ever carrying the token.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { authed, startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import { postChat } from '../helpers/gateway.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';
import { jsonHeaders, rawRequest } from '../helpers/scenarios.js';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/u;
const HI = { model: 'moltbot', messages: [{ role: 'user', content: 'hi there' }] };

let setup: FeatureSetup;
beforeAll(async () => {
  setup = await startFeatureGateway({ http: { maxBodyBytes: 2048 } });
});
afterAll(() => setup.close());

/** The parsed log lines that carry `requestId`, once at least one has been written. */
async function logLinesFor(requestId: string): Promise<Record<string, unknown>[]> {
  const lines = (): Record<string, unknown>[] =>
    setup.gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.requestId === requestId);
  // The access line is written when the server side of the response closes, which can
  // come just after the client has read the body.
  await vi.waitFor(() => expect(lines().length).toBeGreaterThan(0), { timeout: 5000, interval: 5 });
  return lines();
}

function idOf(res: Response): string {
  const id = res.headers.get('x-request-id');
  expect(id, `status ${res.status} has no x-request-id`).toBeTruthy();
  expect(id).toMatch(SANE);
  return id as string;
}

describe('every response has an x-request-id', () => {
  it('200 JSON', async () => {
    const res = await postChat(setup.gateway, HI);
    idOf(res);
    await readCompletion(res);
  });

  it('200 SSE', async () => {
    const res = await postChat(setup.gateway, { ...HI, stream: true });
    idOf(res);
    await readStream(res);
  });

  it('401', async () => {
    const res = await postChat({ url: setup.gateway.url, token: 'wrong' }, HI);
    idOf(res);
    await readError(res, 401);
  });

  it('404 (unknown route and unknown agent)', async () => {
    const route = await authed(setup.gateway, '/v1/nothing-here');
    idOf(route);
    await readError(route, 404);
    const agent = await postChat(setup.gateway, { ...HI, model: 'moltbot:nobody' });
    idOf(agent);
    expect((await readError(agent, 404)).code).toBe('model_not_found');
  });

  it('405', async () => {
    const res = await authed(setup.gateway, '/v1/chat/completions');
    idOf(res);
    await readError(res, 405);
  });

  it('413', async () => {
    const res = await rawRequest(`${setup.gateway.url}/v1/chat/completions`, {
      headers: jsonHeaders(setup.gateway.token),
      body: Buffer.from(JSON.stringify({ ...HI, messages: [{ role: 'user', content: 'x'.repeat(4096) }] })),
    });
    idOf(res);
    expect((await readError(res, 413)).code).toBe('request_too_large');
  });

  it('400', async () => {
    const res = await postChat(setup.gateway, '{not json');
    idOf(res);
    expect((await readError(res, 400)).code).toBe('invalid_json');
  });

  it('gives each request its own id', async () => {
    const a = idOf(await postChat(setup.gateway, HI));
    const b = idOf(await postChat(setup.gateway, HI));
    expect(a).not.toBe(b);
  });
});

describe('client ids', () => {
  it('echoes a sane id and logs the request under it', async () => {
    const id = `abc-123.x:y-${Date.now()}`;
    const res = await postChat(setup.gateway, HI, { 'x-request-id': id });
    expect(res.headers.get('x-request-id')).toBe(id);
    await readCompletion(res);
    const lines = await logLinesFor(id);
    expect(lines.some((line) => line.path === '/v1/chat/completions' && line.status === 200 && line.method === 'POST')).toBe(true);
  });

  it('echoes the exact example id abc-123.x:y on an error too', async () => {
    const res = await postChat({ url: setup.gateway.url, token: 'wrong' }, HI, { 'x-request-id': 'abc-123.x:y' });
    expect(res.headers.get('x-request-id')).toBe('abc-123.x:y');
    await readError(res, 401);
  });

  const insane: [string, string][] = [
    ['too long', 'a'.repeat(129)],
    ['spaces', 'abc 123'],
    ['unicode', Buffer.from('req-héllo-✓', 'utf8').toString('latin1')],
    ['slash and quote', 'a/b"c'],
  ];
  it.each(insane)('replaces an id with %s by a new one, and logs under the new one', async (_what, sent) => {
    const res = await rawRequest(`${setup.gateway.url}/v1/chat/completions`, {
      headers: { ...jsonHeaders(setup.gateway.token), 'x-request-id': sent },
      body: Buffer.from(JSON.stringify(HI)),
    });
    const id = idOf(res);
    expect(id).not.toBe(sent);
    expect(id.length).toBeGreaterThan(8);
    await readCompletion(res);
    const lines = await logLinesFor(id);
    expect(lines.some((line) => line.path === '/v1/chat/completions' && line.status === 200)).toBe(true);
    for (const line of setup.gateway.logs) expect(line).not.toContain(sent);
  });

  it('accepts a 128-character id', async () => {
    const id = 'r'.repeat(128);
    const res = await postChat(setup.gateway, HI, { 'x-request-id': id });
    expect(res.headers.get('x-request-id')).toBe(id);
    await readCompletion(res);
  });
});

describe('logs', () => {
  it('log a 401 under its request id, and no line ever holds the token', async () => {
    const id = `denied-${Date.now()}`;
    const res = await postChat({ url: setup.gateway.url, token: 'not-the-token' }, HI, { 'x-request-id': id });
    await readError(res, 401);
    const lines = await logLinesFor(id);
    expect(lines.some((line) => line.status === 401)).toBe(true);
    // Requests that carry the real token, succeeding and failing, streamed and not.
    await readCompletion(await postChat(setup.gateway, HI));
    await readStream(await postChat(setup.gateway, { ...HI, stream: true }));
    await readError(await postChat(setup.gateway, { ...HI, model: 'moltbot:nobody' }), 404);
    await logLinesFor(id);
    expect(setup.gateway.logs.length).toBeGreaterThanOrEqual(2);
    for (const line of setup.gateway.logs) {
      expect(line).not.toContain(setup.gateway.token);
      expect(line).not.toContain('not-the-token');
    }
  });
});
