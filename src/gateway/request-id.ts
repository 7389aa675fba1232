import { randomUUID } from 'node:crypto';
import { stringSchemas } from '../../generated/spec-constants.js';

/** The spec's request id (`components.schemas.RequestId`): safe to log and echo. */
const SANE = new RegExp(stringSchemas.RequestId.pattern, 'u');

/** The client's `x-request-id` when it is a `RequestId`, else a new one (which is one too). */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE.test(header) ? header : `req_${randomUUID().replaceAll('-', '')}`;
}
