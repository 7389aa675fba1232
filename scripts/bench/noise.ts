/**
 * How much CPU did anything outside the benchmark take while it measured? On a shared
 * 2-core machine another test run can halve a number; the report should say so rather
 * than let the number pass for the gateway's. From /proc: the machine's busy time
 * (/proc/stat user + nice + system) minus the CPU time of our own process group (every
 * member's own time plus that of its reaped children: the driver reaps the targets, so
 * their time stays counted after they exit). Also the hypervisor's `steal`: time this
 * VM wanted a CPU and did not get one. Approximate (interrupt time is left out of both
 * sides); Linux only, elsewhere it reports nothing.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Linux reports CPU times in USER_HZ ticks, 100 per second on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

type Snapshot = { at: number; busy: number; steal: number; own: number } | undefined;

/** Fields of /proc/<pid>/stat after the `(comm)` field, which may itself contain spaces. */
function statFields(pid: string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

// Indexes into statFields (stat field number minus 3): pgrp 5, utime 14, stime 15,
// cutime 16, cstime 17.
const PGRP = 2;
const TIMES = [11, 12, 13, 14];

export function snapshot(): Snapshot {
  try {
    const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const [user, nice, system, , , , , steal] = cpuLine.trim().split(/\s+/u).slice(1).map(Number);
    const group = statFields('self')?.[PGRP];
    let own = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/u.test(pid)) continue;
      const fields = statFields(pid);
      if (fields && fields[PGRP] === group) own += TIMES.reduce((sum, i) => sum + Number(fields[i]), 0);
    }
    return { at: performance.now(), busy: (user ?? 0) + (nice ?? 0) + (system ?? 0), steal: steal ?? 0, own };
  } catch {
    return undefined;
  }
}

/** Cores kept busy by others (and stolen by the hypervisor) between two snapshots, on average. */
export function foreignLoad(before: Snapshot, after: Snapshot): { cores: number; steal: number } | undefined {
  if (!before || !after) return undefined;
  const seconds = (after.at - before.at) / 1000;
  if (seconds <= 0) return undefined;
  const others = after.busy - before.busy - (after.own - before.own);
  return { cores: Math.max(0, others) / TICKS_PER_SECOND / seconds, steal: (after.steal - before.steal) / TICKS_PER_SECOND / seconds };
}
