import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TOKEN, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { readStream, streamedText } from '../helpers/read.js';

/** An upstream that streams two deltas and then drops the connection mid-reply. */
async function startBrokenUpstream(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const content of ['partial ', 'reply']) {
        res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`);
      }
      // Flush what was written, then cut the connection without finishing the stream.
      res.socket?.end(() => res.socket?.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('an upstream that fails after the stream has started', () => {
  let upstream: Awaited<ReturnType<typeof startBrokenUpstream>>;
  let gateway: TestGateway;
  beforeAll(async () => {
    upstream = await startBrokenUpstream();
    gateway = await startGateway({
      gateway: { auth: { token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
      models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl, maxRetries: 0 } } },
      agents: { list: [{ id: 'main', model: 'up/m' }] },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('streams what came, then a final error event and [DONE], never error text as content', async () => {
    const res = await postChat(gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { 'x-moltbot-session-key': 'agent:main:broken' });
    const stream = await readStream(res);
    expect(streamedText(stream)).toBe('partial reply');
    expect(stream.error).toMatchObject({ type: 'upstream_error' });
    expect(stream.chunks.some((c) => c.choices[0]?.finish_reason)).toBe(false);
    const [turn] = await gateway.store.loadTurns('main', 'agent:main:broken');
    expect(turn).toMatchObject({ status: 'error', input: [{ role: 'user', content: 'hi' }], reply: { role: 'assistant', content: 'partial reply' } });
  });

  it('answers JSON requests with a 502 and records the failed turn', async () => {
    const res = await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] }, { 'x-moltbot-session-key': 'agent:main:broken-json' });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('upstream_error');
    expect((await gateway.store.loadTurns('main', 'agent:main:broken-json'))[0]?.status).toBe('error');
  });
});
