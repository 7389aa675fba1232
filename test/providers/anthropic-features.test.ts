/**
 * src/providers/anthropic: which parameters reach the Messages API (and which do not),
 * tools and tool choice, streamed tool_use blocks, tool history and images, driven
 * directly against the fake Messages API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic/anthropic-provider.js';
import type { ModelEvent } from '../../src/domain/events.js';
import type { ToolChoice } from '../../src/domain/options.js';
import type { ModelRequest } from '../../src/providers/types.js';
import { startFakeAnthropic, type AnthropicBehaviour, type FakeAnthropic } from '../helpers/fake-anthropic.js';

const HI: ModelRequest['messages'] = [{ role: 'user', content: 'hi' }];
const WEATHER = {
  name: 'weather',
  description: 'Current weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((close) => close()));
});

async function fake(initial?: AnthropicBehaviour): Promise<FakeAnthropic> {
  const server = await startFakeAnthropic(initial);
  cleanups.push(() => server.close());
  return server;
}

async function collect(server: FakeAnthropic, request: Partial<ModelRequest> = {}, maxTokens?: number): Promise<ModelEvent[]> {
  const provider = createAnthropicProvider({ id: 'claude', baseUrl: server.baseUrl, apiKey: 'sk-ant-test', maxRetries: 0, maxTokens });
  const events: ModelEvent[] = [];
  const full: ModelRequest = { model: 'claude-test', messages: HI, ...request };
  for await (const event of provider.stream(full, { signal: new AbortController().signal })) events.push(event);
  return events;
}

/** The body of the only request the fake got. */
async function sent(request: Partial<ModelRequest>, maxTokens?: number): Promise<Record<string, unknown>> {
  const server = await fake();
  await collect(server, request, maxTokens);
  expect(server.requests).toHaveLength(1);
  return server.requests[0]?.body ?? {};
}

describe('parameters', () => {
  it('forwards maxTokens as max_tokens over the configured one, and stop as stop_sequences', async () => {
    const body = await sent({ parameters: { maxTokens: 77, stop: ['END', '\n\nHuman:'] } }, 1000);
    expect(body).toEqual({
      model: 'claude-test',
      max_tokens: 77,
      stop_sequences: ['END', '\n\nHuman:'],
      stream: true,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    });
  });

  it('sends the configured max_tokens when the request sets none', async () => {
    expect((await sent({ parameters: { stop: [] } }, 1000)).max_tokens).toBe(1000);
  });

  it('sends no sampling, seed, penalty or response format field, which API version 2026-10-21 rejects or lacks', async () => {
    const body = await sent({
      parameters: {
        temperature: 0.2,
        topP: 0.9,
        seed: 42,
        presencePenalty: 0.5,
        frequencyPenalty: 0.5,
        responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' } },
      },
    });
    expect(Object.keys(body).sort()).toEqual(['max_tokens', 'messages', 'model', 'stream']);
  });
});

describe('tools', () => {
  it('sends tools with input_schema, an empty object schema for a function without parameters, and strict when set', async () => {
    const body = await sent({ tools: [WEATHER, { name: 'now' }, { name: 'exact', parameters: { type: 'object' }, strict: true }] });
    expect(body.tools).toEqual([
      { name: 'weather', description: 'Current weather in a city.', input_schema: WEATHER.parameters },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
      { name: 'exact', input_schema: { type: 'object' }, strict: true },
    ]);
    expect(body).not.toHaveProperty('tool_choice');
  });

  it.each<[ToolChoice | undefined, boolean | undefined, unknown]>([
    ['auto', undefined, { type: 'auto' }],
    ['required', undefined, { type: 'any' }],
    ['none', undefined, { type: 'none' }],
    [{ name: 'weather' }, undefined, { type: 'tool', name: 'weather' }],
    ['auto', true, { type: 'auto' }],
    ['auto', false, { type: 'auto', disable_parallel_tool_use: true }],
    ['required', false, { type: 'any', disable_parallel_tool_use: true }],
    [{ name: 'weather' }, false, { type: 'tool', name: 'weather', disable_parallel_tool_use: true }],
    ['none', false, { type: 'none' }],
    [undefined, false, { type: 'auto', disable_parallel_tool_use: true }],
  ])('sends tool choice %j with parallelToolCalls %s as %j', async (toolChoice, parallelToolCalls, wire) => {
    const body = await sent({ tools: [WEATHER], ...(toolChoice === undefined ? {} : { toolChoice }), ...(parallelToolCalls === undefined ? {} : { parallelToolCalls }) });
    expect(body.tool_choice).toEqual(wire);
  });

  it('sends no tool_choice when parallel calls are allowed and no choice is made', async () => {
    expect(await sent({ tools: [WEATHER], parallelToolCalls: true })).not.toHaveProperty('tool_choice');
  });

  it('sends no tool_choice without tools', async () => {
    const body = await sent({ toolChoice: 'required', parallelToolCalls: false });
    expect(body).not.toHaveProperty('tools');
    expect(body).not.toHaveProperty('tool_choice');
  });
});

