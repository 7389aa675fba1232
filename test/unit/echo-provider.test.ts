/**
 * src/providers/echo/echo-provider.ts: the deterministic stand-in model.
 */
import { describe, expect, it } from 'vitest';
import { RunAbortedError } from '../../src/domain/errors.js';
import { createEchoProvider } from '../../src/providers/echo/echo-provider.js';
import type { ModelEvent } from '../../src/domain/events.js';
import type { ModelRequest } from '../../src/providers/types.js';

const provider = createEchoProvider('echo');

async function collect(request: ModelRequest, signal: AbortSignal = new AbortController().signal): Promise<ModelEvent[]> {
  const events: ModelEvent[] = [];
  for await (const event of provider.stream(request, { signal })) events.push(event);
  return events;
}

const REQUEST: ModelRequest = {
  model: 'echo',
  messages: [
    { role: 'system', content: 'Be nice.' },
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'an earlier reply' },
    { role: 'user', content: 'the quick  brown fox' },
    { role: 'tool', content: 'tool output', toolCallId: 't1' },
  ],
};

describe('echo provider', () => {
  it('has its configured id', () => {
    expect(createEchoProvider('my-echo').id).toBe('my-echo');
  });

  it('replies with the last user message, one delta per word, then usage and finish', async () => {
    const events = await collect(REQUEST);
    expect(events).toEqual([
      { type: 'delta', text: 'the ' },
      { type: 'delta', text: 'quick  ' },
      { type: 'delta', text: 'brown ' },
      { type: 'delta', text: 'fox' },
      // Prompt: 2 + 2 + 3 + 4 + 2 words over every message sent; completion: 4 words.
      { type: 'usage', usage: { promptTokens: 13, completionTokens: 4, totalTokens: 17 } },
      { type: 'finish', reason: 'stop' },
    ]);
  });

  it('is deterministic', async () => {
    expect(await collect(REQUEST)).toEqual(await collect(REQUEST));
  });

  it('keeps the exact text of the reply across deltas', async () => {
    const text = '  leading, inner\n\nlines and trailing  ';
    const events = await collect({ model: 'echo', messages: [{ role: 'user', content: text }] });
    const deltas = events.filter((e): e is Extract<ModelEvent, { type: 'delta' }> => e.type === 'delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((d) => d.text).join('')).toBe(text);
  });

  it('replies empty, with zero completion tokens, when there is no user message', async () => {
    const events = await collect({ model: 'echo', messages: [{ role: 'system', content: 'only a prompt' }] });
    expect(events).toEqual([
      { type: 'usage', usage: { promptTokens: 3, completionTokens: 0, totalTokens: 3 } },
      { type: 'finish', reason: 'stop' },
    ]);
  });

  it('stops with RunAbortedError once the signal aborts', async () => {
    const controller = new AbortController();
    const seen: ModelEvent[] = [];
    let error: unknown;
    try {
      for await (const event of provider.stream({ model: 'echo', messages: [{ role: 'user', content: 'one two three four' }] }, { signal: controller.signal })) {
        seen.push(event);
        controller.abort();
      }
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RunAbortedError);
    expect(seen).toEqual([{ type: 'delta', text: 'one ' }]);
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(collect({ model: 'echo', messages: [{ role: 'user', content: 'hello' }] }, controller.signal)).rejects.toBeInstanceOf(RunAbortedError);
  });
});
