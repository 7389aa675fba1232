/**
 * src/agents/limiter.ts: admission up to maxConcurrent + maxQueued, then 429 with
 * Retry-After; run slots in arrival order; a waiter that aborts leaves the queue; a
 * provider's limiter refuses with its own code, naming the provider.
 */
import { describe, expect, it } from 'vitest';
import { createLimiter, createProviderLimiter } from '../../src/agents/limiter.js';
import { GatewayError, RunAbortedError } from '../../src/domain/errors.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const live = (): AbortSignal => new AbortController().signal;

function refusal(fn: () => void): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a 429, the turn was admitted');
}

describe('limiter', () => {
  it('admits maxConcurrent + maxQueued turns, then refuses with 429 queue_full and a retry-after', () => {
    const limiter = createLimiter({ maxConcurrent: 2, maxQueued: 1 });
    for (let i = 0; i < 3; i += 1) limiter.admit();
    expect(limiter.admitted).toBe(3);
    const error = refusal(() => limiter.admit());
    expect(error).toMatchObject({ status: 429, code: 'queue_full', type: 'invalid_request_error', retryable: true });
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(limiter.admitted).toBe(3);

    limiter.leave();
    expect(() => limiter.admit()).not.toThrow();
    expect(limiter.admitted).toBe(3);
  });

  it('maxQueued 0 admits exactly maxConcurrent', () => {
    const limiter = createLimiter({ maxConcurrent: 1, maxQueued: 0 });
    limiter.admit();
    expect(refusal(() => limiter.admit()).status).toBe(429);
  });

  it('grants slots up to maxConcurrent at once, then in arrival order', async () => {
    const limiter = createLimiter({ maxConcurrent: 1, maxQueued: 5 });
    const granted: string[] = [];
    const first = await limiter.slot(live());
    expect(limiter.running).toBe(1);
    const second = limiter.slot(live()).then((release) => (granted.push('second'), release));
    const third = limiter.slot(live()).then((release) => (granted.push('third'), release));
    await settle();
    expect(granted).toEqual([]);

    first();
    await settle();
    expect(granted).toEqual(['second']);
    expect(limiter.running).toBe(1);
    (await second)();
    await settle();
    expect(granted).toEqual(['second', 'third']);
    (await third)();
    expect(limiter.running).toBe(0);
  });

  it('a waiter that aborts leaves the queue: the slot goes to the next one', async () => {
    const limiter = createLimiter({ maxConcurrent: 1, maxQueued: 5 });
    const first = await limiter.slot(live());
    const leaving = new AbortController();
    const second = limiter.slot(leaving.signal);
    let thirdGranted = false;
    const third = limiter.slot(live()).then((release) => ((thirdGranted = true), release));
    leaving.abort();
    await expect(second).rejects.toBeInstanceOf(RunAbortedError);
    await settle();
    expect(thirdGranted).toBe(false);

    first();
    await settle();
    expect(thirdGranted).toBe(true);
    expect(limiter.running).toBe(1);
    (await third)();
    expect(limiter.running).toBe(0);
  });

  it('an already-aborted signal is refused without taking a slot', async () => {
    const limiter = createLimiter({ maxConcurrent: 1, maxQueued: 0 });
    await expect(limiter.slot(AbortSignal.abort())).rejects.toBeInstanceOf(RunAbortedError);
    expect(limiter.running).toBe(0);
    (await limiter.slot(live()))();
  });

  it('a slot released twice frees only one place', async () => {
    const limiter = createLimiter({ maxConcurrent: 2, maxQueued: 5 });
    const a = await limiter.slot(live());
    const b = await limiter.slot(live());
    let thirdGranted = false;
    let fourthGranted = false;
    void limiter.slot(live()).then(() => (thirdGranted = true));
    void limiter.slot(live()).then(() => (fourthGranted = true));
    a();
    a();
    await settle();
    expect([thirdGranted, fourthGranted]).toEqual([true, false]);
    expect(limiter.running).toBe(2);
    b();
    await settle();
    expect(fourthGranted).toBe(true);
  });

  it('a provider limiter admits its maxConcurrent + maxQueued, then refuses with 429 provider_queue_full naming the provider', async () => {
    const limiter = createProviderLimiter('local', { maxConcurrent: 2, maxQueued: 1 });
    for (let i = 0; i < 3; i += 1) limiter.admit();
    const error = refusal(() => limiter.admit());
    expect(error).toMatchObject({ status: 429, code: 'provider_queue_full', type: 'invalid_request_error', retryable: true });
    expect(error.message).toBe("The model provider 'local' is at capacity (2 running, 1 queued); retry after 1 s.");
    expect(error.retryAfterSeconds).toBe(1);

    // Two slots at once, the third waits for one of them, then goes.
    const first = await limiter.slot(live());
    await limiter.slot(live());
    let thirdGranted = false;
    const third = limiter.slot(live()).then((release) => ((thirdGranted = true), release));
    await settle();
    expect([limiter.running, thirdGranted]).toEqual([2, false]);
    first();
    await settle();
    expect([limiter.running, thirdGranted]).toEqual([2, true]);
    (await third)();
    limiter.leave();
    expect(() => limiter.admit()).not.toThrow();
  });

  it('the global refusal is queue_full and says the gateway is at capacity', () => {
    const limiter = createLimiter({ maxConcurrent: 3, maxQueued: 0 });
    for (let i = 0; i < 3; i += 1) limiter.admit();
    expect(refusal(() => limiter.admit()).message).toBe('The gateway is at capacity (3 running, 0 queued); retry after 1 s.');
  });
});
