/**
 * OpenAI request messages as a turn's input (src/gateway/routes/chat-request.ts), split
 * by the core into instructions, conversation and the new turn (src/agents/turn-input.ts),
 * with the core's errors named as the request names its fields.
 */
import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequestMessage } from '../../generated/client/types.gen.js';
import { splitInput, type TurnInput } from '../../src/agents/turn-input.js';
import { GatewayError } from '../../src/domain/errors.js';
import { chatTurn } from '../../src/gateway/routes/chat-request.js';

const POLICY = { maxCount: 8, maxBytes: 1024, allowUrls: false, fetchTimeoutMs: 1000 };

/** The messages of a chat request through the edge's mapping and the core's split; errors named as the request names them. */
function splitMessages(messages: ChatCompletionRequestMessage[], policy = POLICY): TurnInput {
  const chat = chatTurn({ model: 'moltbot', messages }, {});
  try {
    return splitInput(chat.request.input, policy);
  } catch (err) {
    throw chat.named(err);
  }
}

describe('content', () => {
  it('takes a string as is, joins text parts in order, and reads null as empty', () => {
    const turn = splitMessages([
      { role: 'user', content: 'plain' },
      { role: 'assistant', content: null },
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b c' }, { type: 'text', text: '' }] },
    ]);
    expect(turn.conversation.map((m) => m.content)).toEqual(['plain', '', 'ab c']);
  });
});

describe('images', () => {
  const PNG = `data:image/png;base64,${Buffer.alloc(8, 1).toString('base64')}`;
  it('are named by their content part in 400s, counting text parts', () => {
    const messages: ChatCompletionRequestMessage[] = [
      { role: 'system', content: 's' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: PNG } }, { type: 'image_url', image_url: { url: 'ftp://x' } }] },
    ];
    let error: unknown;
    try {
      splitMessages(messages);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ status: 400, code: 'invalid_image', param: 'messages[1].content[2].image_url.url' });
    expect((error as Error).message).toBe("The image at 'messages[1].content[2].image_url.url' must be a data:image/...;base64 URI or an http(s) URL.");
  });

  it('keep their order and detail', () => {
    const turn = splitMessages([{ role: 'user', content: [{ type: 'image_url', image_url: { url: PNG, detail: 'low' } }, { type: 'text', text: 'what?' }] }]);
    expect(turn.conversation).toEqual([{ role: 'user', content: 'what?', images: [{ source: { mimeType: 'image/png', data: Buffer.alloc(8, 1).toString('base64'), detail: 'low' }, field: 'input[0].images[0]' }] }]);
    expect(turn.hasImages).toBe(true);
  });
});

describe('splitInput', () => {
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
