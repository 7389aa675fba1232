/**
 * `stream_options.include_usage`: every chunk carries `usage: null` and one last chunk
 * before `[DONE]` has `choices: []` and the usage the provider reported (echo's word
 * counts; the fake upstream's numbers). Without it no chunk has a `usage` key and there
 * is no empty-choices chunk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import { postChat } from '../helpers/gateway.js';
import { readCompletion, readStream, streamedText, type ReadStream } from '../helpers/read.js';

let setup: FeatureSetup;
beforeAll(async () => {
  setup = await startFeatureGateway();
});
afterAll(() => setup.close());

// Echo counts words: "You are main." (3) + "one two three" (3) sent, "one two three" (3) back.
const ECHO_USAGE = { prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 };
const UPSTREAM_USAGE = { prompt_tokens: 123, completion_tokens: 45, total_tokens: 168 };

const ask = (model: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model,
  stream: true,
  messages: [{ role: 'user', content: 'one two three' }],
  ...extra,
});

function expectUsageChunks(stream: ReadStream, usage: unknown): void {
  const { chunks } = stream;
  expect(chunks.length).toBeGreaterThanOrEqual(3);
  const last = chunks.at(-1);
  expect(last?.choices).toEqual([]);
  expect(last?.usage).toEqual(usage);
  for (const chunk of chunks.slice(0, -1)) {
    expect(chunk).toHaveProperty('usage');
    expect(chunk.usage).toBeNull();
    expect(chunk.choices).toHaveLength(1);
  }
  // The finish chunk comes right before the usage chunk.
  expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
  expect(stream.raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
}

function expectNoUsage(stream: ReadStream): void {
  for (const chunk of stream.chunks) {
    expect(chunk).not.toHaveProperty('usage');
    expect(chunk.choices).toHaveLength(1);
  }
  expect(stream.chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
}

describe('include_usage: true', () => {
  it('echo: usage null on every chunk, then choices [] with the word counts', async () => {
    const stream = await readStream(await postChat(setup.gateway, ask('moltbot', { stream_options: { include_usage: true } })));
    expect(streamedText(stream)).toBe('one two three');
    expectUsageChunks(stream, ECHO_USAGE);
  });

  it('upstream: the usage chunk carries the numbers the upstream reported', async () => {
    setup.upstream.behaveOnce({ kind: 'reply', deltas: ['up', 'stream'], usage: UPSTREAM_USAGE });
    const stream = await readStream(await postChat(setup.gateway, ask('moltbot:beta', { stream_options: { include_usage: true } })));
    expect(streamedText(stream)).toBe('upstream');
    expectUsageChunks(stream, UPSTREAM_USAGE);
  });

  it('the usage chunk keeps the stream id, created and model', async () => {
    const stream = await readStream(await postChat(setup.gateway, ask('MoltBot:Main', { stream_options: { include_usage: true } })));
    const last = stream.chunks.at(-1);
    expect(last?.id).toBe(stream.chunks[0]?.id);
    expect(last?.model).toBe('MoltBot:Main');
    expect(last?.object).toBe('chat.completion.chunk');
  });
});

describe('without include_usage', () => {
  it('echo: no usage key, no empty-choices chunk', async () => {
    const stream = await readStream(await postChat(setup.gateway, ask('moltbot')));
    expect(streamedText(stream)).toBe('one two three');
    expectNoUsage(stream);
  });

  it('upstream: no usage key even though the upstream reported usage', async () => {
    setup.upstream.behaveOnce({ kind: 'reply', deltas: ['up', 'stream'], usage: UPSTREAM_USAGE });
    const stream = await readStream(await postChat(setup.gateway, ask('moltbot:beta')));
    expectNoUsage(stream);
  });

  it('include_usage false and null, and stream_options null, behave as absent', async () => {
    for (const stream_options of [{ include_usage: false }, { include_usage: null }, null, {}]) {
      const stream = await readStream(await postChat(setup.gateway, ask('moltbot', { stream_options })));
      expectNoUsage(stream);
    }
  });

  it('stream_options on a non-streaming request is accepted; usage is in the body as always', async () => {
    const body = await readCompletion(
      await postChat(setup.gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'one two three' }], stream_options: { include_usage: true } }),
    );
    expect(body.usage).toEqual(ECHO_USAGE);
  });
});
