/**
 * When to retry an upstream request, and after how long: the official OpenAI SDK's
 * rules with its caps, shared by every adapter. Retried before the first byte only: on
 * connection errors and timeouts, and on 408, 409, 429 and 5xx (or as `x-should-retry`
 * says). The wait is what the upstream asked (`retry-after-ms`, else `retry-after` in
 * seconds or as a date) when that is at most 60 s, else the SDK's backoff. The waits of
 * one turn add up to 60 s at most and never reach past the run's deadline; an upstream
 * that asks for more (a 429 asking for longer than 60 s, or a wait past what is left) is
 * not waited for: its answer is passed on at once, with what it asked, so neither the
 * gateway nor the client waits the same wait twice.
 */

/** Longest wait an upstream may ask for and be obeyed (openai-node's rule). */
export const MAX_ASKED_WAIT_MS = 60_000;
/** Most time spent waiting between the attempts of one turn. */
export const RETRY_BUDGET_MS = 60_000;

/** Whether an error status is worth another attempt, as the SDKs decide it. */
export function retryableStatus(status: number, shouldRetry: string | null | undefined): boolean {
  if (shouldRetry === 'true') return true;
  if (shouldRetry === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** What an answer asked the client to wait, in ms (`retry-after-ms`, else `retry-after`), if it said. */
export function askedWaitMs(header: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(header('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = header('retry-after');
  if (value === undefined || value === null) return undefined;
  const seconds = Number.parseFloat(value);
  if (!Number.isNaN(seconds)) return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The SDKs' backoff before retry number `retry` (0 first): 0.5 s doubling up to 8 s, minus up to 25% jitter. */
export function backoffMs(retry: number): number {
  return Math.min(0.5 * 2 ** retry, 8) * (1 - Math.random() * 0.25) * 1000;
}

export interface RetryInput {
  /** Which retry this would be (0 for the first). */
  retry: number;
  /** The failed answer's status; undefined for a connection error or timeout. */
  status?: number | undefined;
  /** What the answer asked to wait, in ms. */
  askedMs?: number | undefined;
  /** Waited so far on this turn's retries. */
  spentMs: number;
  /** Epoch ms when the run times out. */
  deadline?: number | undefined;
  now?: number;
}

/** How long to wait before the retry, or undefined when it must not be made (the failure is passed on now). */
export function retryDelay(input: RetryInput): number | undefined {
  const { askedMs } = input;
  let wait: number;
  if (askedMs !== undefined && askedMs <= MAX_ASKED_WAIT_MS) wait = askedMs;
  // Rate-limited for longer than the gateway waits: retrying sooner is pointless.
  else if (askedMs !== undefined && input.status === 429) return undefined;
  else wait = backoffMs(input.retry);
  if (input.spentMs + wait > RETRY_BUDGET_MS) return undefined;
  if (input.deadline !== undefined && (input.now ?? Date.now()) + wait >= input.deadline) return undefined;
  return wait;
}
