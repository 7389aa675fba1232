/**
 * Durability across a gateway restart: the store on disk carries `user` and explicit
 * sessions over, and stateless turns are stored too.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { readCompletion } from '../helpers/read.js';
import { SYSTEM_PROMPT, assistant, chat, messagesOf, reply, startCore, system, turnSummary, user, type ChatOptions } from './support.js';

let upstream: FakeUpstream | undefined;
afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
});

function freshStorePath(): string {
  return join(mkdtempSync(join(tmpdir(), 'moltbot-core-restart-')), 'sessions.sqlite');
}

/** One turn on a gateway over `storePath`, then the gateway is closed; returns the session key header. */
async function turnThenClose(up: FakeUpstream, storePath: string, options: ChatOptions): Promise<string> {
  const setup = await startCore({ upstream: up, storePath });
  try {
    const res = await chat(setup.gateway, options);
    await readCompletion(res);
    return res.headers.get('x-moltbot-session-key') ?? '';
  } finally {
    await setup.close();
  }
}

describe('restart continuity', () => {
  for (const [name, routing, key] of [
    ['a user-keyed session', { user: 'alice' }, 'agent:main:openai-user:alice'],
    ['an explicit x-moltbot-session-key', { key: 'agent:main:restart-thread' }, 'agent:main:restart-thread'],
  ] as const) {
    it(`continues ${name} after the gateway restarts on the same store`, async () => {
      upstream = await startFakeUpstream();
      upstream.behaveOnce(reply('first answer'), reply('second answer'));
      const storePath = freshStorePath();
      expect(await turnThenClose(upstream, storePath, { ...routing, content: 'before restart' })).toBe(key);
      expect(await turnThenClose(upstream, storePath, { ...routing, content: 'after restart' })).toBe(key);

      expect(messagesOf(await upstream.nthRequest(2))).toEqual([
        system(SYSTEM_PROMPT),
        user('before restart'),
        assistant('first answer'),
        user('after restart'),
      ]);
      const reopened = await startCore({ upstream, storePath });
      try {
        expect((await reopened.gateway.store.loadTurns('main', key)).map(turnSummary)).toEqual([
          { status: 'ok', input: [user('before restart')], reply: 'first answer' },
          { status: 'ok', input: [user('after restart')], reply: 'second answer' },
        ]);
        const [session] = await reopened.gateway.store.listSessions();
        expect(session).toMatchObject({ key, turns: 2, lastStatus: 'ok', kind: 'user' in routing ? 'user' : 'explicit' });
      } finally {
        await reopened.close();
      }
    });
  }

  it('stores stateless turns (no user, no key) under a fresh key each, listed with kind stateless', async () => {
    upstream = await startFakeUpstream();
    const storePath = freshStorePath();
    const first = await turnThenClose(upstream, storePath, { content: 'one-off' });
    const second = await turnThenClose(upstream, storePath, { content: 'another one-off' });
    expect(first).toMatch(/^agent:main:openai:[0-9a-f-]{36}$/u);
    expect(second).toMatch(/^agent:main:openai:[0-9a-f-]{36}$/u);
    expect(second).not.toBe(first);
    // The second request carried no history.
    expect(messagesOf(await upstream.nthRequest(2))).toEqual([system(SYSTEM_PROMPT), user('another one-off')]);

    const reopened = await startCore({ upstream, storePath });
    try {
      const sessions = await reopened.gateway.store.listSessions();
      expect(sessions.map((session) => [session.key, session.kind, session.turns]).sort()).toEqual(
        [
          [first, 'stateless', 1],
          [second, 'stateless', 1],
        ].sort(),
      );
      expect((await reopened.gateway.store.loadTurns('main', first)).map(turnSummary)).toEqual([
        { status: 'ok', input: [user('one-off')], reply: 'Hello from upstream' },
      ]);
    } finally {
      await reopened.close();
    }
  });
});
