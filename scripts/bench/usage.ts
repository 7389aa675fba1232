/**
 * What processes use, read from /proc (Linux): CPU time per process and for the whole
 * machine, and a process's peak RSS sampled while a scenario runs.
 */
import { readFileSync } from 'node:fs';
import { rssMb, type Proc } from './procs.js';

/** CPU time a process has used so far in user space and in the kernel, seconds (Linux USER_HZ = 100). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** Busy (user + nice + system) seconds of the whole machine so far. */
export function machineBusySeconds(): number {
  const [user, nice, system] = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/u).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0)) / 100;
}

/** Samples a process's RSS every 100 ms until stopped; returns the highest sample, MB. */
export function sampleRss(proc: Proc): () => number {
  let peak = rssMb(proc.pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(proc.pid));
    } catch {
      // The process is gone: the run reports its failures.
    }
  }, 100);
  return () => {
    clearInterval(timer);
    return peak;
  };
}
