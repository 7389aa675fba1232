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
  /** Where lines go; stderr, batched per event-loop turn, by default. */
  write?: (line: string) => void;
}

/**
 * Lines for stderr, written together once per event-loop turn: one write(2) for many
 * request lines instead of a synchronous one each (a log line per request cost ~4% of
 * the CPU at c=32). What is pending is written on exit, including after an uncaught
 * exception; only a SIGKILL can lose the last turn's lines.
 */
function batchedStderr(): (line: string) => void {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    process.stderr.write(text);
  };
  process.on('exit', flush);
  return (line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}

let stderrWriter: ((line: string) => void) | undefined;

const RANK: Record<LogLevel, number> = { info: 0, warn: 1, error: 2 };

export function createLogger(options: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const min = RANK[options.minLevel ?? 'info'];
  const write = options.write ?? (stderrWriter ??= batchedStderr());
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
