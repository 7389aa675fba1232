/**
 * Bounds runs: at most `maxConcurrent` run at once and at most `maxQueued` more wait (in
 * a session lane or for a slot). Past that a turn is refused at once with 429 and a
 * `retryAfterSeconds`. A waiting turn whose client leaves is dropped. The core keeps one for
 * all sessions (`queue_full`) and one per provider that has a cap of its own
 * (`provider_queue_full`, built by `createProviderLimiter`).
 */
import type { CallerSignal } from '../domain/caller-signal.js';
import { atCapacity, RunAbortedError, type GatewayError } from '../domain/errors.js';

export interface Limiter {
  /** Admits a turn or throws 429; every admitted turn must call `leave` once. */
  admit(): void;
  leave(): void;
  /** Waits for a run slot in arrival order; resolves with the slot's release. */
  slot(signal: CallerSignal): Promise<() => void>;
  readonly running: number;
  readonly admitted: number;
}

export interface LimiterOptions {
  maxConcurrent: number;
  maxQueued: number;
  /** The 429 a turn past the queue gets; the gateway-wide `queue_full` by default. */
  refusal?: () => GatewayError;
}

/** A provider's own cap (`models.providers.<id>.maxConcurrent`): past its queue, 429 `provider_queue_full`. */
export function createProviderLimiter(providerId: string, limits: { maxConcurrent: number; maxQueued: number }): Limiter {
  return createLimiter({
    maxConcurrent: limits.maxConcurrent,
    maxQueued: limits.maxQueued,
    refusal: () => atCapacity('provider_queue_full', `The model provider '${providerId}'`, limits.maxConcurrent, limits.maxQueued),
  });
}

export function createLimiter(options: LimiterOptions): Limiter {
  const refusal = options.refusal ?? (() => atCapacity('queue_full', 'The gateway', options.maxConcurrent, options.maxQueued));
  let admitted = 0;
  let running = 0;
  const waiting: { grant: () => void }[] = [];

  const release = (): void => {
    running -= 1;
    const next = waiting.shift();
    if (next) next.grant();
  };
  const once = (fn: () => void): (() => void) => {
    let done = false;
    return () => {
      if (!done) {
        done = true;
        fn();
      }
    };
  };

  return {
    get running() {
      return running;
    },
    get admitted() {
      return admitted;
    },
    admit() {
      if (admitted >= options.maxConcurrent + options.maxQueued) throw refusal();
      admitted += 1;
    },
    leave() {
      admitted -= 1;
    },
    slot(signal) {
      if (signal.aborted) return Promise.reject(new RunAbortedError());
      if (running < options.maxConcurrent) {
        running += 1;
        return Promise.resolve(once(release));
      }
      return new Promise((resolve, reject) => {
        const entry = {
          grant: () => {
            signal.removeEventListener('abort', onAbort);
            running += 1;
            resolve(once(release));
          },
        };
        const onAbort = (): void => {
          const index = waiting.indexOf(entry);
          if (index >= 0) waiting.splice(index, 1);
          reject(new RunAbortedError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
      });
    },
  };
}
