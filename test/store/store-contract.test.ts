/**
 * The session store contract, run against every implementation (SQLite, PostgreSQL):
 * turns written in two atomic steps, `ok`-only recent history, crash recovery (running
 * turns of instances that are gone become `interrupted`), transcripts per (agent, key),
 * listing order and history, stored reply truncation. Implementation details (SQLite's
 * group commit, files, WAL) are tested beside each implementation.
 */
import { describe, expect, it } from 'vitest';
import { STORES } from './stores.js';
import { a, asRead, begin, turn, u } from './contract-support.js';

describe.each(STORES)('$name store: writing turns', ({ skip, location }) => {
  it.skipIf(skip)('beginTurn records the input as running; finishTurn records the reply and outcome', async () => {
    const store = await location().open();
    const refWrite = store.beginTurn(begin({ instructions: 'be brief', input: [u('question')] }));
    const ref = await refWrite.started;
    expect(ref).toEqual({ sessionId: 'sess-1', seq: 1 });
    expect(await store.loadTurns('main', 'agent:main:k')).toEqual([
      { sessionId: 'sess-1', sessionKey: 'agent:main:k', agentId: 'main', seq: 1, input: [u('question')], instructions: 'be brief', status: 'running', startedAt: 1000 },
    ]);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ id: 'sess-1', turns: 1, lastStatus: 'running', createdAt: 1000, updatedAt: 1000, kind: 'explicit' });

    const usage = { promptTokens: 5, completionTokens: 2, totalTokens: 7 };
    await refWrite.finish({ status: 'ok', reply: a('answer'), finishReason: 'stop', usage, endedAt: 2000 });
    const expected = {
      sessionId: 'sess-1', sessionKey: 'agent:main:k', agentId: 'main', seq: 1, input: [u('question')], reply: a('answer'),
      instructions: 'be brief', status: 'ok', finishReason: 'stop', usage, startedAt: 1000, endedAt: 2000,
    };
    expect(await store.loadTurns('main', 'agent:main:k')).toEqual([expected]);
    expect(await store.getTurn(ref)).toEqual(expected);
    expect(await store.getTurn({ sessionId: 'sess-1', seq: 2 })).toBeUndefined();
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ turns: 1, lastStatus: 'ok', createdAt: 1000, updatedAt: 2000 });
  });

  it.skipIf(skip)('a turn write finishes before its start is awaited, and rejects when the start failed', async () => {
    const store = await location().open();
    await store.beginTurn(begin()).finish({ status: 'ok', reply: a('done'), finishReason: 'stop', endedAt: 2000 });
    expect((await store.loadTurns('main', 'agent:main:k')).map((t) => [t.seq, t.status, t.reply])).toEqual([[1, 'ok', a('done')]]);
    const lost = store.beginTurn(begin({ id: 'nowhere', key: 'agent:main:nowhere', newTranscript: false }));
    await expect(lost.finish({ status: 'ok', reply: a('x'), finishReason: 'stop', endedAt: 4000 })).rejects.toThrow(/not the session's current one/u);
    await expect(lost.started).rejects.toThrow(/not the session's current one/u);
  });

  it.skipIf(skip)('records a failed turn with its error and no reply; a truncated reply keeps its original size', async () => {
    const store = await location().open();
    const refWrite = store.beginTurn(begin());
    await refWrite.started;
    const error = { type: 'upstream_error', code: 'upstream_error', message: 'boom' };
    await refWrite.finish({ status: 'error', error, endedAt: 1500 });
    const [stored] = await store.loadTurns('main', 'agent:main:k');
    expect(stored).toMatchObject({ status: 'error', error });
    expect(stored).not.toHaveProperty('reply');
    expect(stored).not.toHaveProperty('finishReason');

    const cut = a('the beginning\n\n[moltbot: reply truncated in the transcript; it was 5000000 bytes, over the limit of 1024 (session.maxStoredReplyBytes)]');
    await turn(store, begin({ newTranscript: false, startedAt: 1600 }), 'ok', 'placeholder', 1700);
    const nextWrite = store.beginTurn(await asRead(store, begin({ newTranscript: false, startedAt: 1800 })));
    const next = await nextWrite.started;
    await nextWrite.finish({ status: 'ok', reply: cut, replyTruncated: { originalBytes: 5_000_000 }, finishReason: 'stop', endedAt: 1900 });
    expect(await store.getTurn(next)).toMatchObject({ reply: cut, replyTruncated: { originalBytes: 5_000_000 } });
    expect((await store.recentTurns('sess-1', 1))[0]).toMatchObject({ reply: cut, replyTruncated: { originalBytes: 5_000_000 } });
  });

  it.skipIf(skip)('numbers turns of a transcript 1, 2, 3', async () => {
    const store = await location().open();
    await turn(store, begin(), 'ok', 'r1', 1100);
    await turn(store, begin({ newTranscript: false, startedAt: 1200 }), 'error', 'r2', 1300);
    const refWrite = store.beginTurn(await asRead(store, begin({ newTranscript: false, startedAt: 1400 })));
    const ref = await refWrite.started;
    expect(ref.seq).toBe(3);
    expect((await store.loadTurns('main', 'agent:main:k')).map((t) => [t.seq, t.status])).toEqual([
      [1, 'ok'],
      [2, 'error'],
      [3, 'running'],
    ]);
  });

  it.skipIf(skip)('a failing beginTurn writes nothing (a transcript that does not exist, or an id that does)', async () => {
    const store = await location().open();
    await expect(store.beginTurn(begin({ newTranscript: false })).started).rejects.toThrow();
    expect(await store.listSessions()).toEqual([]);
    expect(await store.loadTurns('main', 'agent:main:k')).toEqual([]);
    await turn(store, begin(), 'ok', 'r1', 1100);
    await expect(store.beginTurn(begin({ key: 'agent:main:other', startedAt: 5000 })).started).rejects.toThrow();
    expect(await store.loadTurns('main', 'agent:main:other')).toEqual([]);
    expect(await store.loadTurns('main', 'agent:main:k')).toHaveLength(1);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ turns: 1, lastStatus: 'ok', updatedAt: 1100 });
  });

  it.skipIf(skip)('finishing a turn twice keeps the first outcome', async () => {
    const store = await location().open();
    const refWrite = store.beginTurn(begin());
    await refWrite.started;
    await refWrite.finish({ status: 'aborted', reply: a('part'), endedAt: 1100 });
    await refWrite.finish({ status: 'ok', reply: a('whole'), finishReason: 'stop', endedAt: 1200 });
    expect(await store.loadTurns('main', 'agent:main:k')).toMatchObject([{ status: 'aborted', reply: a('part'), endedAt: 1100 }]);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ lastStatus: 'aborted', updatedAt: 1100 });
  });
});

