/**
 * Our provider-neutral conversation as Anthropic Messages API request fields. Pure: no
 * network, no SDK runtime, only its types.
 */
import type {
  Base64ImageSource,
  ContentBlockParam,
  ImageBlockParam,
  TextBlockParam,
  ToolResultBlockParam,
  ToolUseBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import type { ImageInput, ModelMessage, ToolCall } from '../../domain/messages.js';

/** One turn as Anthropic takes it: a role and one or more content blocks. */
export interface AnthropicTurn {
  role: 'user' | 'assistant';
  content: ContentBlockParam[];
}

/** The `system` and `messages` request fields. */
export interface AnthropicPrompt {
  /** Every `system` message, joined; absent when there is no system text. */
  system?: string;
  /** Strictly alternating turns, none empty. */
  messages: AnthropicTurn[];
}

/**
 * Maps our messages to Anthropic's shape:
 * - every `system` message goes into the single `system` field (joined by a blank line);
 * - `assistant` tool calls become `tool_use` blocks, `tool` messages `tool_result`
 *   blocks in a `user` turn;
 * - `user` images become base64 `image` blocks, before the message's text;
 * - consecutive messages with the same Anthropic role are merged into one turn, since
 *   the API requires user and assistant turns to alternate;
 * - text that is empty or only whitespace is not sent, and a message left with no
 *   blocks is dropped, since the API rejects such text blocks.
 */
export function toAnthropicPrompt(messages: readonly ModelMessage[]): AnthropicPrompt {
  const systemParts: string[] = [];
  const turns: AnthropicTurn[] = [];
  for (const message of messages) {
    if (message.role === 'system') {
      if (hasText(message.content)) systemParts.push(message.content);
      continue;
    }
    const blocks = toBlocks(message);
    if (blocks.length === 0) continue;
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const last = turns.at(-1);
    if (last?.role === role) last.content = resultsFirst([...last.content, ...blocks]);
    else turns.push({ role, content: blocks });
  }
  return { messages: turns, ...(systemParts.length > 0 ? { system: systemParts.join('\n\n') } : {}) };
}

/** Anthropic refuses text blocks without a non-whitespace character. */
function hasText(text: string): boolean {
  return text.trim() !== '';
}

function textBlocks(text: string): TextBlockParam[] {
  return hasText(text) ? [{ type: 'text', text }] : [];
}

function toBlocks(message: Exclude<ModelMessage, { role: 'system' }>): ContentBlockParam[] {
  switch (message.role) {
    case 'user':
      // Images first: Anthropic's vision guide finds image-then-text answers best.
      return [...(message.images ?? []).map(toImage), ...textBlocks(message.content)];
    case 'assistant':
      return [...textBlocks(message.content), ...(message.toolCalls ?? []).map(toToolUse)];
    case 'tool': {
      const result: ToolResultBlockParam = { type: 'tool_result', tool_use_id: message.toolCallId };
      // `content` is optional; an empty string would be an empty text block.
      if (hasText(message.content)) result.content = message.content;
      return [result];
    }
  }
}

function toImage(image: ImageInput): ImageBlockParam {
  // The API names the types it takes (jpeg, png, gif, webp) and answers others with a
  // 400 that says so; passing the type on unchanged lets that message reach the client.
  // OpenAI's `detail` has no counterpart here and is dropped.
  const mediaType = image.mimeType as Base64ImageSource['media_type'];
  return { type: 'image', source: { type: 'base64', media_type: mediaType, data: image.data } };
}

function toToolUse(call: ToolCall): ToolUseBlockParam {
  return { type: 'tool_use', id: call.id, name: call.name, input: toolInput(call.arguments) };
}

/**
 * Anthropic takes tool input as a JSON object, where we hold the model's text. A call
 * without arguments may arrive as ''. Text that is not a JSON object is kept verbatim
 * under `_raw` rather than replaced by `{}`: the model then sees what it actually sent
 * on the next turn instead of a call it never made, and the API still gets an object.
 */
function toolInput(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: kept as `_raw` below.
  }
  return { _raw: text };
}

/**
 * In a user turn answering tool calls the API wants the `tool_result` blocks before any
 * text; merging a user message with following tool messages could put text first.
 */
function resultsFirst(blocks: ContentBlockParam[]): ContentBlockParam[] {
  return [...blocks.filter((b) => b.type === 'tool_result'), ...blocks.filter((b) => b.type !== 'tool_result')];
}
