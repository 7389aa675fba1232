/**
 * POSTs a JSON body to an upstream over a keep-alive connection pool (undici's `Pool`)
 * and returns the response once a 2xx status and headers are in, retrying before the
 * first byte the way the official OpenAI SDKs do, with their caps (see
 * `retry-policy.ts`). Not through the `openai` SDK's fetch (docs/decisions/0005) and not
 * `node:http` (docs/decisions/0010): measured on this machine, the provider spends
 * ×0.70 the CPU per streamed turn on undici's `Pool` (237 → 182 µs).
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { buildConnector, Pool } from 'undici';
import type { UpstreamObserver } from '../../domain/telemetry.js';
import { askedWaitMs, retryDelay, retryableStatus } from '../retry-policy.js';

/** The upstream could not be reached, or the connection broke before a response. */
export class UpstreamConnectionError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'UpstreamConnectionError';
  }
}

/** No response headers within the timeout. */
export class UpstreamTimeoutError extends Error {
  constructor() {
    super('upstream did not answer in time');
    this.name = 'UpstreamTimeoutError';
  }
}

/**
 * A non-2xx answer; `detail` is the upstream's error message or the start of its body,
 * `retryAfterMs` what its `retry-after-ms` / `retry-after` asked, if anything.
 */
export class UpstreamStatusError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfterMs?: number,
  ) {
    super(`upstream answered ${status}`);
    this.name = 'UpstreamStatusError';
  }
}

export interface UpstreamClientOptions {
  /** Per attempt, until the response headers arrive. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Headers sent with every request (auth, user agent). */
  headers: Record<string, string>;
}

/** A 2xx answer: its status, headers (lower-case names) and body, unread. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export interface UpstreamClient {
  /**
   * POSTs `body` (JSON text) to `url`; resolves with the 2xx response, its body unread.
   * Retries never wait past `deadline` (epoch ms), when given. `observer` is told of
   * each attempt and retry; `extraHeaders` (trace context) go with every attempt.
   */
  post(url: URL, body: string, signal: AbortSignal, call?: { deadline?: number | undefined; observer?: UpstreamObserver | undefined; extraHeaders?: Readonly<Record<string, string>> | undefined }): Promise<UpstreamResponse>;
}

/** Bytes of an error body read for its message; the rest is discarded. */
const ERROR_BODY_LIMIT = 64 * 1024;

/** A response header as one string (the last, if repeated). */
function header(res: UpstreamResponse, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value.at(-1) : value;
}

/**
 * An HTML error page (a proxy's) as its words: tags dropped, spaces collapsed. A single
 * pass, so no input can make it slow (a regex over `<<<<...` is quadratic).
 */
function htmlText(html: string): string {
  let text = '';
  let inTag = false;
  for (const char of html) {
    if (char === '<') inTag = true;
    else if (inTag) {
      if (char === '>') {
        inTag = false;
        text += ' ';
      }
    } else text += char;
  }
  return text.replace(/\s+/gu, ' ').trim();
}

/** The upstream's own error message from a JSON body (OpenAI's or Ollama's shape), else the text. */
function errorDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    const { error } = parsed;
    if (typeof error === 'string') return error;
    if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message;
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON (an HTML error page, plain text): the text itself.
  }
  const trimmed = text.trim();
  return trimmed.startsWith('<') ? htmlText(trimmed) : trimmed;
}

async function readText(res: UpstreamResponse): Promise<string> {
  res.body.setEncoding('utf8');
  let text = '';
  for await (const chunk of res.body as AsyncIterable<string>) {
    text += chunk;
    if (text.length >= ERROR_BODY_LIMIT) {
      res.body.destroy();
      break;
    }
  }
  return text;
}

/** The error's code, or its cause's. */
function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    const { code } = e as NodeJS.ErrnoException;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Set on a socket's error: the bytes that socket had read when it broke. */
const BYTES_READ = Symbol('bytesRead');

function markBytesRead(this: Socket, err: Error): void {
  (err as Error & { [BYTES_READ]?: number })[BYTES_READ] = this.bytesRead;
}

/**
 * Whether a connection error (before any answer to this request) broke a connection that
 * had already carried answers: a pooled connection the upstream closed as it was reused,
 * to which the request never arrived. undici's own `SocketError` says what its socket had
 * read; a raw socket error (a reset) is marked by our connector (`markBytesRead`).
 */
function reused(err: unknown): boolean {
  const info = (err as { socket?: { bytesRead?: number } }).socket;
  const read = info?.bytesRead ?? (err as { [BYTES_READ]?: number })[BYTES_READ];
  return typeof read === 'number' && read > 0;
}

