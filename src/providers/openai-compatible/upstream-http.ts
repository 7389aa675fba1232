/**
 * POSTs a JSON body to an upstream over a keep-alive connection pool and returns the
 * response once a 2xx status and headers are in, retrying before the first byte the
 * way the official OpenAI SDKs do, with their caps (see `retry-policy.ts`). Written on `node:http` rather than through the
 * `openai` SDK's fetch: measured on this machine, fetch, its web streams and the SDK's
 * decoding cost ~900 µs of CPU per proxied turn, most of a gateway turn.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
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
  headers: OutgoingHttpHeaders;
}

export interface UpstreamClient {
  /**
   * POSTs `body` (JSON text) to `url`; resolves with the 2xx response, its body unread.
   * Retries never wait past `deadline` (epoch ms), when given. `observer` is told of
   * each attempt and retry; `extraHeaders` (trace context) go with every attempt.
   */
  post(url: URL, body: string, signal: AbortSignal, call?: { deadline?: number | undefined; observer?: UpstreamObserver | undefined; extraHeaders?: Readonly<Record<string, string>> | undefined }): Promise<IncomingMessage>;
}

/** Bytes of an error body read for its message; the rest is discarded. */
const ERROR_BODY_LIMIT = 64 * 1024;

/** A response header as one string (the last, if repeated). */
function header(res: IncomingMessage, name: string): string | undefined {
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

async function readText(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res as AsyncIterable<string>) {
    text += chunk;
    if (text.length >= ERROR_BODY_LIMIT) {
      res.destroy();
      break;
    }
  }
  return text;
}

type Attempt = { res: IncomingMessage } | { error: UpstreamConnectionError | UpstreamTimeoutError; reusedSocket: boolean };

export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  // One pool per provider. Node's agent drops an idle socket before the server's
  // `Keep-Alive: timeout=N` runs out; a socket closed under us anyway is retried below.
  // Idle sockets are all kept (Node keeps 256 by default): with more turns streaming at
  // once, every burst of replies ending would close the surplus and the next turns would
  // connect again. They are at most as many as ran at once, which the run limits bound.
  const pool = { keepAlive: true, maxFreeSockets: Infinity };
  const agents = { http: new HttpAgent(pool), https: new HttpsAgent(pool) };

  function attempt(url: URL, body: string, signal: AbortSignal, extraHeaders: Readonly<Record<string, string>> | undefined): Promise<Attempt> {
    return new Promise((resolve) => {
      const secure = url.protocol === 'https:';
      const req = (secure ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { ...extraHeaders, ...options.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal,
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, options.timeoutMs);
      req.once('response', (res) => {
        clearTimeout(timer);
        resolve({ res });
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        resolve({ error: timedOut ? new UpstreamTimeoutError() : new UpstreamConnectionError(err), reusedSocket: req.reusedSocket });
      });
      req.end(body);
    });
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
        const status = res.statusCode ?? 0;
        observer?.attempt({ status: String(status), seconds });
        if (status >= 200 && status < 300) return res;
        const asked = askedWaitMs((name) => header(res, name));
        const wait =
          retry < options.maxRetries && retryableStatus(status, header(res, 'x-should-retry'))
            ? retryDelay({ retry, status, askedMs: asked, spentMs: spent, deadline })
            : undefined;
        if (wait !== undefined) {
          observer?.retry({ retry, status: String(status), waitMs: wait });
          res.resume();
          spent += wait;
          await sleep(wait, undefined, { signal });
          continue;
        }
        throw new UpstreamStatusError(status, errorDetail(await readText(res)), asked);
      }
    },
  };
}
