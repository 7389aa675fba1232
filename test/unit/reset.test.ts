/**
 * src/agents/reset.ts `isExpired`: `never`, `idle` (more than idleMinutes) and `daily`
 * (a local atHour:00 passed since the last activity), at the edges. Dates are local time.
 */
import { describe, expect, it } from 'vitest';
import { isExpired } from '../../src/agents/reset.js';

const at = (day: number, hour: number, minute = 0, second = 0, ms = 0): number => new Date(2025, 0, day, hour, minute, second, ms).getTime();
const MINUTE = 60_000;

describe('isExpired: never', () => {
  it('never expires, however old', () => {
    expect(isExpired(0, at(15, 12), { mode: 'never' })).toBe(false);
    expect(isExpired(at(1, 0), at(31, 23), { mode: 'never' })).toBe(false);
  });
});

describe('isExpired: idle', () => {
  const policy = { mode: 'idle', idleMinutes: 10 } as const;
  it.each([
    ['just now', 0, false],
    ['9 minutes', 9 * MINUTE, false],
    ['exactly idleMinutes', 10 * MINUTE, false],
    ['idleMinutes + 1 ms', 10 * MINUTE + 1, true],
    ['11 minutes', 11 * MINUTE, true],
    ['a day', 24 * 60 * MINUTE, true],
  ])('%s later → %s', (_name, elapsed, expired) => {
    expect(isExpired(at(15, 12), at(15, 12) + elapsed, policy)).toBe(expired);
  });

  it('accepts fractional minutes', () => {
    expect(isExpired(at(15, 12), at(15, 12) + 30_001, { mode: 'idle', idleMinutes: 0.5 })).toBe(true);
    expect(isExpired(at(15, 12), at(15, 12) + 30_000, { mode: 'idle', idleMinutes: 0.5 })).toBe(false);
  });
});

describe('isExpired: daily', () => {
  const policy = { mode: 'daily', atHour: 4 } as const;
  it.each([
    ['03:59:59.999 → 04:00 same day (boundary reached)', at(15, 3, 59, 59, 999), at(15, 4), true],
    ['03:30 → 04:30 same day', at(15, 3, 30), at(15, 4, 30), true],
    ['03:00 → 03:59 same day (boundary not yet reached)', at(15, 3), at(15, 3, 59), false],
    ['04:00 exactly → 23:59 same day', at(15, 4), at(15, 23, 59), false],
    ['04:30 → 23:59 same day', at(15, 4, 30), at(15, 23, 59), false],
    ['23:00 → 03:59 next day (before the next boundary)', at(15, 23), at(16, 3, 59), false],
    ['23:00 → 04:00 next day', at(15, 23), at(16, 4), true],
    ['04:00 → 03:59:59.999 next day', at(15, 4), at(16, 3, 59, 59, 999), false],
    ['04:00 → 04:00 next day', at(15, 4), at(16, 4), true],
    ['03:59 → 03:59 next day (yesterday 04:00 passed in between)', at(15, 3, 59), at(16, 3, 59), true],
    ['several days later', at(10, 12), at(15, 12), true],
  ])('%s → %s', (_name, updatedAt, now, expired) => {
    expect(isExpired(updatedAt, now, policy)).toBe(expired);
  });

  it('atHour 0 is local midnight', () => {
    const midnight = { mode: 'daily', atHour: 0 } as const;
    expect(isExpired(at(15, 23, 59), at(16, 0), midnight)).toBe(true);
    expect(isExpired(at(15, 0), at(15, 23, 59), midnight)).toBe(false);
  });

  it('atHour 23 is late evening', () => {
    const late = { mode: 'daily', atHour: 23 } as const;
    expect(isExpired(at(15, 22, 59), at(15, 23), late)).toBe(true);
    expect(isExpired(at(15, 23, 30), at(16, 22, 59), late)).toBe(false);
  });
});
