import type { Health } from '../../../generated/client/types.gen.js';
import type { AgentCore } from '../../agents/core-api.js';
import type { HandlerResult } from '../handler.js';

const HEALTHY: Health = { status: 'ok' };
const STORE_DOWN: Health = { status: 'degraded', store: 'unavailable' };

/**
 * `GET /healthz`: a liveness check, 200 while the process serves HTTP; it says
 * `degraded` while the session store cannot be reached (turns answer 503 then; the
 * process needs no restart: it reconnects by itself). It asks the store nothing (no I/O)
 * and reveals nothing else.
 */
export function createHealthHandler(core: AgentCore): () => Promise<HandlerResult<'getHealth'>> {
  return async () => ({ kind: 'json', status: 200, body: core.storeHealth() === 'unavailable' ? STORE_DOWN : HEALTHY });
}
