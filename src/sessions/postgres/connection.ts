/**
 * The PostgreSQL store's connection settings: the pool (`pg.Pool`, no ORM) with the
 * timeouts that keep a stuck database from holding a request, and the URL's password
 * kept out of every message (`redact`, `describeTarget`).
 */
import pg from 'pg';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database?...`; the password is never shown. */
  url: string;
  /**
   * Connections per replica (default 10): up to 4 pipelined ones carry the turns, the rest
   * are pooled for transactions; each replica also holds one more for its instance lock.
   */
  poolSize?: number;
  /** The schema the store's tables live in (default `public`); created if missing. */
  schema?: string;
  /**
   * Longest a statement may run (`statement_timeout`, default 10 s); `lock_timeout` is
   * the same, and a connection idle in a transaction is closed after 3 times as long.
   */
  statementTimeoutMs?: number;
  /** How often the replica's liveness is refreshed and dead replicas' turns are swept (default 5 s). */
  sweepIntervalMs?: number;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
/** Connecting (a TCP connect and authentication) takes longer than this only when something is wrong. */
const CONNECT_TIMEOUT_MS = 5_000;

/** A schema name as the config takes it: a plain lower-case identifier. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/u;

/** `"name"`: an identifier quoted for SQL. */
export const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** The password of `url`, as written and decoded, for redaction; empty when it has none. */
function passwords(url: string): string[] {
  let raw = '';
  try {
    raw = new URL(url).password;
  } catch {
    // Not a URL: take what sits between the first ':' after '//' and the last '@'.
    raw = /^[a-z]+:\/\/[^:/@]*:(.*)@[^@]*$/iu.exec(url)?.[1] ?? '';
  }
  if (raw === '') return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // Malformed escapes: the raw form is all there is.
  }
  return [...new Set([raw, decoded, encodeURIComponent(decoded)])].filter((p) => p !== '').sort((a, b) => b.length - a.length);
}

/** A function that replaces the URL's password in any text by `***`. */
export function redactor(url: string): (text: string) => string {
  const secrets = passwords(url);
  return (text) => secrets.reduce((out, secret) => out.split(secret).join('***'), text);
}

/** `host:port/database` of the URL (never its user or password), for messages. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return `${host}:${parsed.port || '5432'}${parsed.pathname || '/'}`;
  } catch {
    return '(an unparsable PostgreSQL URL)';
  }
}

/** int8 (bigint) as a JS number: the store's bigints are millisecond times and counts. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * Settings shared by the pool and the instance connection. The application name carries
 * the schema (`moltbot-gateway public`): an operator's `pg_stat_activity` tells which
 * store a connection serves when several share a database. PostgreSQL keeps 63 bytes
 * of it; schema names are ASCII identifiers, so the cut never splits a character.
 */
export function clientConfig(options: PostgresStoreOptions, applicationName: string): pg.ClientConfig {
  const statementTimeout = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  return {
    connectionString: options.url,
    application_name: `${applicationName} ${options.schema ?? 'public'}`.slice(0, 63),
    statement_timeout: statementTimeout,
    lock_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout * 3,
    // The server's own timeout ends a slow statement; this one ends a wait for a server
    // that does not answer at all (a network gone quiet), and the connection with it.
    query_timeout: statementTimeout + 2_000,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    types,
  };
}

/**
 * The pool. A pooled connection that breaks while checked out emits `error` on its
 * client, which would end the process without a listener: every client gets one (the
 * failing query is told through its own callback, and the client is then discarded).
 * Connections broken while idle are reported by the pool's own `error` event.
 */
export function createPool(options: PostgresStoreOptions): pg.Pool {
  const pool = new pg.Pool(Object.assign(clientConfig(options, 'moltbot-gateway'), { max: options.poolSize ?? DEFAULT_POOL_SIZE, idleTimeoutMillis: 30_000 }));
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}
