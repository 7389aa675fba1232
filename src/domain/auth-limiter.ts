/**
 * Failed-auth rate limit per client address: after `maxFailures` failures within
 * `windowMs`, the address is blocked for `blockMs` (429 with `Retry-After`, even for a
 * correct secret). Memory is bounded: at most `maxTracked` addresses are remembered,
 * the least recently seen forgotten first, so rotating addresses cannot grow it.
 */
export interface AuthLimiterOptions {
  maxFailures: number;
  windowMs: number;
  blockMs: number;
  maxTracked: number;
  /** Addresses never limited (loopback, when configured). */
  exempt: (address: string) => boolean;
  now?: () => number;
}

export interface AuthLimiter {
  /** Seconds the address must wait, or 0 when it may try. */
  blockedFor(address: string): number;
  /** Records a failed attempt. */
  failed(address: string): void;
  /** Addresses currently remembered. */
  readonly size: number;
}

interface Entry {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/u;

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string): boolean {
  return LOOPBACK.test(address);
}

export function createAuthLimiter(options: AuthLimiterOptions): AuthLimiter {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  /** The entry, moved to the most-recent end of the map. */
  const touch = (address: string): Entry | undefined => {
    const entry = entries.get(address);
    if (entry) {
      entries.delete(address);
      entries.set(address, entry);
    }
    return entry;
  };

  return {
    get size() {
      return entries.size;
    },
    blockedFor(address) {
      if (options.exempt(address)) return 0;
      const entry = entries.get(address);
      const left = entry ? entry.blockedUntil - now() : 0;
      if (left <= 0) return 0;
      // A blocked address that keeps trying stays recent, so rotating others cannot evict it.
      touch(address);
      return Math.ceil(left / 1000);
    },
    failed(address) {
      if (options.exempt(address)) return;
      const at = now();
      let entry = touch(address);
      if (!entry || at - entry.windowStart >= options.windowMs) {
        entry = { windowStart: at, failures: 0, blockedUntil: entry?.blockedUntil ?? 0 };
        entries.delete(address);
        entries.set(address, entry);
      }
      entry.failures += 1;
      if (entry.failures >= options.maxFailures) {
        entry.blockedUntil = at + options.blockMs;
        entry.failures = 0;
        entry.windowStart = at;
      }
      while (entries.size > options.maxTracked) {
        const oldest = entries.keys().next().value as string;
        entries.delete(oldest);
      }
    },
  };
}
