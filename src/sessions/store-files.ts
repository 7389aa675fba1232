/**
 * The store's files on disk, made private and checked before SQLite opens them. The
 * directory is made 0700 (also when it already existed with a wider mode), the database
 * file is created 0600 before SQLite touches it (SQLite gives `-wal` and `-shm` the
 * database file's mode, whatever the umask), and files an older version left wider are
 * tightened to 0600. Every failure is a `StoreOpenError` naming the path and the
 * problem in words, so `moltbot` exits 2 with a sentence instead of
 * "unable to open database file".
 */
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GatewayConfig } from '../config/types.js';

/** Where the embedded store lives: `sessions.sqlite` in the state dir. */
export function storePath(config: Pick<GatewayConfig, 'stateDir'>): string {
  return join(config.stateDir, 'sessions.sqlite');
}

/** The store cannot be opened (permissions, read-only or full disk, not a store); exit code 2. */
export class StoreOpenError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}

/** Error codes (errno and SQLite's primary codes) in words. */
const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted (this user does not own it)',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'a file that is not a directory is in the way',
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  SQLITE_CANTOPEN: 'SQLite cannot open or create it (is the directory writable?)',
  SQLITE_READONLY: 'it is read-only for this process',
  SQLITE_FULL: 'no space left (disk full)',
  SQLITE_NOTADB: 'it is not an SQLite database',
  SQLITE_CORRUPT: 'the database file is damaged',
  SQLITE_BUSY: 'another process kept it locked for too long',
  SQLITE_IOERR: 'an I/O error occurred',
  SQLITE_PERM: 'permission denied',
};

/** `reason (CODE)` for an errno or SQLite error, e.g. `permission denied (EACCES)`. */
export function describeFailure(err: unknown): string {
  const code = typeof (err as { code?: unknown }).code === 'string' ? ((err as { code: string }).code) : '';
  // SQLite's extended codes (SQLITE_READONLY_DBMOVED) read as their primary code.
  const reason = REASONS[code] ?? REASONS[code.replace(/^(SQLITE_[A-Z]+)_.*$/u, '$1')] ?? (err as Error).message;
  return code ? `${reason} (${code})` : reason;
}

/** A `StoreOpenError` for `action` on `path`, e.g. "cannot create the directory /x: permission denied (EACCES)". */
export function storeOpenError(action: string, path: string, err: unknown): StoreOpenError {
  return new StoreOpenError(
    `session store: cannot ${action} ${path}: ${describeFailure(err)}. ` +
      'The state directory must be writable by the user running moltbot: fix its permissions or choose another one (MOLTBOT_STATE_DIR).',
    { cause: err },
  );
}

function attempt<T>(action: string, path: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw storeOpenError(action, path, err);
  }
}

/**
 * `mkdir -p` with mode 0700. Not Node's `recursive: true`: on a read-only file system
 * that reports ENOENT instead of EROFS, which would name the wrong problem.
 */
function makeDirs(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw err;
  }
  makeDirs(dirname(dir));
  makeDirs(dir);
}

/** Creates `dir` (and missing parents) 0700, or narrows an existing one to 0700. */
export function ensurePrivateDir(dir: string): void {
  attempt('create the directory', dir, () => makeDirs(dir));
  const { mode } = attempt('read the directory', dir, () => statSync(dir));
  if ((mode & 0o077) !== 0) attempt('make private (chmod 700) the directory', dir, () => chmodSync(dir, 0o700));
  attempt('write into the directory', dir, () => accessSync(dir, constants.W_OK | constants.X_OK));
}

/** Narrows `file` to 0600 if it exists with a wider mode. */
function tighten(file: string): void {
  let mode: number;
  try {
    ({ mode } = statSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw storeOpenError('read', file, err);
  }
  if ((mode & 0o077) !== 0) attempt('make private (chmod 600)', file, () => chmodSync(file, 0o600));
}

/**
 * Prepares the store's directory and database file: private, writable, created 0600
 * before SQLite opens it. Throws `StoreOpenError`.
 */
export function preparePrivateFiles(path: string): void {
  ensurePrivateDir(dirname(path));
  attempt('open for writing', path, () => closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600)));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) tighten(file);
}
