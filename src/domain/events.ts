/**
 * What streams out of a provider (`ModelEvent`) and out of an agent run (`AgentEvent`).
 */
import type { FinishReason, ToolCall, Usage } from './messages.js';

/**
 * Part of tool call `index`: its first event carries `id` and `name`, later ones carry
 * fragments of the JSON `arguments`.
 */
export interface ToolCallPart {
  type: 'tool_call';
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

/** What a provider yields while it streams a reply. */
export type ModelEvent = { type: 'delta'; text: string } | ToolCallPart | { type: 'usage'; usage: Usage } | { type: 'finish'; reason: FinishReason };

/**
 * What an agent run yields, in order: deltas and tool-call parts, then exactly one `done`.
 * A turn asked with `bufferedReply` yields only the `done`, carrying the whole reply.
 */
export type AgentEvent =
  | { type: 'delta'; text: string }
  | ToolCallPart
  | {
      type: 'done';
      finishReason: FinishReason;
      usage?: Usage;
      /** The reply as a whole: present when the turn was asked with `bufferedReply`. */
      reply?: { content: string; toolCalls: ToolCall[] };
      /** The recorded turn (its end committed): where a repeat of an idempotent request reads it back. */
      turn?: { sessionId: string; seq: number };
    };
