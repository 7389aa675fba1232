/**
 * Point 4's runs and point 5's events: `agent` (accepted, then the final under the same
 * id), `chat.send` (started, then `chat` events), `chat.abort` and a closed socket
 * aborting the run at the upstream within 100 ms, idempotency keys (a repeat runs
 * nothing; a repeat while running gets the final under its own id), `agent.wait`, and
 * one session shared by WS and HTTP turns.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { wsResultValidators } from '../../generated/ws/methods.js';
import type { EventFrame } from '../../generated/ws/types.js';
import { GatewayRequestError } from '../../src/client/gateway-client.js';
import { readCompletion } from '../helpers/read.js';
import { openClient, openRawAuthenticated, type TestClient } from '../helpers/ws.js';
import { DEFAULT_REPLY, SYSTEM_PROMPT, assistant, chat, hold, messagesOf, startCore, system, user, type CoreSetup } from '../core/support.js';

let setup: CoreSetup | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await setup?.close();
  setup = undefined;
});

async function client(): Promise<TestClient> {
  const c = await openClient(setup!.gateway);
  clients.push(c);
  return c;
}

const ofRun = (runId: string, event: string) => (e: EventFrame) => e.event === event && (e.payload as { runId: string }).runId === runId;

describe('agent', () => {
  it('answers accepted, then the final with the same id; agent and chat events stream the run', async () => {
    setup = await startCore();
    const raw = await openRawAuthenticated(setup.gateway);
    raw.send({ type: 'req', id: 'a1', method: 'agent', params: { message: 'hello', sessionKey: 'agent:main:ws-agent', idempotencyKey: 'run-a1' } });
    const accepted = await raw.frame((f) => f.id === 'a1');
    expect(accepted).toEqual({ type: 'res', id: 'a1', ok: true, payload: { runId: 'run-a1', status: 'accepted', acceptedAt: expect.any(Number) } });
    const final = await raw.frame((f) => f.id === 'a1' && (f.payload as { status: string }).status !== 'accepted');
    expect(final).toMatchObject({ type: 'res', id: 'a1', ok: true, payload: { runId: 'run-a1', status: 'ok', summary: 'completed', result: { payloads: [{ text: DEFAULT_REPLY }], meta: { agentMeta: { provider: 'up', model: 'some-model', usage: { input: 11, output: 3, total: 14 } } } } } });
    expect(wsResultValidators.agent(accepted.payload)).toBe(true);
    expect(wsResultValidators.agent(final.payload)).toBe(true);
    const events = raw.frames.filter((f) => f.type === 'event' && f.event !== 'connect.challenge');
    const agentEvents = events.filter((f) => f.event === 'agent').map((f) => f.payload as { stream: string; data: Record<string, unknown>; seq: number; sessionKey: string });
    expect(agentEvents[0]).toMatchObject({ runId: 'run-a1', stream: 'lifecycle', data: { phase: 'start' }, seq: 1, sessionKey: 'agent:main:ws-agent' });
    expect(agentEvents.filter((e) => e.stream === 'assistant').at(-1)?.data).toMatchObject({ text: DEFAULT_REPLY });
    expect(agentEvents.at(-1)).toMatchObject({ stream: 'lifecycle', data: { phase: 'end', aborted: false } });
    expect(events.filter((f) => f.event === 'chat').at(-1)?.payload).toMatchObject({ runId: 'run-a1', state: 'final', sessionKey: 'agent:main:ws-agent', message: { role: 'assistant', content: [{ type: 'text', text: DEFAULT_REPLY }] } });
    // The final response comes after the last event of the run; frame seq goes up by one.
    expect(raw.frames.indexOf(final)).toBeGreaterThan(raw.frames.indexOf(events.at(-1) as Record<string, unknown>));
    expect(events.map((f) => f.seq)).toEqual(events.map((_, i) => i + 1));
    const [turn] = await setup.gateway.store.loadTurns('main', 'agent:main:ws-agent');
    expect(turn).toMatchObject({ status: 'ok', input: [user('hello')], reply: { content: DEFAULT_REPLY } });
    raw.ws.close();
  });

  it('with expectFinal (as the CLI calls it) resolves with the final; a failed run is an error final carrying its payload', async () => {
    setup = await startCore();
    const c = await client();
    const final = await c.client.request<{ status: string; result: { payloads: { text: string }[] } }>('agent', { message: 'hi', agentId: 'main', idempotencyKey: 'k-final', channel: 'whatsapp', deliver: false, timeout: 600 }, { expectFinal: true });
    expect(final.result.payloads[0]?.text).toBe(DEFAULT_REPLY);
    expect(await setup.gateway.store.loadTurns('main', 'agent:main:main')).toHaveLength(1);
    setup.upstream.behaveOnce({ kind: 'status', status: 500, body: { error: { message: 'upstream broke' } } });
    const failed = await c.client.request('agent', { message: 'again', idempotencyKey: 'k-fail' }, { expectFinal: true }).catch((err: GatewayRequestError) => err);
    expect(failed).toBeInstanceOf(GatewayRequestError);
    expect((failed as GatewayRequestError).error).toMatchObject({ code: 'UNAVAILABLE', message: expect.any(String), retryable: true });
    expect((failed as GatewayRequestError).payload).toMatchObject({ runId: 'k-fail', status: 'error', summary: expect.any(String) });
    expect((await c.event(ofRun('k-fail', 'chat'))).payload).toMatchObject({ state: 'error', errorMessage: expect.any(String) });
    expect(c.invalid).toEqual([]);
  });

  it('tool calls the model made arrive as agent tool events and in the final result', async () => {
    setup = await startCore();
    setup.upstream.behaveOnce({ kind: 'tool_calls', deltas: ['Let me look.'], calls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"weather"}' }] });
    const c = await client();
    const final = await c.client.request<{ result: { meta: { stopReason: string; pendingToolCalls: unknown[] } } }>('agent', { message: 'weather?', sessionKey: 'agent:main:tools', idempotencyKey: 'tools-1' }, { expectFinal: true });
    expect(final.result.meta).toMatchObject({ stopReason: 'toolUse', pendingToolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"weather"}' }] });
    const tool = await c.event((e) => ofRun('tools-1', 'agent')(e) && (e.payload as { stream: string }).stream === 'tool');
    expect((tool.payload as { data: unknown }).data).toEqual({ phase: 'start', name: 'lookup', toolCallId: 'call_1', args: { q: 'weather' } });
    const history = await c.client.request<{ messages: { role: string; content: { type: string }[] }[] }>('chat.history', { sessionKey: 'agent:main:tools' });
    expect(history.messages[1]?.content.map((part) => part.type)).toEqual(['text', 'toolCall']);
    expect(c.invalid).toEqual([]);
  });

  it('refuses before accepting: unknown agent, a key of another agent, a blank message', async () => {
    setup = await startCore();
    const c = await client();
    const refusal = (params: Record<string, unknown>) => c.client.request('agent', { idempotencyKey: `k-${Math.random()}`, message: 'x', ...params }, { expectFinal: true }).then(() => undefined, (err: GatewayRequestError) => err.error);
    expect(await refusal({ agentId: 'nobody' })).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('unknown agent id "nobody"') });
    expect(await refusal({ sessionKey: 'agent:other:x' })).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('unknown agent id "other"') });
    expect(await refusal({ message: '   ' })).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('message must not be blank') });
    expect(setup.upstream.requests).toHaveLength(0);
  });
});

describe('chat.send', () => {
  it('answers started; chat deltas carry the cumulative text and the final the whole reply, with the key as sent', async () => {
    setup = await startCore();
    setup.upstream.behaveOnce({ kind: 'reply', deltas: ['one ', 'two ', 'three'] });
    const c = await client();
    const ack = await c.client.request('chat.send', { sessionKey: 'my-chat', message: 'count', idempotencyKey: 'chat-1' });
    expect(ack).toEqual({ runId: 'chat-1', status: 'started' });
    const final = await c.event((e) => ofRun('chat-1', 'chat')(e) && (e.payload as { state: string }).state === 'final');
    expect(final.payload).toMatchObject({ sessionKey: 'my-chat', state: 'final', message: { role: 'assistant', content: [{ type: 'text', text: 'one two three' }], stopReason: 'stop' } });
    const deltas = c.events.filter((e) => ofRun('chat-1', 'chat')(e) && (e.payload as { state: string }).state === 'delta').map((e) => (e.payload as { message: { content: { text: string }[] } }).message.content[0]?.text ?? '');
    expect(deltas.length).toBeGreaterThan(0);
    for (const text of deltas) expect('one two three'.startsWith(text)).toBe(true);
    // A bare key is the default agent's `agent:main:<key>`.
    expect((await setup.gateway.store.loadTurns('main', 'agent:main:my-chat'))[0]).toMatchObject({ status: 'ok', reply: { content: 'one two three' } });
    expect(c.invalid).toEqual([]);
    expect(c.gaps).toEqual([]);
  });
});

describe('abort', () => {
  /**
   * The abort's delay at the upstream, three times: the least must be under the promised
   * 100 ms (a structural delay, such as waiting for the next delta, shows in every
   * attempt), and all under a sanity bound (a loaded machine may stall one attempt).
   */
  async function threeTimes(measure: (attempt: number) => Promise<number>, what: string): Promise<void> {
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt += 1) delays.push(await measure(attempt));
    console.log(`[ws] ${what} -> upstream request closed: ${delays.map((d) => d.toFixed(1)).join(', ')} ms`);
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeLessThan(2000);
  }

  it('chat.abort aborts the run at the upstream within 100 ms; the chat event says aborted and the turn is recorded aborted', async () => {
    setup = await startCore();
    const { upstream, gateway } = setup;
    const c = await client();
    await threeTimes(async (attempt) => {
      const key = `agent:main:abort-me-${attempt}`;
      const runId = `to-abort-${attempt}`;
      upstream.behaveOnce(hold(['partial']));
      await c.client.request('chat.send', { sessionKey: key, message: 'long one', idempotencyKey: runId });
      const request = await upstream.nthRequest(attempt);
      await c.event((e) => ofRun(runId, 'agent')(e) && (e.payload as { stream: string }).stream === 'assistant');
      const abortedAt = performance.now();
      const result = await c.client.request('chat.abort', { sessionKey: key });
      await request.closedEarly;
      expect(result).toEqual({ ok: true, aborted: true, runIds: [runId] });
      expect((await c.event((e) => ofRun(runId, 'chat')(e) && (e.payload as { state: string }).state === 'aborted')).payload).toMatchObject({ stopReason: 'rpc' });
      await expect.poll(async () => (await gateway.store.loadTurns('main', key))[0]?.status).toBe('aborted');
      expect(await c.client.request('chat.abort', { sessionKey: key, runId })).toEqual({ ok: true, aborted: false, runIds: [] });
      return (request.closedAt as number) - abortedAt;
    }, 'chat.abort');
  });

  it('closing the socket aborts its run at the upstream within 100 ms', async () => {
    setup = await startCore();
    const { upstream, gateway } = setup;
    await threeTimes(async (attempt) => {
      const key = `agent:main:leaver-${attempt}`;
      const runId = `leave-${attempt}`;
      upstream.behaveOnce(hold(['partial']));
      const c = await client();
      const pending = c.client.request('agent', { message: 'then leave', sessionKey: key, idempotencyKey: runId }, { expectFinal: true }).catch((err: Error) => err);
      const request = await upstream.nthRequest(attempt);
      await c.event((e) => ofRun(runId, 'agent')(e) && (e.payload as { stream: string }).stream === 'assistant');
      const closedAt = performance.now();
      c.client.ws.terminate();
      await request.closedEarly;
      expect(await pending).toBeInstanceOf(Error);
      await expect.poll(async () => (await gateway.store.loadTurns('main', key))[0]?.status).toBe('aborted');
      return (request.closedAt as number) - closedAt;
    }, 'socket closed');
  });
});

