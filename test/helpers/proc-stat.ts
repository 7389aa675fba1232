/**
 * CPU time of a process from `/proc/<pid>/stat` (Linux): what a child gateway spent,
 * measured from outside, so the test's own work is not counted.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** User + system CPU time of `pid` so far (or of its thread `tid`: the main thread's is the pid), in milliseconds. */
export function cpuMs(pid: number, tid?: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is the first, utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** Resident set size of `pid` now, in bytes (from `/proc/<pid>/status`). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/mu.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}
