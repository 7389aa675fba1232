/**
 * The million-session store of scenario 8, written straight into SQLite (not through
 * HTTP): 100,000 `user` transcripts of 10 turns updated within the last day, and 900,000
 * one-turn `stateless` ones last updated 40 days ago (what `session.retention.stateless:
 * 30d` prunes). Ids are time-ordered like the gateway's (UUIDv7 layout), rows are those
 * the store itself writes; the schema is made by opening the built store first.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { MESSAGE } from './payloads.mjs';
import { ROOT } from './procs.js';

export const USER_TRANSCRIPTS = 100_000;
export const TURNS_PER_USER = 10;
export const STATELESS = 900_000;
const DAY = 86_400_000;

/** A UUIDv7-shaped id for time `ms` (random tail): the gateway's ids sort by creation time too. */
function idAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The key the gateway derives from `user`: the bench's turns continue these transcripts. */
export const userKey = (i: number): string => `agent:main:openai-user:bench-user-${i}`;

/** Creates `<stateDir>/sessions.sqlite` with the million sessions; returns how long it took (ms). */
export async function writeMillionStore(stateDir: string, log: (line: string) => void): Promise<number> {
  const started = performance.now();
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, 'sessions.sqlite');
  const { openSqliteStore } = (await import(pathToFileURL(join(ROOT, 'dist/src/sessions/sqlite-store.js')).href)) as typeof import('../../src/sessions/sqlite-store.js');
  await openSqliteStore(path).close();

  const db = new Database(path);
  // A bulk load: no fsync (the file is thrown away if this process dies).
  db.pragma('synchronous = OFF');
  const insertSession = db.prepare(
    "INSERT INTO sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES (?, ?, 'main', ?, ?, ?, ?, 'ok')",
  );
  const insertTurn = db.prepare(
    "INSERT INTO turns (session_id, seq, status, input, reply, finish_reason, usage, started_at, ended_at) VALUES (?, ?, 'ok', ?, ?, 'stop', ?, ?, ?)",
  );
  const input = JSON.stringify([{ role: 'user', content: MESSAGE }]);
  const reply = JSON.stringify({ role: 'assistant', content: MESSAGE });
  const usage = JSON.stringify({ promptTokens: 17, completionTokens: 10, totalTokens: 27 });
  const now = Date.now();
  const batch = db.transaction((from: number, to: number, write: (i: number) => void) => {
    for (let i = from; i < to; i += 1) write(i);
  });
  const BATCH = 50_000;
  // Oldest first, as they would have been created: the stateless ones 40 days ago.
  const statelessAt = (i: number): number => now - 40 * DAY + i;
  for (let from = 0; from < STATELESS; from += BATCH) {
    batch(from, Math.min(STATELESS, from + BATCH), (i) => {
      const at = statelessAt(i);
      const id = idAt(at);
      insertSession.run(id, `agent:main:openai:${idAt(at)}`, 'stateless', at, at, 1);
      insertTurn.run(id, 1, input, reply, usage, at, at);
    });
    if ((from + BATCH) % 300_000 === 0) log(`  million store: ${from + BATCH} stateless sessions (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  const userAt = (i: number): number => now - DAY + i * 100;
  for (let from = 0; from < USER_TRANSCRIPTS; from += BATCH / TURNS_PER_USER) {
    batch(from, Math.min(USER_TRANSCRIPTS, from + BATCH / TURNS_PER_USER), (i) => {
      const at = userAt(i);
      const id = idAt(at);
      insertSession.run(id, userKey(i), 'user', at, at + TURNS_PER_USER, TURNS_PER_USER);
      for (let seq = 1; seq <= TURNS_PER_USER; seq += 1) insertTurn.run(id, seq, input, reply, usage, at + seq, at + seq);
    });
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  const bytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  db.close();
  const ms = performance.now() - started;
  log(`  million store: ${STATELESS + USER_TRANSCRIPTS} sessions, ${STATELESS + USER_TRANSCRIPTS * TURNS_PER_USER} turns, ${(bytes / 1e6).toFixed(0)} MB, written in ${(ms / 1000).toFixed(1)} s`);
  return ms;
}
