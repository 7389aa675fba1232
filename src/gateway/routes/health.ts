import type { Health } from '../../../generated/client/types.gen.js';
import type { SessionStore } from '../../sessions/store.js';
import type { HandlerResult } from '../handler.js';

const HEALTHY: Health = { status: 'ok' };
const STORE_DOWN: Health = { status: 'degraded', store: 'unavailable' };

/**
 * `GET /healthz`: a liveness check, 200 while the process serves HTTP; it says
 * `degraded` while the session store cannot be reached (turns answer 503 then; the
 * process needs no restart: it reconnects by itself). It asks the store nothing (no I/O)
 * and reveals nothing else.
 */
export function createHealthHandler(store?: SessionStore): () => Promise<HandlerResult> {
  return async () => ({ kind: 'json', status: 200, body: store?.health() === 'unavailable' ? STORE_DOWN : HEALTHY });
}
