/**
 * How a transport tells the core its caller went away: the part of `AbortSignal` the core
 * uses. An `AbortSignal` is one; the HTTP edge uses `CallerGone` instead, since Node's
 * `AbortController` costs each request a signal built with a changed prototype (which V8
 * promotes out of the young generation) and EventTarget listeners, and the core's run
 * already has the one real signal a turn needs (for the provider's request).
 */
export interface CallerSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A `CallerSignal` its owner aborts once: listeners are called once, in order, then dropped. */
export class CallerGone implements CallerSignal {
  aborted = false;
  // One listener (a turn's run) is the common case: no array for it.
  private listeners: (() => void) | (() => void)[] | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    const { listeners } = this;
    if (listeners === undefined) this.listeners = listener;
    else if (typeof listeners === 'function') this.listeners = [listeners, listener];
    else listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const { listeners } = this;
    if (listeners === listener) this.listeners = undefined;
    else if (Array.isArray(listeners)) {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    }
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const { listeners } = this;
    this.listeners = undefined;
    if (typeof listeners === 'function') listeners();
    else if (listeners) for (const listener of listeners) listener();
  }
}
