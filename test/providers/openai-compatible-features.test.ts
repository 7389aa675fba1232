/**
 * src/providers/openai-compatible: sampling parameters, tools, streamed tool calls, tool
 * history and images, driven directly against the fake OpenAI-compatible upstream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAICompatibleProvider } from '../../src/providers/openai-compatible/openai-compatible-provider.js';
import type { ModelEvent } from '../../src/domain/events.js';
import type { ResponseFormat, ToolChoice } from '../../src/domain/options.js';
import type { ModelProvider, ModelRequest } from '../../src/providers/types.js';
import { startFakeUpstream, type FakeUpstream, type UpstreamBehaviour } from '../helpers/fake-upstream.js';

const HI: ModelRequest['messages'] = [{ role: 'user', content: 'hi' }];
const WEATHER = {
  name: 'weather',
  description: 'Current weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((close) => close()));
});

async function fake(initial?: UpstreamBehaviour): Promise<FakeUpstream> {
  const upstream = await startFakeUpstream(initial);
  cleanups.push(() => upstream.close());
  return upstream;
}

function provider(upstream: FakeUpstream): ModelProvider {
  return createOpenAICompatibleProvider({ id: 'local', baseUrl: upstream.baseUrl, maxRetries: 0 });
}

async function collect(upstream: FakeUpstream, request: Partial<ModelRequest> = {}): Promise<ModelEvent[]> {
  const events: ModelEvent[] = [];
  const full: ModelRequest = { model: 'gpt-test', messages: HI, ...request };
  for await (const event of provider(upstream).stream(full, { signal: new AbortController().signal })) events.push(event);
  return events;
}

/** The body of the only request the upstream got. */
async function sent(request: Partial<ModelRequest>): Promise<Record<string, unknown>> {
  const upstream = await fake();
  await collect(upstream, request);
  expect(upstream.requests).toHaveLength(1);
  return upstream.requests[0]?.body ?? {};
}

const OPTIONAL_FIELDS = [
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'response_format',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
];

