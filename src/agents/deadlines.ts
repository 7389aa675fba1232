/**
 * Run time limits on one timer for all runs, instead of a `setTimeout` per run: a run
 * is added with its deadline and deleted when it ends, and the single timer is armed for
 * the earliest deadline it knows of. Ended runs are not looked for when they leave; the
 * timer, when it fires, expires what is due and is armed again for the earliest deadline
 * left (with one timeout for every turn of an agent, that is about once per timeout, a
 * walk over the running turns).
 */

/** Something that ends at `deadline` (epoch ms) unless deleted first. */
export interface Expiring {
  readonly deadline: number;
  /** Called once, at or after the deadline, if still added. */
  expire(): void;
}

export interface Deadlines {
  add(entry: Expiring): void;
  delete(entry: Expiring): void;
  /** Entries still added. */
  readonly size: number;
}

/** The longest delay `setTimeout` takes (a longer one fires at once); farther deadlines re-arm. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export function createDeadlines(now: () => number = Date.now): Deadlines {
  const entries = new Set<Expiring>();
  let timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for. */
  let armedFor = Infinity;

  const arm = (deadline: number): void => {
    if (timer) clearTimeout(timer);
    armedFor = deadline;
    timer = setTimeout(fire, Math.min(MAX_DELAY_MS, Math.max(0, deadline - now())));
  };

  function fire(): void {
    timer = undefined;
    armedFor = Infinity;
    const at = now();
    let next = Infinity;
    for (const entry of entries) {
      if (entry.deadline <= at) {
        entries.delete(entry);
        entry.expire();
      } else if (entry.deadline < next) next = entry.deadline;
    }
    // `expire` may have added or deleted entries (and armed the timer) meanwhile.
    if (next !== Infinity && next < armedFor && entries.size > 0) arm(next);
  }

  return {
    add(entry) {
      entries.add(entry);
      if (entry.deadline < armedFor) arm(entry.deadline);
    },
    delete(entry) {
      entries.delete(entry);
      if (entries.size === 0 && timer) {
        clearTimeout(timer);
        timer = undefined;
        armedFor = Infinity;
      }
    },
    get size() {
      return entries.size;
    },
  };
}
