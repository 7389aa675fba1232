/**
 * src/sessions/sqlite-store.ts: turns written in two atomic steps, `ok`-only recent
 * history, crash recovery (`running` turns of instances that are gone become `interrupted`),
 * transcripts per key, listing and history.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { BeginTurn, SessionStore, TranscriptMessage, TurnRef } from '../../src/sessions/store.js';

const u = (content: string): TranscriptMessage => ({ role: 'user', content });
const a = (content: string): TranscriptMessage => ({ role: 'assistant', content });

const opened: SessionStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function freshPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'moltbot-store-')), 'nested', 'sessions.sqlite');
}

function open(path: string): SessionStore {
  const store = openSqliteStore(path);
  opened.push(store);
  return store;
}

/** A turn start; `expected` says the session has no transcript yet unless given. */
function begin(overrides: Partial<BeginTurn> & { id?: string; key?: string; agentId?: string } = {}): BeginTurn {
  const { id = 'sess-1', key = 'agent:main:k', agentId = 'main', ...rest } = overrides;
  return { session: { id, key, agentId, kind: 'explicit' }, newTranscript: true, expected: { sessionId: undefined, turns: 0 }, input: [u('hi')], startedAt: 1000, ...rest };
}

/** `b` with `expected` read from the store now, as the core reads it before a turn. */
async function asRead(store: SessionStore, b: BeginTurn): Promise<BeginTurn> {
  const current = await store.currentSession(b.session.agentId, b.session.key);
  return { ...b, expected: { sessionId: current?.id, turns: current?.turns ?? 0 } };
}

/** Begins (on the session as it is now) and finishes one turn with the given status. */
async function turn(store: SessionStore, b: BeginTurn, status: 'ok' | 'error' | 'aborted' | 'timeout', replyText: string, endedAt: number): Promise<TurnRef> {
  const write = store.beginTurn(await asRead(store, b));
  const ref = await write.started;
  await write.finish({ status, reply: a(replyText), ...(status === 'ok' ? { finishReason: 'stop' as const } : {}), endedAt });
  return ref;
}

