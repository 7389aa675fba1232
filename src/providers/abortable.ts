import { RunAbortedError } from '../domain/errors.js';

/**
 * Settles with `promise`, or rejects with `RunAbortedError` as soon as `signal` aborts.
 * SDKs sleep out an upstream's `retry-after` without watching the signal; this lets a
 * run end (client gone, timeout, shutdown) without waiting for that sleep.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new RunAbortedError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new RunAbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
