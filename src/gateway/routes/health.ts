import type { Health, Readiness } from '../../../generated/client/types.gen.js';
import type { GatewayError } from '../../domain/errors.js';
import type { HandlerResult, OperationHandler } from '../handler.js';

const HEALTHY: Health = { status: 'ok' };
const READY: Readiness = { status: 'ready' };

/** `GET /healthz`: 200 while the process serves HTTP; reveals nothing else. */
export async function getHealth(): Promise<HandlerResult<'getHealth'>> {
  return { kind: 'json', status: 200, body: HEALTHY };
}

/**
 * Whether the gateway takes new turns now: undefined when it does, else the 503 that
 * says why (`draining`, or the store's own error while it cannot be reached).
 */
export type ReadinessCheck = () => GatewayError | undefined;

/** `GET /readyz`: 200 while `check` finds nothing wrong, else its error (503 with `Retry-After`). */
export function createReadinessHandler(check: ReadinessCheck): OperationHandler<'getReadiness'> {
  return async () => {
    const problem = check();
    if (problem) throw problem;
    return { kind: 'json', status: 200, body: READY };
  };
}
