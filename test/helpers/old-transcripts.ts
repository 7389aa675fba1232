/**
 * Old transcripts written straight into a store file (one transaction, far faster than
 * turns through the gateway), for retention tests: one-turn transcripts of agent `main`
 * (stateless unless `kind` says otherwise), last updated `updatedAt`.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

export function writeOldTranscripts(path: string, count: number, updatedAt: number, text = 'an old question', kind: 'stateless' | 'user' | 'explicit' = 'stateless'): void {
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 10000');
    const session = db.prepare("INSERT INTO sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES (?, ?, 'main', ?, ?, ?, 1, 'ok')");
    const turn = db.prepare("INSERT INTO turns (session_id, seq, status, input, reply, finish_reason, started_at, ended_at) VALUES (?, 1, 'ok', ?, ?, 'stop', ?, ?)");
    const input = JSON.stringify([{ role: 'user', content: text }]);
    const reply = JSON.stringify({ role: 'assistant', content: text });
    db.transaction(() => {
      for (let i = 0; i < count; i += 1) {
        const id = randomUUID();
        session.run(id, kind === 'stateless' ? `agent:main:openai:${id}` : `agent:main:${kind}-${id}`, kind, updatedAt, updatedAt);
        turn.run(id, input, reply, updatedAt, updatedAt);
      }
    }).immediate();
  } finally {
    db.close();
  }
}
