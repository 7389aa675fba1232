/**
 * The OpenAI-compatible provider's transport: upstream connections are pooled (kept
 * alive across turns), and a pooled connection the upstream closed as it was reused is
 * retried on a new one even with `maxRetries: 0` (the request never arrived). Raw TCP
 * servers on 127.0.0.1, so each connection and what happens on it is the test's choice.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAICompatibleProvider } from '../../src/providers/openai-compatible/openai-compatible-provider.js';
import type { ModelEvent } from '../../src/domain/events.js';

const SSE_BODY = [
  { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
  { choices: [{ index: 0, delta: { content: 'pooled' }, finish_reason: null }] },
  { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
]
  .map((chunk) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', ...chunk })}\n\n`)
  .concat('data: [DONE]\n\n')
  .join('');
const RESPONSE = `HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: ${Buffer.byteLength(SSE_BODY)}\r\nConnection: keep-alive\r\n\r\n${SSE_BODY}`;

interface RawUpstream {
  baseUrl: string;
  /** Connections accepted so far. */
  connections: number;
  /** Complete requests answered so far. */
  answered: number;
  close(): Promise<void>;
}

/**
 * Answers each request (read up to its end by Content-Length) with RESPONSE, keeping the
 * connection open. With `dropReused`, a connection that already answered once is
 * destroyed as soon as its next request begins: what a server that timed out the idle
 * connection looks like to the client that reused it.
 */
async function startRawUpstream(options: { dropReused: boolean }): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, answered: 0 };
  const server: Server = createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let served = 0;
    let buffer = '';
    socket.on('data', (data) => {
      if (served > 0 && options.dropReused) {
        socket.destroy();
        return;
      }
      buffer += data.toString('latin1');
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/iu.exec(buffer.slice(0, end))?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      buffer = buffer.slice(end + 4 + length);
      served += 1;
      state.answered += 1;
      socket.write(RESPONSE);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get connections() {
      return state.connections;
    },
    get answered() {
      return state.answered;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function turn(provider: ReturnType<typeof createOpenAICompatibleProvider>): Promise<string> {
  const events: ModelEvent[] = [];
  for await (const event of provider.stream({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { signal: new AbortController().signal })) events.push(event);
  expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  return events.map((event) => (event.type === 'delta' ? event.text : '')).join('');
}

const upstreams: RawUpstream[] = [];
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((upstream) => upstream.close()));
});

describe('openai-compatible transport', () => {
  it('keeps the upstream connection alive across turns', async () => {
    const upstream = await startRawUpstream({ dropReused: false });
    upstreams.push(upstream);
    const provider = createOpenAICompatibleProvider({ id: 'raw', baseUrl: upstream.baseUrl, maxRetries: 0 });
    for (let i = 0; i < 10; i += 1) expect(await turn(provider)).toBe('pooled');
    expect(upstream.answered).toBe(10);
    // undici reuses a connection one event-loop turn after its reply ended (a server that
    // said keep-alive may still close it), so turns sent back to back take turns on two
    // connections: the pool, not one connection per turn.
    expect(upstream.connections).toBeLessThanOrEqual(2);
  });

  it('sends a request again on a new connection when the reused one was closed under it, even with maxRetries 0', async () => {
    const upstream = await startRawUpstream({ dropReused: true });
    upstreams.push(upstream);
    const provider = createOpenAICompatibleProvider({ id: 'raw', baseUrl: upstream.baseUrl, maxRetries: 0 });
    for (let i = 0; i < 3; i += 1) expect(await turn(provider)).toBe('pooled');
    // Turns 2 and 3 each found their pooled connection dropped and opened a new one.
    expect(upstream.answered).toBe(3);
    expect(upstream.connections).toBe(3);
  });
});
