/**
 * Write failures of the store as the errors a client is shown: no space (a full disk,
 * a quota, or `session.maxStoreBytes` reached, which SQLite reports as SQLITE_FULL) is a
 * 507 `storage_full`; anything else stays as it is (a 500 at the edge).
 */
import { storageFull } from '../domain/errors.js';

const FULL = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/** `err` as a client-facing error where one fits; otherwise `err` itself. */
export function storageFailure(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && FULL.has(code) ? storageFull(err) : err;
}
