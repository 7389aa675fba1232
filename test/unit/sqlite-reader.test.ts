/**
 * src/sessions/sqlite-reader.ts: `sessions list` read from the SQLite store without opening
 * it as a writer. The same pages as the store's own `listSessions`; nothing written (it
 * answers while another connection holds the write lock); and no answer (the caller opens
 * the store) when the store is missing, of another schema version, or a listed transcript
 * has a running turn (only the writer's open marks a dead process's turns interrupted).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { listSessionsReadOnly } from '../../src/sessions/sqlite-reader.js';
import { SCHEMA_VERSION } from '../../src/sessions/sqlite-schema.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionInfo } from '../../src/sessions/store.js';

let path: string;
let all: SessionInfo[];

beforeAll(async () => {
  path = join(mkdtempSync(join(tmpdir(), 'moltbot-reader-')), 'sessions.sqlite');
  const store = openSqliteStore(path);
  for (let i = 0; i < 30; i += 1) {
    const agentId = i % 3 === 0 ? 'beta' : 'main';
    const session = { id: `s${String(i).padStart(3, '0')}`, key: `agent:${agentId}:k${i}`, agentId, kind: 'explicit' as const };
    const at = 1_000_000 + Math.floor(i / 2) * 1000;
    const write = store.beginTurn({ session, newTranscript: true, expected: { sessionId: undefined, turns: 0 }, input: [{ role: 'user', content: 'hi' }], startedAt: at });
    await write.finish({ status: 'ok', reply: { role: 'assistant', content: 'hello' }, finishReason: 'stop', endedAt: at });
  }
  all = await store.listSessions();
  await store.close();
});

/** Runs `use` on a connection of its own to the store at `at`. */
function withConnection<T>(at: string, use: (db: Database.Database) => T): T {
  const db = new Database(at);
  try {
    return use(db);
  } finally {
    db.close();
  }
}

describe('sqlite store: read-only session list', () => {
  it('lists the pages the store lists: first page, after a cursor, one agent', async () => {
    expect(listSessionsReadOnly(path, {})).toEqual(all);
    expect(listSessionsReadOnly(path, { limit: 7 })).toEqual(all.slice(0, 7));
    const cursor = all[6] as SessionInfo;
    expect(listSessionsReadOnly(path, { limit: 7, after: { updatedAt: cursor.updatedAt, id: cursor.id } })).toEqual(all.slice(7, 14));
    expect(listSessionsReadOnly(path, { agentId: 'beta' })).toEqual(all.filter((s) => s.agentId === 'beta'));
  });

  it('answers while another connection holds the write lock: it writes nothing', () => {
    withConnection(path, (writer) => {
      writer.exec('BEGIN IMMEDIATE');
      try {
        expect(listSessionsReadOnly(path, { limit: 3 })).toEqual(all.slice(0, 3));
      } finally {
        writer.exec('ROLLBACK');
      }
    });
  });

  it('gives no answer for a missing store, another schema version, or a listed running turn', () => {
    expect(listSessionsReadOnly(join(tmpdir(), 'moltbot-no-such-dir', 'sessions.sqlite'), {})).toBeUndefined();

    const copy = join(mkdtempSync(join(tmpdir(), 'moltbot-reader-')), 'sessions.sqlite');
    withConnection(path, (db) => db.exec(`VACUUM INTO '${copy}'`));
    expect(listSessionsReadOnly(copy, {})).toEqual(all);
    withConnection(copy, (db) => db.pragma(`user_version = ${SCHEMA_VERSION - 1}`));
    expect(listSessionsReadOnly(copy, {})).toBeUndefined();
    withConnection(copy, (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
    expect(listSessionsReadOnly(copy, {})).toBeUndefined();
    withConnection(copy, (db) => db.pragma(`user_version = ${SCHEMA_VERSION}`));

    // A turn left running (by a process that may be gone): on the page, no answer; off it, the page.
    const newest = all[0] as SessionInfo;
    withConnection(copy, (db) => db.prepare("UPDATE sessions SET last_status = 'running' WHERE id = ?").run(newest.id));
    expect(listSessionsReadOnly(copy, { limit: 3 })).toBeUndefined();
    expect(listSessionsReadOnly(copy, { limit: 3, after: { updatedAt: newest.updatedAt, id: newest.id } })).toEqual(all.slice(1, 4));
  });
});
