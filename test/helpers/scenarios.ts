/**
 * Shared set-ups for the integration tests: a two-agent config (main on echo, beta on
 * a fake upstream), a base URL whose port is closed, and raw node:http requests for
 * what fetch cannot send (chunked bodies, bodies the server refuses before reading).
 */
import { request as httpRequest, type ClientRequest, type OutgoingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { GatewayFlags } from '../../src/config/load.js';
import type { ConfigFile } from '../../src/config/types.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { TEST_TOKEN, startGateway, type TestGateway } from './gateway.js';

export const MAIN_PROMPT = 'You are main.';
export const BETA_PROMPT = 'You are beta.';
/** The model name beta's provider is asked for (the part after `local/`). */
export const BETA_MODEL = 'gpt-test-model';

export interface TwoAgentOptions {
  apiKey?: string;
  betaPrompt?: string;
}

/**
 * Endpoint enabled, token auth with TEST_TOKEN, provider `local` pointing at
 * `upstreamBaseUrl` with no retries; agent `main` on echo and agent `beta` on `local`.
 */
export function twoAgentConfig(upstreamBaseUrl: string, options: TwoAgentOptions = {}): ConfigFile {
  return {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: {
      providers: {
        local: {
          api: 'openai-completions',
          baseUrl: upstreamBaseUrl,
          maxRetries: 0,
          ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
        },
      },
    },
    agents: {
      list: [
        { id: 'main', model: 'echo/echo', systemPrompt: MAIN_PROMPT },
        { id: 'beta', model: `local/${BETA_MODEL}`, systemPrompt: options.betaPrompt ?? BETA_PROMPT },
      ],
    },
  };
}

/** A `/v1` base URL on 127.0.0.1 whose port was just bound and released: nothing listens there. */
export async function closedPortBaseUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return `http://127.0.0.1:${port}/v1`;
}

export interface RawRequest {
  method?: string;
  headers?: OutgoingHttpHeaders;
  /**
   * The body. A Buffer is sent with its Content-Length; an array of Buffers is sent as
   * a chunked body (no Content-Length), one write per element, stopping early once the
   * server has answered.
   */
  body?: Buffer | Buffer[];
}

function drainedOrClosed(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/**
 * Sends one request with node:http and returns the answer as a fetch `Response`, so the
 * read helpers can validate it. Write errors after the server has answered (it may close
 * the connection on a refused body) are ignored; the answer is what counts.
 */
export function rawRequest(url: string, options: RawRequest = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method: options.method ?? 'POST', headers: options.headers ?? {}, agent: false });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
        }
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }));
      });
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const { body } = options;
    if (body === undefined) {
      req.end();
    } else if (Buffer.isBuffer(body)) {
      req.setHeader('content-length', body.length);
      req.end(body);
    } else {
      void (async () => {
        for (const chunk of body) {
          if (answered || req.destroyed) return;
          const ok = req.write(chunk);
          if (!ok) await drainedOrClosed(req);
        }
        if (!answered && !req.destroyed) req.end();
      })();
    }
  });
}

/** Headers for an authenticated JSON POST through rawRequest. */
export function jsonHeaders(token: string = TEST_TOKEN): OutgoingHttpHeaders {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

export interface TwoAgentSetup {
  upstream: FakeUpstream;
  gateway: TestGateway;
  close(): Promise<void>;
}

/** A fake upstream plus a gateway on `twoAgentConfig` pointing at it. */
export async function startTwoAgentGateway(
  options: TwoAgentOptions & { edit?: (file: ConfigFile) => void; flags?: GatewayFlags; env?: Record<string, string> } = {},
): Promise<TwoAgentSetup> {
  const upstream = await startFakeUpstream();
  const file = twoAgentConfig(upstream.baseUrl, options);
  options.edit?.(file);
  const gateway = await startGateway(file, { ...(options.flags ? { flags: options.flags } : {}), ...(options.env ? { env: options.env } : {}) });
  return {
    upstream,
    gateway,
    async close() {
      await gateway.close();
      await upstream.close();
    },
  };
}

/** The messages the fake upstream received in its `i`th request. */
export function upstreamMessages(upstream: FakeUpstream, i = 0): unknown[] {
  const request = upstream.requests[i];
  if (!request) throw new Error(`the upstream received ${upstream.requests.length} request(s), not ${i + 1}`);
  return request.body.messages as unknown[];
}
