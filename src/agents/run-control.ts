/**
 * A run's own abort: whoever creates a run owns its AbortController. It aborts when the
 * caller's signal does (`client`), when the agent's `timeoutSeconds` runs out (`timeout`)
 * or at the end of a shutdown's grace period (`shutdown`), and remembers why.
 */
export type AbortReason = 'client' | 'timeout' | 'shutdown';

export interface RunControl {
  /** Aborts with the run; the provider call and image fetches take it. */
  readonly signal: AbortSignal;
  /** Epoch ms when the run times out: retries never wait past it. */
  readonly deadline: number;
  abort(reason: AbortReason): void;
  /** Why the run was aborted, once it was. */
  readonly reason: AbortReason | undefined;
  /** Stops the timer and lets go of the caller's signal; call once the run has ended. */
  dispose(): void;
}

export function startRunControl(timeoutSeconds: number, callerSignal: AbortSignal): RunControl {
  const controller = new AbortController();
  const abort = (reason: AbortReason): void => controller.abort(reason);
  const onCallerAbort = (): void => abort('client');
  callerSignal.addEventListener('abort', onCallerAbort, { once: true });
  const timer = setTimeout(() => abort('timeout'), timeoutSeconds * 1000);
  if (callerSignal.aborted) abort('client');
  return {
    signal: controller.signal,
    deadline: Date.now() + timeoutSeconds * 1000,
    abort,
    get reason() {
      return controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined;
    },
    dispose() {
      clearTimeout(timer);
      callerSignal.removeEventListener('abort', onCallerAbort);
    },
  };
}
