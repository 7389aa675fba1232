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
  server.on('request', (_req, res: ServerResponse) => {
    open.add(res);
    res.once('close', () => {
      open.delete(res);
      if (open.size === 0) onEmpty?.();
    });
  });
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
