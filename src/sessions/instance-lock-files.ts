/**
 * Instance liveness for the SQLite store, through lock files: each instance creates
 * `<state dir>/instances/<id>.lock` (0600), a tiny SQLite database it holds an exclusive
 * lock on (`locking_mode=EXCLUSIVE` + `BEGIN EXCLUSIVE`) for as long as it lives. The
 * lock is an OS file lock, so the kernel releases it when the process dies, even by
 * SIGKILL. Another process asks whether instance X lives by trying `BEGIN IMMEDIATE` on
 * X's file without waiting: SQLITE_BUSY means alive; getting the lock (or no file at
 * all) means dead, and the file is removed. A file is locked under a temporary name and
 * only then renamed into place (the lock stays with the file), so nobody ever finds an
 * instance's file before it is locked and takes a starting instance for a dead one.
 */
import { closeSync, existsSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { InstanceLiveness } from './instance-liveness.js';
import { ensurePrivateDir, storeOpenError } from './store-files.js';

const INSTANCE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/u;
const LOCK_FILE = /^([0-9a-f-]{36})\.lock$/u;
const UNFINISHED = /^[0-9a-f-]{36}\.lock\.new$/u;
/** A file still under its temporary name after this long belonged to a process that died starting. */
const UNFINISHED_MAX_AGE_MS = 10 * 60_000;

/** Whether the lock file at `path` is held by a live process; removes it when not. */
function lockHeld(path: string): boolean {
  let probe: Database.Database;
  try {
    probe = new Database(path, { fileMustExist: true, timeout: 0 });
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return true;
    // No file (removed by whoever found it dead, or never written): not alive.
    return false;
  }
  try {
    probe.exec('BEGIN IMMEDIATE');
    probe.exec('ROLLBACK');
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return true;
    // Removed while probed (its owner closed, or another process found it dead first):
    // SQLite then fails the lock with an I/O error (SQLITE_IOERR_FSTAT). Not alive.
    if (!existsSync(path)) return false;
    throw err;
  } finally {
    probe.close();
  }
  rmSync(path, { force: true });
  return false;
}

function removeIfOld(path: string): void {
  try {
    if (Date.now() - statSync(path).mtimeMs > UNFINISHED_MAX_AGE_MS) rmSync(path, { force: true });
  } catch {
    // Gone already.
  }
}

/**
 * Starts this process's instance: creates and locks its file in `dir` (created 0700),
 * and removes the files of instances found dead. Throws `StoreOpenError` when `dir`
 * cannot be written.
 */
export function holdInstanceLock(dir: string): InstanceLiveness {
  ensurePrivateDir(dir);
  const self = randomUUID();
  const path = join(dir, `${self}.lock`);
  const unfinished = `${path}.new`;
  let lock: Database.Database | undefined;
  try {
    closeSync(openSync(unfinished, 'wx', 0o600));
    lock = new Database(unfinished);
    // No journal file beside it: nothing is ever written, the lock is the point.
    lock.pragma('journal_mode = MEMORY');
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
    renameSync(unfinished, path);
  } catch (err) {
    lock?.close();
    rmSync(unfinished, { force: true });
    throw storeOpenError('create the instance lock', path, err);
  }
  const dead = new Set<string>();
  const alive = (id: string): boolean => {
    if (id === self) return true;
    // Ids come from the store: anything else is not ours to look up as a path.
    if (dead.has(id) || !INSTANCE_ID.test(id)) return false;
    if (lockHeld(join(dir, `${id}.lock`))) return true;
    dead.add(id);
    return false;
  };
  // Files of instances that died (SIGKILL, power loss) are cleared on the way in.
  for (const name of readdirSync(dir)) {
    const id = LOCK_FILE.exec(name)?.[1];
    if (id !== undefined && id !== self) alive(id);
    else if (UNFINISHED.test(name)) removeIfOld(join(dir, name));
  }
  return {
    self,
    instanceAlive: alive,
    close() {
      if (!lock?.open) return;
      lock.close();
      rmSync(path, { force: true });
    },
  };
}
