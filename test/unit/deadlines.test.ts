import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDeadlines, type Expiring } from '../../src/agents/deadlines.js';
import { CallerGone } from '../../src/domain/caller-signal.js';

describe('deadlines: one timer for every run time limit', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const entry = (deadline: number, expired: number[]): Expiring => ({ deadline, expire: () => expired.push(deadline) });

  it('expires each entry at its deadline, in any order of adding, and one deleted before never', () => {
    const deadlines = createDeadlines();
    const expired: number[] = [];
    const now = Date.now();
    const late = entry(now + 300, expired);
    const gone = entry(now + 200, expired);
    deadlines.add(late);
    deadlines.add(entry(now + 100, expired));
    deadlines.add(gone);
    deadlines.delete(gone);
    vi.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([now + 100]);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual([now + 100, now + 300]);
    expect(deadlines.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds no timer once every entry is deleted', () => {
    const deadlines = createDeadlines();
    const one = entry(Date.now() + 1000, []);
    deadlines.add(one);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.delete(one);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a deadline 30 days away (past setTimeout’s longest delay) does not expire early', () => {
    const deadlines = createDeadlines();
    const expired: number[] = [];
    const thirtyDays = 30 * 24 * 3600 * 1000;
    deadlines.add(entry(Date.now() + thirtyDays, expired));
    vi.advanceTimersByTime(thirtyDays - 1);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toHaveLength(1);
  });
});

describe('CallerGone', () => {
  it('calls each listener still added once, on the first abort only', () => {
    const gone = new CallerGone();
    const calls: string[] = [];
    const a = (): void => void calls.push('a');
    const b = (): void => void calls.push('b');
    const c = (): void => void calls.push('c');
    gone.addEventListener('abort', a);
    gone.addEventListener('abort', b);
    gone.addEventListener('abort', c);
    gone.removeEventListener('abort', b);
    gone.abort();
    gone.abort();
    expect(calls).toEqual(['a', 'c']);
    expect(gone.aborted).toBe(true);
    gone.addEventListener('abort', a);
    expect(calls).toEqual(['a', 'c']);
  });

  it('a lone listener removed is not called', () => {
    const gone = new CallerGone();
    let called = false;
    const listener = (): void => {
      called = true;
    };
    gone.addEventListener('abort', listener);
    gone.removeEventListener('abort', listener);
    gone.abort();
    expect(called).toBe(false);
  });
});
