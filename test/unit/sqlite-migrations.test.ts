/**
 * src/sessions/sqlite-schema.ts: numbered migrations in `PRAGMA user_version`. A store
 * written by the code before migrations were numbered (test/fixtures/store-v0.sql) opens
 * in place and keeps every transcript; it ends with the same schema a new store has; a
 * store from a newer version is refused.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/sessions/sqlite-schema.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionStore } from '../../src/sessions/store.js';

const V0 = readFileSync(new URL('../fixtures/store-v0.sql', import.meta.url), 'utf8');

const opened: SessionStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function open(path: string): SessionStore {
  const store = openSqliteStore(path);
  opened.push(store);
  return store;
}

/** A store file as the pre-migration code left it. */
function v0Store(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'moltbot-migrate-')), 'sessions.sqlite');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(V0);
  expect(db.pragma('user_version', { simple: true })).toBe(0);
  db.close();
  return path;
}

/** The schema as SQLite keeps it: every table and index with its SQL, whitespace folded. */
function schemaOf(path: string): { version: number; autoVacuum: number; objects: [string, string][] } {
  const db = new Database(path, { readonly: true });
  try {
    const objects = db
      .prepare<[], { name: string; sql: string | null }>("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
      .all()
      .map(({ name, sql }): [string, string] => [name, (sql ?? '').replace(/\s+/gu, ' ')]);
    return { version: db.pragma('user_version', { simple: true }) as number, autoVacuum: db.pragma('auto_vacuum', { simple: true }) as number, objects };
  } finally {
    db.close();
  }
}

describe('sqlite store migrations', () => {
  it('are numbered 1, 2, 3, ... in order', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('open a store written before migrations were numbered in place, keeping every transcript', async () => {
    const path = v0Store();
    const store = open(path);
    // Incremental auto-vacuum (2), which an existing store gets from a one-time VACUUM.
    expect(schemaOf(path)).toMatchObject({ version: SCHEMA_VERSION, autoVacuum: 2 });

    const alice = await store.sessionHistory('agent:main:openai-user:alice');
    expect(alice.map(({ session, turns }) => [session.id, session.turns, turns.map((t) => [t.seq, t.status, t.reply?.content])])).toEqual([
      ['0197a000-0000-7000-8000-000000000001', 2, [[1, 'ok', 'hi alice'], [2, 'ok', 'again alice']]],
      ['0197b000-0000-7000-8000-000000000002', 1, [[1, 'ok', 'morning']]],
    ]);
    expect(alice[0]?.turns[0]).toMatchObject({ input: [{ role: 'user', content: 'hello' }], usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 }, finishReason: 'stop' });
    expect(alice[0]?.turns[1]).toMatchObject({ instructions: 'be brief' });
    // The current transcript is still the newest one, and history reads from it.
    expect(await store.currentSession('main', 'agent:main:openai-user:alice')).toMatchObject({ id: '0197b000-0000-7000-8000-000000000002', kind: 'user' });
    expect((await store.recentTurns('0197a000-0000-7000-8000-000000000001', 10)).map((t) => t.seq)).toEqual([1, 2]);

    const sessions = await store.listSessions();
    expect(sessions).toHaveLength(5);
    expect(sessions.map((s) => s.kind).sort()).toEqual(['explicit', 'explicit', 'stateless', 'user', 'user']);
    // The agent prefix written in capitals is now the canonical lower-case key, under its agent only.
    expect((await store.loadTurns('beta', 'agent:beta:mine')).map((t) => [t.status, t.error?.message])).toEqual([['error', 'boom']]);
    expect(await store.loadTurns('main', 'agent:beta:mine')).toEqual([]);
    expect(await store.sessionHistory('agent:BETA:mine')).toEqual([]);
    // The turn a crashed process left running under its PID is interrupted.
    expect((await store.loadTurns('main', 'thread-9')).map((t) => [t.seq, t.status])).toEqual([
      [1, 'ok'],
      [2, 'interrupted'],
    ]);
    // A second open finds nothing to do.
    await store.close();
    opened.splice(0);
    const before = schemaOf(path);
    open(path);
    expect(schemaOf(path)).toEqual(before);
  });

  it('leave an upgraded store with exactly the schema of a new one', async () => {
    const upgraded = v0Store();
    await open(upgraded).close();
    const fresh = join(mkdtempSync(join(tmpdir(), 'moltbot-migrate-')), 'sessions.sqlite');
    await open(fresh).close();
    opened.splice(0);
    expect(schemaOf(upgraded)).toEqual(schemaOf(fresh));
  });

  it('refuse a store written by a newer version, naming both versions', () => {
    const path = v0Store();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openSqliteStore(path)).toThrow(
      `session store: ${path} has schema version ${SCHEMA_VERSION + 1}, newer than this moltbot understands (${SCHEMA_VERSION}); run a moltbot at least as new as the one that wrote it.`,
    );
  });
});
