/**
 * Tracks responses still being written, so shutdown can let them finish (a stream's last
 * chunk and `[DONE]`, a 503) before closing the connections they run on.
 */
import type { Server, ServerResponse } from 'node:http';

export interface InFlight {
  /** Resolves when no response is in flight, or after `timeoutMs` at the latest. */
  settled(timeoutMs: number): Promise<void>;
}

export function trackInFlight(server: Server): InFlight {
  const open = new Set<ServerResponse>();
  let onEmpty: (() => void) | undefined;
  const track = (_req: unknown, res: ServerResponse): void => {
    open.add(res);
    res.once('close', () => {
      open.delete(res);
      if (open.size === 0) onEmpty?.();
    });
  };
  // Requests with `Expect: 100-continue` arrive as `checkContinue` instead of `request`.
  server.on('request', track);
  server.on('checkContinue', track);
  return {
    settled(timeoutMs) {
      if (open.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
