/**
 * Retries of Anthropic requests by the gateway's own policy (`retry-policy.ts`), not the
 * SDK's: the SDK obeys any `retry-after` (up to 24 days) and knows nothing of the run's
 * deadline. The SDK client is built with `maxRetries: 0`; this loop retries what the
 * SDK would (connection errors and timeouts, 408, 409, 429, 5xx, `x-should-retry`),
 * before the first byte only: `messages.create` resolves once the stream has started.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
import type { UpstreamObserver } from '../../domain/telemetry.js';
import { abortable } from '../abortable.js';
import { askedWaitMs, retryDelay, retryableStatus } from '../retry-policy.js';

/** What an SDK error's answer asked to wait, in ms. */
export function askedWait(err: unknown): number | undefined {
  if (!(err instanceof Anthropic.APIError) || !err.headers) return undefined;
  const headers = err.headers;
  return askedWaitMs((name) => headers.get(name));
}

function retryable(err: unknown): boolean {
  if (err instanceof Anthropic.APIUserAbortError) return false;
  if (err instanceof Anthropic.APIConnectionError) return true;
  return err instanceof Anthropic.APIError && err.status !== undefined && retryableStatus(err.status, err.headers?.get('x-should-retry'));
}

/** An attempt's failure as an `UpstreamAttempt` status: the HTTP status, `timeout` or `error`. */
function failureStatus(err: unknown): string {
  if (err instanceof Anthropic.APIConnectionTimeoutError) return 'timeout';
  if (err instanceof Anthropic.APIError && err.status !== undefined) return String(err.status);
  return 'error';
}

/**
 * Runs `create` (one attempt), retrying failures the policy allows; rejects with the last
 * failure. `observer` is told of each attempt (until `create` resolves: the stream has
 * started, so `200`) and each retry.
 */
export async function withRetries<T>(
  create: () => Promise<T>,
  options: { maxRetries: number; signal: AbortSignal; deadline?: number | undefined; observer?: UpstreamObserver | undefined },
): Promise<T> {
  const { observer } = options;
  let spent = 0;
  for (let retry = 0; ; retry += 1) {
    const started = performance.now();
    try {
      const result = await abortable(create(), options.signal);
      observer?.attempt({ status: '200', seconds: (performance.now() - started) / 1000 });
      return result;
    } catch (err) {
      if (options.signal.aborted) throw err;
      const status = failureStatus(err);
      observer?.attempt({ status, seconds: (performance.now() - started) / 1000 });
      if (retry >= options.maxRetries || !retryable(err)) throw err;
      const wait = retryDelay({ retry, status: err instanceof Anthropic.APIError ? err.status : undefined, askedMs: askedWait(err), spentMs: spent, deadline: options.deadline });
      if (wait === undefined) throw err;
      observer?.retry({ retry, status, waitMs: wait });
      spent += wait;
      await abortable(sleep(wait), options.signal);
    }
  }
}