describe('idempotency', () => {
  it('the same key again runs nothing and answers with the same run; another request under the key is refused', async () => {
    setup = await startCore();
    const c = await client();
    const params = { message: 'once', sessionKey: 'agent:main:idem', idempotencyKey: 'same-key' };
    const first = await c.client.request('agent', params, { expectFinal: true });
    const again = await c.client.request('agent', params, { expectFinal: true });
    expect(again).toEqual(first);
    expect(setup.upstream.requests).toHaveLength(1);
    const other = await c.client.request('agent', { ...params, message: 'different' }, { expectFinal: true }).catch((err: GatewayRequestError) => err.error);
    expect(other).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('idempotencyKey was used for a different request') });
    const chatParams = { sessionKey: 'agent:main:idem-chat', message: 'once', idempotencyKey: 'chat-key' };
    expect(await c.client.request('chat.send', chatParams)).toEqual({ runId: 'chat-key', status: 'started' });
    await c.event((e) => ofRun('chat-key', 'chat')(e) && (e.payload as { state: string }).state === 'final');
    expect(await c.client.request('chat.send', chatParams)).toEqual({ runId: 'chat-key', status: 'ok' });
    expect(setup.upstream.requests).toHaveLength(2);
  });

  it('a repeat while the run is going gets accepted, then the final under its own request id, and the run runs once', async () => {
    setup = await startCore();
    setup.upstream.behaveOnce(hold(['slow '], ['reply']));
    const first = await client();
    const second = await client();
    const params = { message: 'retry me', sessionKey: 'agent:main:retry', idempotencyKey: 'retry-key' };
    const original = first.client.request('agent', params, { expectFinal: true });
    await setup.upstream.nthRequest(1);
    const raw = await openRawAuthenticated(setup.gateway);
    raw.send({ type: 'req', id: 'repeat-1', method: 'agent', params });
    expect(await raw.frame((f) => f.id === 'repeat-1')).toMatchObject({ ok: true, payload: { runId: 'retry-key', status: 'accepted' } });
    const repeated = second.client.request('agent', params, { expectFinal: true });
    setup.upstream.release();
    const [a, b] = await Promise.all([original, repeated]);
    expect(b).toEqual(a);
    expect(a).toMatchObject({ status: 'ok', result: { payloads: [{ text: 'slow reply' }] } });
    expect(await raw.frame((f) => f.id === 'repeat-1' && (f.payload as { status: string }).status === 'ok')).toMatchObject({ ok: true, payload: { runId: 'retry-key', status: 'ok' } });
    expect(setup.upstream.requests).toHaveLength(1);
    expect(await setup.gateway.store.loadTurns('main', 'agent:main:retry')).toHaveLength(1);
    raw.ws.close();
  });
});

