/**
 * No work at start-up that grows with the store: every statement the SQLite store runs
 * when it opens (recovering a dead instance's running turn included), and for the first
 * page of the session list, finds its rows through an index, never by reading a table
 * (or a whole index) from end to end. Checked on the statements' query plans, so it
 * holds for a store of any size without timing anything.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';

/** A full read of a table or of an index other than the partial one holding only running turns. */
const FULL_READ = /\bSCAN (?!turns USING (COVERING )?INDEX turns_running\b)/u;

function plans(db: Database.Database, statements: readonly string[]): string[] {
  const lines: string[] = [];
  for (const sql of statements) {
    if (!/^\s*(SELECT|UPDATE|DELETE|INSERT)\b/iu.test(sql)) continue;
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[];
    lines.push(...rows.map((row) => `${row.detail}    <- ${sql.replace(/\s+/gu, ' ').slice(0, 120)}`));
  }
  return lines;
}

describe('sqlite store: the cost of opening it', () => {
  it('opening a store with 3,000 transcripts and a dead instance\'s running turn, and listing its first page, reads no table whole', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'moltbot-open-cost-')), 'sessions.sqlite');
    const seed = openSqliteStore(path);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 3000; i += 1) {
      const session = { id: `s${i}`, key: `agent:main:k${i}`, agentId: 'main', kind: i % 2 ? ('stateless' as const) : ('user' as const) };
      const write = seed.beginTurn({ session, newTranscript: true, expected: { sessionId: undefined, turns: 0 }, input: [{ role: 'user', content: 'hi' }], startedAt: 1000 + i });
      writes.push(write.finish({ status: 'ok', reply: { role: 'assistant', content: 'hello' }, finishReason: 'stop', endedAt: 1000 + i }));
    }
    await Promise.all(writes);
    await seed.close();
    // A turn left running by an instance that is gone: the next open must find and interrupt it.
    const raw = new Database(path);
    raw.prepare("INSERT INTO turns (session_id, seq, status, owner, input, started_at) VALUES ('s7', 2, 'running', 'gone-instance', '[]', 5000)").run();
    raw.close();

    const statements: string[] = [];
    const store = openSqliteStore(path, { onStatement: (sql) => statements.push(sql) });
    const atOpen = statements.length;
    const page = await store.listSessions({ limit: 51 });
    await store.close();
    expect(page).toHaveLength(51);
    expect(atOpen).toBeGreaterThan(0);

    const check = new Database(path, { readonly: true });
    const lines = plans(check, statements);
    const interrupted = check.prepare("SELECT status FROM turns WHERE session_id = 's7' AND seq = 2").get() as { status: string };
    check.close();
    expect(interrupted.status).toBe('interrupted');
    expect(lines.some((line) => line.includes('turns_running'))).toBe(true);
    expect(lines.some((line) => line.includes('sessions_by_update'))).toBe(true);
    expect(lines.filter((line) => FULL_READ.test(line))).toEqual([]);
  });
});
