/**
 * Request parameters: sampling fields reach the OpenAI-compatible upstream (inspected
 * in the requests it recorded), unknown fields are ignored, `n` and out-of-range values
 * are 400s naming the field, echo honours max_tokens, and finish_reason is always one of
 * OpenAI's and the upstream's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import { postChat } from '../helpers/gateway.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';

let setup: FeatureSetup;
beforeAll(async () => {
  setup = await startFeatureGateway();
});
afterAll(() => setup.close());

const FINISH_REASONS = ['stop', 'length', 'tool_calls', 'content_filter'];

const ask = (model: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model,
  messages: [{ role: 'user', content: 'one two three' }],
  ...extra,
});

/** Sends to beta and returns the body the upstream received for it. */
async function upstreamBodyFor(extra: Record<string, unknown>): Promise<Record<string, unknown>> {
  const before = setup.upstream.requests.length;
  const body = await readCompletion(await postChat(setup.gateway, ask('moltbot:beta', extra)));
  expect(FINISH_REASONS).toContain(body.choices[0]?.finish_reason);
  expect(setup.upstream.requests).toHaveLength(before + 1);
  return (setup.upstream.requests[before] as { body: Record<string, unknown> }).body;
}

/** The token limit as the upstream got it: the adapter may use either name. */
function sentMaxTokens(body: Record<string, unknown>): unknown {
  return body.max_completion_tokens ?? body.max_tokens;
}

describe('forwarded to the OpenAI-compatible upstream', () => {
  it('temperature, top_p, seed, presence and frequency penalties', async () => {
    const sent = await upstreamBodyFor({ temperature: 0.3, top_p: 0.9, seed: 42, presence_penalty: 0.5, frequency_penalty: -1.25 });
    expect(sent).toMatchObject({ temperature: 0.3, top_p: 0.9, seed: 42, presence_penalty: 0.5, frequency_penalty: -1.25 });
  });

  it('temperature 0 and boundary values are sent, not dropped as falsy', async () => {
    const sent = await upstreamBodyFor({ temperature: 0, top_p: 0, presence_penalty: -2, frequency_penalty: 2, seed: 0 });
    expect(sent).toMatchObject({ temperature: 0, top_p: 0, presence_penalty: -2, frequency_penalty: 2, seed: 0 });
  });

  it('max_tokens', async () => {
    const sent = await upstreamBodyFor({ max_tokens: 77 });
    expect(sentMaxTokens(sent)).toBe(77);
  });

  it('max_completion_tokens alone', async () => {
    const sent = await upstreamBodyFor({ max_completion_tokens: 33 });
    expect(sentMaxTokens(sent)).toBe(33);
  });

  it('max_completion_tokens wins over max_tokens', async () => {
    const sent = await upstreamBodyFor({ max_tokens: 500, max_completion_tokens: 40 });
    expect(sentMaxTokens(sent)).toBe(40);
    // Whatever name carries it, 500 is sent nowhere.
    expect(sent.max_tokens === 500 || sent.max_completion_tokens === 500).toBe(false);
  });

  it('stop: a string becomes an array; an array is kept', async () => {
    expect((await upstreamBodyFor({ stop: 'END' })).stop).toEqual(['END']);
    expect((await upstreamBodyFor({ stop: ['a', 'b', 'c', 'd'] })).stop).toEqual(['a', 'b', 'c', 'd']);
  });

  it('response_format json_object', async () => {
    expect((await upstreamBodyFor({ response_format: { type: 'json_object' } })).response_format).toEqual({ type: 'json_object' });
  });

  it('response_format json_schema, with its name, description, schema and strict', async () => {
    const json_schema = {
      name: 'answer_v1',
      description: 'The answer.',
      schema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false },
      strict: true,
    };
    expect((await upstreamBodyFor({ response_format: { type: 'json_schema', json_schema } })).response_format).toEqual({ type: 'json_schema', json_schema });
  });

  it('streaming requests forward them too', async () => {
    const before = setup.upstream.requests.length;
    const stream = await readStream(await postChat(setup.gateway, ask('moltbot:beta', { stream: true, temperature: 1.5, max_completion_tokens: 9, stop: 'X' })));
    expect(streamedText(stream)).toBe('Hello from upstream');
    expect(setup.upstream.requests[before]?.body).toMatchObject({ temperature: 1.5, stop: ['X'] });
    expect(sentMaxTokens(setup.upstream.requests[before]?.body ?? {})).toBe(9);
  });

  it('leaves out what the client did not send', async () => {
    const sent = await upstreamBodyFor({});
    for (const key of ['temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'response_format']) {
      expect(sent, key).not.toHaveProperty(key);
    }
  });

  it('null values mean absent', async () => {
    const sent = await upstreamBodyFor({ temperature: null, top_p: null, max_tokens: null, stop: null, seed: null, n: null });
    for (const key of ['temperature', 'top_p', 'max_tokens', 'stop', 'seed']) expect(sent, key).not.toHaveProperty(key);
  });
});

