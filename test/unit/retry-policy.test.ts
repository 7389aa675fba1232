/** The retry policy shared by the adapters: openai-node's rules with their caps. */
import { describe, expect, it } from 'vitest';
import { MAX_ASKED_WAIT_MS, RETRY_BUDGET_MS, askedWaitMs, backoffMs, retryDelay, retryableStatus } from '../../src/providers/retry-policy.js';

const headers = (values: Record<string, string>) => (name: string) => values[name];

describe('askedWaitMs', () => {
  it('reads retry-after-ms first, then retry-after in seconds or as a date', () => {
    expect(askedWaitMs(headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(askedWaitMs(headers({ 'retry-after': '1.5' }))).toBe(1500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(askedWaitMs(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(30_000);
    expect(askedWaitMs(headers({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }), now)).toBe(0);
  });

  it('ignores what is not a wait', () => {
    expect(askedWaitMs(headers({}))).toBeUndefined();
    expect(askedWaitMs(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(askedWaitMs(headers({ 'retry-after': '-3' }))).toBeUndefined();
    expect(askedWaitMs(headers({ 'retry-after-ms': 'x', 'retry-after': '2' }))).toBe(2000);
  });
});

describe('retryableStatus', () => {
  it('408, 409, 429 and 5xx, unless x-should-retry says otherwise', () => {
    expect([400, 401, 404, 408, 409, 422, 429, 500, 503, 529].filter((s) => retryableStatus(s, undefined))).toEqual([408, 409, 429, 500, 503, 529]);
    expect(retryableStatus(400, 'true')).toBe(true);
    expect(retryableStatus(503, 'false')).toBe(false);
  });
});

describe('retryDelay', () => {
  it('obeys an asked wait of up to 60 s, 0 included', () => {
    expect(retryDelay({ retry: 0, status: 429, askedMs: 0, spentMs: 0 })).toBe(0);
    expect(retryDelay({ retry: 0, status: 429, askedMs: MAX_ASKED_WAIT_MS, spentMs: 0 })).toBe(MAX_ASKED_WAIT_MS);
  });

  it('a 429 asking for more than 60 s is not waited for: it is passed on', () => {
    expect(retryDelay({ retry: 0, status: 429, askedMs: 120_000, spentMs: 0 })).toBeUndefined();
  });

  it('another status asking for more than 60 s gets the backoff instead, as openai-node does', () => {
    const wait = retryDelay({ retry: 1, status: 503, askedMs: 120_000, spentMs: 0 }) as number;
    expect(wait).toBeGreaterThanOrEqual(750);
    expect(wait).toBeLessThanOrEqual(1000);
  });

  it('backoff: 0.5 s doubling to 8 s, minus up to 25%', () => {
    for (const [retry, max] of [[0, 500], [1, 1000], [2, 2000], [3, 4000], [4, 8000], [9, 8000]] as const) {
      for (let i = 0; i < 50; i += 1) {
        const wait = backoffMs(retry);
        expect(wait).toBeGreaterThanOrEqual(max * 0.75);
        expect(wait).toBeLessThanOrEqual(max);
      }
    }
  });

  it('at most 60 s of waiting in all for one turn', () => {
    expect(retryDelay({ retry: 1, status: 429, askedMs: 20_000, spentMs: 40_000 })).toBe(20_000);
    expect(retryDelay({ retry: 1, status: 429, askedMs: 20_001, spentMs: 40_000 })).toBeUndefined();
    expect(retryDelay({ retry: 3, spentMs: RETRY_BUDGET_MS })).toBeUndefined();
  });

  it('never waits past the run deadline', () => {
    expect(retryDelay({ retry: 0, status: 429, askedMs: 1000, spentMs: 0, now: 0, deadline: 1500 })).toBe(1000);
    expect(retryDelay({ retry: 0, status: 429, askedMs: 1500, spentMs: 0, now: 0, deadline: 1500 })).toBeUndefined();
    expect(retryDelay({ retry: 0, spentMs: 0, now: 0, deadline: 100 })).toBeUndefined();
  });
});
