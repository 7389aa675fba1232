import type { Health } from '../../../generated/client/types.gen.js';
import type { HandlerResult } from '../handler.js';

const HEALTHY: Health = { status: 'ok' };

/** `GET /healthz`: 200 while the process serves HTTP; reveals nothing else. */
export async function getHealth(): Promise<HandlerResult<'getHealth'>> {
  return { kind: 'json', status: 200, body: HEALTHY };
}
