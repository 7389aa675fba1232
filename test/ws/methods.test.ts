/**
 * Point 4's read and session methods, each result checked against asyncapi.yaml's result
 * schema: `health`, `status`, `agents.list`, `models.list`, `agent.identity.get`,
 * `sessions.list`, `sessions.preview`, `sessions.reset`, `sessions.delete`, `chat.history`;
 * and the scopes they need.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { wsResultValidators, type WsMethod } from '../../generated/ws/methods.js';
import { GatewayRequestError } from '../../src/client/gateway-client.js';
import { readCompletion } from '../helpers/read.js';
import { openClient, type TestClient } from '../helpers/ws.js';
import { SYSTEM_PROMPT, chat, messagesOf, startCore, system, user, type CoreSetup } from '../core/support.js';

let setup: CoreSetup | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await setup?.close();
  setup = undefined;
});

async function begin(): Promise<TestClient> {
  setup = await startCore({
    edit: (file) => {
      file.agents = { list: [{ id: 'main', name: 'Main Agent', model: 'up/some-model', systemPrompt: SYSTEM_PROMPT }, { id: 'ops', model: 'up/other-model', systemPrompt: 'ops' }] };
    },
  });
  const c = await openClient(setup.gateway);
  clients.push(c);
  return c;
}

/** Calls a method and checks its result against the spec. */
async function call<T = Record<string, unknown>>(c: TestClient, method: WsMethod, params?: unknown): Promise<T> {
  const result = await c.client.request<T>(method, params);
  const validate = wsResultValidators[method];
  expect(validate(result), `${method}: ${JSON.stringify(validate.errors)}`).toBe(true);
  return result;
}

const turn = (c: TestClient, sessionKey: string, message: string, key = `${sessionKey}-${message}`) => c.client.request('agent', { message, sessionKey, idempotencyKey: key }, { expectFinal: true });

describe('gateway methods', () => {
  it('health: agents with session counts and recent sessions (no path, no stateless HTTP sessions)', async () => {
    const c = await begin();
    await turn(c, 'agent:main:h1', 'one');
    await readCompletion(await chat(setup!.gateway, { content: 'stateless' }));
    const health = await call<{ ok: boolean; agents: { agentId: string; isDefault: boolean; sessions: { count: number; recent: { key: string }[]; path: string } }[]; sessions: { count: number } }>(c, 'health');
    expect(health).toMatchObject({ ok: true, defaultAgentId: 'main', channels: {}, sessions: { count: 1 } });
    expect(health.agents.map((a) => [a.agentId, a.isDefault, a.sessions.count])).toEqual([['main', true, 1], ['ops', false, 0]]);
    expect(health.agents[0]?.sessions.recent[0]?.key).toBe('agent:main:h1');
    expect(JSON.stringify(health)).not.toContain('/');
  });

  it('status: recent sessions with model and ids', async () => {
    const c = await begin();
    await turn(c, 'agent:ops:s1', 'x');
    const status = await call<{ sessions: { count: number; recent: Record<string, unknown>[] } }>(c, 'status');
    expect(status.sessions.count).toBe(1);
    expect(status.sessions.recent[0]).toMatchObject({ key: 'agent:ops:s1', agentId: 'ops', kind: 'direct', model: 'other-model', modelProvider: 'up' });
  });

  it('agents.list: default first, with names; models.list: each provider model once', async () => {
    const c = await begin();
    expect(await call(c, 'agents.list')).toEqual({ defaultId: 'main', mainKey: 'main', scope: 'per-sender', agents: [{ id: 'main', name: 'Main Agent' }, { id: 'ops' }] });
    expect(await call(c, 'models.list')).toEqual({ models: [{ id: 'other-model', name: 'other-model', provider: 'up' }, { id: 'some-model', name: 'some-model', provider: 'up' }] });
    const refused = await c.client.request('agents.list', { extra: 1 }).catch((err: GatewayRequestError) => err.error);
    expect(refused).toMatchObject({ code: 'INVALID_REQUEST', message: "invalid agents.list params: at root: unexpected property 'extra'" });
  });

  it('agent.identity.get: by agent id or session key; unknown agents and mismatches refused', async () => {
    const c = await begin();
    expect(await call(c, 'agent.identity.get', {})).toEqual({ agentId: 'main', name: 'Main Agent', avatar: 'A' });
    expect(await call(c, 'agent.identity.get', { sessionKey: 'agent:ops:x' })).toEqual({ agentId: 'ops', name: 'Assistant', avatar: 'A' });
    expect(await c.client.request('agent.identity.get', { agentId: 'nope' }).catch((err: GatewayRequestError) => err.error?.code)).toBe('INVALID_REQUEST');
    expect(await c.client.request('agent.identity.get', { agentId: 'ops', sessionKey: 'agent:main:x' }).catch((err: GatewayRequestError) => err.error?.message)).toContain('does not match');
  });
});

