/**
 * Small tmpfs mounts for tests of full and read-only file systems (tests run as root;
 * where mounting is not allowed the caller skips, saying why).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Remounts with other options, e.g. `ro` or `rw`. */
  remount(options: string): void;
  unmount(): void;
}

/** Mounts a tmpfs of `size` (e.g. `8m`) at a fresh directory, or returns why it cannot. */
export function mountTmpfs(size: string, options = ''): Tmpfs | { cannot: string } {
  const dir = mkdtempSync(join(tmpdir(), 'moltbot-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${options ? `,${options}` : ''}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { cannot: `mount -t tmpfs failed (${(err as Error).message.split('\n')[0]}); this test needs root with CAP_SYS_ADMIN` };
  }
  return {
    dir,
    remount(more) {
      execFileSync('mount', ['-o', `remount,${more}`, dir], { stdio: 'pipe' });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the file system holding `path` (a new file) until it has no byte left; returns the bytes written. */
export function fillUp(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8, 1]) {
      const block = Buffer.alloc(size, 0x78);
      for (;;) {
        try {
          written += writeSync(fd, block);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
