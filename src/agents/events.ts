/**
 * What an agent run yields, in order: deltas and tool-call parts, then exactly one `done`.
 * A turn asked with `bufferedReply` yields only the `done`, carrying the whole reply.
 */
import type { FinishReason, ToolCall, Usage } from '../providers/types.js';
import type { TurnRef } from '../sessions/store.js';

export type AgentEvent =
  | { type: 'delta'; text: string }
  /** Part of tool call `index`: first with `id` and `name`, then `arguments` fragments. */
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments?: string }
  | {
      type: 'done';
      finishReason: FinishReason;
      usage?: Usage;
      /** The reply as a whole: present when the turn was asked with `bufferedReply`. */
      reply?: { content: string; toolCalls: ToolCall[] };
      /** The recorded turn (its end committed): where a repeat of an idempotent request reads it back. */
      turn?: TurnRef;
    };
