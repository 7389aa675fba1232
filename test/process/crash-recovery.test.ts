/**
 * A gateway process killed with SIGKILL mid-turn: the next process on the same state dir
 * starts, the store is intact, every acknowledged turn is there whole, the cut turn is
 * `interrupted` and stays out of the model's history.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { chunksText, openStream } from '../helpers/open-stream.js';
import { assistant, chat, processEnv, showSession, upstreamConfig, user, within } from '../helpers/process-gateway.js';
import { readCompletion, readStream, streamedText } from '../helpers/read.js';

const CAROL = 'agent:main:openai-user:carol';
const DAVE = 'agent:main:openai-user:dave';

let upstream: FakeUpstream;
const children: RunningGateway[] = [];
beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  await upstream.close();
});

describe('SIGKILL mid-turn, then restart on the same state dir', () => {
  it('keeps every acknowledged turn whole, records the cut turn as interrupted and leaves it out of history', async () => {
    const { env, stateDir } = processEnv();
    const config = upstreamConfig(upstream.baseUrl);
    const first = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(first);

    // Three acknowledged turns for carol (JSON, stream, JSON) and one for dave.
    upstream.behaveOnce(
      { kind: 'reply', deltas: ['reply', ' one'] },
      { kind: 'reply', deltas: ['reply', ' two'] },
      { kind: 'reply', deltas: ['reply', ' three'] },
      { kind: 'reply', deltas: ['dave', ' reply'] },
      { kind: 'hold', deltas: ['partial', ' four'], rest: [' never sent'] },
    );
    const one = await readCompletion(await chat(first.url, { model: 'moltbot', user: 'carol', messages: [user('one')] }));
    expect(one.choices[0]?.message.content).toBe('reply one');
    const two = await readStream(await chat(first.url, { model: 'moltbot', user: 'carol', stream: true, messages: [user('two')] }));
    expect(two.error).toBeUndefined();
    expect(streamedText(two)).toBe('reply two');
    const three = await readCompletion(await chat(first.url, { model: 'moltbot', user: 'carol', messages: [user('three')] }));
    expect(three.choices[0]?.message.content).toBe('reply three');
    const other = await readCompletion(await chat(first.url, { model: 'moltbot', user: 'dave', messages: [user('other')] }));
    expect(other.choices[0]?.message.content).toBe('dave reply');

    // The fourth turn streams until the upstream holds it; the client has the deltas so far.
    const response = await chat(first.url, { model: 'moltbot', user: 'carol', stream: true, messages: [user('four')] });
    const four = openStream(response);
    const held = await upstream.nthRequest(5);
    expect(held.body.messages).toEqual([user('one'), assistant('reply one'), user('two'), assistant('reply two'), user('three'), assistant('reply three'), user('four')]);
    await four.waitFor((raw) => raw.includes('" four"'));
    expect(chunksText(four.receivedChunks())).toBe('partial four');

    first.child.kill('SIGKILL');
    const killed = await within(first.done, 10_000, 'the killed gateway exiting');
    expect(killed.signal).toBe('SIGKILL');
    const cut = await four.ended;
    expect(cut.error, 'the open stream is cut, not completed').toBeDefined();
    expect(cut.raw).not.toContain('[DONE]');

    // A new process on the same state dir starts and serves.
    const second = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(second);

    const db = new Database(join(stateDir, 'sessions.sqlite'), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }

    const [carol, ...moreCarol] = await showSession(CAROL, env, config);
    expect(moreCarol).toEqual([]);
    expect(carol?.session).toMatchObject({ key: CAROL, agentId: 'main', kind: 'user', turns: 4, lastStatus: 'interrupted' });
    const turns = carol?.turns ?? [];
    expect(turns.map((t) => [t.seq, t.status])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
      [3, 'ok'],
      [4, 'interrupted'],
    ]);
    for (const [i, word] of ['one', 'two', 'three'].entries()) {
      expect(turns[i]).toMatchObject({ input: [user(word)], reply: assistant(`reply ${word}`), finishReason: 'stop' });
    }
    expect(turns[3]?.input).toEqual([user('four')]);
    expect(turns[3]?.endedAt).toBeTypeOf('number');

    const [dave] = await showSession(DAVE, env, config);
    expect(dave?.turns.map((t) => [t.status, t.input, t.reply])).toEqual([['ok', [user('other')], assistant('dave reply')]]);

    // A fifth turn after the restart gets the three ok turns as history, not the cut one.
    upstream.behaveOnce({ kind: 'reply', deltas: ['reply', ' five'] });
    const five = await readCompletion(await chat(second.url, { model: 'moltbot', user: 'carol', messages: [user('five')] }));
    expect(five.choices[0]?.message.content).toBe('reply five');
    expect(upstream.requests).toHaveLength(6);
    expect(upstream.requests[5]?.body.messages).toEqual([
      user('one'),
      assistant('reply one'),
      user('two'),
      assistant('reply two'),
      user('three'),
      assistant('reply three'),
      user('five'),
    ]);
    const [after] = await showSession(CAROL, env, config);
    expect(after?.turns.map((t) => [t.seq, t.status])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
      [3, 'ok'],
      [4, 'interrupted'],
      [5, 'ok'],
    ]);
    expect(after?.turns[4]).toMatchObject({ input: [user('five')], reply: assistant('reply five') });
    expect(after?.session).toMatchObject({ turns: 5, lastStatus: 'ok' });
  });
});
