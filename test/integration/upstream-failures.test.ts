/**
 * When the agent's model provider fails: 502 `upstream_error` (a status, even for a
 * streaming request, since nothing was sent yet), a message naming the provider and never
 * the upstream API key, and the failed turn still recorded. Also what credentials the
 * upstream receives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { readCompletion, readError } from '../helpers/read.js';
import { closedPortBaseUrl, startTwoAgentGateway, twoAgentConfig, type TwoAgentSetup } from '../helpers/scenarios.js';
import { keyAgent } from '../helpers/keys.js';

const API_KEY = 'sk-secret-upstream-123';
const ask = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'moltbot:beta',
  messages: [{ role: 'user', content: 'are you there?' }],
  ...extra,
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((close) => close()));
});

async function startWithUpstream(apiKey?: string): Promise<TwoAgentSetup> {
  const setup = await startTwoAgentGateway(apiKey === undefined ? {} : { apiKey });
  cleanups.push(() => setup.close());
  return setup;
}

async function startWithUpstreamDown(): Promise<TestGateway> {
  const gateway = await startGateway(twoAgentConfig(await closedPortBaseUrl(), { apiKey: API_KEY }));
  cleanups.push(() => gateway.close());
  return gateway;
}

async function expectErrorTurn(gateway: TestGateway, sessionKey: string, code: string): Promise<void> {
  const turns = await gateway.store.loadTurns(keyAgent(sessionKey), sessionKey);
  expect(turns).toHaveLength(1);
  expect(turns[0]).toMatchObject({
    sessionKey,
    agentId: 'beta',
    status: 'error',
    input: [{ role: 'user', content: 'are you there?' }],
    error: { type: 'upstream_error', code },
  });
  expect(turns[0]).not.toHaveProperty('reply');
  expect(JSON.stringify(turns[0])).not.toContain(API_KEY);
}

describe('upstream unreachable', () => {
  it('is a 502 upstream_error naming the provider, and the turn is recorded as an error', async () => {
    const gateway = await startWithUpstreamDown();
    const res = await postChat(gateway, ask({ user: 'down' }));
    const raw = await res.clone().text();
    const error = await readError(res, 502);
    expect(error.type).toBe('upstream_error');
    expect(error.message).toContain("'local'");
    expect(raw).not.toContain(API_KEY);
    await expectErrorTurn(gateway, 'agent:beta:openai-user:down', error.code ?? '');
  });

  it('is an HTTP 502 for a streaming request, not an SSE event', async () => {
    const gateway = await startWithUpstreamDown();
    const res = await postChat(gateway, ask({ stream: true }), { 'x-moltbot-session-key': 'agent:beta:down-stream' });
    expect(res.headers.get('content-type')).not.toBe('text/event-stream');
    const error = await readError(res, 502);
    expect(error.type).toBe('upstream_error');
    await expectErrorTurn(gateway, 'agent:beta:down-stream', error.code ?? '');
  });

  it('a failed turn does not become history, and the session recovers', async () => {
    const gateway = await startWithUpstreamDown();
    await readError(await postChat(gateway, ask({ user: 'retry' })), 502);
    await readError(await postChat(gateway, ask({ user: 'retry' })), 502);
    const turns = await gateway.store.loadTurns('beta', 'agent:beta:openai-user:retry');
    expect(turns.map((t) => t.status)).toEqual(['error', 'error']);
    // main (echo) is unaffected by beta's provider being down.
    await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'fine' }] }));
  });
});

describe('upstream answering with an error', () => {
  it('a 500 is a 502 naming the provider, without leaking the upstream API key', async () => {
    const { gateway, upstream } = await startWithUpstream(API_KEY);
    upstream.behave({
      kind: 'status',
      status: 500,
      body: { error: { message: `upstream exploded while checking key ${API_KEY}`, type: 'server_error', param: null, code: null } },
    });
    const res = await postChat(gateway, ask({ user: 'five-hundred' }));
    const raw = await res.clone().text();
    const error = await readError(res, 502);
    expect(error.type).toBe('upstream_error');
    expect(error.message).toContain("'local'");
    expect(error.message).toContain('500');
    expect(raw).not.toContain(API_KEY);
    expect(raw).not.toContain('sk-secret');
    // maxRetries: 0 — exactly one attempt.
    expect(upstream.requests).toHaveLength(1);
    await expectErrorTurn(gateway, 'agent:beta:openai-user:five-hundred', error.code ?? '');
  });

  it('a 500 to a streaming request is an HTTP 502', async () => {
    const { gateway, upstream } = await startWithUpstream(API_KEY);
    upstream.behave({ kind: 'status', status: 500, body: { error: { message: `bad ${API_KEY}` } } });
    const res = await postChat(gateway, ask({ stream: true, user: 'stream-500' }));
    const raw = await res.clone().text();
    const error = await readError(res, 502);
    expect(error.type).toBe('upstream_error');
    expect(raw).not.toContain(API_KEY);
    await expectErrorTurn(gateway, 'agent:beta:openai-user:stream-500', error.code ?? '');
  });

  it.each([400, 401, 404, 429, 503])('an upstream %i is a 502', async (status) => {
    const { gateway, upstream } = await startWithUpstream(API_KEY);
    upstream.behave({ kind: 'status', status, body: { error: { message: `nope (${API_KEY})` } } });
    const res = await postChat(gateway, ask());
    const raw = await res.clone().text();
    const error = await readError(res, 502);
    expect(error.type).toBe('upstream_error');
    expect(error.message).toContain(String(status));
    expect(raw).not.toContain(API_KEY);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('upstream credentials', () => {
  it('sends Authorization: Bearer <apiKey> when an apiKey is configured', async () => {
    const { gateway, upstream } = await startWithUpstream(API_KEY);
    await readCompletion(await postChat(gateway, ask()));
    expect(upstream.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('sends no Authorization (nor any ambient OpenAI credential) when none is configured', async () => {
    const { gateway, upstream } = await startWithUpstream();
    await readCompletion(await postChat(gateway, ask()));
    const headers = upstream.requests[0]?.headers ?? {};
    expect(headers).not.toHaveProperty('authorization');
    expect(headers).not.toHaveProperty('openai-organization');
    expect(headers).not.toHaveProperty('openai-project');
    if (process.env.OPENAI_API_KEY) expect(JSON.stringify(headers)).not.toContain(process.env.OPENAI_API_KEY);
  });

  it('never forwards the client bearer token upstream', async () => {
    const { gateway, upstream } = await startWithUpstream();
    await readCompletion(await postChat(gateway, ask()));
    expect(JSON.stringify(upstream.requests[0]?.headers)).not.toContain(gateway.token);
  });
});
