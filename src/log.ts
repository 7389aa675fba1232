/**
 * Minimal structured logging: one JSON line per event. Callers pass fields, never
 * secrets (auth headers and configured secrets are not logged anywhere).
 */
export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` (e.g. the request id) to every line. */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** `warn` drops `info` lines (tests, `moltbot agent`). */
  minLevel?: LogLevel;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
}

const RANK: Record<LogLevel, number> = { info: 0, warn: 1, error: 2 };

export function createLogger(options: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const min = RANK[options.minLevel ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  return {
    log(level, message, fields) {
      if (RANK[level] < min) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...bound, ...fields })}\n`);
    },
    child(fields) {
      return createLogger(options, { ...bound, ...fields });
    },
  };
}

/** Describes an unexpected error for the log: name, message and stack, no other fields. */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const cause = err.cause instanceof Error ? { cause: `${err.cause.name}: ${err.cause.message}` } : {};
  return { error: `${err.name}: ${err.message}`, stack: err.stack, ...cause };
}
