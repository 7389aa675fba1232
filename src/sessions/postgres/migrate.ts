/**
 * Applying the numbered migrations (`migrations.ts`): one transaction that takes
 * `pg_advisory_xact_lock` on the schema, creates it and `schema_migrations` if missing,
 * reads what is applied, applies the rest in order and records them. Replicas starting
 * at once queue on the lock; the first migrates, the others then find nothing pending.
 */
import type pg from 'pg';
import { StoreOpenError } from '../store-files.js';
import { createPool, describeTarget, quoteIdentifier, redactor, type PostgresStoreOptions } from './connection.js';
import { isConnectFailure, storeOpenFailure } from './errors.js';
import { LOCK } from './locks.js';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION, type PgMigration } from './migrations.js';

/** A migration not yet applied, with its SQL for the schema. */
export interface PendingMigration {
  version: number;
  name: string;
  sql: string;
}

async function lockAndRead(client: pg.PoolClient, schema: string): Promise<number[]> {
  const s = quoteIdentifier(schema);
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK.migrate, schema]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations ORDER BY version`);
  const applied = rows.map((row) => row.version);
  const newest = applied.at(-1) ?? 0;
  if (newest > PG_SCHEMA_VERSION) {
    throw new StoreOpenError(
      `session store: PostgreSQL schema ${schema} has schema version ${newest}, newer than this moltbot understands (${PG_SCHEMA_VERSION}); run a moltbot at least as new as the one that migrated it.`,
    );
  }
  return applied;
}

const pendingOf = (applied: number[], schema: string): PendingMigration[] =>
  PG_MIGRATIONS.filter((m: PgMigration) => !applied.includes(m.version)).map((m) => ({ version: m.version, name: m.name, sql: m.sql(quoteIdentifier(schema)) }));

/** Runs `work` in a transaction on one pooled connection; rolls back on any failure. */
async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, commit: boolean): Promise<T> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (err) {
    broken = err;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(broken instanceof StoreOpenError ? undefined : (broken as Error | undefined));
  }
}

/** Brings `schema` up to date; resolves with the migrations this call applied (none when another replica did). */
export function migratePostgres(pool: pg.Pool, schema: string): Promise<PendingMigration[]> {
  return inTransaction(
    pool,
    async (client) => {
      const pending = pendingOf(await lockAndRead(client, schema), schema);
      for (const migration of pending) {
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${quoteIdentifier(schema)}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      }
      return pending;
    },
    true,
  );
}

/** What `migratePostgres` would apply now, changing nothing (`sessions migrate --dry-run`). */
export function pendingPostgresMigrations(pool: pg.Pool, schema: string): Promise<PendingMigration[]> {
  return inTransaction(pool, async (client) => pendingOf(await lockAndRead(client, schema), schema), false);
}

/**
 * `moltbot sessions migrate [--dry-run]` on PostgreSQL: connects with the store's
 * settings, lists (dry run) or applies the pending migrations. Connection failures are
 * `StoreOpenError`s without the password.
 */
export async function runPostgresMigrations(options: PostgresStoreOptions, dryRun: boolean): Promise<PendingMigration[]> {
  const pool = createPool(Object.assign({}, options, { poolSize: 1 }));
  pool.on('error', () => undefined);
  const schema = options.schema ?? 'public';
  try {
    return await (dryRun ? pendingPostgresMigrations(pool, schema) : migratePostgres(pool, schema));
  } catch (err) {
    if (err instanceof StoreOpenError) throw err;
    throw storeOpenFailure(isConnectFailure(err) ? 'connect to' : 'migrate', describeTarget(options.url), err, redactor(options.url));
  } finally {
    await pool.end().catch(() => undefined);
  }
}
