/**
 * `moltbot sessions list` on a store larger than a page: 50 transcripts by default,
 * `--limit`, the next page's `--cursor` on stderr, every transcript listed exactly once
 * in order when the cursors are followed; bad flags exit 2. The store is written directly
 * (no gateway): the CLI reads whatever a gateway would have written.
 */
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, writeConfig } from '../helpers/cli.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionInfo } from '../../src/sessions/store.js';

const SESSIONS = 130;
let env: Record<string, string>;
let config: string;
let stateDir: string;
/** Every transcript's id, most recently updated first. */
let expected: string[];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'moltbot-state-'));
  env = cleanEnv({ MOLTBOT_STATE_DIR: stateDir });
  config = writeConfig(`{ models: { providers: { echo: { api: 'echo' } } }, agents: { defaults: { model: 'echo/echo' }, list: [{ id: 'main' }, { id: 'beta' }] } }`);
  const store = openSqliteStore(join(stateDir, 'sessions.sqlite'));
  const writes: Promise<void>[] = [];
  for (let i = 0; i < SESSIONS; i += 1) {
    // Groups of three share an update time: pages must break ties the same way every time.
    const at = 1_000_000 + Math.floor(i / 3) * 1000;
    const agentId = i % 10 === 0 ? 'beta' : 'main';
    const id = `s${String(i).padStart(4, '0')}`;
    const session = { id, key: `agent:${agentId}:k${i}`, agentId, kind: 'explicit' as const };
    const write = store.beginTurn({ session, newTranscript: true, expected: { sessionId: undefined, turns: 0 }, input: [{ role: 'user', content: 'hi' }], startedAt: at });
    writes.push(write.finish({ status: 'ok', reply: { role: 'assistant', content: 'hello' }, finishReason: 'stop', endedAt: at }));
  }
  await Promise.all(writes);
  expected = (await store.listSessions()).map((s) => s.id);
  await store.close();
  expect(expected).toHaveLength(SESSIONS);
});

const list = (args: string[]) => runCli(['sessions', 'list', '--json', '--config', config, ...args], env);
const cursorIn = (stderr: string): string | undefined => /--cursor (\S+)/u.exec(stderr)?.[1];

describe('moltbot sessions list, paginated', () => {
  it('lists 50 by default and names the next page on stderr; following --cursor lists every transcript once, in order', async () => {
    const first = await list([]);
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as SessionInfo[]).map((s) => s.id)).toEqual(expected.slice(0, 50));
    expect(first.stderr).toMatch(/^more sessions: moltbot sessions list --limit 50 --cursor \S+\n$/u);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = await list(['--limit', '40', ...(cursor ? ['--cursor', cursor] : [])]);
      expect(result.code, result.stderr).toBe(0);
      seen.push(...(JSON.parse(result.stdout) as SessionInfo[]).map((s) => s.id));
      cursor = cursorIn(result.stderr);
      if (!cursor) break;
    }
    expect(seen).toEqual(expected);
  });

  it('the last page says nothing more; --agent pages through one agent; the table has one row per transcript', async () => {
    const beta = expected.filter((id) => Number(id.slice(1)) % 10 === 0);
    const first = await list(['--agent', 'BETA', '--limit', '10']);
    expect((JSON.parse(first.stdout) as SessionInfo[]).map((s) => s.id)).toEqual(beta.slice(0, 10));
    expect(first.stderr).toMatch(/--agent BETA\n$/u);
    const rest = await list(['--agent', 'beta', '--limit', '10', '--cursor', cursorIn(first.stderr) ?? '']);
    expect((JSON.parse(rest.stdout) as SessionInfo[]).map((s) => s.id)).toEqual(beta.slice(10));
    expect(rest).toMatchObject({ code: 0, stderr: '' });

    const table = await runCli(['sessions', 'list', '--limit', '7', '--config', config], env);
    expect(table.code).toBe(0);
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(1 + 7);
    expect(cursorIn(table.stderr)).toBeDefined();
  });

  it('a bad --limit or --cursor, or either outside list, exits 2 naming the flag', async () => {
    for (const [args, message] of [
      [['--limit', '0'], /--limit: '0'/u],
      [['--limit', '2.5'], /--limit: '2.5'/u],
      [['--limit', 'ten'], /--limit: 'ten'/u],
      [['--cursor', 'not-a-cursor'], /--cursor: 'not-a-cursor' is not a cursor/u],
      [['--cursor', Buffer.from('[1,2]').toString('base64url')], /is not a cursor/u],
    ] as const) {
      const result = await list([...args]);
      expect(result.code, JSON.stringify(result)).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
    }
    const show = await runCli(['sessions', 'show', 'agent:main:k1', '--limit', '3', '--config', config], env);
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(/--limit and --cursor belong to sessions list/u);
  });

  it('reads without writing: lists while another process holds the write lock, takes no instance lock, leaves the database file as it was', async () => {
    const path = join(stateDir, 'sessions.sqlite');
    const before = { instances: readdirSync(join(stateDir, 'instances')).sort(), mtime: statSync(path).mtimeMs, size: statSync(path).size };
    // A writer mid-transaction (a gateway's commit, `sessions prune`): opening the store as a
    // writer waits for this lock (its recovery is a write), a reader does not.
    const writer = new Database(path);
    try {
      writer.exec('BEGIN IMMEDIATE');
      const result = await list(['--limit', '5']);
      expect(result.code, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as SessionInfo[]).map((s) => s.id)).toEqual(expected.slice(0, 5));
      writer.exec('ROLLBACK');
    } finally {
      writer.close();
    }
    expect({ instances: readdirSync(join(stateDir, 'instances')).sort(), mtime: statSync(path).mtimeMs, size: statSync(path).size }).toEqual(before);
  });
});