describe.each(STORES)('$name store: recentTurns', ({ skip, location }) => {
  it.skipIf(skip)('returns only ok turns, the newest N, oldest first, of one transcript', async () => {
    const store = await location().open();
    const statuses = ['ok', 'error', 'ok', 'aborted', 'ok', 'timeout', 'ok'] as const;
    for (const [i, status] of statuses.entries()) {
      await turn(store, begin({ newTranscript: i === 0, startedAt: 1000 + i, input: [u(`u${i + 1}`)] }), status, `r${i + 1}`, 1000 + i);
    }
    await store.beginTurn(await asRead(store, begin({ newTranscript: false, startedAt: 2000, input: [u('still running')] }))).started;
    const seqs = async (limit: number): Promise<number[]> => (await store.recentTurns('sess-1', limit)).map((t) => t.seq);
    expect(await seqs(2)).toEqual([5, 7]);
    expect(await seqs(3)).toEqual([3, 5, 7]);
    expect(await seqs(100)).toEqual([1, 3, 5, 7]);
    expect((await store.recentTurns('sess-1', 1))[0]).toMatchObject({ input: [u('u7')], reply: a('r7'), status: 'ok', sessionKey: 'agent:main:k', agentId: 'main' });
    expect(await store.recentTurns('no-such-session', 5)).toEqual([]);
    await turn(store, begin({ id: 'new', startedAt: 3000 }), 'ok', 'new reply', 3100);
    expect((await store.recentTurns('new', 10)).map((t) => t.reply?.content)).toEqual(['new reply']);
  });
});

describe.each(STORES)('$name store: crash recovery', ({ skip, location }) => {
  it.skipIf(skip)('marks a running turn of an instance that is gone interrupted when the store is next opened', async () => {
    const where = location();
    const first = await where.openUnmanaged();
    await turn(first, begin(), 'ok', 'r1', 1100);
    await first.beginTurn(await asRead(first, begin({ newTranscript: false, startedAt: 1200, input: [u('cut short')] }))).started;
    // Closed with the turn running: its instance lock is released, as a crash releases it.
    await first.close();

    const reopened = await where.open();
    const turns = await reopened.loadTurns('main', 'agent:main:k');
    expect(turns.map((t) => t.status)).toEqual(['ok', 'interrupted']);
    expect(turns[1]).toMatchObject({ input: [u('cut short')] });
    expect(turns[1]?.endedAt).toBeTypeOf('number');
    expect(await reopened.currentSession('main', 'agent:main:k')).toMatchObject({ lastStatus: 'interrupted', turns: 2 });
    expect((await reopened.recentTurns('sess-1', 10)).map((t) => t.seq)).toEqual([1]);
    expect((await reopened.loadTurns('main', 'agent:main:k'))[1]).not.toHaveProperty('reply');
  });

  it.skipIf(skip)('leaves a running turn of a live instance alone', async () => {
    const where = location();
    const running = await where.open();
    await running.beginTurn(begin()).started;
    const beside = await where.open();
    expect((await beside.loadTurns('main', 'agent:main:k')).map((t) => t.status)).toEqual(['running']);
    expect(await beside.currentSession('main', 'agent:main:k')).toMatchObject({ lastStatus: 'running' });
  });
});

