/**
 * Retries of the OpenAI-compatible provider (`maxRetries: 2`): only before the first
 * byte, on 429/5xx (honouring `retry-after`), never on other 4xx and never once the
 * stream has started.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamBehaviour } from '../helpers/fake-upstream.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { DEFAULT_REPLY, chat, lastContent, startCore, type CoreOptions, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
let broken: { close(): Promise<void> } | undefined;
afterEach(async () => {
  await setup?.close();
  await broken?.close();
  setup = undefined;
  broken = undefined;
});

function withRetries(baseUrl?: string): CoreOptions {
  return {
    edit: (file) => {
      const up = file.models?.providers?.up;
      if (up?.api !== 'openai-completions') throw new Error('provider up missing');
      file.models = { providers: { up: { ...up, maxRetries: 2, ...(baseUrl ? { baseUrl } : {}) } } };
    },
  };
}

const failure = (status: number, headers: Record<string, string> = {}): UpstreamBehaviour => ({
  kind: 'status',
  status,
  headers,
  body: { error: { message: `status ${status}`, type: 'server_error', param: null, code: null } },
});

describe('provider retries', () => {
  for (const status of [503, 429]) {
    it(`retries a ${status} with retry-after: 0 and succeeds`, async () => {
      setup = await startCore(withRetries());
      const { gateway, upstream } = setup;
      upstream.behaveOnce(failure(status, { 'retry-after': '0' }));
      const started = performance.now();
      const body = await readCompletion(await chat(gateway, { key: `agent:main:retry-${status}`, content: 'try' }));
      console.log(`[retries] ${status} then success took ${(performance.now() - started).toFixed(0)} ms`);
      expect(body.choices[0]?.message.content).toBe(DEFAULT_REPLY);
      expect(upstream.requests).toHaveLength(2);
      expect(upstream.requests.map(lastContent)).toEqual(['try', 'try']);
      expect((await gateway.store.loadTurns('main', `agent:main:retry-${status}`)).map((turn) => turn.status)).toEqual(['ok']);
    });
  }

  it('gives up after maxRetries retries: 3 requests, then 502', async () => {
    setup = await startCore(withRetries());
    const { gateway, upstream } = setup;
    upstream.behave(failure(503, { 'retry-after': '0' }));
    const error = await readError(await chat(gateway, { content: 'keep failing' }), 502);
    expect(error).toMatchObject({ type: 'upstream_error' });
    expect(error.message).toMatch(/503/u);
    expect(upstream.requests).toHaveLength(3);
  });

  it('does not retry a 400: 502 after a single request', async () => {
    setup = await startCore(withRetries());
    const { gateway, upstream } = setup;
    upstream.behaveOnce(failure(400));
    const error = await readError(await chat(gateway, { content: 'bad' }), 502);
    expect(error).toMatchObject({ type: 'upstream_error' });
    expect(error.message).toMatch(/400/u);
    expect(upstream.requests).toHaveLength(1);
  });

  it('obeys x-should-retry either way, as the official SDKs do', async () => {
    setup = await startCore(withRetries());
    const { gateway, upstream } = setup;
    // A 503 the upstream says not to retry: one request.
    upstream.behaveOnce(failure(503, { 'x-should-retry': 'false', 'retry-after': '0' }));
    expect((await readError(await chat(gateway, { content: 'no' }), 502)).message).toMatch(/503/u);
    expect(upstream.requests).toHaveLength(1);
    // A 400 it says to retry (after retry-after-ms: 0): two requests, then the reply.
    upstream.behaveOnce(failure(400, { 'x-should-retry': 'true', 'retry-after-ms': '0' }));
    const body = await readCompletion(await chat(gateway, { content: 'yes' }));
    expect(body.choices[0]?.message.content).toBe(DEFAULT_REPLY);
    expect(upstream.requests.slice(1).map(lastContent)).toEqual(['yes', 'yes']);
  });

  it('waits what retry-after-ms asks before retrying', async () => {
    setup = await startCore(withRetries());
    const { gateway, upstream } = setup;
    upstream.behaveOnce(failure(429, { 'retry-after-ms': '300' }));
    const started = performance.now();
    await readCompletion(await chat(gateway, { content: 'wait' }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(upstream.requests).toHaveLength(2);
  });

  it('does not retry once the stream has started (mid-stream failure)', async () => {
    let requests = 0;
    const server: Server = createServer((req, res) => {
      requests += 1;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'half ' }, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        // Flush what was written, then cut the connection mid-reply.
        res.socket?.end(() => res.socket?.destroy());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    broken = { close: () => new Promise((resolve) => server.close(() => resolve())) };
    setup = await startCore(withRetries(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`));

    const stream = await readStream(await chat(setup.gateway, { key: 'agent:main:mid-stream', content: 'go', stream: true }));
    expect(streamedText(stream)).toBe('half ');
    expect(stream.error).toMatchObject({ type: 'upstream_error' });
    expect(requests).toBe(1);
    expect((await setup.gateway.store.loadTurns('main', 'agent:main:mid-stream'))[0]).toMatchObject({ status: 'error', reply: { content: 'half ' } });
  });
});