describe('sqlite store: writing turns', () => {
  it('finish before the start is committed writes the whole turn at once; after it, a second write', async () => {
    const path = freshPath();
    const store = open(path);
    const db = new Database(path, { readonly: true });
    try {
      const runningRows = db.prepare("SELECT count(*) AS n FROM turns WHERE status = 'running'");
      // Start and end in the same event-loop turn: one write, never `running`.
      const folded = store.beginTurn(begin({ id: 'folded', key: 'agent:main:folded' }));
      const foldedDone = folded.finish({ status: 'ok', reply: a('done'), finishReason: 'stop', endedAt: 2000 });
      expect(runningRows.get()).toEqual({ n: 0 });
      await foldedDone;
      expect(runningRows.get()).toEqual({ n: 0 });
      // Start committed first (a streaming turn): the end is a second write.
      const streamed = store.beginTurn(begin({ id: 'streamed', key: 'agent:main:streamed' }));
      await streamed.started;
      expect(runningRows.get()).toEqual({ n: 1 });
      await streamed.finish({ status: 'aborted', reply: a('do'), endedAt: 3000 });
      expect(runningRows.get()).toEqual({ n: 0 });
      for (const [key, status, reply] of [
        ['agent:main:folded', 'ok', 'done'],
        ['agent:main:streamed', 'aborted', 'do'],
      ] as const) {
        const turns = await store.loadTurns('main', key);
        expect(turns).toHaveLength(1);
        expect(turns[0]).toMatchObject({ seq: 1, status, reply: a(reply), input: [u('hi')], startedAt: 1000 });
      }
      const sessions = await store.listSessions();
      expect(sessions.map((x) => [x.id, x.turns, x.lastStatus, x.updatedAt])).toEqual([
        ['streamed', 1, 'aborted', 3000],
        ['folded', 1, 'ok', 2000],
      ]);
      // A start that fails fails its end too, folded or not.
      const lost = store.beginTurn(begin({ id: 'nowhere', newTranscript: false }));
      await expect(lost.finish({ status: 'ok', reply: a('x'), finishReason: 'stop', endedAt: 4000 })).rejects.toThrow(/not the session's current one/u);
      await expect(lost.started).rejects.toThrow(/not the session's current one/u);
      const lostLater = store.beginTurn(begin({ id: 'nowhere', newTranscript: false }));
      await expect(lostLater.started).rejects.toThrow(/not the session's current one/u);
      await expect(lostLater.finish({ status: 'ok', reply: a('x'), finishReason: 'stop', endedAt: 4000 })).rejects.toThrow(/not the session's current one/u);
    } finally {
      db.close();
    }
  });

  it('writes issued together commit together, yet a failing one costs only itself', async () => {
    const path = freshPath();
    const store = open(path);
    // Same event-loop turn, so one group commit: a good turn, a duplicate transcript id, a missing transcript, another good one.
    const results = await Promise.allSettled([
      store.beginTurn(begin({ id: 'good-1', key: 'agent:main:one' })).started,
      store.beginTurn(begin({ id: 'good-1', key: 'agent:main:dup' })).started,
      store.beginTurn(begin({ id: 'nowhere', newTranscript: false })).started,
      store.beginTurn(begin({ id: 'good-2', key: 'agent:main:two' })).started,
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(Error);
    const db = new Database(path, { readonly: true });
    try {
      const sessions = db.prepare('SELECT id, key, turns, last_status FROM sessions ORDER BY id').all();
      expect(sessions).toEqual([
        { id: 'good-1', key: 'agent:main:one', turns: 1, last_status: 'running' },
        { id: 'good-2', key: 'agent:main:two', turns: 1, last_status: 'running' },
      ]);
      expect(db.prepare("SELECT session_id, seq, status FROM turns ORDER BY session_id").all()).toEqual([
        { session_id: 'good-1', seq: 1, status: 'running' },
        { session_id: 'good-2', seq: 1, status: 'running' },
      ]);
    } finally {
      db.close();
    }
  });

  it('beginTurn records the input as running; its finish records the reply and outcome', async () => {
    const store = open(freshPath());
    const write = store.beginTurn(begin({ instructions: 'be brief', input: [u('question')] }));
    const ref = await write.started;
    expect(ref).toEqual({ sessionId: 'sess-1', seq: 1 });
    expect(await store.loadTurns('main', 'agent:main:k')).toEqual([
      { sessionId: 'sess-1', sessionKey: 'agent:main:k', agentId: 'main', seq: 1, input: [u('question')], instructions: 'be brief', status: 'running', startedAt: 1000 },
    ]);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ id: 'sess-1', turns: 1, lastStatus: 'running', createdAt: 1000, updatedAt: 1000, kind: 'explicit' });

    const usage = { promptTokens: 5, completionTokens: 2, totalTokens: 7 };
    await write.finish({ status: 'ok', reply: a('answer'), finishReason: 'stop', usage, endedAt: 2000 });
    expect(await store.loadTurns('main', 'agent:main:k')).toEqual([
      {
        sessionId: 'sess-1',
        sessionKey: 'agent:main:k',
        agentId: 'main',
        seq: 1,
        input: [u('question')],
        reply: a('answer'),
        instructions: 'be brief',
        status: 'ok',
        finishReason: 'stop',
        usage,
        startedAt: 1000,
        endedAt: 2000,
      },
    ]);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ turns: 1, lastStatus: 'ok', createdAt: 1000, updatedAt: 2000 });
  });

  it('records a failed turn with its error and no reply', async () => {
    const store = open(freshPath());
    const write = store.beginTurn(begin());
    await write.started;
    const error = { type: 'upstream_error', code: 'upstream_error', message: 'boom' };
    await write.finish({ status: 'error', error, endedAt: 1500 });
    const [stored] = await store.loadTurns('main', 'agent:main:k');
    expect(stored).toMatchObject({ status: 'error', error });
    expect(stored).not.toHaveProperty('reply');
    expect(stored).not.toHaveProperty('finishReason');
  });

  it('numbers turns of a transcript 1, 2, 3', async () => {
    const store = open(freshPath());
    await turn(store, begin(), 'ok', 'r1', 1100);
    await turn(store, begin({ newTranscript: false, startedAt: 1200 }), 'error', 'r2', 1300);
    const ref = await store.beginTurn(await asRead(store, begin({ newTranscript: false, startedAt: 1400 }))).started;
    expect(ref.seq).toBe(3);
    expect((await store.loadTurns('main', 'agent:main:k')).map((t) => [t.seq, t.status])).toEqual([
      [1, 'ok'],
      [2, 'error'],
      [3, 'running'],
    ]);
  });

  it('a failing beginTurn writes nothing (continuing a transcript that does not exist)', async () => {
    const store = open(freshPath());
    await expect(store.beginTurn(begin({ newTranscript: false })).started).rejects.toThrow();
    expect(await store.listSessions()).toEqual([]);
    expect(await store.loadTurns('main', 'agent:main:k')).toEqual([]);
  });

  it('a failing beginTurn writes nothing (creating a transcript id that exists)', async () => {
    const store = open(freshPath());
    await turn(store, begin(), 'ok', 'r1', 1100);
    await expect(store.beginTurn(begin({ key: 'agent:main:other', startedAt: 5000 })).started).rejects.toThrow();
    expect(await store.loadTurns('main', 'agent:main:other')).toEqual([]);
    expect(await store.loadTurns('main', 'agent:main:k')).toHaveLength(1);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ turns: 1, lastStatus: 'ok', updatedAt: 1100 });
  });

  it('a second finish (or a late one, of a turn no longer running) keeps the first outcome', async () => {
    const store = open(freshPath());
    const write = store.beginTurn(begin());
    await write.started;
    await write.finish({ status: 'aborted', reply: a('part'), endedAt: 1100 });
    await write.finish({ status: 'ok', reply: a('whole'), finishReason: 'stop', endedAt: 1200 });
    expect(await store.loadTurns('main', 'agent:main:k')).toMatchObject([{ status: 'aborted', reply: a('part'), endedAt: 1100 }]);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ lastStatus: 'aborted', updatedAt: 1100 });
  });
});