describe.each(STORES)('$name store: sessions', ({ skip, location }) => {
  it.skipIf(skip)('currentSession, loadTurns and sessionHistory follow the transcripts of a key', async () => {
    const store = await location().open();
    await turn(store, begin({ id: 'first' }), 'ok', 'r1', 1100);
    await turn(store, begin({ id: 'first', newTranscript: false, startedAt: 1200 }), 'error', 'r2', 1300);
    await turn(store, begin({ id: 'second', startedAt: 2000, input: [u('again')] }), 'ok', 'r3', 2100);
    await turn(store, begin({ id: 'elsewhere', key: 'agent:main:other', startedAt: 3000 }), 'ok', 'x', 3100);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ id: 'second', createdAt: 2000, updatedAt: 2100, turns: 1 });
    expect((await store.loadTurns('main', 'agent:main:k')).map((t) => t.reply?.content)).toEqual(['r3']);
    expect(await store.currentSession('main', 'agent:main:unknown')).toBeUndefined();
    expect(await store.loadTurns('main', 'agent:main:unknown')).toEqual([]);
    const history = await store.sessionHistory('agent:main:k');
    expect(history.map(({ session, turns }) => [session.id, turns.map((t) => t.reply?.content)])).toEqual([
      ['first', ['r1', 'r2']],
      ['second', ['r3']],
    ]);
    expect(history[0]?.session).toMatchObject({ turns: 2, lastStatus: 'error' });
    expect(await store.sessionHistory('agent:main:unknown')).toEqual([]);
  });

  it.skipIf(skip)('one key under two agents: two sessions; sessionHistory groups them by agent', async () => {
    const store = await location().open();
    await turn(store, begin({ id: 'm1', key: 'shared', agentId: 'main' }), 'ok', 'main says', 1100);
    await turn(store, begin({ id: 'b1', key: 'shared', agentId: 'beta', startedAt: 1200 }), 'ok', 'beta says', 1300);
    await turn(store, begin({ id: 'm2', key: 'shared', agentId: 'main', startedAt: 1400 }), 'ok', 'main again', 1500);
    expect((await store.currentSession('main', 'shared'))?.id).toBe('m2');
    expect((await store.currentSession('beta', 'shared'))?.id).toBe('b1');
    expect(await store.currentSession('gamma', 'shared')).toBeUndefined();
    expect((await store.loadTurns('beta', 'shared')).map((t) => t.reply?.content)).toEqual(['beta says']);
    expect((await store.sessionHistory('shared')).map(({ session }) => [session.agentId, session.id])).toEqual([
      ['beta', 'b1'],
      ['main', 'm1'],
      ['main', 'm2'],
    ]);
    expect((await store.sessionHistory('shared', { agentId: 'main' })).map(({ session }) => session.id)).toEqual(['m1', 'm2']);
  });

  it.skipIf(skip)('listSessions lists transcripts most recently updated first, filtered by agent; kinds are kept', async () => {
    const store = await location().open();
    await turn(store, begin({ id: 'm1', key: 'agent:main:one' }), 'ok', 'r', 1100);
    await turn(store, begin({ id: 'b1', key: 'agent:beta:one', agentId: 'beta', startedAt: 1200 }), 'ok', 'r', 1300);
    await turn(store, begin({ id: 'm2', key: 'agent:main:two', startedAt: 1400, kind: 'user' }), 'ok', 'r', 1500);
    await turn(store, begin({ id: 'm1', key: 'agent:main:one', newTranscript: false, startedAt: 1600 }), 'ok', 'r', 1700);
    expect((await store.listSessions()).map((s) => s.id)).toEqual(['m1', 'm2', 'b1']);
    expect((await store.listSessions({ agentId: 'main' })).map((s) => [s.id, s.kind])).toEqual([
      ['m1', 'explicit'],
      ['m2', 'user'],
    ]);
    expect(await store.listSessions({ agentId: 'beta' })).toMatchObject([{ id: 'b1', key: 'agent:beta:one', agentId: 'beta', turns: 1 }]);
    expect(await store.listSessions({ agentId: 'nobody' })).toEqual([]);
  });

  it.skipIf(skip)('persists across close and reopen; calls after close fail; health is ok while open', async () => {
    const where = location();
    const first = await where.openUnmanaged();
    expect(first.health()).toBe('ok');
    await turn(first, begin(), 'ok', 'kept', 1100);
    await first.close();
    await expect(first.loadTurns('main', 'agent:main:k')).rejects.toThrow();
    const reopened = await where.open();
    expect((await reopened.loadTurns('main', 'agent:main:k')).map((t) => t.reply?.content)).toEqual(['kept']);
  });
});