describe('streamed tool_use blocks', () => {
  const uses = [
    { id: 'toolu_a', name: 'weather', json: '{"city":"Paris","units":"metric"}', chunkSize: 6 },
    { id: 'toolu_b', name: 'time', json: '{"zone":"Europe/Zürich"}', chunkSize: 4 },
  ];

  it('yields each call as id and name, then fragments joining to its input, numbered from 0', async () => {
    const server = await fake({ kind: 'reply', deltas: ['Checking.'], toolUse: uses, stopReason: 'tool_use' });
    const events = await collect(server, { tools: [WEATHER] });
    expect(events[0]).toEqual({ type: 'delta', text: 'Checking.' });
    const parts = events.filter((e) => e.type === 'tool_call');
    // The text block is content block 0, so the calls are blocks 1 and 2 but tool calls 0 and 1.
    expect(new Set(parts.map((e) => e.index))).toEqual(new Set([0, 1]));
    for (const [index, use] of uses.entries()) {
      const mine = parts.filter((e) => e.index === index);
      expect(mine[0]).toEqual({ type: 'tool_call', index, id: use.id, name: use.name });
      expect(mine.slice(1).every((e) => e.id === undefined && e.name === undefined && e.arguments !== '')).toBe(true);
      expect(mine.map((e) => e.arguments ?? '').join('')).toBe(use.json);
      expect(mine.length).toBe(1 + Math.ceil(use.json.length / use.chunkSize));
    }
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
  });

  it('gives a call whose input streamed empty the arguments {}', async () => {
    const server = await fake({
      kind: 'reply',
      deltas: [],
      toolUse: [
        { id: 'toolu_1', name: 'now', json: '' },
        { id: 'toolu_2', name: 'f', json: '{"a":1}' },
      ],
      stopReason: 'tool_use',
      usage: { input_tokens: 5, output_tokens: 9 },
    });
    expect(await collect(server)).toEqual([
      { type: 'tool_call', index: 0, id: 'toolu_1', name: 'now' },
      { type: 'tool_call', index: 0, arguments: '{}' },
      { type: 'tool_call', index: 1, id: 'toolu_2', name: 'f' },
      { type: 'tool_call', index: 1, arguments: '{"a":1}' },
      { type: 'usage', usage: { promptTokens: 5, completionTokens: 9, totalTokens: 14 } },
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });
});

describe('tool history', () => {
  it('sends assistant tool calls as tool_use blocks and tool messages as tool_result blocks', async () => {
    const body = await sent({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'toolu_1', name: 'weather', arguments: '{"city":"Paris"}' }] },
        { role: 'tool', content: 'sunny', toolCallId: 'toolu_1' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
    ]);
  });
});

describe('images', () => {
  const PNG = Buffer.from('\x89PNG\r\n\x1a\n fake image bytes \x00\xff', 'latin1').toString('base64');
  const JPEG = Buffer.from('\xff\xd8\xff\xe0 another one', 'latin1').toString('base64');

  it('sends base64 image blocks before the text, without OpenAI detail', async () => {
    const body = await sent({
      messages: [
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
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
          { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: JPEG } },
          { type: 'text', text: 'What is in these?' },
        ],
      },
    ]);
  });

  it('sends only the image for an image without text', async () => {
    const body = await sent({ messages: [{ role: 'user', content: '', images: [{ mimeType: 'image/gif', data: PNG }] }] });
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/gif', data: PNG } }] }]);
  });
});