describe('sqlite store: recentTurns', () => {
  it('returns only ok turns, the newest N, oldest first', async () => {
    const store = open(freshPath());
    const statuses = ['ok', 'error', 'ok', 'aborted', 'ok', 'timeout', 'ok'] as const;
    for (const [i, status] of statuses.entries()) {
      await turn(store, begin({ newTranscript: i === 0, startedAt: 1000 + i, input: [u(`u${i + 1}`)] }), status, `r${i + 1}`, 1000 + i);
    }
    await store.beginTurn(await asRead(store, begin({ newTranscript: false, startedAt: 2000, input: [u('still running')] }))).started;

    const seqs = async (limit: number): Promise<number[]> => (await store.recentTurns('sess-1', limit)).map((t) => t.seq);
    expect(await seqs(2)).toEqual([5, 7]);
    expect(await seqs(3)).toEqual([3, 5, 7]);
    expect(await seqs(100)).toEqual([1, 3, 5, 7]);
    expect((await store.recentTurns('sess-1', 1))[0]).toMatchObject({ input: [u('u7')], reply: a('r7'), status: 'ok' });
    expect(await store.recentTurns('no-such-session', 5)).toEqual([]);
  });

  it('reads one transcript only', async () => {
    const store = open(freshPath());
    await turn(store, begin({ id: 'old' }), 'ok', 'old reply', 1100);
    await turn(store, begin({ id: 'new', startedAt: 2000 }), 'ok', 'new reply', 2100);
    expect((await store.recentTurns('new', 10)).map((t) => t.reply?.content)).toEqual(['new reply']);
  });
});

describe('sqlite store: crash recovery', () => {
  it('marks a running turn of an instance that is gone interrupted when the store reopens', async () => {
    const path = freshPath();
    const first = openSqliteStore(path);
    await turn(first, begin(), 'ok', 'r1', 1100);
    await first.beginTurn(await asRead(first, begin({ newTranscript: false, startedAt: 1200, input: [u('cut short')] }))).started;
    // Closed with the turn still running: its instance lock is released, as a crash releases it.
    await first.close();

    const reopened = open(path);
    const turns = await reopened.loadTurns('main', 'agent:main:k');
    expect(turns.map((t) => t.status)).toEqual(['ok', 'interrupted']);
    expect(turns[1]).toMatchObject({ input: [u('cut short')] });
    expect(turns[1]?.endedAt).toBeTypeOf('number');
    expect(await reopened.currentSession('main', 'agent:main:k')).toMatchObject({ lastStatus: 'interrupted', turns: 2 });
    // An interrupted turn is not history.
    expect((await reopened.recentTurns('sess-1', 10)).map((t) => t.seq)).toEqual([1]);
    expect((await reopened.loadTurns('main', 'agent:main:k'))[1]).not.toHaveProperty('reply');
  });

  it('leaves a running turn of a live instance alone, and records which instance runs it', async () => {
    const path = freshPath();
    const running = open(path);
    await running.beginTurn(begin()).started;
    const db = new Database(path, { readonly: true });
    try {
      const [owner] = db.prepare("SELECT owner FROM turns WHERE status = 'running'").pluck().all() as string[];
      expect(owner).toMatch(/^[0-9a-f-]{36}$/u);
      expect(readdirSync(join(dirname(path), 'instances'))).toContain(`${owner}.lock`);
    } finally {
      db.close();
    }
    // A second process-like opener (its own connection and instance) sees the first alive.
    const beside = open(path);
    expect((await beside.loadTurns('main', 'agent:main:k')).map((t) => t.status)).toEqual(['running']);
    expect(await beside.currentSession('main', 'agent:main:k')).toMatchObject({ lastStatus: 'running' });
  });

  it('a turn left running under a PID by an older version (no instance) is interrupted at the next open', async () => {
    const path = freshPath();
    await openSqliteStore(path).close();
    const db = new Database(path);
    db.prepare("INSERT INTO sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES ('old', 'agent:main:old', 'main', 'explicit', 1, 1, 1, 'running')").run();
    db.prepare("INSERT INTO turns (session_id, seq, status, owner, input, started_at) VALUES ('old', 1, 'running', NULL, '[]', 1)").run();
    db.close();
    const reopened = open(path);
    expect((await reopened.loadTurns('main', 'agent:main:old')).map((t) => t.status)).toEqual(['interrupted']);
  });
});

