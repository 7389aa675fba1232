/**
 * Background retention: the gateway prunes its store by `session.retention` shortly after
 * it starts and then every `intervalMs`, one pass at a time. A pass deletes in small
 * batches and yields between them (`SessionStore.prune`), so requests are served
 * throughout.
 */
import type { PruneResult, SessionKind, SessionStore } from './store.js';

export const RETENTION_FIRST_DELAY_MS = 2_000;
export const RETENTION_INTERVAL_MS = 10 * 60_000;

export interface RetentionOptions {
  firstDelayMs?: number;
  intervalMs?: number;
  /** After each pass that deleted something: what, and how long the pass took. */
  onPruned?: (result: PruneResult, ms: number) => void;
  /** A pass that failed (the next one tries again). */
  onError?: (err: unknown) => void;
}

export interface Retention {
  /** Runs a pass now, unless one is running (then waits for that one). */
  runNow(): Promise<PruneResult | undefined>;
  /** Stops the timer, ends a pass in progress between two batches, and waits for it. */
  stop(): Promise<void>;
}

/** Starts background pruning; with no kind to prune (every period `forever`), nothing is scheduled. */
export function startRetention(store: SessionStore, periods: Partial<Record<SessionKind, number | undefined>>, options: RetentionOptions = {}): Retention {
  const olderThan: Partial<Record<SessionKind, number>> = {};
  for (const [kind, ms] of Object.entries(periods) as [SessionKind, number | undefined][]) if (ms !== undefined) olderThan[kind] = ms;
  const stopping = new AbortController();
  let current: Promise<PruneResult | undefined> | undefined;

  const pass = async (): Promise<PruneResult | undefined> => {
    const started = performance.now();
    try {
      const result = await store.prune({ olderThan, signal: stopping.signal });
      if (result.sessions > 0) options.onPruned?.(result, performance.now() - started);
      return result;
    } catch (err) {
      if (!stopping.signal.aborted) options.onError?.(err);
      return undefined;
    }
  };
  const runNow = (): Promise<PruneResult | undefined> => {
    if (stopping.signal.aborted || Object.keys(olderThan).length === 0) return Promise.resolve(undefined);
    current ??= pass().finally(() => {
      current = undefined;
    });
    return current;
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = (delay: number): void => {
    if (Object.keys(olderThan).length === 0) return;
    timer = setTimeout(() => {
      void runNow().then(() => {
        if (!stopping.signal.aborted) schedule(options.intervalMs ?? RETENTION_INTERVAL_MS);
      });
    }, delay);
    // Pruning never keeps the process alive.
    timer.unref();
  };
  schedule(options.firstDelayMs ?? RETENTION_FIRST_DELAY_MS);

  return {
    runNow,
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await current;
    },
  };
}
