/** Session reset policy: when a key's transcript is too old to continue. */
import type { ResetPolicy } from '../config/types.js';

/** The latest local `hour:00` at or before `now`. */
function lastBoundary(now: number, hour: number): number {
  const boundary = new Date(now);
  boundary.setHours(hour, 0, 0, 0);
  if (boundary.getTime() > now) boundary.setDate(boundary.getDate() - 1);
  return boundary.getTime();
}

/**
 * True when a transcript last active at `updatedAt` must not be continued at `now`:
 * `daily` — a local `atHour:00` has passed since; `idle` — more than `idleMinutes` passed.
 */
export function isExpired(updatedAt: number, now: number, policy: ResetPolicy): boolean {
  switch (policy.mode) {
    case 'never':
      return false;
    case 'idle':
      return now - updatedAt > policy.idleMinutes * 60_000;
    case 'daily':
      return updatedAt < lastBoundary(now, policy.atHour);
  }
}
