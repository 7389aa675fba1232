/**
 * Retries of Anthropic requests by the gateway's own policy (`retry-policy.ts`), not the
 * SDK's: the SDK obeys any `retry-after` (up to 24 days) and knows nothing of the run's
 * deadline. The SDK client is built with `maxRetries: 0`; this loop retries what the
 * SDK would (connection errors and timeouts, 408, 409, 429, 5xx, `x-should-retry`),
 * before the first byte only: `messages.create` resolves once the stream has started.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
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

/** Runs `create` (one attempt), retrying failures the policy allows; rejects with the last failure. */
export async function withRetries<T>(create: () => Promise<T>, options: { maxRetries: number; signal: AbortSignal; deadline?: number | undefined }): Promise<T> {
  let spent = 0;
  for (let retry = 0; ; retry += 1) {
    try {
      return await abortable(create(), options.signal);
    } catch (err) {
      if (options.signal.aborted || retry >= options.maxRetries || !retryable(err)) throw err;
      const status = err instanceof Anthropic.APIError ? err.status : undefined;
      const wait = retryDelay({ retry, status, askedMs: askedWait(err), spentMs: spent, deadline: options.deadline });
      if (wait === undefined) throw err;
      spent += wait;
      await abortable(sleep(wait), options.signal);
    }
  }
}
