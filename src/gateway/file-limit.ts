/**
 * Many clients run a gateway out of file descriptors before anything else: each client
 * connection is one, a running turn adds its upstream connection, and the store, logs
 * and Node itself need a few dozen. Out of descriptors, Node accepts and at once closes
 * every new connection, silently, and an upstream connection fails as if the provider
 * were down. So the gateway reads its open-file limit (Node raises the soft limit to
 * the hard one at start), warns at start-up when the run limits could need more, and
 * caps client connections below the limit (`server.maxConnections`), keeping room for
 * the upstream connections of running turns; a connection past the cap is closed and
 * the refusals are logged, naming the limit and how to raise it.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from '../observability/logger.js';

/** Descriptors kept for everything but connections: the store (3 per connection), logs, Node's own, a checkpoint worker. */
export const RESERVED_FILES = 64;
/** Refused connections are logged at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** The soft `RLIMIT_NOFILE` of this process, from /proc (Linux); undefined where unknown or unlimited. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const match = /^Max open files\s+(\d+)\s/mu.exec(text);
  return match ? Number(match[1]) : undefined;
}

export interface FileBudget {
  /** Descriptors the run limits can use at once: 2 per running turn, 1 per queued one, and the reserve. */
  needed: number;
  /** Client connections allowed: the limit less the reserve and the running turns' upstream connections. */
  maxConnections: number;
}

/**
 * How `fileLimit` descriptors are shared. Upstream connections get room for every running
 * turn, but never more than half of what is left, so clients are never starved by a
 * run limit set far above the file limit.
 */
export function fileBudget(fileLimit: number, limits: { maxConcurrent: number; maxQueued: number }): FileBudget {
  const available = Math.max(0, fileLimit - RESERVED_FILES);
  const upstream = Math.min(limits.maxConcurrent, Math.floor(available / 2));
  return {
    needed: 2 * limits.maxConcurrent + limits.maxQueued + RESERVED_FILES,
    maxConnections: Math.max(1, available - upstream),
  };
}

/** Applies the budget to a listening server: the start-up warning, the cap and the refusal log. */
export function guardFileLimit(
  server: Server,
  limits: { maxConcurrent: number; maxQueued: number },
  logger: Logger,
  fileLimit = openFileLimit(),
): FileBudget | undefined {
  if (fileLimit === undefined) return undefined;
  const budget = fileBudget(fileLimit, limits);
  const hint = 'raise the open-file limit (ulimit -n; LimitNOFILE= under systemd) or lower agents.defaults.maxConcurrent/maxQueued';
  if (fileLimit < budget.needed) {
    logger.warn(
      { openFileLimit: fileLimit, needed: budget.needed, maxConcurrent: limits.maxConcurrent, maxQueued: limits.maxQueued, maxConnections: budget.maxConnections, hint },
      'the open-file limit is below what the run limits can use',
    );
  }
  server.maxConnections = budget.maxConnections;
  // The first refusal is logged at once, later ones counted and logged every interval.
  let refused = 0;
  let timer: NodeJS.Timeout | undefined;
  const report = (): void => {
    timer = undefined;
    if (refused === 0) return;
    logger.warn({ refused, maxConnections: budget.maxConnections, openFileLimit: fileLimit, hint }, 'connections refused: the open-file limit is reached');
    refused = 0;
    timer = setTimeout(report, REFUSAL_LOG_INTERVAL_MS).unref();
  };
  server.on('drop', () => {
    refused += 1;
    if (!timer) report();
  });
  return budget;
}
