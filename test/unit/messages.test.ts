/**
 * src/agents/messages.ts: request messages split into instructions, conversation and
 * the new turn.
 */
import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequestMessage } from '../../generated/client/types.gen.js';
import { contentText, splitMessages } from '../../src/agents/messages.js';
import { GatewayError } from '../../src/errors.js';

const POLICY = { maxCount: 8, maxBytes: 1024, allowUrls: false, fetchTimeoutMs: 1000 };

describe('contentText', () => {
  it('takes a string as is, joins text parts in order, and reads null as empty', () => {
    expect(contentText('plain')).toBe('plain');
    expect(contentText([{ type: 'text', text: 'a' }, { type: 'text', text: 'b c' }, { type: 'text', text: '' }])).toBe('ab c');
    expect(contentText(null)).toBe('');
    expect(contentText(undefined)).toBe('');
  });
});

describe('splitMessages', () => {
  it('collects system and developer text in order as instructions', () => {
    const turn = splitMessages([
      { role: 'developer', content: 'D1' },
      { role: 'user', content: 'u' },
      { role: 'system', content: [{ type: 'text', text: 'S' }, { type: 'text', text: '1' }] },
    ], POLICY);
    expect(turn.instructions).toEqual(['D1', 'S1']);
    expect(turn.conversation).toEqual([{ role: 'user', content: 'u' }]);
  });

  it('keeps user, assistant and tool messages in order, tools with their call id', () => {
    const messages: ChatCompletionRequestMessage[] = [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'r' }] },
      { role: 'assistant', content: 'done' },
      { role: 'user', content: 'again' },
    ];
    const turn = splitMessages(messages, POLICY);
    expect(turn.conversation).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }] },
      { role: 'tool', content: 'r', toolCallId: 'c1' },
      { role: 'assistant', content: 'done' },
      { role: 'user', content: 'again' },
    ]);
    expect(turn.newTurn).toEqual([{ role: 'user', content: 'again' }]);
  });

  it('the new turn is everything after the last assistant message', () => {
    const turn = splitMessages([
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'tool', tool_call_id: 't', content: 'c' },
      { role: 'system', content: 'ignored for the turn' },
      { role: 'user', content: 'd' },
    ], POLICY);
    expect(turn.newTurn).toEqual([
      { role: 'tool', content: 'c', toolCallId: 't' },
      { role: 'user', content: 'd' },
    ]);
  });

  it('without an assistant message the whole conversation is the new turn', () => {
    const turn = splitMessages([
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
    ], POLICY);
    expect(turn.newTurn).toEqual(turn.conversation);
    expect(turn.newTurn).toHaveLength(2);
  });

  it.each<[string, ChatCompletionRequestMessage[]]>([
    ['ends with an assistant message', [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }]],
    ['only instructions', [{ role: 'system', content: 's' }, { role: 'developer', content: 'd' }]],
    ['instructions after the last assistant message', [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'system', content: 's' }]],
    ['no messages', []],
  ])('%s is a 400 naming messages', (_name, messages) => {
    let error: unknown;
    try {
      splitMessages(messages, POLICY);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).status).toBe(400);
    expect((error as GatewayError).param).toBe('messages');
  });
});
