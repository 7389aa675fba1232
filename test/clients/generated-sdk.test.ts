/**
 * The generated hey-api fetch SDK (generated/client) as a client of the real server.
 * Streaming uses the client's own SSE helper, `client.sse.post` (core/serverSentEvents):
 * the SDK generates no streaming function for createChatCompletion because the spec's
 * `text/event-stream` body is a plain string. Its events are typed by generated/streams.ts,
 * which `npm run generate` writes from the stream's `x-itemSchema`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, createConfig, type Client } from '../../generated/client/client/index.js';
import { createChatCompletion, getHealth } from '../../generated/client/sdk.gen.js';
import type {
  CreateChatCompletionRequest,
  CreateChatCompletionStreamResponse,
  ErrorResponse,
} from '../../generated/client/types.gen.js';
import { createChatCompletionStreamSentinels, type CreateChatCompletionStreamData } from '../../generated/streams.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { schemaProblems } from '../helpers/schemas.js';

let gateway: TestGateway;
let client: Client;
beforeAll(async () => {
  gateway = await startGateway();
  client = createClient(createConfig({ baseUrl: gateway.url }));
});
afterAll(() => gateway?.close());

const request = (content: string): CreateChatCompletionRequest => ({ model: 'moltbot', messages: [{ role: 'user', content }] });

describe('generated SDK against the real server', () => {
  it('getHealth', async () => {
    const { data, error, response } = await getHealth({ client });
    expect(error).toBeUndefined();
    expect(response.status).toBe(200);
    expect(data).toEqual({ status: 'ok' });
  });

  it('createChatCompletion with bearer auth completes a chat', async () => {
    const { data, error, response } = await createChatCompletion({ client, auth: gateway.token, body: request('hello from the sdk') });
    expect(error).toBeUndefined();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-moltbot-session-key')).toMatch(/^agent:main:/u);
    expect(schemaProblems('completion', data)).toEqual([]);
    expect(data?.choices[0]?.message.content).toBe('hello from the sdk');
  });

  it('a wrong token yields the typed 401 error with our error body', async () => {
    const result = await createChatCompletion({ client, auth: 'wrong-token', body: request('hi') });
    expect(result.data).toBeUndefined();
    expect(result.response.status).toBe(401);
    const error: ErrorResponse | undefined = result.error;
    expect(schemaProblems('error', error)).toEqual([]);
    expect(error?.error).toEqual({
      message: expect.any(String),
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    });
  });

  it('streams through the client SSE helper (client.sse.post)', async () => {
    const sseErrors: unknown[] = [];
    type StreamEvent = CreateChatCompletionStreamData | (typeof createChatCompletionStreamSentinels)[number];
    // The helper takes a map of status → payload (an object payload would be read as one).
    const { stream } = await client.sse.post<{ 200: StreamEvent }>({
      url: '/v1/chat/completions',
      security: [{ scheme: 'bearer', type: 'http' }],
      auth: gateway.token,
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: { ...request('one two three'), stream: true },
      // The helper retries failed connections forever by default.
      sseMaxRetryAttempts: 1,
      onSseError: (err) => sseErrors.push(err),
    });
    const events: StreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(sseErrors).toEqual([]);
    expect(events.at(-1)).toBe(createChatCompletionStreamSentinels[0]);
    const chunks = events.slice(0, -1).filter((event): event is CreateChatCompletionStreamResponse => typeof event !== 'string' && !('error' in event));
    expect(chunks).toHaveLength(events.length - 1);
    for (const chunk of chunks) {
      expect(schemaProblems('chunk', chunk), JSON.stringify(chunk)).toEqual([]);
      expect(chunk.id).toBe(chunks[0]?.id);
    }
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two three');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});