/**
 * undici, loaded on the first request to an upstream: its parser (WebAssembly) and
 * modules take ~15-20 MB of RSS, which a gateway that never proxies (the echo agent, an
 * Anthropic-only config) should not pay, nor any gateway before its first turn.
 */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = (): Promise<typeof import('undici')> => (undici ??= import('undici'));

type Attempt = { res: UpstreamResponse } | { error: UpstreamConnectionError | UpstreamTimeoutError; reusedSocket: boolean };

export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  const headers: Record<string, string> = Object.assign({}, options.headers, { 'content-type': 'application/json' });
  // One pool per origin (a provider has one). Its connections are not capped: idle ones
  // are all kept, as many as ran at once (which the run limits bound), so that a burst of
  // replies ending does not make the next turns connect again. undici closes an idle one
  // before the server's `Keep-Alive: timeout=N`; one closed under us anyway is resent below.
  const pools = new Map<string, Pool>();
  const poolFor = async (origin: string): Promise<Pool> => {
    let pool = pools.get(origin);
    if (!pool) {
      const { Pool, buildConnector } = await loadUndici();
      pool = pools.get(origin);
      if (pool) return pool;
      const connector = buildConnector({ timeout: options.timeoutMs });
      const connect: buildConnector.connector = (opts, callback) => {
        connector(opts, (...result) => {
          const socket = result[1];
          socket?.prependListener('error', markBytesRead);
          (callback as (...args: typeof result) => void)(...result);
        });
      };
      // `headersTimeout` is each attempt's wait for an answer (as `connect`'s is for the
      // connection); a streamed body takes as long as the model does, bounded by the run.
      pool = new Pool(origin, { connect, headersTimeout: options.timeoutMs, bodyTimeout: 0 });
      pools.set(origin, pool);
    }
    return pool;
  };

  async function attempt(url: URL, body: string, signal: AbortSignal, extraHeaders: Readonly<Record<string, string>> | undefined): Promise<Attempt> {
    try {
      const pool = pools.get(url.origin) ?? (await poolFor(url.origin));
      const res = await pool.request({ method: 'POST', path: `${url.pathname}${url.search}`, headers: extraHeaders ? Object.assign({}, extraHeaders, headers) : headers, body, signal });
      return { res: { status: res.statusCode, headers: res.headers, body: res.body } };
    } catch (err) {
      const code = errorCode(err);
      const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
      return { error: timedOut ? new UpstreamTimeoutError() : new UpstreamConnectionError(err), reusedSocket: !timedOut && reused(err) };
    }
  }

  return {
    async post(url, body, signal, call = {}) {
      const { deadline, observer } = call;
      /** Waited so far on retries of this request. */
      let spent = 0;
      for (let retry = 0; ; retry += 1) {
        const started = performance.now();
        const result = await attempt(url, body, signal, call.extraHeaders);
        signal.throwIfAborted();
        const seconds = (performance.now() - started) / 1000;
        if ('error' in result) {
          // A pooled connection the server closed as we reused it: the request never
          // arrived, so sending it again is safe and does not count as a retry.
          if (result.reusedSocket && result.error instanceof UpstreamConnectionError) {
            retry -= 1;
            continue;
          }
          const failure = result.error instanceof UpstreamTimeoutError ? 'timeout' : 'error';
          observer?.attempt({ status: failure, seconds });
          const wait = retry < options.maxRetries ? retryDelay({ retry, spentMs: spent, deadline }) : undefined;
          if (wait === undefined) throw result.error;
          observer?.retry({ retry, status: failure, waitMs: wait });
          spent += wait;
          await sleep(wait, undefined, { signal });
          continue;
        }
        const { res } = result;
        const { status } = res;
        observer?.attempt({ status: String(status), seconds });
        if (status >= 200 && status < 300) return res;
        const asked = askedWaitMs((name) => header(res, name));
        const wait =
          retry < options.maxRetries && retryableStatus(status, header(res, 'x-should-retry'))
            ? retryDelay({ retry, status, askedMs: asked, spentMs: spent, deadline })
            : undefined;
        if (wait !== undefined) {
          observer?.retry({ retry, status: String(status), waitMs: wait });
          res.body.resume();
          spent += wait;
          await sleep(wait, undefined, { signal });
          continue;
        }
        throw new UpstreamStatusError(status, errorDetail(await readText(res)), asked);
      }
    },
  };
}
