import { randomUUID } from 'node:crypto';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/u;

/** The client's `x-request-id` when it is sane (safe to log and echo), else a new one. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE.test(header) ? header : `req_${randomUUID().replaceAll('-', '')}`;
}