describe('sqlite store: sessions', () => {
  it('currentSession and loadTurns follow the latest transcript of a key', async () => {
    const store = open(freshPath());
    await turn(store, begin({ id: 'first' }), 'ok', 'old', 1100);
    await turn(store, begin({ id: 'second', startedAt: 2000, input: [u('again')] }), 'ok', 'new', 2100);
    expect(await store.currentSession('main', 'agent:main:k')).toMatchObject({ id: 'second', createdAt: 2000, updatedAt: 2100, turns: 1 });
    expect((await store.loadTurns('main', 'agent:main:k')).map((t) => t.reply?.content)).toEqual(['new']);
    expect(await store.currentSession('main', 'agent:main:unknown')).toBeUndefined();
    expect(await store.loadTurns('main', 'agent:main:unknown')).toEqual([]);
  });

  it('sessionHistory returns every transcript of a key, oldest first, with its turns', async () => {
    const store = open(freshPath());
    await turn(store, begin({ id: 'first' }), 'ok', 'r1', 1100);
    await turn(store, begin({ id: 'first', newTranscript: false, startedAt: 1200 }), 'error', 'r2', 1300);
    await turn(store, begin({ id: 'second', startedAt: 2000 }), 'ok', 'r3', 2100);
    await turn(store, begin({ id: 'elsewhere', key: 'agent:main:other', startedAt: 3000 }), 'ok', 'x', 3100);
    const history = await store.sessionHistory('agent:main:k');
    expect(history.map(({ session, turns }) => [session.id, turns.map((t) => t.reply?.content)])).toEqual([
      ['first', ['r1', 'r2']],
      ['second', ['r3']],
    ]);
    expect(history[0]?.session).toMatchObject({ turns: 2, lastStatus: 'error' });
    expect(await store.sessionHistory('agent:main:unknown')).toEqual([]);
  });

  it('one key under two agents: two sessions, each with its own current transcript; sessionHistory groups them by agent', async () => {
    const store = open(freshPath());
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

  it('listSessions lists transcripts most recently updated first, filtered by agent', async () => {
    const store = open(freshPath());
    await turn(store, begin({ id: 'm1', key: 'agent:main:one' }), 'ok', 'r', 1100);
    await turn(store, begin({ id: 'b1', key: 'agent:beta:one', agentId: 'beta', startedAt: 1200 }), 'ok', 'r', 1300);
    await turn(store, begin({ id: 'm2', key: 'agent:main:two', startedAt: 1400 }), 'ok', 'r', 1500);
    // m1 becomes the most recently updated.
    await turn(store, begin({ id: 'm1', key: 'agent:main:one', newTranscript: false, startedAt: 1600 }), 'ok', 'r', 1700);

    expect((await store.listSessions()).map((s) => s.id)).toEqual(['m1', 'm2', 'b1']);
    expect((await store.listSessions({ agentId: 'main' })).map((s) => s.id)).toEqual(['m1', 'm2']);
    expect(await store.listSessions({ agentId: 'beta' })).toMatchObject([{ id: 'b1', key: 'agent:beta:one', agentId: 'beta', turns: 1 }]);
    expect(await store.listSessions({ agentId: 'nobody' })).toEqual([]);
  });

  it('keeps the session kind', async () => {
    const store = open(freshPath());
    for (const kind of ['stateless', 'user', 'explicit'] as const) {
      await store.beginTurn({ session: { id: kind, key: `agent:main:${kind}`, agentId: 'main', kind }, newTranscript: true, expected: { sessionId: undefined, turns: 0 }, input: [u('x')], startedAt: 1 }).started;
    }
    expect((await store.listSessions()).map((s) => [s.id, s.kind]).sort()).toEqual([
      ['explicit', 'explicit'],
      ['stateless', 'stateless'],
      ['user', 'user'],
    ]);
  });

  it('persists across close and reopen; calls after close fail', async () => {
    const path = freshPath();
    const first = openSqliteStore(path);
    await turn(first, begin(), 'ok', 'kept', 1100);
    await first.close();
    await expect(first.loadTurns('main', 'agent:main:k')).rejects.toThrow();
    const reopened = open(path);
    expect((await reopened.loadTurns('main', 'agent:main:k')).map((t) => t.reply?.content)).toEqual(['kept']);
  });
});
