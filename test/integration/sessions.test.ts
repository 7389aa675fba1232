/**
 * Session routing: `x-moltbot-session-key` verbatim, else `agent:<id>:openai-user:<user>`,
 * else a fresh `agent:<id>:openai:<uuid>` per call; the key is returned in the
 * `x-moltbot-session-key` response header (streaming included).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postChat } from '../helpers/gateway.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { BETA_PROMPT, startTwoAgentGateway, upstreamMessages, type TwoAgentSetup } from '../helpers/scenarios.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const user = (content: string): { role: 'user'; content: string } => ({ role: 'user', content });

let setup: TwoAgentSetup;
beforeEach(async () => {
  setup = await startTwoAgentGateway();
});
afterEach(() => setup.close());

describe('x-moltbot-session-key', () => {
  it('is used verbatim and returned in the response header', async () => {
    const { gateway } = setup;
    for (const key of ['my-session-42', 'agent:main:custom:thread-1', 'Some Key With Spaces']) {
      const res = await postChat(gateway, { model: 'moltbot', messages: [user(`hello ${key}`)] }, { 'x-moltbot-session-key': key });
      expect(res.headers.get('x-moltbot-session-key')).toBe(key);
      await readCompletion(res);
      const turns = await gateway.store.loadTurns('main', key);
      expect(turns).toHaveLength(1);
      expect(turns[0]).toMatchObject({ sessionKey: key, agentId: 'main', status: 'ok', input: [user(`hello ${key}`)] });
    }
  });

  it('wins over user and continues the same session', async () => {
    const { gateway, upstream } = setup;
    const headers = { 'x-moltbot-session-key': 'shared-thread' };
    await readCompletion(await postChat(gateway, { model: 'agent:beta', user: 'alice', messages: [user('one')] }, headers));
    await readCompletion(await postChat(gateway, { model: 'agent:beta', user: 'bob', messages: [user('two')] }, headers));
    expect(await gateway.store.loadTurns('beta', 'shared-thread')).toHaveLength(2);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:openai-user:alice')).toEqual([]);
    expect(upstreamMessages(upstream, 1)).toEqual([
      { role: 'system', content: BETA_PROMPT },
      user('one'),
      { role: 'assistant', content: 'Hello from upstream' },
      user('two'),
    ]);
  });

  it("naming another agent is a 400 on the header, and nothing is stored", async () => {
    const { gateway, upstream } = setup;
    const cases = [
      { model: 'moltbot', key: 'agent:beta:stolen' },
      { model: 'moltbot:beta', key: 'agent:main:stolen' },
      { model: 'moltbot', key: 'agent:nobody:x' },
    ];
    for (const { model, key } of cases) {
      const res = await postChat(gateway, { model, messages: [user('hi')] }, { 'x-moltbot-session-key': key });
      expect(res.headers.get('x-moltbot-session-key')).toBeNull();
      const error = await readError(res, 400);
      expect(error.param).toBe('x-moltbot-session-key');
      expect(error.type).toBe('invalid_request_error');
      for (const agent of ['main', 'beta', 'nobody']) expect(await gateway.store.loadTurns(agent, key.toLowerCase())).toEqual([]);
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('may name the agent it runs in, in any case; the prefix is kept in lower case', async () => {
    const { gateway } = setup;
    const res = await postChat(gateway, { model: 'moltbot:beta', messages: [user('hi')] }, { 'x-moltbot-session-key': 'agent:BETA:mine' });
    expect(res.headers.get('x-moltbot-session-key')).toBe('agent:beta:mine');
    await readCompletion(res);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:mine')).toHaveLength(1);
  });
});

describe('user', () => {
  it('derives agent:<id>:openai-user:<user>, stable across calls, with history', async () => {
    const { gateway, upstream } = setup;
    const first = await postChat(gateway, { model: 'moltbot:beta', user: 'alice', messages: [user('first question')] });
    expect(first.headers.get('x-moltbot-session-key')).toBe('agent:beta:openai-user:alice');
    await readCompletion(first);
    const second = await postChat(gateway, { model: 'moltbot:beta', user: 'alice', messages: [user('second question')] });
    expect(second.headers.get('x-moltbot-session-key')).toBe('agent:beta:openai-user:alice');
    await readCompletion(second);

    expect(upstreamMessages(upstream, 0)).toEqual([{ role: 'system', content: BETA_PROMPT }, user('first question')]);
    expect(upstreamMessages(upstream, 1)).toEqual([
      { role: 'system', content: BETA_PROMPT },
      user('first question'),
      { role: 'assistant', content: 'Hello from upstream' },
      user('second question'),
    ]);
    const turns = await gateway.store.loadTurns('beta', 'agent:beta:openai-user:alice');
    expect(turns.map((t) => t.input)).toEqual([[user('first question')], [user('second question')]]);
  });

  it('keeps users and agents apart', async () => {
    const { gateway } = setup;
    await readCompletion(await postChat(gateway, { model: 'moltbot', user: 'alice', messages: [user('a')] }));
    await readCompletion(await postChat(gateway, { model: 'moltbot', user: 'bob', messages: [user('b')] }));
    await readCompletion(await postChat(gateway, { model: 'moltbot:beta', user: 'alice', messages: [user('c')] }));
    expect((await gateway.store.loadTurns('main', 'agent:main:openai-user:alice')).map((t) => t.input)).toEqual([[user('a')]]);
    expect((await gateway.store.loadTurns('main', 'agent:main:openai-user:bob')).map((t) => t.input)).toEqual([[user('b')]]);
    expect((await gateway.store.loadTurns('beta', 'agent:beta:openai-user:alice')).map((t) => t.input)).toEqual([[user('c')]]);
  });

  it('of 256 characters is accepted; over 256 is a 400 naming user', async () => {
    const { gateway } = setup;
    const longest = 'u'.repeat(256);
    const ok = await postChat(gateway, { model: 'moltbot', user: longest, messages: [user('hi')] });
    expect(ok.headers.get('x-moltbot-session-key')).toBe(`agent:main:openai-user:${longest}`);
    await readCompletion(ok);

    const tooLong = 'u'.repeat(257);
    const error = await readError(await postChat(gateway, { model: 'moltbot', user: tooLong, messages: [user('hi')] }), 400);
    expect(error.param).toBe('user');
    expect(await gateway.store.loadTurns('main', `agent:main:openai-user:${tooLong}`)).toEqual([]);
  });
});

describe('without a key or user', () => {
  it('each call gets a fresh agent:<id>:openai:<uuid> session', async () => {
    const { gateway, upstream } = setup;
    const keys: string[] = [];
    for (const text of ['one', 'two']) {
      const res = await postChat(gateway, { model: 'moltbot:beta', messages: [user(text)] });
      const key = res.headers.get('x-moltbot-session-key') ?? '';
      await readCompletion(res);
      expect(key).toMatch(new RegExp(`^agent:beta:openai:${UUID}$`, 'u'));
      keys.push(key);
    }
    expect(keys[0]).not.toBe(keys[1]);
    for (const key of keys) expect(await gateway.store.loadTurns('beta', key)).toHaveLength(1);
    // Stateless: the second call did not see the first.
    expect(upstreamMessages(upstream, 1)).toEqual([{ role: 'system', content: BETA_PROMPT }, user('two')]);
  });
});

describe('streaming responses', () => {
  it('carry the session key header too', async () => {
    const { gateway } = setup;
    const derived = await postChat(gateway, { model: 'moltbot', stream: true, user: 'streamer', messages: [user('a b c')] });
    expect(derived.headers.get('x-moltbot-session-key')).toBe('agent:main:openai-user:streamer');
    expect(streamedText(await readStream(derived))).toBe('a b c');

    const fresh = await postChat(gateway, { model: 'moltbot', stream: true, messages: [user('x')] });
    const key = fresh.headers.get('x-moltbot-session-key') ?? '';
    expect(key).toMatch(new RegExp(`^agent:main:openai:${UUID}$`, 'u'));
    await readStream(fresh);
    expect(await gateway.store.loadTurns('main', key)).toHaveLength(1);

    const explicit = await postChat(gateway, { model: 'moltbot', stream: true, messages: [user('y')] }, { 'x-moltbot-session-key': 'stream-key' });
    expect(explicit.headers.get('x-moltbot-session-key')).toBe('stream-key');
    await readStream(explicit);
    expect(await gateway.store.loadTurns('main', 'stream-key')).toHaveLength(1);
  });
});
