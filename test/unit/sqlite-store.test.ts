/**
 * src/sessions/sqlite-store.ts, what is SQLite's own: group commit (a turn that ends
 * before its start is committed is written once; a failing write in a batch costs only
 * itself), instance lock files, turns left running by an older version. The behaviour
 * every store shares is in test/store/ (run against SQLite and PostgreSQL).
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { BeginTurn, SessionStore, TranscriptMessage } from '../../src/sessions/store.js';

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

});

describe('sqlite store: crash recovery', () => {

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
