/** What an agent run yields, in order: deltas, then exactly one `done`. */
import type { FinishReason, Usage } from '../providers/types.js';

export type AgentEvent =
  | { type: 'delta'; text: string }
  | { type: 'done'; finishReason: FinishReason; usage?: Usage };
