/**
 * What is PostgreSQL's own in the store: migrations applied once by replicas starting at
 * once; start-up failures that name host:port and never the password (refused, wrong
 * password); a database lost while running (backends terminated) answered with 503
 * `store_unavailable`, health saying so, and the pool reconnecting by itself; a statement
 * stuck behind a lock ended by the statement timeout; the sweep interrupting a dead
 * replica's turn without anyone touching its session, and telling it (migration 5) only
 * to a store that listens.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/domain/errors.js';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from '../../src/sessions/postgres/migrations.js';
import { openPostgresStore, type PostgresSessionStore } from '../../src/sessions/postgres/store.js';
import { StoreOpenError } from '../../src/sessions/store-files.js';
import type { InterruptedTurn } from '../../src/sessions/store.js';
import { DATABASE_URL, HAS_POSTGRES, adminQuery, dropSchemas, freshSchema, urlWithPassword } from '../helpers/postgres.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { OK, readAndBegin } from './contract-support.js';

const PASSWORD = HAS_POSTGRES ? decodeURIComponent(new URL(DATABASE_URL ?? '').password) : '';
const KEY = 'agent:main:pg';
const opened: PostgresSessionStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});
afterAll(dropSchemas);

async function open(schema: string, extra: { statementTimeoutMs?: number; url?: string } = {}): Promise<PostgresSessionStore> {
  const store = await openPostgresStore({ url: extra.url ?? DATABASE_URL ?? '', schema, poolSize: 4, sweepIntervalMs: 60_000, ...extra });
  opened.push(store);
  return store;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe.skipIf(!HAS_POSTGRES)('postgres store: start-up', () => {
  it('4 stores opening at once on an empty schema apply every migration once, without an error', async () => {
    const schema = freshSchema('migrate');
    const stores = await Promise.all([open(schema), open(schema), open(schema), open(schema)]);
    expect(stores).toHaveLength(4);
    const rows = await adminQuery<{ version: number; n: string }>(`SELECT version, count(*) AS n FROM "${schema}".schema_migrations GROUP BY version ORDER BY version`);
    expect(rows.map((row) => [row.version, Number(row.n)])).toEqual(Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => [i + 1, 1]));
    // All four work on it at once: one turn each in their own sessions.
    await Promise.all(stores.map(async (store, i) => store.beginTurn(await readAndBegin(store, `${KEY}-${i}`, `hello ${i}`)).finish(OK)));
    expect(await stores[0]?.listSessions()).toHaveLength(4);
  });

  it('refused connection and wrong password: StoreOpenError (exit 2) naming host:port/database, never the password', async () => {
    const port = new URL(DATABASE_URL ?? '').port;
    const refusedUrl = `postgres://moltbot:${encodeURIComponent(PASSWORD)}@127.0.0.1:1/moltbot_test`;
    const refused = await failure(openPostgresStore({ url: refusedUrl, schema: freshSchema('x') }));
    expect(refused).toBeInstanceOf(StoreOpenError);
    expect(refused.message).toMatch(/^session store: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/moltbot_test: .*ECONNREFUSED/u);
    const wrong = `wrong-${PASSWORD}`;
    const denied = await failure(openPostgresStore({ url: urlWithPassword(wrong), schema: freshSchema('x') }));
    expect(denied).toBeInstanceOf(StoreOpenError);
    expect(denied.message).toContain(`at 127.0.0.1:${port}/moltbot_test`);
    expect(denied.message).toMatch(/password authentication failed/u);
    for (const err of [refused, denied]) {
      const everything = `${err.message}\n${err.stack}\n${String((err.cause as Error | undefined)?.message)}\n${JSON.stringify(err)}`;
      expect(everything).not.toContain(PASSWORD);
      expect(everything).not.toContain(encodeURIComponent(PASSWORD));
    }
    console.log(`postgres start-up errors:\n  ${refused.message}\n  ${denied.message}`);
  });
});

describe.skipIf(!HAS_POSTGRES)('postgres store: faults while running', () => {
  it('database lost: calls fail with 503 store_unavailable (Retry-After), health says so; back, the store reconnects by itself and loses nothing', async () => {
    const proxy = await startTcpProxy(Number(new URL(DATABASE_URL ?? '').port));
    try {
      const url = new URL(DATABASE_URL ?? '');
      url.port = String(proxy.port);
      const schema = freshSchema('fault');
      const store = await open(schema, { url: url.toString() });
      await store.beginTurn(await readAndBegin(store, KEY, 'before')).finish(OK);
      const begunWrite = store.beginTurn(await readAndBegin(store, KEY, 'running across the outage'));
      await begunWrite.started;
      proxy.cut();
      const err = await failure(store.currentSession('main', KEY));
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ status: 503, code: 'store_unavailable', retryAfterSeconds: 2 });
      expect(`${err.message} ${String((err.cause as Error).message)}`).not.toContain(PASSWORD);
      expect(store.health()).toBe('unavailable');
      await expect(begunWrite.finish({ ...OK, reply: { role: 'assistant', content: 'lost' } })).rejects.toMatchObject({ code: 'store_unavailable' });
      proxy.restore();
      // The pool opens new connections for the next calls; the instance lock is taken again.
      await expect.poll(async () => (await store.currentSession('main', KEY).catch(() => undefined))?.turns, { timeout: 10_000 }).toBe(2);
      await expect.poll(() => store.health(), { timeout: 10_000 }).toBe('ok');
      // The ending the database could not take is written by the next sweep: the client was
      // told the turn failed (503), so it is recorded as an error, with the model's words.
      await store.sweep();
      const turns = await store.loadTurns('main', KEY);
      expect(turns.map((t) => [t.seq, t.status, t.reply?.content, t.error?.code])).toEqual([
        [1, 'ok', 'fine', undefined],
        [2, 'error', 'lost', 'store_unavailable'],
      ]);
    } finally {
      await proxy.close();
    }
  });

  it('backends terminated: the next calls run on new connections and the instance lock is taken again', async () => {
    const schema = freshSchema('terminate');
    const store = await open(schema);
    await store.beginTurn(await readAndBegin(store, KEY, 'before')).finish(OK);
    // This store's backends only (the application name ends with its schema): other files' stores run in the same database meanwhile.
    const ended = await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND application_name LIKE 'moltbot-gateway% ${schema}' AND datname = current_database()`);
    expect(ended.length).toBeGreaterThanOrEqual(2);
    await expect.poll(async () => (await store.currentSession('main', KEY).catch(() => undefined))?.turns, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => store.health(), { timeout: 10_000 }).toBe('ok');
    expect(await store.beginTurn(await readAndBegin(store, KEY, 'after')).started).toMatchObject({ seq: 2 });
  });

  it('a replica opens poolSize connections plus its instance connection, however many turns run at once', async () => {
    const proxy = await startTcpProxy(Number(new URL(DATABASE_URL ?? '').port));
    try {
      const url = new URL(DATABASE_URL ?? '');
      url.port = String(proxy.port);
      const store = await openPostgresStore({ url: url.toString(), schema: freshSchema('conns'), poolSize: 4, sweepIntervalMs: 60_000 });
      opened.push(store);
      await Promise.all(
        Array.from({ length: 64 }, async (_, i) => {
          const turn = await readAndBegin(store, `${KEY}-${i}`, `turn ${i}`);
          await store.beginTurn(turn).finish(OK);
        }),
      );
      await Promise.all([store.sweep(), store.prune({ olderThan: { explicit: 0 } }), store.listSessions()]);
      // Migrations ran first on a connection of the pool, which counts among the 4.
      expect(proxy.peak).toBeLessThanOrEqual(5);
      console.log(`postgres connections: peak ${proxy.peak} with poolSize 4 and 64 turns at once`);
    } finally {
      await proxy.close();
    }
  });

  it('a statement stuck behind a lock ends at the statement timeout with 503, not after the run timeout', async () => {
    const schema = freshSchema('stuck');
    const store = await open(schema, { statementTimeoutMs: 300 });
    const turn = await readAndBegin(store, KEY, 'blocked');
    // Another connection holds the session's lock (as a hung transaction would).
    const pg = await import('pg');
    const holder = new pg.default.Client({ connectionString: DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT pg_advisory_xact_lock(1836018804, hashtext('main' || E'\\n' || $1))", [KEY]);
      const started = performance.now();
      const err = await failure(store.beginTurn(turn).started);
      const ms = performance.now() - started;
      expect(err).toMatchObject({ status: 503, code: 'store_unavailable' });
      expect(ms).toBeLessThan(5_000);
      console.log(`postgres stuck lock: beginTurn failed after ${ms.toFixed(0)} ms (statementTimeoutMs 300)`);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await store.beginTurn(turn).started).toMatchObject({ seq: 1 });
  });

  it('a replica whose retention pass finds another pass running (the advisory lock held) skips it', async () => {
    const schema = freshSchema('prune');
    const store = await open(schema);
    for (let i = 0; i < 3; i += 1) {
      const id = `old-${i}`;
      await store.beginTurn({ session: { id, key: `agent:main:openai:${id}`, agentId: 'main', kind: 'stateless' }, newTranscript: true, expected: { sessionId: undefined, turns: 0 }, input: [], startedAt: 1 }).finish({ ...OK, endedAt: 1 },);
    }
    // Another replica's pass holds the schema's prune lock.
    const pg = await import('pg');
    const other = new pg.default.Client({ connectionString: DATABASE_URL });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock(1836018807, hashtext($1))', [schema]);
      expect(await store.prune({ olderThan: { stateless: 0 } })).toEqual({ sessions: 0, turns: 0, reclaimedBytes: 0 });
      expect(await store.listSessions()).toHaveLength(3);
      await other.query('SELECT pg_advisory_unlock(1836018807, hashtext($1))', [schema]);
      expect(await store.prune({ olderThan: { stateless: 0 } })).toMatchObject({ sessions: 3, turns: 3 });
    } finally {
      await other.end();
    }
  });

  it("the sweep interrupts this replica's own orphan (a start committed whose answer was lost), not its turns still running", async () => {
    const schema = freshSchema('orphan');
    const [store, other] = [await open(schema), await open(schema)];
    await store.beginTurn(await readAndBegin(store, KEY, 'still running')).started;
    const [{ owner } = { owner: '' }] = await adminQuery<{ owner: string }>(`SELECT owner FROM "${schema}".turns`);
    // What a start looks like whose answer never came back: committed, owned by this live replica, nothing running it.
    await adminQuery(`INSERT INTO "${schema}".sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES ('lost', 'agent:main:lost', 'main', 'explicit', 1, 1, 1, 'running')`);
    await adminQuery(`INSERT INTO "${schema}".turns (session_id, seq, status, owner, input, started_at) VALUES ('lost', 1, 'running', $1, '[]', 1)`, [owner]);
    expect(await other.runningElsewhere('main', 'agent:main:lost')).toBe(true);
    await store.sweep();
    expect((await store.loadTurns('main', 'agent:main:lost')).map((t) => t.status)).toEqual(['interrupted']);
    expect((await store.loadTurns('main', KEY)).map((t) => t.status)).toEqual(['running']);
    expect(await other.runningElsewhere('main', 'agent:main:lost')).toBe(false);
  });

  it("the sweep interrupts a dead replica's running turn without anyone touching its session", async () => {
    const schema = freshSchema('sweep');
    const dying = await openPostgresStore({ url: DATABASE_URL ?? '', schema, sweepIntervalMs: 60_000 });
    const survivor = await open(schema);
    await dying.beginTurn(await readAndBegin(dying, KEY, 'cut')).started;
    // The replica dies: its instance connection goes, and its lock with it.
    const ended = await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'moltbot-gateway-instance ${schema}' AND pid <> pg_backend_pid()`);
    expect(ended.length).toBeGreaterThanOrEqual(1);
    await dying.close();
    await survivor.sweep();
    expect((await survivor.loadTurns('main', KEY)).map((t) => t.status)).toEqual(['interrupted']);
  });

  it("a schema at version 4 holding a dead replica's running turn: upgraded, swept by a store without a listener, told once to the next that listens", async () => {
    const schema = freshSchema('upgrade');
    const s = `"${schema}"`;
    await adminQuery(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const migration of PG_MIGRATIONS.filter((m) => m.version <= 4)) {
      await adminQuery(migration.sql(s));
      await adminQuery(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
    }
    await adminQuery(`INSERT INTO ${s}.sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status) VALUES ('cut', $1, 'main', 'explicit', 1, 1, 1, 'running')`, [KEY]);
    await adminQuery(`INSERT INTO ${s}.turns (session_id, seq, status, owner, input, started_at) VALUES ('cut', 1, 'running', 'a-replica-long-gone', '[]', 1)`);
    // Like `moltbot sessions` (no listener): migrates, interrupts at its opening sweep, takes nothing.
    const silent = await open(schema);
    expect((await silent.loadTurns('main', KEY)).map((t) => t.status)).toEqual(['interrupted']);
    const told: InterruptedTurn[] = [];
    const listening = await openPostgresStore({ url: DATABASE_URL ?? '', schema, poolSize: 2, sweepIntervalMs: 60_000 }, { onInterrupted: (turns) => void told.push(...turns) });
    opened.push(listening);
    await listening.sweep();
    await silent.sweep();
    expect(told).toEqual([{ agentId: 'main', sessionId: 'cut', seq: 1 }]);
  });
});
