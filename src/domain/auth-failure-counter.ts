/**
 * Failed-auth counting behind one small interface: in memory for one gateway (the SQLite
 * store: one gateway per state dir), in PostgreSQL for replicas (`sessions/postgres/
 * auth-failures.ts`), so a brute force spread over replicas is still blocked. Checking a
 * request never waits for I/O; only a failure may.
 */
import { createAuthLimiter, type AuthLimiterOptions } from './auth-limiter.js';

export interface AuthFailureCounter {
  /** Seconds the address must wait, from what this process knows (no I/O); 0 when it may try. */
  blockedFor(address: string): number;
  /**
   * Counts a failed attempt; resolves with the seconds the address was already blocked
   * for when it came (0: it was not, answer 401; else answer 429 with them).
   */
  failed(address: string): Promise<number>;
}

/** The in-memory counter of one process. */
export function memoryAuthFailureCounter(options: AuthLimiterOptions): AuthFailureCounter {
  const limiter = createAuthLimiter(options);
  return {
    blockedFor: (address) => limiter.blockedFor(address),
    async failed(address) {
      const before = limiter.blockedFor(address);
      if (before === 0) limiter.failed(address);
      return before;
    },
  };
}
