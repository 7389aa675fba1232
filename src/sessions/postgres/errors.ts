/**
 * PostgreSQL failures as the store reports them: the database cannot be reached (or
 * timed out) → 503 `store_unavailable`, start-up failures → `StoreOpenError` (exit 2).
 * Every message goes through the URL's redactor: the password never reaches a log, an
 * error or `moltbot`'s output.
 */
import { storeUnavailable } from '../../domain/errors.js';
import { StoreOpenError } from '../store-files.js';

/** SQLSTATE classes and codes meaning "the database is not there right now". */
const UNAVAILABLE_CLASSES = ['08', '53', '57', '58'];
const UNAVAILABLE_CODES = new Set(['55P03', '40P01', '40001']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
const NETWORK_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection ended|not queryable|Client was closed/iu;

/** True for failures that mean the database is down, unreachable, overloaded or too slow. */
export function isUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/u.test(code) && UNAVAILABLE_CLASSES.includes(code.slice(0, 2))) return true;
  }
  return err instanceof Error && NETWORK_MESSAGES.test(err.message);
}

/** Failures of connecting itself (unreachable, refused login, no such database): start-up says "cannot connect". */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isUnavailable(err) || (typeof code === 'string' && (code.startsWith('28') || code === '3D000'));
}

/** Words for the failure: the server's message or the network error, redacted. */
export function describePgFailure(err: unknown, redact: (text: string) => string): string {
  if (!(err instanceof Error)) return redact(String(err));
  const code = (err as { code?: unknown }).code;
  const text = err.message || err.name;
  return redact(typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text);
}

/**
 * A copy of `err` safe to log or show: its message (and its cause's) redacted, its stack
 * rebuilt from the redacted message. pg's errors do not carry the URL, but nothing here
 * depends on that.
 */
export function redactedError(err: unknown, redact: (text: string) => string): Error {
  const copy = new Error(describePgFailure(err, redact));
  copy.name = err instanceof Error ? err.name : 'Error';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') Object.assign(copy, { code });
  return copy;
}

/** The error a store call rejects with: 503 for an unavailable database, else the redacted error. */
export function storeFailure(err: unknown, redact: (text: string) => string): Error {
  const safe = redactedError(err, redact);
  return isUnavailable(err) ? storeUnavailable(safe) : safe;
}

/** Start-up could not reach or prepare the database: exit 2 with where and why, never the password. */
export function storeOpenFailure(action: string, target: string, err: unknown, redact: (text: string) => string): StoreOpenError {
  return new StoreOpenError(
    `session store: cannot ${action} PostgreSQL at ${target}: ${describePgFailure(err, redact)}. ` +
      'Check that the server runs and that session.store.url (host, port, database, user, password) is right.',
    { cause: redactedError(err, redact) },
  );
}
