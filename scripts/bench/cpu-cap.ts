/**
 * CPU caps for bench processes through the kernel's CFS bandwidth control (cgroup v1's
 * `cpu` controller or cgroup v2), so a scenario can make a gateway the bottleneck on a
 * machine whose few cores it otherwise shares with the load client and the database.
 * Needs a writable cgroup hierarchy (root in a container that grants it); `createCpuCap`
 * returns undefined when there is none, and the scenario says so.
 */
import { existsSync, mkdirSync, rmdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CpuCap {
  /** Moves `pid` (with its threads) into the group. */
  add(pid: number): void;
  /** Caps the group at `cores` CPUs (0.5 = half a core), or lifts the cap with `undefined`. */
  limit(cores: number | undefined): void;
  /** Moves the group's processes back to the root and removes the group. */
  remove(): void;
}

const PERIOD_US = 100_000;

function writable(dir: string): boolean {
  try {
    const probe = join(dir, `moltbot-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** A new CPU group named `name`, or undefined when this machine grants none. */
export function createCpuCap(name: string): CpuCap | undefined {
  const v1 = '/sys/fs/cgroup/cpu';
  const v2 = '/sys/fs/cgroup';
  const version = existsSync(join(v1, 'cpu.cfs_quota_us')) && writable(v1) ? 1 : existsSync(join(v2, 'cgroup.controllers')) && writable(v2) ? 2 : 0;
  if (version === 0) return undefined;
  const root = version === 1 ? v1 : v2;
  const dir = join(root, `${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  if (version === 2) {
    // The cpu controller must be enabled for the root's children (it may be already).
    try {
      writeFileSync(join(v2, 'cgroup.subtree_control'), '+cpu');
    } catch {
      // Already on, or not delegatable: writing cpu.max below fails then.
    }
  }
  const procs = join(dir, 'cgroup.procs');
  return {
    add(pid) {
      writeFileSync(procs, String(pid));
    },
    limit(cores) {
      if (version === 1) writeFileSync(join(dir, 'cpu.cfs_quota_us'), cores === undefined ? '-1' : String(Math.round(cores * PERIOD_US)));
      else writeFileSync(join(dir, 'cpu.max'), cores === undefined ? `max ${PERIOD_US}` : `${Math.round(cores * PERIOD_US)} ${PERIOD_US}`);
    },
    remove() {
      try {
        for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean)) writeFileSync(join(root, 'cgroup.procs'), pid);
        rmdirSync(dir);
      } catch {
        // Best effort: an empty group left behind is harmless.
      }
    },
  };
}
