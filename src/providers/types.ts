/**
 * The model-provider interface: the only thing the agent core knows about providers.
 * Adapters implement it and never import the core; provider quirks stay in the adapter.
 */

/** Default cap on one upstream SSE line or event (`models.providers.<id>.maxEventBytes`). */
export const DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024;

/** A function call the model made earlier in the conversation. */
export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as the model produced it. */
  arguments: string;
}

/** An image sent with a user message, already read into memory. */
export interface ImageInput {
  /** e.g. `image/png`. */
  mimeType: string;
  /** Base64 of the image bytes. */
  data: string;
  detail?: 'auto' | 'low' | 'high';
}

/** One message as a model sees it. System text arrives as the first `system` message. */
export type ModelMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string; images?: ImageInput[] }
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

/** A function the model may call. */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean };

/** Sampling and output parameters; an adapter forwards those its API supports. */
export interface ModelParameters {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseFormat?: ResponseFormat;
}

/** What a provider yields while it streams a reply. */
export type ModelEvent =
  | { type: 'delta'; text: string }
  /**
   * Part of tool call `index`: its first event carries `id` and `name`, later ones
   * carry fragments of the JSON `arguments`.
   */
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments?: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; reason: FinishReason };

/** A request for one model reply. */
export interface ModelRequest {
  /** The provider's own model name (the part after `provider/` in the agent's model). */
  model: string;
  messages: ModelMessage[];
  parameters?: ModelParameters;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
}

/** Per-call options; the signal must reach the network request. */
export interface StreamOptions {
  signal: AbortSignal;
  /** Epoch ms when the run times out: retries never wait past it. */
  deadline?: number;
}

/**
 * A model provider. `stream` yields deltas and tool-call parts, at most one `usage` and
 * exactly one `finish` on success; it throws a `GatewayError` (502/504) on upstream
 * failure and rejects promptly once `signal` aborts.
 */
export interface ModelProvider {
  /** The provider id from config (`models.providers.<id>`), used in messages. */
  readonly id: string;
  /** Whether user messages may carry images; the core refuses them (400) otherwise. */
  readonly acceptsImages: boolean;
  stream(request: ModelRequest, options: StreamOptions): AsyncIterable<ModelEvent>;
}
