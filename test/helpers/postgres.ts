/**
 * PostgreSQL for tests: `MOLTBOT_TEST_DATABASE_URL` (from `scripts/ci/postgres.sh start`)
 * names a database the tests may create schemas in. Without it the PostgreSQL tests skip
 * (test/global-setup.ts prints one line saying how to run them); with `CI=true` the run
 * fails instead. Each test takes a schema of its own, so files run in parallel.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DATABASE_URL = process.env.MOLTBOT_TEST_DATABASE_URL;
export const HAS_POSTGRES = DATABASE_URL !== undefined && DATABASE_URL !== '';

const created = new Set<string>();

/** A new schema name, dropped by `dropSchemas()`. */
export function freshSchema(prefix: string): string {
  const schema = `t_${prefix}_${randomBytes(4).toString('hex')}`;
  created.add(schema);
  return schema;
}

/** Runs `sql` once on a connection of its own. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Drops the schemas this file created. */
export async function dropSchemas(): Promise<void> {
  if (!HAS_POSTGRES || created.size === 0) return;
  const names = [...created].map((name) => `"${name}"`).join(', ');
  created.clear();
  await adminQuery(`DROP SCHEMA IF EXISTS ${names} CASCADE`);
}

/** The test database's URL with another password (for authentication failures). */
export function urlWithPassword(password: string): string {
  const url = new URL(DATABASE_URL ?? '');
  url.password = password;
  return url.toString();
}