describe('idempotency across gateways on one store (replicas)', () => {
  it('a key completed on one gateway replays its turn on another: nothing runs again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moltbot-ws-replicas-'));
    setup = await startCore({ storePath: join(dir, 'sessions.sqlite') });
    const other = await startCore({ storePath: join(dir, 'sessions.sqlite'), upstream: setup.upstream });
    try {
      const [a, b] = [await openClient(setup.gateway), await openClient(other.gateway)];
      clients.push(a, b);
      const params = { message: 'once across replicas', sessionKey: 'agent:main:replicas', idempotencyKey: 'replica-key' };
      const first = await a.client.request<{ result: { payloads: { text: string }[] } }>('agent', params, { expectFinal: true });
      const again = await b.client.request<{ status: string; result: { payloads: { text: string }[] } }>('agent', params, { expectFinal: true });
      expect(again.status).toBe('ok');
      expect(again.result.payloads).toEqual(first.result.payloads);
      expect(setup.upstream.requests).toHaveLength(1);
      const refused = await b.client.request('agent', { ...params, message: 'another request' }, { expectFinal: true }).catch((err: GatewayRequestError) => err.error);
      expect(refused).toMatchObject({ code: 'INVALID_REQUEST' });
    } finally {
      await other.close();
    }
  });
});

