/**
 * A run's own abort, and the one `AbortController` a turn makes: it aborts when the
 * caller's signal does (`client`), when the agent's `timeoutSeconds` runs out (`timeout`,
 * on the core's shared deadline timer) or at the end of a shutdown's grace period
 * (`shutdown`), and remembers why. Its signal also ends an attempt alone, when the store
 * refuses the attempt's start (another process changed the session): the run then gets
 * a fresh signal for its next attempt (`nextAttempt`), which only such runs pay for.
 */
import type { CallerSignal } from '../domain/caller-signal.js';
import type { Deadlines, Expiring } from './deadlines.js';

export type AbortReason = 'client' | 'timeout' | 'shutdown';

export class RunControl implements Expiring {
  /** Epoch ms when the run times out: retries never wait past it. */
  readonly deadline: number;
  /** Why the run was aborted, once it was. */
  reason: AbortReason | undefined;
  private controller = new AbortController();
  private readonly onCallerAbort = (): void => this.abort('client');

  constructor(
    timeoutSeconds: number,
    private readonly caller: CallerSignal,
    private readonly deadlines: Deadlines,
  ) {
    this.deadline = Date.now() + timeoutSeconds * 1000;
    if (caller.aborted) this.abort('client');
    else caller.addEventListener('abort', this.onCallerAbort, { once: true });
    deadlines.add(this);
  }

  /** Aborts with the run or its current attempt; the provider call and image fetches take it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: AbortReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller.abort(reason);
  }

  /** The deadline passed (called by the shared timer). */
  expire(): void {
    this.abort('timeout');
  }

  /** Ends the attempt that was given `signal`, not the run: the store refused its start. */
  abandonAttempt(signal: AbortSignal): void {
    if (this.controller.signal === signal) this.controller.abort('conflict');
  }

  /** A fresh signal for the next attempt after an abandoned one (an aborted run keeps its aborted signal). */
  nextAttempt(): void {
    if (this.reason === undefined && this.controller.signal.aborted) this.controller = new AbortController();
  }

  /** Leaves the deadline timer and lets go of the caller's signal; call once the run has ended. */
  dispose(): void {
    this.deadlines.delete(this);
    this.caller.removeEventListener('abort', this.onCallerAbort);
  }
}
