import { hash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.js';

/** One-shot SHA-256 (half the cost of createHash().update().digest(), on every request). */
const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

/**
 * A bearer check for one secret. Both sides are hashed first so the comparison takes the
 * same time whatever the length or content of the presented value.
 */
export function createBearerCheck(secret: string): (authorization: string | undefined) => boolean {
  const expected = digest(secret);
  return (authorization) => {
    // The whole rest of the header is the secret: passwords may contain spaces.
    const match = authorization === undefined ? null : /^Bearer +(.*\S) *$/iu.exec(authorization);
    const presented = digest(match?.[1] ?? '');
    // Always compare, even without a token, so a missing header costs the same.
    return timingSafeEqual(presented, expected) && match !== null;
  };
}

/** 401 in OpenAI's shape; never says what was sent. */
export function unauthorized(): GatewayError {
  return new GatewayError({
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: "Missing or invalid bearer token: send 'Authorization: Bearer <token>' with the gateway's secret.",
    headers: { 'www-authenticate': 'Bearer' },
  });
}
