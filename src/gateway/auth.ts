import { hash, timingSafeEqual } from 'node:crypto';

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

/**
 * A check of a secret presented as it is (the WebSocket `connect`'s `auth.token` or
 * `auth.password`), in constant time like the bearer check; undefined never matches.
 */
export function createSecretCheck(secret: string): (presented: string | undefined) => boolean {
  const expected = digest(secret);
  return (presented) => timingSafeEqual(digest(presented ?? ''), expected) && presented !== undefined;
}
