/**
 * The OpenAI shapes of a reply: `chat.completion` (id, model as sent, usage as the
 * upstream reported it, finish_reason) and the `chat.completion.chunk` stream
 * (role chunk, content deltas, final chunk, `[DONE]`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postChat } from '../helpers/gateway.js';
import { readCompletion, readStream, streamedText } from '../helpers/read.js';
import { startTwoAgentGateway, type TwoAgentSetup } from '../helpers/scenarios.js';
import { keyAgent } from '../helpers/keys.js';

let setup: TwoAgentSetup;
beforeEach(async () => {
  setup = await startTwoAgentGateway();
});
afterEach(() => setup.close());

const ask = (model: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model,
  messages: [{ role: 'user', content: 'tell me' }],
  ...extra,
});

describe('non-streaming', () => {
  it('is a chat.completion with a chatcmpl- id, the model as sent, and the upstream usage', async () => {
    const { gateway, upstream } = setup;
    const usage = { prompt_tokens: 21, completion_tokens: 4, total_tokens: 25 };
    upstream.behave({ kind: 'reply', deltas: ['Four', ' words', ' right', ' here'], usage });
    const before = Math.floor(Date.now() / 1000);
    const body = await readCompletion(await postChat(gateway, ask('MOLTBOT:Beta')));
    expect(body.id).toMatch(/^chatcmpl-[A-Za-z0-9]+$/u);
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe('MOLTBOT:Beta');
    expect(body.created).toBeGreaterThanOrEqual(before);
    expect(body.created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(body.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Four words right here', refusal: null }, logprobs: null, finish_reason: 'stop' },
    ]);
    expect(body.usage).toEqual(usage);
  });

  it('gives each completion its own id', async () => {
    const { gateway } = setup;
    const a = await readCompletion(await postChat(gateway, ask('moltbot')));
    const b = await readCompletion(await postChat(gateway, ask('moltbot')));
    expect(a.id).not.toBe(b.id);
  });

  it('has no usage when the upstream reports none', async () => {
    const { gateway, upstream } = setup;
    upstream.behave({ kind: 'reply', deltas: ['no', ' usage'], usage: null });
    const res = await postChat(gateway, ask('agent:beta'));
    const key = res.headers.get('x-moltbot-session-key') ?? '';
    const body = await readCompletion(res);
    expect(body.choices[0]?.message.content).toBe('no usage');
    expect(body).not.toHaveProperty('usage');
    const [turn] = await gateway.store.loadTurns(keyAgent(key), key);
    expect(turn?.status).toBe('ok');
    expect(turn).not.toHaveProperty('usage');
  });

  it('maps an upstream finish_reason length to length', async () => {
    const { gateway, upstream } = setup;
    upstream.behave({ kind: 'reply', deltas: ['cut'], finishReason: 'length' });
    const res = await postChat(gateway, ask('agent:beta'));
    const key = res.headers.get('x-moltbot-session-key') ?? '';
    const body = await readCompletion(res);
    expect(body.choices[0]?.finish_reason).toBe('length');
    expect((await gateway.store.loadTurns(keyAgent(key), key))[0]).toMatchObject({ status: 'ok', finishReason: 'length' });
  });

  it('keeps the echo agent word-count usage and reply', async () => {
    const { gateway } = setup;
    const body = await readCompletion(await postChat(gateway, ask('moltbot', { messages: [{ role: 'user', content: 'one two three' }] })));
    expect(body.model).toBe('moltbot');
    expect(body.choices[0]?.message.content).toBe('one two three');
    // Prompt: "You are main." (3 words) + "one two three" (3); completion: 3.
    expect(body.usage).toEqual({ prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });
  });
});

describe('streaming', () => {
  it('sends a role chunk, the deltas, a final chunk with finish_reason, then [DONE]', async () => {
    const { gateway, upstream } = setup;
    upstream.behave({ kind: 'reply', deltas: ['Hel', 'lo', ' there'] });
    const res = await postChat(gateway, ask('moltbot/beta', { stream: true }));
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const stream = await readStream(res);
    const { chunks } = stream;
    expect(stream.error).toBeUndefined();
    expect(stream.raw.endsWith('data: [DONE]\n\n')).toBe(true);

    expect(chunks.length).toBe(5);
    const [first, ...rest] = chunks;
    expect(first?.id).toMatch(/^chatcmpl-/u);
    expect(first?.choices[0]?.delta.role).toBe('assistant');
    expect(first?.choices[0]?.finish_reason).toBeNull();
    expect(rest.slice(0, -1).map((c) => c.choices[0]?.delta.content)).toEqual(['Hel', 'lo', ' there']);
    for (const chunk of rest.slice(0, -1)) expect(chunk.choices[0]?.finish_reason).toBeNull();
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.choices[0]?.delta.content ?? '').toBe('');
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe('moltbot/beta');
    }
    expect(streamedText(stream)).toBe('Hello there');
  });

  it('ends with finish_reason length when the upstream was cut off', async () => {
    const { gateway, upstream } = setup;
    upstream.behave({ kind: 'reply', deltas: ['trunc'], finishReason: 'length' });
    const stream = await readStream(await postChat(gateway, ask('agent:beta', { stream: true })));
    expect(stream.chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it('streams the echo agent word by word', async () => {
    const { gateway } = setup;
    const stream = await readStream(await postChat(gateway, ask('moltbot', { stream: true, messages: [{ role: 'user', content: 'alpha beta gamma' }] })));
    expect(stream.chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(stream.chunks.slice(1, -1).map((c) => c.choices[0]?.delta.content)).toEqual(['alpha ', 'beta ', 'gamma']);
    expect(stream.chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('records the streamed turn', async () => {
    const { gateway } = setup;
    const res = await postChat(gateway, ask('agent:beta', { stream: true, user: 'streamed' }));
    await readStream(res);
    const turns = await gateway.store.loadTurns('beta', 'agent:beta:openai-user:streamed');
    expect(turns).toHaveLength(1);
    expect(turns[0]).toMatchObject({
      agentId: 'beta',
      status: 'ok',
      finishReason: 'stop',
      input: [{ role: 'user', content: 'tell me' }],
      reply: { role: 'assistant', content: 'Hello from upstream' },
      usage: { promptTokens: 11, completionTokens: 3, totalTokens: 14 },
    });
  });
});
