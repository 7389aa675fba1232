/**
 * A session is the pair (agent, key): the same key sent to two agents is two transcripts
 * that never see each other, in both directions and through every part that keys by
 * session (store lookups, the history cache, lanes). An `agent:<id>:` prefix is matched in
 * any case and stored in lower case; one naming another agent is a 400 that does not
 * name that agent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readCompletion, readError } from '../helpers/read.js';
import { SYSTEM_PROMPT, assistant, chat, hold, messagesOf, reply, startCore, system, user, type CoreSetup } from '../core/support.js';

const BETA_PROMPT = 'You are beta, a different agent.';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** Agents main and beta, both on the fake upstream (so both agents' model requests are seen). */
async function twoAgents(): Promise<CoreSetup> {
  return startCore({
    edit: (file) => {
      file.agents?.list?.push({ id: 'beta', model: 'up/some-model', systemPrompt: BETA_PROMPT });
    },
  });
}

describe('one key, two agents', () => {
  for (const [first, second] of [
    ['main', 'beta'],
    ['beta', 'main'],
  ] as const) {
    it(`a bare key used by ${first} and then ${second}: two transcripts, neither model request sees the other's`, async () => {
      setup = await twoAgents();
      const { gateway, upstream } = setup;
      const key = 'shared-key';
      const prompt = { main: SYSTEM_PROMPT, beta: BETA_PROMPT };
      upstream.behaveOnce(reply(`${first} reply 1`), reply(`${second} reply 1`), reply(`${first} reply 2`), reply(`${second} reply 2`));
      const send = async (agent: string, content: string): Promise<void> => {
        const res = await chat(gateway, { agent, key, content });
        expect(res.headers.get('x-moltbot-session-key')).toBe(key);
        await readCompletion(res);
      };
      await send(first, `${first} one`);
      await send(second, `${second} one`);
      await send(first, `${first} two`);
      await send(second, `${second} two`);

      // Each agent's second request carries its own first turn and nothing of the other's.
      expect(messagesOf(await upstream.nthRequest(2))).toEqual([system(prompt[second]), user(`${second} one`)]);
      expect(messagesOf(await upstream.nthRequest(3))).toEqual([system(prompt[first]), user(`${first} one`), assistant(`${first} reply 1`), user(`${first} two`)]);
      expect(messagesOf(await upstream.nthRequest(4))).toEqual([
        system(prompt[second]),
        user(`${second} one`),
        assistant(`${second} reply 1`),
        user(`${second} two`),
      ]);

      for (const agent of [first, second]) {
        const turns = await gateway.store.loadTurns(agent, key);
        expect(turns.map((t) => [t.agentId, t.seq, t.input, t.reply?.content])).toEqual([
          [agent, 1, [user(`${agent} one`)], `${agent} reply 1`],
          [agent, 2, [user(`${agent} two`)], `${agent} reply 2`],
        ]);
      }
      // The key's transcripts across agents, grouped by agent.
      const history = await gateway.store.sessionHistory(key);
      expect(history.map(({ session, turns }) => [session.agentId, session.turns, turns.length])).toEqual([
        ['beta', 2, 2],
        ['main', 2, 2],
      ]);
      expect((await gateway.store.sessionHistory(key, { agentId: 'beta' })).map(({ session }) => session.agentId)).toEqual(['beta']);
    });
  }

  it('turns of one key under two agents run at the same time (separate lanes)', async () => {
    setup = await twoAgents();
    const { gateway, upstream } = setup;
    upstream.behaveOnce(hold(['main held']));
    const held = chat(gateway, { agent: 'main', key: 'lane-key', content: 'main waits' });
    await upstream.nthRequest(1);
    // beta's turn on the same key completes while main's is held at the upstream.
    const beta = await readCompletion(await chat(gateway, { agent: 'beta', key: 'lane-key', content: 'beta goes' }));
    expect(beta.choices[0]?.message.content).toBe('Hello from upstream');
    expect((await gateway.store.loadTurns('main', 'lane-key')).map((t) => t.status)).toEqual(['running']);
    upstream.release();
    expect((await readCompletion(await held)).choices[0]?.message.content).toBe('main held');
  });
});

describe('agent:<id>: prefixes', () => {
  it('match in any case and are one session: Agent:Main:x and agent:main:x continue each other', async () => {
    setup = await twoAgents();
    const { gateway, upstream } = setup;
    upstream.behaveOnce(reply('first'), reply('second'));
    const one = await chat(gateway, { key: 'Agent:Main:Thread-X', content: 'one' });
    expect(one.headers.get('x-moltbot-session-key')).toBe('agent:main:Thread-X');
    await readCompletion(one);
    const two = await chat(gateway, { key: 'agent:MAIN:Thread-X', content: 'two' });
    expect(two.headers.get('x-moltbot-session-key')).toBe('agent:main:Thread-X');
    await readCompletion(two);
    expect(messagesOf(await upstream.nthRequest(2))).toEqual([system(), user('one'), assistant('first'), user('two')]);
    expect((await gateway.store.loadTurns('main', 'agent:main:Thread-X')).map((t) => t.seq)).toEqual([1, 2]);
    // The rest of the key keeps its case: another spelling there is another session.
    expect(await gateway.store.loadTurns('main', 'agent:main:thread-x')).toEqual([]);
  });

  it('naming the other agent, in any case and either direction, is a 400 that does not name it; nothing runs or is stored', async () => {
    setup = await twoAgents();
    const { gateway, upstream } = setup;
    upstream.behaveOnce(reply('main has a transcript'));
    await readCompletion(await chat(gateway, { key: 'agent:main:private', content: 'secret plans' }));
    for (const [agent, key, other] of [
      ['beta', 'agent:main:private', 'main'],
      ['beta', 'Agent:main:private', 'main'],
      ['beta', 'AGENT:MAIN:private', 'main'],
      ['main', 'agent:beta:x', 'beta'],
      ['main', 'Agent:Beta:x', 'beta'],
    ] as const) {
      const res = await chat(gateway, { agent, key, content: 'let me in' });
      expect(res.headers.get('x-moltbot-session-key')).toBeNull();
      const error = await readError(res, 400);
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'session_agent_mismatch', param: 'x-moltbot-session-key' });
      expect(error.message.toLowerCase(), key).not.toContain(other);
      expect(error.message).not.toContain('secret plans');
    }
    expect(upstream.requests).toHaveLength(1);
    expect(await gateway.store.sessionHistory('agent:main:private', { agentId: 'beta' })).toEqual([]);
    expect(await gateway.store.sessionHistory('agent:beta:x')).toEqual([]);
  });
});
