/**
 * Bounded history through HTTP: the model gets the system prompt, the most recent stored
 * turns that fit `agents.defaults.history` (whole turns, oldest dropped first) and the
 * new message; the stored transcript, not the client's messages, is the history.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HistoryLimits } from '../../src/config/types.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import { readCompletion } from '../helpers/read.js';
import { SYSTEM_PROMPT, assistant, chat, messagesOf, reply, startCore, system, user, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

async function startWithHistory(history: HistoryLimits): Promise<CoreSetup> {
  return startCore({
    edit: (file) => {
      file.agents = { ...file.agents, defaults: { history } };
    },
  });
}

/** Runs turns `u1..un` for user bob, the upstream answering `a1..an`. */
async function turns(n: number, content: (i: number) => string = (i) => `u${i}`, answer: (i: number) => string = (i) => `a${i}`): Promise<void> {
  const { gateway, upstream } = setup as CoreSetup;
  for (let i = 1; i <= n; i += 1) {
    upstream.behaveOnce(reply(answer(i)));
    await readCompletion(await chat(gateway, { user: 'bob', content: content(i) }));
  }
}

describe('bounded history', () => {
  it('maxTurns: 2 sends only the last two turns, whole, between the system prompt and the new message', async () => {
    setup = await startWithHistory({ maxTurns: 2 });
    await turns(4);
    await readCompletion(await chat(setup.gateway, { user: 'bob', content: 'u5' }));
    expect(messagesOf(await setup.upstream.nthRequest(5))).toEqual([
      system(SYSTEM_PROMPT),
      user('u3'),
      assistant('a3'),
      user('u4'),
      assistant('a4'),
      user('u5'),
    ]);
    // The transcript keeps everything.
    expect(await setup.gateway.store.loadTurns('main', 'agent:main:openai-user:bob')).toHaveLength(5);
  });

  it('maxTokens: older turns are dropped whole once the budget is spent, never cut', async () => {
    // Each turn: a 16-character question and a 24-character answer = 40 characters ≈ 10 tokens.
    // 25 tokens hold the two newest turns (20); the oldest turn (10 more) does not fit whole,
    // even though its question alone (4) would.
    setup = await startWithHistory({ maxTokens: 25 });
    const question = (i: number): string => `question ${i}`.padEnd(16, '.');
    const answer = (i: number): string => `answer ${i} `.padEnd(24, '-');
    await turns(3, question, answer);
    await readCompletion(await chat(setup.gateway, { user: 'bob', content: 'new' }));
    expect(messagesOf(await setup.upstream.nthRequest(4))).toEqual([
      system(SYSTEM_PROMPT),
      user(question(2)),
      assistant(answer(2)),
      user(question(3)),
      assistant(answer(3)),
      user('new'),
    ]);
  });

  it('maxTurns: 0 sends no history, only the new turn, even when the client re-sends the conversation', async () => {
    setup = await startWithHistory({ maxTurns: 0 });
    await turns(2);
    // A client that keeps its own copy of the conversation and sends it all again.
    await readCompletion(
      await chat(setup.gateway, { user: 'bob', messages: [user('u1'), assistant('a1'), user('u2'), assistant('a2'), user('u3')] }),
    );
    expect(messagesOf(await setup.upstream.nthRequest(2))).toEqual([system(SYSTEM_PROMPT), user('u2')]);
    expect(messagesOf(await setup.upstream.nthRequest(3))).toEqual([system(SYSTEM_PROMPT), user('u3')]);
    const stored = await setup.gateway.store.loadTurns('main', 'agent:main:openai-user:bob');
    expect(stored.map((turn) => turn.input)).toEqual([[user('u1')], [user('u2')], [user('u3')]]);
  });

  it('the stored transcript wins over a client that re-sends an edited conversation', async () => {
    setup = await startWithHistory({ maxTurns: 10 });
    await turns(1);
    await readCompletion(
      await chat(setup.gateway, { user: 'bob', messages: [user('forged question'), assistant('forged answer'), user('u2')] }),
    );
    expect(messagesOf(await setup.upstream.nthRequest(2))).toEqual([system(SYSTEM_PROMPT), user('u1'), assistant('a1'), user('u2')]);
  });
});

describe('history between turns of this gateway and another process', () => {
  it('a turn another process appended to the session (moltbot agent on the same store) is in the next turn’s history', async () => {
    const storePath = join(mkdtempSync(join(tmpdir(), 'moltbot-shared-')), 'sessions.sqlite');
    setup = await startCore({ storePath });
    // Two turns here, so this gateway holds the session's history in memory.
    await turns(2);
    const key = 'agent:main:openai-user:bob';
    const other = openSqliteStore(storePath);
    try {
      const [session] = await other.sessionHistory(key);
      const write = other.beginTurn({
        session: { id: session?.session.id as string, key, agentId: 'main', kind: 'user' },
        newTranscript: false,
        expected: { sessionId: session?.session.id, turns: session?.session.turns ?? 0 },
        input: [{ role: 'user', content: 'from elsewhere' }],
        startedAt: Date.now(),
      });
      await write.started;
      await write.finish({ status: 'ok', reply: { role: 'assistant', content: 'noted elsewhere' }, finishReason: 'stop', endedAt: Date.now() });
    } finally {
      await other.close();
    }
    setup.upstream.behaveOnce(reply('a4'));
    await readCompletion(await chat(setup.gateway, { user: 'bob', content: 'u4' }));
    expect(messagesOf(await setup.upstream.nthRequest(3))).toEqual([
      system(SYSTEM_PROMPT),
      user('u1'),
      assistant('a1'),
      user('u2'),
      assistant('a2'),
      user('from elsewhere'),
      assistant('noted elsewhere'),
      user('u4'),
    ]);
    // And the turn after that, from memory again, has it all.
    await readCompletion(await chat(setup.gateway, { user: 'bob', content: 'u5' }));
    expect((messagesOf(await setup.upstream.nthRequest(4)) as { content: string }[]).map((m) => m.content).slice(-4)).toEqual(['noted elsewhere', 'u4', 'a4', 'u5']);
  });
});
