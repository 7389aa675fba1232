/**
 * Structured logs with pino: one JSON object per line on stderr (`time`, `level` as a
 * word, `message`, then fields), or pino-pretty's lines for a person at a terminal.
 * Secrets are removed by pino's `redact` paths (`authorization`, `cookie`, `token`,
 * `password`, `secret`, `apiKey` at the top level; the credentials of `headers`,
 * `req.headers` and `provider`), on top of the rule that callers never pass them.
 */
import { pino, type DestinationStream, type Logger as PinoLogger, type LoggerOptions as PinoOptions } from 'pino';

export type Logger = PinoLogger;
export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Fields that hold secrets, removed wherever a line has them: at the top level, and the
 * credentials of a `headers` (or `req.headers`) or `provider` object. Fixed paths only,
 * and few: a wildcard path (`*.token`) made every line cost 3x (21 against 7 us), and
 * each path is checked on every line.
 */
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'token',
  'password',
  'secret',
  'apiKey',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'provider.apiKey',
];

/**
 * `,"time":"<ISO 8601>"`, built once per millisecond: at thousands of lines a second,
 * formatting the date for each was 0.6% of the gateway's CPU.
 */
function isoTime(): () => string {
  let at = 0;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== at) {
      at = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
}

function options(level: LogLevel): PinoOptions {
  return {
    level,
    messageKey: 'message',
    base: undefined,
    timestamp: isoTime(),
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (tests capture them); stderr, batched (at most 10 ms), by default. */
  write?: (line: string) => void;
}

/** How long a line may wait for others before the batch is written. */
const FLUSH_MS = 10;
/** A batch this large is written at once. */
const FLUSH_CHARS = 64 * 1024;

/**
 * Lines for stderr, gathered and written together at most `FLUSH_MS` after the first of
 * them (or at `FLUSH_CHARS`): one write(2) for all the lines of that time. pino's own
 * asynchronous destination (sonic-boom) sent each write through libuv's thread pool
 * when the loop was not busy: at one request at a time that cost ~150-200 us of CPU per
 * request (two lines); one write per event-loop turn still cost a syscall per request
 * at one request at a time, and 1.7-2.5% of the gateway's CPU at 32 (`npm run bench`
 * scenario 8, decision record 0014). What is pending is written on exit, also after an
 * uncaught exception; only a SIGKILL (or the OOM killer) loses the last 10 ms of lines.
 */
function batchedStderr(): DestinationStream & { flush(): void } {
  let pending: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    chars = 0;
    process.stderr.write(text);
  };
  process.on('exit', flush);
  return {
    write(line: string) {
      pending.push(line);
      chars += line.length;
      if (chars >= FLUSH_CHARS) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, FLUSH_MS);
        // The exit handler writes what is left: a pending line never keeps the process up.
        timer.unref();
      }
    },
    flush,
  };
}

let stderrStream: (DestinationStream & { flush(): void }) | undefined;

/** A JSON logger; without `write`, to stderr (batched for at most 10 ms, flushed on exit). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream: DestinationStream = opts.write ? { write: opts.write } : (stderrStream ??= batchedStderr());
  return pino(options(opts.level ?? 'info'), stream);
}

/**
 * The logger `moltbot gateway` runs with: `pretty` (pino-pretty, loaded only then) or
 * `json`; by default pretty when stderr is a terminal, JSON otherwise.
 */
export async function openLogger(opts: { format?: LogFormat | undefined; level?: LogLevel | undefined }): Promise<Logger> {
  const format = opts.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const level = opts.level ?? 'info';
  if (format === 'json') return createLogger({ level });
  const { default: pretty } = await import('pino-pretty');
  return pino(options(level), pretty({ destination: 2, messageKey: 'message', colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l' }));
}

/** An unexpected error for the log: its name, message and stack (and its cause's), nothing else. */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const cause = err.cause instanceof Error ? { cause: `${err.cause.name}: ${err.cause.message}` } : {};
  return { error: `${err.name}: ${err.message}`, stack: err.stack, ...cause };
}
