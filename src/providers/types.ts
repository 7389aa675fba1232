/**
 * The model-provider interface: the only thing the agent core knows about providers.
 * Adapters implement it and never import the core; provider quirks stay in the adapter.
 */

/** A function call the model made earlier in the conversation. */
export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as the model produced it. */
  arguments: string;
}

/** One message as a model sees it. System text arrives as the first `system` message. */
export type ModelMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; content: string; toolCallId: string };

/** Why the model stopped, in OpenAI's vocabulary. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** Token counts as the provider reported them. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** What a provider yields while it streams a reply. */
export type ModelEvent =
  | { type: 'delta'; text: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; reason: FinishReason };

/** A request for one model reply. */
export interface ModelRequest {
  /** The provider's own model name (the part after `provider/` in the agent's model). */
  model: string;
  messages: ModelMessage[];
}

/** Per-call options; the signal must reach the network request. */
export interface StreamOptions {
  signal: AbortSignal;
}

/**
 * A model provider. `stream` yields deltas, at most one `usage` and exactly one `finish`
 * on success; it throws a `GatewayError` (502/504) on upstream failure and rejects
 * promptly once `signal` aborts.
 */
export interface ModelProvider {
  /** The provider id from config (`models.providers.<id>`), used in messages. */
  readonly id: string;
  stream(request: ModelRequest, options: StreamOptions): AsyncIterable<ModelEvent>;
}