describe('run timeouts', () => {
  it('agent timeout (seconds) and chat.send timeoutMs shorten the run: AGENT_TIMEOUT, recorded timeout', async () => {
    setup = await startCore();
    setup.upstream.behave(hold(['never ends']));
    const c = await client();
    const started = performance.now();
    const timedOut = await c.client.request('agent', { message: 'x', sessionKey: 'agent:main:t1', timeout: 1, idempotencyKey: 't1' }, { expectFinal: true }).catch((err: GatewayRequestError) => err);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect((timedOut as GatewayRequestError).error).toMatchObject({ code: 'AGENT_TIMEOUT', details: { code: 'run_timeout' } });
    await c.client.request('chat.send', { sessionKey: 'agent:main:t2', message: 'y', idempotencyKey: 't2', timeoutMs: 200 });
    expect((await c.event((e) => ofRun('t2', 'chat')(e) && (e.payload as { state: string }).state === 'error')).payload).toMatchObject({ errorMessage: 'The agent run did not finish within 0.2 s.' });
    await expect.poll(async () => (await setup!.gateway.store.loadTurns('main', 'agent:main:t2'))[0]?.status).toBe('timeout');
    setup.upstream.release();
  });
});

describe('agent.wait', () => {
  it('answers when the run ends, at once for an ended run, and timeout for one still going', async () => {
    setup = await startCore();
    setup.upstream.behaveOnce(hold(['x']));
    const c = await client();
    const run = c.client.request('agent', { message: 'wait for me', idempotencyKey: 'waited' }, { expectFinal: true });
    await setup.upstream.nthRequest(1);
    expect(await c.client.request('agent.wait', { runId: 'waited', timeoutMs: 0 })).toEqual({ runId: 'waited', status: 'timeout' });
    const waiting = c.client.request('agent.wait', { runId: 'waited', timeoutMs: 60_000 });
    setup.upstream.release();
    await run;
    const waited = await waiting;
    expect(waited).toMatchObject({ runId: 'waited', status: 'ok', startedAt: expect.any(Number), endedAt: expect.any(Number) });
    expect(wsResultValidators['agent.wait'](waited)).toBe(true);
    expect(await c.client.request('agent.wait', { runId: 'waited' })).toEqual(waited);
  });
});

