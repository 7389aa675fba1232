/**
 * src/agents/reply.ts: a reply as the transcript stores it, whole up to the cap and cut
 * past it (between characters, text first, tool-call arguments that no longer fit
 * replaced, a marker saying how large it was), and a streamed reply not held in memory
 * past the cap.
 */
import { describe, expect, it } from 'vitest';
import { ReplyCollector, utf8Prefix } from '../../src/agents/reply.js';

const bytes = (text: string): number => Buffer.byteLength(text);

function collect(cap: number, keepWhole: boolean, ...texts: string[]): ReplyCollector {
  const reply = new ReplyCollector(cap, keepWhole);
  for (const text of texts) reply.add({ type: 'delta', text });
  return reply;
}

describe('utf8Prefix', () => {
  it('cuts between characters, never inside one (2-, 3- and 4-byte characters)', () => {
    expect(utf8Prefix('abc', 10)).toBe('abc');
    expect(utf8Prefix('aéb', 2)).toBe('a');
    expect(utf8Prefix('aéb', 3)).toBe('aé');
    expect(utf8Prefix('€€', 5)).toBe('€');
    expect(utf8Prefix('😀😀', 7)).toBe('😀');
    expect(utf8Prefix('😀', 3)).toBe('');
  });
});

describe('ReplyCollector.stored', () => {
  it('keeps a reply within the cap as it came', () => {
    const reply = collect(100, true, 'hello', ' world');
    expect(reply.stored()).toEqual({ message: { role: 'assistant', content: 'hello world' } });
  });

  it('cuts a larger one to the cap, between characters, with a marker, and says how large it was', () => {
    const text = 'ab€'.repeat(10_000);
    const reply = collect(4096, true, text);
    const stored = reply.stored();
    expect(stored.truncated).toEqual({ originalBytes: bytes(text) });
    expect(bytes(stored.message.content)).toBeLessThanOrEqual(4096);
    expect(stored.message.content).toMatch(/^(ab€)+a?b?\n\n\[moltbot: reply truncated in the transcript; it was 50000 bytes, over the limit of 4096 \(session\.maxStoredReplyBytes\)\]$/u);
    // The caller that takes the reply whole still has all of it.
    expect(reply.whole().content).toBe(text);
  });

  it('counts tool-call arguments: keeps the calls that fit, replaces the arguments of those that do not', () => {
    const reply = new ReplyCollector(2048, true);
    reply.add({ type: 'delta', text: 'calling' });
    reply.add({ type: 'tool_call', index: 0, id: 'c1', name: 'small', arguments: '{"a":1}' });
    reply.add({ type: 'tool_call', index: 1, id: 'c2', name: 'huge', arguments: `{"blob":"${'x'.repeat(5000)}"}` });
    const stored = reply.stored();
    expect(stored.truncated?.originalBytes).toBe(7 + 7 + 5011);
    expect(stored.message).toHaveProperty('toolCalls', [
      { id: 'c1', name: 'small', arguments: '{"a":1}' },
      { id: 'c2', name: 'huge', arguments: '{"moltbot_truncated":{"originalBytes":5011}}' },
    ]);
    expect(stored.message.content).toMatch(/^calling\n\n\[moltbot: reply truncated/u);
  });

  it('a streamed reply (not kept whole) stops being held once past the cap, and is stored the same way', () => {
    const delta = 'y'.repeat(1000);
    const reply = collect(4096, false, ...Array.from({ length: 1000 }, () => delta));
    expect(reply.bytes).toBe(1_000_000);
    // Held: up to the cap, plus the delta that crossed it.
    expect(reply.text.length).toBeLessThanOrEqual(4096 + 1000);
    const stored = reply.stored();
    expect(stored.truncated).toEqual({ originalBytes: 1_000_000 });
    expect(bytes(stored.message.content)).toBeLessThanOrEqual(4096);
  });
});
