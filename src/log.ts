/**
 * Minimal structured logging: one JSON line per event on stderr. Callers pass fields,
 * never secrets (auth headers and configured secrets are not logged anywhere).
 */
export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/** Writes to stderr; `quiet` drops `info` lines (tests, `moltbot agent`). */
export function createLogger(options: { quiet?: boolean } = {}): Logger {
  return {
    log(level, message, fields) {
      if (options.quiet && level === 'info') return;
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
    },
  };
}

/** Describes an unexpected error for the log: name, message and stack, no other fields. */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const cause = err.cause instanceof Error ? { cause: `${err.cause.name}: ${err.cause.message}` } : {};
  return { error: `${err.name}: ${err.message}`, stack: err.stack, ...cause };
}
