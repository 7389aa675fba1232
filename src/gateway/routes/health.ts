import type { Health, Readiness } from '../../../generated/client/types.gen.js';
import type { AgentCore } from '../../agents/core-api.js';
import { storeUnavailable, type GatewayError } from '../../domain/errors.js';
import type { HandlerResult, OperationHandler } from '../handler.js';

const HEALTHY: Health = { status: 'ok' };
const STORE_DOWN: Health = { status: 'degraded', store: 'unavailable' };
const READY: Readiness = { status: 'ready' };

/**
 * `GET /healthz`: a liveness check, 200 while the process serves HTTP; it says
 * `degraded` while the session store cannot be reached (turns answer 503 then; the
 * process needs no restart: it reconnects by itself). It asks the store nothing (no I/O)
 * and reveals nothing else.
 */
export function createHealthHandler(core: AgentCore): () => Promise<HandlerResult<'getHealth'>> {
  return async () => ({ kind: 'json', status: 200, body: core.storeHealth() === 'unavailable' ? STORE_DOWN : HEALTHY });
}

/**
 * Whether the gateway takes new turns now: undefined when it does, else the 503 that
 * says why (`draining` while it stops).
 */
export type ReadinessCheck = () => GatewayError | undefined;

/**
 * `GET /readyz`: 200 while the gateway takes new turns; 503 (with `Retry-After`) with
 * `draining` while `draining()` says so, else `store_unavailable` while the core's store
 * cannot be reached (what the last attempts found: no I/O here either).
 */
export function createReadinessHandler(core: AgentCore, draining: ReadinessCheck): OperationHandler<'getReadiness'> {
  return async () => {
    const problem = draining() ?? (core.storeHealth() === 'unavailable' ? storeUnavailable() : undefined);
    if (problem) throw problem;
    return { kind: 'json', status: 200, body: READY };
  };
}