describe('parameters', () => {
  it('forwards every parameter as its Chat Completions field, the token limit as max_tokens', async () => {
    const body = await sent({
      parameters: {
        temperature: 0.3,
        topP: 0.9,
        maxTokens: 77,
        stop: ['END', '\n\n'],
        seed: 42,
        presencePenalty: 0.5,
        frequencyPenalty: -0.25,
        responseFormat: { type: 'json_schema', name: 'answer', description: 'The answer.', schema: { type: 'object' }, strict: true },
      },
    });
    expect(body).toMatchObject({
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 77,
      stop: ['END', '\n\n'],
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: -0.25,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', description: 'The answer.', schema: { type: 'object' }, strict: true },
      },
    });
    expect(body).not.toHaveProperty('max_completion_tokens');
  });

  it('keeps zero values, which are not defaults everywhere', async () => {
    const body = await sent({ parameters: { temperature: 0, seed: 0, presencePenalty: 0 } });
    expect(body).toMatchObject({ temperature: 0, seed: 0, presence_penalty: 0 });
  });

  it.each<[ResponseFormat, unknown]>([
    [{ type: 'text' }, { type: 'text' }],
    [{ type: 'json_object' }, { type: 'json_object' }],
    [{ type: 'json_schema', name: 'bare' }, { type: 'json_schema', json_schema: { name: 'bare' } }],
  ])('sends response format %j as %j', async (responseFormat, wire) => {
    expect((await sent({ parameters: { responseFormat } })).response_format).toEqual(wire);
  });

  it('sends none of the optional fields when the request sets none', async () => {
    const body = await sent({ parameters: {}, tools: [] });
    for (const field of OPTIONAL_FIELDS) expect(body).not.toHaveProperty(field);
    expect(body).toEqual({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
  });

  it('does not let parameters displace the streaming fields', async () => {
    const body = await sent({ parameters: { stop: [] } });
    expect(body).not.toHaveProperty('stop');
    expect(body.stream).toBe(true);
  });
});

describe('tools', () => {
  it('sends tools as functions, with only the fields given', async () => {
    const body = await sent({ tools: [WEATHER, { name: 'now' }] });
    expect(body.tools).toEqual([
      { type: 'function', function: WEATHER },
      { type: 'function', function: { name: 'now' } },
    ]);
  });

  it.each<[ToolChoice, unknown]>([
    ['none', 'none'],
    ['auto', 'auto'],
    ['required', 'required'],
    [{ name: 'weather' }, { type: 'function', function: { name: 'weather' } }],
  ])('sends tool choice %j as %j', async (toolChoice, wire) => {
    expect((await sent({ tools: [WEATHER], toolChoice })).tool_choice).toEqual(wire);
  });

  it.each([true, false])('sends parallelToolCalls %s as parallel_tool_calls', async (parallelToolCalls) => {
    const body = await sent({ tools: [WEATHER], parallelToolCalls });
    expect(body.parallel_tool_calls).toBe(parallelToolCalls);
    expect(body).not.toHaveProperty('tool_choice');
  });

  it('sends neither tool choice nor parallel_tool_calls without tools, which OpenAI rejects', async () => {
    const body = await sent({ toolChoice: 'required', parallelToolCalls: false });
    expect(body).not.toHaveProperty('tools');
    expect(body).not.toHaveProperty('tool_choice');
    expect(body).not.toHaveProperty('parallel_tool_calls');
  });
});

describe('streamed tool calls', () => {
  const calls = [
    { id: 'call_a', name: 'weather', arguments: '{"city":"Paris","units":"metric"}' },
    { id: 'call_b', name: 'time', arguments: '{"zone":"Europe/Zürich"}' },
  ];

  it('yields id and name first for each index, then fragments that join to the arguments', async () => {
    const upstream = await fake({ kind: 'tool_calls', calls, deltas: ['Checking.'], chunkSize: 5 });
    const events = await collect(upstream, { tools: [WEATHER] });
    expect(events[0]).toEqual({ type: 'delta', text: 'Checking.' });
    const parts = events.filter((e) => e.type === 'tool_call');
    for (const [index, call] of calls.entries()) {
      const mine = parts.filter((e) => e.index === index);
      expect(mine[0]).toEqual({ type: 'tool_call', index, id: call.id, name: call.name });
      expect(mine.slice(1).every((e) => e.id === undefined && e.name === undefined && e.arguments !== '')).toBe(true);
      expect(mine.map((e) => e.arguments ?? '').join('')).toBe(call.arguments);
      expect(mine.length).toBe(1 + Math.ceil(call.arguments.length / 5));
    }
    expect(events.slice(-2)).toEqual([
      { type: 'usage', usage: { promptTokens: 11, completionTokens: 3, totalTokens: 14 } },
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });

  it('yields exactly the events of a small call', async () => {
    const upstream = await fake({ kind: 'tool_calls', calls: [{ id: 'call_1', name: 'f', arguments: '{"a":1}' }], chunkSize: 4, usage: null });
    expect(await collect(upstream)).toEqual([
      { type: 'tool_call', index: 0, id: 'call_1', name: 'f' },
      { type: 'tool_call', index: 0, arguments: '{"a"' },
      { type: 'tool_call', index: 0, arguments: ':1}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });

  it('passes another finish reason through, as OpenAI sends `stop` for a forced call', async () => {
    const upstream = await fake({ kind: 'tool_calls', calls: [calls[0]!], finishReason: 'stop' });
    expect((await collect(upstream)).at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('numbers whole calls without an index in order, keeping their arguments on the first event', async () => {
    const upstream = await fake({ kind: 'tool_calls', calls, omitIndex: true, usage: null });
    expect(await collect(upstream)).toEqual([
      { type: 'tool_call', index: 0, id: 'call_a', name: 'weather', arguments: calls[0]!.arguments },
      { type: 'tool_call', index: 1, id: 'call_b', name: 'time', arguments: calls[1]!.arguments },
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });

  it('the fake answers a JSON request with message.tool_calls', async () => {
    const upstream = await fake({ kind: 'tool_calls', calls: [calls[0]!] });
    const response = await fetch(`${upstream.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', messages: HI }),
    });
    const body = (await response.json()) as { choices: { message: unknown; finish_reason: string }[] };
    expect(body.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'weather', arguments: calls[0]!.arguments } }],
      },
      finish_reason: 'tool_calls',
    });
  });
});

describe('tool history', () => {
  it('sends assistant tool calls as tool_calls and tool messages with their tool_call_id', async () => {
    const body = await sent({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
            { id: 'call_2', name: 'weather', arguments: '{"city":"Rome"}' },
          ],
        },
        { role: 'tool', content: 'sunny', toolCallId: 'call_1' },
        { role: 'tool', content: 'rainy', toolCallId: 'call_2' },
        { role: 'assistant', content: 'Let me also check Oslo.', toolCalls: [{ id: 'call_3', name: 'weather', arguments: '{"city":"Oslo"}' }] },
        { role: 'tool', content: 'snow', toolCallId: 'call_3' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', content: 'sunny', tool_call_id: 'call_1' },
      { role: 'tool', content: 'rainy', tool_call_id: 'call_2' },
      {
        role: 'assistant',
        content: 'Let me also check Oslo.',
        tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }],
      },
      { role: 'tool', content: 'snow', tool_call_id: 'call_3' },
    ]);
  });
});

describe('images', () => {
  const PNG = Buffer.from('\x89PNG\r\n\x1a\n fake image bytes \x00\xff', 'latin1').toString('base64');
  const JPEG = Buffer.from('\xff\xd8\xff\xe0 another one', 'latin1').toString('base64');

  it('sends a user message with images as a text part then image_url parts with data URLs', async () => {
    const body = await sent({
      messages: [
        { role: 'system', content: 'Describe images.' },
        {
          role: 'user',
          content: 'What is in these?',
          images: [
            { mimeType: 'image/png', data: PNG, detail: 'high' },
            { mimeType: 'image/jpeg', data: JPEG },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'system', content: 'Describe images.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } },
          { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${JPEG}` } },
        ],
      },
    ]);
  });

  it('sends no text part for an image without text, and plain string content without images', async () => {
    const body = await sent({
      messages: [
        { role: 'user', content: '', images: [{ mimeType: 'image/webp', data: PNG, detail: 'low' }] },
        { role: 'assistant', content: 'A picture.' },
        { role: 'user', content: 'Thanks', images: [] },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/webp;base64,${PNG}`, detail: 'low' } }] },
      { role: 'assistant', content: 'A picture.' },
      { role: 'user', content: 'Thanks' },
    ]);
  });
});
