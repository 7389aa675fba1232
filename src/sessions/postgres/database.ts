/**
 * One way to run a statement on the pool: a connection is taken and given back, a
 * connection that failed is thrown away (the pool opens a new one: that is how it
 * reconnects), an SQL error (a conflict) keeps its connection. Failures come out through
 * `storeFailure` (503 when the database is unavailable, every message redacted), and
 * each outcome updates what `health()` reports.
 */
import type pg from 'pg';
import { isUnavailable, storeFailure } from './errors.js';
import type { Pipelines } from './pipelines.js';
import type { Statement } from './queries.js';

export interface Database {
  /** One statement, on a pipelined connection. */
  query<R extends pg.QueryResultRow>(statement: Statement, values?: unknown[]): Promise<R[]>;
  /** Runs `work` in a transaction on one connection (BEGIN … COMMIT, ROLLBACK on failure). */
  transaction<T>(work: (run: <R extends pg.QueryResultRow>(statement: Statement, values?: unknown[]) => Promise<R[]>) => Promise<T>): Promise<T>;
  /** False since the last statement failed for want of a database, until one succeeds. */
  readonly reachable: boolean;
  readonly pool: pg.Pool;
}

export function createDatabase(
  pool: pg.Pool,
  pipelines: Pipelines,
  redact: (text: string) => string,
  onError: (err: unknown) => void,
  onReachable: () => void,
): Database {
  let reachable = true;
  const settle = (err?: unknown): void => {
    if (err === undefined) {
      if (!reachable) {
        reachable = true;
        onReachable();
      }
      return;
    }
    if (isUnavailable(err)) {
      reachable = false;
      onError(err);
    }
  };
  const connect = async (): Promise<pg.PoolClient> => {
    try {
      return await pool.connect();
    } catch (err) {
      settle(err);
      throw storeFailure(err, redact);
    }
  };
  const onClient = async <R extends pg.QueryResultRow>(client: pg.PoolClient, statement: Statement, values?: unknown[]): Promise<R[]> => {
    try {
      const result = await client.query<R>(values ? Object.assign({}, statement, { values }) : statement);
      settle();
      return result.rows;
    } catch (err) {
      settle(err);
      // The unredacted error stays out of sight (not enumerable): only `release` looks at it.
      throw Object.defineProperty(storeFailure(err, redact), 'original', { value: err, enumerable: false });
    }
  };
  /** Gives the connection back, destroying it when it failed for want of a database. */
  const release = (client: pg.PoolClient, err: unknown): void => {
    const original = (err as { original?: unknown } | undefined)?.original ?? err;
    client.release(original !== undefined && isUnavailable(original) ? (original as Error) : undefined);
  };

  return {
    pool,
    get reachable() {
      return reachable;
    },
    async query<R extends pg.QueryResultRow>(statement: Statement, values?: unknown[]) {
      try {
        const result = await pipelines.query<R>(values ? Object.assign({}, statement, { values }) : statement);
        settle();
        return result.rows;
      } catch (err) {
        settle(err);
        throw storeFailure(err, redact);
      }
    },
    async transaction(work) {
      const client = await connect();
      let failure: unknown;
      try {
        await onClient(client, { text: 'BEGIN' });
        const result = await work((statement, values) => onClient(client, statement, values));
        await onClient(client, { text: 'COMMIT' });
        return result;
      } catch (err) {
        failure = err;
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        release(client, failure);
      }
    },
  };
}