describe('one session over WS and HTTP', () => {
  it('a turn begun over WS continues over HTTP with x-moltbot-session-key, and the other way round', async () => {
    setup = await startCore();
    const { gateway, upstream } = setup;
    const c = await client();
    upstream.behaveOnce({ kind: 'reply', deltas: ['ws answer'] }, { kind: 'reply', deltas: ['http answer'] }, { kind: 'reply', deltas: ['ws again'] });
    await c.client.request('agent', { message: 'from ws', sessionKey: 'shared', idempotencyKey: 'w1' }, { expectFinal: true });
    // The bare WS key `shared` is `agent:main:shared`: HTTP names it so.
    await readCompletion(await chat(gateway, { key: 'agent:main:shared', content: 'from http' }));
    expect(messagesOf(await upstream.nthRequest(2))).toEqual([system(SYSTEM_PROMPT), user('from ws'), assistant('ws answer'), user('from http')]);
    const final = await c.client.request('agent', { message: 'ws again', sessionKey: 'agent:main:shared', idempotencyKey: 'w2' }, { expectFinal: true });
    expect(final).toMatchObject({ status: 'ok' });
    expect(messagesOf(await upstream.nthRequest(3))).toEqual([system(SYSTEM_PROMPT), user('from ws'), assistant('ws answer'), user('from http'), assistant('http answer'), user('ws again')]);
    const history = await c.client.request<{ messages: { role: string }[] }>('chat.history', { sessionKey: 'shared' });
    expect(history.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
  });

  it('agent scoping holds: a WS key under another agent is that agent\'s session, and a mismatch is refused', async () => {
    setup = await startCore({
      edit: (file) => {
        file.agents = { list: [...(file.agents?.list ?? []), { id: 'ops', model: 'up/some-model', systemPrompt: 'ops' }] };
      },
    });
    const c = await client();
    await c.client.request('agent', { message: 'ops turn', agentId: 'ops', sessionKey: 'tickets', idempotencyKey: 'o1' }, { expectFinal: true });
    expect(await setup.gateway.store.loadTurns('ops', 'agent:ops:tickets')).toHaveLength(1);
    expect(await setup.gateway.store.loadTurns('main', 'agent:main:tickets')).toHaveLength(0);
    const mismatch = await c.client.request('agent', { message: 'x', agentId: 'ops', sessionKey: 'agent:main:tickets', idempotencyKey: 'o2' }, { expectFinal: true }).catch((err: GatewayRequestError) => err.error);
    expect(mismatch).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('does not match session key agent "main"') });
    const http = await chat(setup.gateway, { key: 'agent:ops:tickets', agent: 'ops', content: 'over http' });
    expect(http.status).toBe(200);
    await readCompletion(http);
    expect(await setup.gateway.store.loadTurns('ops', 'agent:ops:tickets')).toHaveLength(2);
  });
});
