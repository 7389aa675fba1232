/**
 * src/providers/anthropic: createAnthropicProvider driven directly against a real fake
 * Messages API server — what the upstream receives, what the provider yields, how
 * failures, aborts and retries come out.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError, RunAbortedError } from '../../src/domain/errors.js';
import { createAnthropicProvider, type AnthropicSettings } from '../../src/providers/anthropic/anthropic-provider.js';
import type { ModelEvent } from '../../src/domain/events.js';
import type { ModelProvider, ModelRequest } from '../../src/providers/types.js';
import { startFakeAnthropic, type AnthropicBehaviour, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { closedPortBaseUrl } from '../helpers/scenarios.js';

const API_KEY = 'sk-ant-secret-7f3a9c';
const SIMPLE: ModelRequest = { model: 'claude-test', messages: [{ role: 'user', content: 'hi' }] };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(cleanups.splice(0).map((close) => close()));
});

async function fake(initial?: AnthropicBehaviour): Promise<FakeAnthropic> {
  const server = await startFakeAnthropic(initial);
  cleanups.push(() => server.close());
  return server;
}

function provider(server: { baseUrl: string }, settings: Partial<AnthropicSettings> = {}): ModelProvider {
  return createAnthropicProvider({ id: 'claude', baseUrl: server.baseUrl, apiKey: API_KEY, maxRetries: 0, ...settings });
}

async function collect(p: ModelProvider, request: ModelRequest = SIMPLE, signal = new AbortController().signal): Promise<ModelEvent[]> {
  const events: ModelEvent[] = [];
  for await (const event of p.stream(request, { signal })) events.push(event);
  return events;
}

async function failure(p: ModelProvider, request: ModelRequest = SIMPLE, signal?: AbortSignal): Promise<unknown> {
  try {
    await collect(p, request, signal);
  } catch (err) {
    return err;
  }
  throw new Error('expected the stream to fail');
}

async function gatewayFailure(p: ModelProvider, request?: ModelRequest): Promise<GatewayError> {
  const err = await failure(p, request);
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('request sent to the Messages API', () => {
  it('posts a streaming request to /v1/messages with the configured key and model', async () => {
    const server = await fake();
    await collect(provider(server), SIMPLE);
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/v1/messages');
    // SDK 1.x sends an API key as a bearer token (API version 2026-10-21), not as x-api-key.
    expect(req?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req?.headers['x-api-key']).toBeUndefined();
    expect(req?.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/u);
    expect(req?.body).toEqual({
      model: 'claude-test',
      max_tokens: 4096,
      stream: true,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    });
  });

  it('sends the configured maxTokens', async () => {
    const server = await fake();
    await collect(provider(server, { maxTokens: 321 }));
    expect(server.requests[0]?.body.max_tokens).toBe(321);
  });

  it('joins system messages into `system` and sends alternating turns with tool_use and tool_result', async () => {
    const server = await fake();
    await collect(provider(server), {
      model: 'claude-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: 'Answer in English.' },
        { role: 'user', content: 'What is the weather in Paris and Rome?' },
        { role: 'user', content: 'Please check both.' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [
            { id: 'toolu_1', name: 'weather', arguments: '{"city":"Paris"}' },
            { id: 'toolu_2', name: 'weather', arguments: '{"city":"Rome"}' },
          ],
        },
        { role: 'tool', content: 'sunny', toolCallId: 'toolu_1' },
        { role: 'tool', content: 'rainy', toolCallId: 'toolu_2' },
        { role: 'user', content: 'Thanks!' },
        { role: 'assistant', content: 'You are welcome.' },
        { role: 'user', content: 'Bye.' },
      ],
    });
    const body = server.requests[0]?.body;
    expect(body?.system).toBe('Be brief.\n\nAnswer in English.');
    expect(body?.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is the weather in Paris and Rome?' },
          { type: 'text', text: 'Please check both.' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: 'rainy' },
          { type: 'text', text: 'Thanks!' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'You are welcome.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Bye.' }] },
    ]);
  });

  it('sends no empty text, keeps unparseable tool arguments as _raw, and omits an absent system', async () => {
    const server = await fake();
    await collect(provider(server), {
      model: 'claude-test',
      messages: [
        { role: 'system', content: '' },
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'toolu_a', name: 'noargs', arguments: '' },
            { id: 'toolu_b', name: 'broken', arguments: '{"city": "Par' },
            { id: 'toolu_c', name: 'scalar', arguments: '42' },
          ],
        },
        { role: 'tool', content: '', toolCallId: 'toolu_a' },
        { role: 'tool', content: 'ok', toolCallId: 'toolu_b' },
        { role: 'tool', content: 'ok', toolCallId: 'toolu_c' },
        { role: 'assistant', content: '   ' },
        { role: 'user', content: '' },
        { role: 'user', content: 'next' },
      ],
    });
    const body = server.requests[0]?.body;
    expect(body).not.toHaveProperty('system');
    expect(body?.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'go' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_a', name: 'noargs', input: {} },
          { type: 'tool_use', id: 'toolu_b', name: 'broken', input: { _raw: '{"city": "Par' } },
          { type: 'tool_use', id: 'toolu_c', name: 'scalar', input: { _raw: '42' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_a' },
          { type: 'tool_result', tool_use_id: 'toolu_b', content: 'ok' },
          { type: 'tool_result', tool_use_id: 'toolu_c', content: 'ok' },
          { type: 'text', text: 'next' },
        ],
      },
    ]);
  });
});

describe('credentials come from settings only', () => {
  // The SDK reads these when its client is constructed; vi.stubEnv restores them afterwards.
  function stubAnthropicEnvironment(): void {
    vi.stubEnv('ANTHROPIC_API_KEY', 'sk-ant-from-env');
    vi.stubEnv('ANTHROPIC_AUTH_TOKEN', 'token-from-env');
    vi.stubEnv('ANTHROPIC_CUSTOM_HEADERS', 'X-Leaked: from-env\nAuthorization: Bearer custom-from-env\nx-api-key: key-from-env');
  }

  it('sends the configured key, and nothing from ANTHROPIC_* variables', async () => {
    const server = await fake();
    stubAnthropicEnvironment();
    await collect(provider(server));
    const headers = server.requests[0]?.headers ?? {};
    expect(headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(headers['x-api-key']).toBeUndefined();
    expect(headers['x-leaked']).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain('from-env');
  });

  it('sends no credential at all when no key is configured', async () => {
    const server = await fake();
    stubAnthropicEnvironment();
    await collect(provider(server, { apiKey: undefined }));
    const headers = server.requests[0]?.headers ?? {};
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain('from-env');
  });
});

describe('events yielded', () => {
  it('yields the text deltas in order, then one usage, then finish', async () => {
    const server = await fake({ kind: 'reply', deltas: ['Hel', 'lo', ', ', 'world'], usage: { input_tokens: 12, output_tokens: 4 } });
    expect(await collect(provider(server))).toEqual([
      { type: 'delta', text: 'Hel' },
      { type: 'delta', text: 'lo' },
      { type: 'delta', text: ', ' },
      { type: 'delta', text: 'world' },
      { type: 'usage', usage: { promptTokens: 12, completionTokens: 4, totalTokens: 16 } },
      { type: 'finish', reason: 'stop' },
    ]);
  });

  it('counts cache reads and writes as prompt tokens', async () => {
    const server = await fake({
      kind: 'reply',
      usage: { input_tokens: 10, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000, output_tokens: 7 },
    });
    const events = await collect(provider(server));
    expect(events.filter((e) => e.type === 'usage')).toEqual([
      { type: 'usage', usage: { promptTokens: 1110, completionTokens: 7, totalTokens: 1117 } },
    ]);
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['pause_turn', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['some_future_reason', 'stop'],
  ])('maps stop_reason %s to finish %s', async (stopReason, finish) => {
    const server = await fake({ kind: 'reply', stopReason });
    const events = await collect(provider(server));
    expect(events.at(-1)).toEqual({ type: 'finish', reason: finish });
  });

  it('does not yield tool input deltas as text', async () => {
    const server = await fake({
      kind: 'reply',
      deltas: ['Let me check.'],
      toolUse: { id: 'toolu_9', name: 'weather', json: '{"city":"Oslo"}' },
      stopReason: 'tool_use',
    });
    const events = await collect(provider(server));
    expect(events.filter((e) => e.type === 'delta')).toEqual([{ type: 'delta', text: 'Let me check.' }]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
  });
});

describe('upstream failures', () => {
  it.each([
    [401, 'authentication_error'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
  ])('an upstream %i is a 502 naming the provider and status, without the key', async (status, errorType) => {
    const server = await fake({ kind: 'status', status, errorType, message: `rejected key ${API_KEY} for this request` });
    const err = await gatewayFailure(provider(server));
    expect(err.status).toBe(502);
    expect(err.type).toBe('upstream_error');
    expect(err.code).toBe('upstream_error');
    expect(err.message).toContain("'claude'");
    expect(err.message).toContain(String(status));
    expect(err.message).toContain('rejected key *** for this request');
    expect(err.message).not.toContain(API_KEY);
    expect(server.requests).toHaveLength(1);
  });

  it("truncates the upstream's message to 500 characters", async () => {
    const server = await fake({ kind: 'status', status: 400, errorType: 'invalid_request_error', message: 'x'.repeat(5000) });
    const err = await gatewayFailure(provider(server));
    expect(err.message.length).toBeLessThan(700);
    expect(err.message).toContain('x'.repeat(400));
    expect(err.message).not.toContain('x'.repeat(501));
  });

  it('a closed port is a 502 upstream_unavailable', async () => {
    const err = await gatewayFailure(provider({ baseUrl: await closedPortBaseUrl() }));
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_unavailable');
    expect(err.message).toContain("'claude'");
  });

  it('no answer within timeoutSeconds is a 504', async () => {
    const server = await fake({ kind: 'hold' });
    const err = await gatewayFailure(provider(server, { timeoutSeconds: 0.2 }));
    expect(err.status).toBe(504);
    expect(err.code).toBe('upstream_timeout');
    expect((await server.requests[0]?.closed)?.completed).toBe(false);
  });

  it('a connection that breaks off mid-stream is a 502, after the deltas that arrived', async () => {
    const server = await fake({ kind: 'partial', deltas: ['Hel'], then: 'destroy' });
    const iterator = provider(server).stream(SIMPLE, { signal: new AbortController().signal })[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: { type: 'delta', text: 'Hel' } });
    const err = await iterator.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_error' });
    expect((err as GatewayError).message).toContain("'claude' failed mid-reply");
  });

  it('a stream that ends cleanly without message_stop is a 502 upstream_incomplete', async () => {
    const server = await fake({ kind: 'partial', deltas: ['Hel'], then: 'end' });
    const err = await gatewayFailure(provider(server));
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_incomplete');
  });

  it('a message without a stop_reason is a 502 upstream_incomplete', async () => {
    const server = await fake({ kind: 'reply', stopReason: null });
    const err = await gatewayFailure(provider(server));
    expect(err.code).toBe('upstream_incomplete');
  });

  it('an error event mid-stream is a 502 with its message, without the key', async () => {
    const server = await fake({
      kind: 'partial',
      deltas: ['Hel'],
      then: 'error',
      error: { type: 'overloaded_error', message: `Overloaded (key ${API_KEY})` },
    });
    const err = await gatewayFailure(provider(server));
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_error');
    expect(err.message).toContain("'claude'");
    expect(err.message).toContain('overloaded_error: Overloaded (key ***)');
    expect(err.message).not.toContain(API_KEY);
  });
});

describe('abort', () => {
  it('before the upstream answers: RunAbortedError, and the upstream sees its request closed', async () => {
    const server = await fake({ kind: 'hold' });
    const controller = new AbortController();
    const pending = failure(provider(server), SIMPLE, controller.signal);
    await server.received(1);
    controller.abort();
    expect(await pending).toBeInstanceOf(RunAbortedError);
    expect(await server.requests[0]?.closed).toEqual({ completed: false });
  });

  it('mid-stream: RunAbortedError, and the upstream sees its request closed', async () => {
    const server = await fake({ kind: 'partial', deltas: ['first'], then: 'hold' });
    const controller = new AbortController();
    const iterator = provider(server).stream(SIMPLE, { signal: controller.signal })[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: { type: 'delta', text: 'first' } });
    controller.abort();
    await expect(iterator.next()).rejects.toBeInstanceOf(RunAbortedError);
    expect(await server.requests[0]?.closed).toEqual({ completed: false });
  });

  it('an already aborted signal sends nothing', async () => {
    const server = await fake();
    const controller = new AbortController();
    controller.abort();
    expect(await failure(provider(server), SIMPLE, controller.signal)).toBeInstanceOf(RunAbortedError);
    expect(server.requests).toHaveLength(0);
  });
});

describe('retries', () => {
  it('retries a 529 with retry-after: 0 once, then streams the reply', async () => {
    const server = await fake({ kind: 'reply', deltas: ['after', ' retry'] });
    server.queue({ kind: 'status', status: 529, errorType: 'overloaded_error', message: 'Overloaded', headers: { 'retry-after': '0' } });
    const events = await collect(provider(server, { maxRetries: 2 }));
    expect(events.filter((e) => e.type === 'delta').map((e) => (e.type === 'delta' ? e.text : ''))).toEqual(['after', ' retry']);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.body).toEqual(server.requests[0]?.body);
  });

  it('retries a 503 honouring retry-after-ms', async () => {
    const server = await fake();
    server.queue({ kind: 'status', status: 503, errorType: 'api_error', message: 'busy', headers: { 'retry-after-ms': '1' } });
    const events = await collect(provider(server, { maxRetries: 1 }));
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    expect(server.requests).toHaveLength(2);
  });

  it('does not retry with maxRetries: 0', async () => {
    const server = await fake();
    server.queue({ kind: 'status', status: 529, errorType: 'overloaded_error', message: 'Overloaded', headers: { 'retry-after': '0' } });
    const err = await gatewayFailure(provider(server, { maxRetries: 0 }));
    expect(err.status).toBe(502);
    expect(err.message).toContain('529');
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a 400', async () => {
    const server = await fake({ kind: 'status', status: 400, errorType: 'invalid_request_error', message: 'bad' });
    await gatewayFailure(provider(server, { maxRetries: 2 }));
    expect(server.requests).toHaveLength(1);
  });
});