describe('accepted and ignored', () => {
  it('unknown fields (logit_bias, foo, ...) are no 400 and are not forwarded', async () => {
    const sent = await upstreamBodyFor({ logit_bias: { '50256': -100 }, foo: 'bar', logprobs: false, metadata: { a: 'b' }, store: false });
    expect(sent).not.toHaveProperty('foo');
    expect(sent).not.toHaveProperty('logit_bias');
  });

  it('unknown fields on the echo agent too', async () => {
    const body = await readCompletion(await postChat(setup.gateway, ask('moltbot', { foo: { nested: [1, 2] }, logit_bias: {} })));
    expect(body.choices[0]?.message.content).toBe('one two three');
  });

  it('stream_options alone (as LangChain sends it) is fine', async () => {
    await readCompletion(await postChat(setup.gateway, ask('moltbot', { stream_options: { include_usage: true } })));
    await readCompletion(await postChat(setup.gateway, ask('moltbot:beta', { stream: false, stream_options: { include_usage: true } })));
  });

  it('n: 1 is fine', async () => {
    await readCompletion(await postChat(setup.gateway, ask('moltbot', { n: 1 })));
  });
});

describe('refused with 400 naming the field', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['n', { n: 2 }],
    ['temperature', { temperature: 2.5 }],
    ['temperature', { temperature: -0.1 }],
    ['top_p', { top_p: 1.5 }],
    ['presence_penalty', { presence_penalty: 3 }],
    ['frequency_penalty', { frequency_penalty: -2.5 }],
    ['max_tokens', { max_tokens: 0 }],
    ['max_completion_tokens', { max_completion_tokens: 0 }],
    ['seed', { seed: 1.5 }],
    ['stop', { stop: ['a', 'b', 'c', 'd', 'e'] }],
  ];
  it.each(cases)('%s in %j', async (field, extra) => {
    const before = setup.upstream.requests.length;
    const error = await readError(await postChat(setup.gateway, ask('moltbot:beta', extra)), 400);
    expect(error.param).toBe(field);
    expect(error.message).toContain(field);
    expect(error.type).toBe('invalid_request_error');
    expect(setup.upstream.requests).toHaveLength(before);
  });
});

describe('max_tokens on echo', () => {
  it('stops at 2 words of a 3-word message with finish_reason length', async () => {
    const body = await readCompletion(await postChat(setup.gateway, ask('moltbot', { max_tokens: 2 })));
    expect(body.choices[0]?.message.content?.trim().split(/\s+/u)).toEqual(['one', 'two']);
    expect(body.choices[0]?.finish_reason).toBe('length');
    expect(body.usage?.completion_tokens).toBe(2);
  });

  it('max_completion_tokens 2 wins over max_tokens 10, streaming', async () => {
    const stream = await readStream(await postChat(setup.gateway, ask('moltbot', { max_tokens: 10, max_completion_tokens: 2, stream: true })));
    expect(streamedText(stream).trim()).toBe('one two');
    expect(stream.chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it('a limit the reply fits in is finish_reason stop', async () => {
    const body = await readCompletion(await postChat(setup.gateway, ask('moltbot', { max_tokens: 3 })));
    expect(body.choices[0]?.message.content).toBe('one two three');
    expect(body.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('finish_reason is the upstream one', () => {
  const reasons: [string, string][] = [
    ['stop', 'stop'],
    ['length', 'length'],
    ['content_filter', 'content_filter'],
    // A vendor value outside OpenAI's set still comes out as one of OpenAI's.
    ['eos_token', 'stop'],
  ];
  it.each(reasons)('upstream %s → %s (JSON)', async (upstream, expected) => {
    setup.upstream.behaveOnce({ kind: 'reply', deltas: ['cut'], finishReason: upstream });
    const body = await readCompletion(await postChat(setup.gateway, ask('moltbot:beta')));
    expect(body.choices[0]?.finish_reason).toBe(expected);
  });

  it.each(reasons)('upstream %s → %s (stream)', async (upstream, expected) => {
    setup.upstream.behaveOnce({ kind: 'reply', deltas: ['cut'], finishReason: upstream });
    const stream = await readStream(await postChat(setup.gateway, ask('moltbot:beta', { stream: true })));
    const finishes = stream.chunks.map((c) => c.choices[0]?.finish_reason).filter((r) => r !== null && r !== undefined);
    expect(finishes).toEqual([expected]);
    for (const reason of finishes) expect(FINISH_REASONS).toContain(reason);
  });
});
