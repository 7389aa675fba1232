/** What an agent run yields, in order: deltas and tool-call parts, then exactly one `done`. */
import type { FinishReason, Usage } from '../providers/types.js';

export type AgentEvent =
  | { type: 'delta'; text: string }
  /** Part of tool call `index`: first with `id` and `name`, then `arguments` fragments. */
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments?: string }
  | { type: 'done'; finishReason: FinishReason; usage?: Usage };
