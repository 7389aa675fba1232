/**
 * Backpressure without leaks: a client that reads a 20 MB stream slowly makes the
 * gateway wait for the socket to drain hundreds of times; every wait must remove what
 * it added, so the response's listener counts stay flat and Node never warns about a
 * listener leak (MaxListenersExceededWarning).
 */
import { request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/app.js';
import { parseConfig, resolveGatewayConfig } from '../../src/config/load.js';
import { createServer, listen } from '../../src/gateway/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import { TEST_TOKEN } from '../helpers/gateway.js';
import { contentEvent, finishEvent, sseEvent, startScriptedUpstream, startSse, type ScriptedUpstream } from '../helpers/hostile-upstream.js';
import { readStream, streamedText } from '../helpers/read.js';

const MB = 1_000_000;
const DELTA = 'd'.repeat(4096);
const DELTAS = Math.ceil((20 * MB) / DELTA.length);

let upstream: ScriptedUpstream;
let server: Server;
let runtime: Runtime;
let url: string;
/** The server-side response of the chat request under test. */
let chatResponse: ServerResponse | undefined;

beforeAll(async () => {
  upstream = await startScriptedUpstream(({ res }) => {
    startSse(res, contentEvent(null));
    let sent = 0;
    const pump = (): void => {
      while (sent < DELTAS) {
        sent += 1;
        if (!res.write(contentEvent(DELTA))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end(finishEvent() + sseEvent('[DONE]'));
    };
    pump();
  });
  const file = {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl, maxRetries: 0 } } },
    agents: { list: [{ id: 'main', model: 'up/m' }] },
  };
  const config = resolveGatewayConfig(parseConfig(JSON.stringify(file), {}, 'test'), {}, {});
  runtime = await createRuntime(config, { store: openSqliteStore(join(mkdtempSync(join(tmpdir(), 'moltbot-state-')), 'sessions.sqlite')) });
  const app = await createServer(config, { core: runtime.core, logger: createLogger({ write: () => undefined }) });
  server = await listen(app, config, 0, '127.0.0.1');
  server.on('request', (req, res: ServerResponse) => {
    if (req.url === '/v1/chat/completions') chatResponse = res;
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await runtime.close();
  await upstream.close();
});

/** Streams a chat completion, reading one chunk every `pauseMs`, while `onChunk` observes. */
function slowStream(pauseMs: number, onChunk: () => void): Promise<string> {
  const body = JSON.stringify({ model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'a lot, slowly' }] });
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        onChunk();
        res.pause();
        setTimeout(() => res.resume(), pauseMs);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.end(body);
  });
}

describe('a slow reader of a 20 MB stream', () => {
  it('keeps the response listener counts flat, the gateway waits for drain hundreds of times, and no leak warning is raised', { timeout: 60_000 }, async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(`${warning.name}: ${warning.message}`);
    };
    process.on('warning', onWarning);
    const counts = { close: [] as number[], error: [] as number[], drain: [] as number[] };
    let drains = 0;
    let watched: ServerResponse | undefined;
    const raw = await slowStream(1, () => {
      const res = chatResponse;
      if (!res) return;
      if (watched !== res) {
        watched = res;
        res.on('drain', () => (drains += 1));
      }
      counts.close.push(res.listenerCount('close'));
      counts.error.push(res.listenerCount('error'));
      counts.drain.push(res.listenerCount('drain'));
    });
    process.off('warning', onWarning);
    const stream = await readStream(new Response(raw, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
    expect(streamedText(stream)).toBe(DELTA.repeat(DELTAS));
    const spread = (values: number[]): string => `${Math.min(...values)}-${Math.max(...values)}`;
    console.log(
      `[backpressure] ${(raw.length / MB).toFixed(1)} MB read slowly: ${drains} drain waits; listeners on the response: close ${spread(counts.close)}, error ${spread(counts.error)}, drain ${spread(counts.drain)}; warnings ${warnings.length}`,
    );
    // The test can fail: the gateway did wait for the socket, many times.
    expect(drains).toBeGreaterThan(100);
    for (const values of Object.values(counts)) expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(2);
    expect(warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([]);
  });
});