describe('session methods', () => {
  it('sessions.list: most recent first, with titles and last messages on request, filtered by agent, search and limit', async () => {
    const c = await begin();
    await turn(c, 'agent:main:first', 'the first question');
    await turn(c, 'second', 'the second question');
    await turn(c, 'agent:ops:third', 'ops question');
    const all = await call<{ count: number; sessions: { key: string; derivedTitle?: string; lastMessagePreview?: string }[] }>(c, 'sessions.list', { includeDerivedTitles: true, includeLastMessage: true });
    expect(all.sessions.map((s) => s.key)).toEqual(['agent:ops:third', 'agent:main:second', 'agent:main:first']);
    expect(all.sessions[2]).toMatchObject({ derivedTitle: 'the first question', lastMessagePreview: 'Hello from upstream' });
    expect((await call<{ sessions: unknown[] }>(c, 'sessions.list', { agentId: 'ops' })).sessions).toHaveLength(1);
    expect((await call<{ sessions: { key: string }[] }>(c, 'sessions.list', { search: 'SECOND' })).sessions.map((s) => s.key)).toEqual(['agent:main:second']);
    expect((await call<{ sessions: unknown[] }>(c, 'sessions.list', { limit: 2 })).sessions).toHaveLength(2);
    expect(await c.client.request('sessions.list', { limit: 0 }).catch((err: GatewayRequestError) => err.error)).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('at /limit'), details: { param: '/limit' } });
  });

  it('sessions.preview: the last messages of each key as sent, cut to maxChars; unknown keys missing', async () => {
    const c = await begin();
    await turn(c, 'pre', 'a question that is long enough to be cut somewhere in the middle of it');
    const result = await call<{ previews: { key: string; status: string; items: { role: string; text: string }[] }[] }>(c, 'sessions.preview', { keys: ['pre', 'nothing-here'], maxChars: 20 });
    expect(result.previews).toEqual([
      { key: 'pre', status: 'ok', items: [{ role: 'user', text: 'a question that i...' }, { role: 'assistant', text: 'Hello from upstream' }] },
      { key: 'nothing-here', status: 'missing', items: [] },
    ]);
  });

  it('sessions.reset: a new empty transcript; the next turn has no history, the old one stays readable', async () => {
    const c = await begin();
    await turn(c, 'resettable', 'before');
    const reset = await call<{ key: string; entry: { sessionId: string } }>(c, 'sessions.reset', { key: 'resettable' });
    expect(reset).toMatchObject({ ok: true, key: 'agent:main:resettable', entry: { totalTokens: 0 } });
    expect(await call(c, 'chat.history', { sessionKey: 'resettable' })).toMatchObject({ sessionId: reset.entry.sessionId, messages: [] });
    await turn(c, 'resettable', 'after');
    expect(messagesOf(await setup!.upstream.nthRequest(2))).toEqual([system(SYSTEM_PROMPT), user('after')]);
    const history = await setup!.gateway.store.sessionHistory('agent:main:resettable', { agentId: 'main' });
    expect(history.map((h) => h.turns.length)).toEqual([1, 1]);
    expect(await c.client.request('sessions.reset', { key: '  ' }).catch((err: GatewayRequestError) => err.error?.message)).toBe('key required');
  });

  it('sessions.delete: deletes the transcripts (unknown keys are ok, deleted false); the main session is refused', async () => {
    const c = await begin();
    await turn(c, 'doomed', 'x');
    expect(await call(c, 'sessions.delete', { key: 'doomed' })).toEqual({ ok: true, key: 'agent:main:doomed', deleted: true, archived: [] });
    expect(await setup!.gateway.store.sessionHistory('agent:main:doomed')).toEqual([]);
    expect(await call(c, 'sessions.delete', { key: 'doomed' })).toMatchObject({ deleted: false });
    expect(await c.client.request('sessions.delete', { key: 'main' }).catch((err: GatewayRequestError) => err.error?.message)).toBe('Cannot delete the main session (agent:main:main).');
  });

  it('chat.history: the transcript as the clients render it, with the key as sent', async () => {
    const c = await begin();
    await turn(c, 'hist', 'question');
    const history = await call<{ sessionKey: string; messages: Record<string, unknown>[] }>(c, 'chat.history', { sessionKey: 'hist' });
    expect(history.sessionKey).toBe('hist');
    expect(history.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'question' }], timestamp: expect.any(Number) },
      { role: 'assistant', content: [{ type: 'text', text: 'Hello from upstream' }], usage: { input: 11, output: 3, cacheRead: 0, cacheWrite: 0, totalTokens: 14 }, stopReason: 'stop', timestamp: expect.any(Number) },
    ]);
    expect(await call(c, 'chat.history', { sessionKey: 'never-used' })).toEqual({ sessionKey: 'never-used', messages: [], thinkingLevel: 'off' });
    expect((await call<{ messages: unknown[] }>(c, 'chat.history', { sessionKey: 'hist', limit: 1 })).messages).toHaveLength(1);
  });
});

describe('scopes', () => {
  it('read scope reads but cannot run turns or reset; write runs turns but cannot delete sessions', async () => {
    await begin();
    const reader = await openClient(setup!.gateway, { scopes: ['operator.read'] });
    const writer = await openClient(setup!.gateway, { scopes: ['operator.write'] });
    clients.push(reader, writer);
    expect(await reader.client.request('sessions.list', {})).toMatchObject({ sessions: [] });
    expect(await reader.client.request('chat.send', { sessionKey: 'x', message: 'y', idempotencyKey: 'z' }).catch((err: GatewayRequestError) => err.error?.message)).toBe('missing scope: operator.write');
    expect(await reader.client.request('sessions.reset', { key: 'x' }).catch((err: GatewayRequestError) => err.error?.message)).toBe('missing scope: operator.admin');
    expect(await writer.client.request('health')).toMatchObject({ ok: true });
    expect(await writer.client.request('sessions.delete', { key: 'x' }).catch((err: GatewayRequestError) => err.error?.message)).toBe('missing scope: operator.admin');
    expect(setup!.upstream.requests).toHaveLength(0);
  });
});
