/**
 * For the load tests against a gateway process: the config (capacity raised, loopback
 * exempt from the auth rate limit, no resets, no retries), a raw read-only view of the
 * SQLite store, and a probe that a new TCP connection is refused.
 */
import Database from 'better-sqlite3';
import { connect } from 'node:net';
import { writeConfig } from './cli.js';

export interface LoadConfigOptions {
  graceSeconds?: number;
  maxConcurrent?: number;
  maxQueued?: number;
}

/** Agent `main` on the upstream `up/m` (no retries); sessions never reset; loopback exempt from the auth rate limit. */
export function loadConfig(baseUrl: string, options: LoadConfigOptions = {}): string {
  return writeConfig(`{
  gateway: {
    auth: { rateLimit: { exemptLoopback: true } },
    http: { endpoints: { chatCompletions: { enabled: true } } },
    ${options.graceSeconds === undefined ? '' : `shutdownGraceSeconds: ${options.graceSeconds},`}
  },
  session: { reset: { mode: 'never' } },
  models: { providers: { up: { api: 'openai-completions', baseUrl: '${baseUrl}', maxRetries: 0 } } },
  agents: {
    defaults: { maxConcurrent: ${options.maxConcurrent ?? 64}, maxQueued: ${options.maxQueued ?? 256} },
    list: [{ id: 'main', model: 'up/m' }],
  },
}`);
}

/** One stored turn as the SQLite file holds it. */
export interface StoredTurn {
  key: string;
  seq: number;
  status: string;
  input: { role: string; content: string }[];
  reply: { role: string; content: string } | null;
  finishReason: string | null;
  endedAt: number | null;
}

export interface StoredSession {
  key: string;
  turns: number;
  lastStatus: string | null;
}

export interface StoreView {
  integrity: unknown;
  sessions: StoredSession[];
  /** Turns by session key, in seq order. */
  turns: Map<string, StoredTurn[]>;
}

/** Opens the store read-only (never recovering or rewriting anything) and reads it whole. */
export function readStore(path: string): StoreView {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    const sessions = db
      .prepare<[], { key: string; turns: number; last_status: string | null }>('SELECT key, turns, last_status FROM sessions ORDER BY key')
      .all()
      .map((row) => ({ key: row.key, turns: row.turns, lastStatus: row.last_status }));
    const rows = db
      .prepare<[], { key: string; seq: number; status: string; input: string; reply: string | null; finish_reason: string | null; ended_at: number | null }>(
        'SELECT s.key, t.seq, t.status, t.input, t.reply, t.finish_reason, t.ended_at FROM turns t JOIN sessions s ON s.id = t.session_id ORDER BY s.key, t.seq',
      )
      .all();
    const turns = new Map<string, StoredTurn[]>();
    for (const row of rows) {
      const list = turns.get(row.key) ?? [];
      list.push({
        key: row.key,
        seq: row.seq,
        status: row.status,
        input: JSON.parse(row.input) as StoredTurn['input'],
        reply: row.reply === null ? null : (JSON.parse(row.reply) as StoredTurn['reply']),
        finishReason: row.finish_reason,
        endedAt: row.ended_at,
      });
      turns.set(row.key, list);
    }
    return { integrity, sessions, turns };
  } finally {
    db.close();
  }
}

/** A fresh TCP connection to the URL's port: resolves with the error code it fails with; rejects if it is served. */
export function tcpConnectError(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      // Accepted by the kernel: it must still be refused, with a reset rather than served.
      socket.once('close', () => reject(new Error('connection was accepted and closed normally')));
      socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      socket.once('data', () => reject(new Error('a new connection was served')));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'unknown'));
  });
}
