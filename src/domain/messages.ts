/**
 * Messages as the core, the store and the providers share them: what a caller sends for
 * a turn (`TurnMessage`), what a transcript keeps and what a model is sent. No transport's
 * wire shape: each edge maps its own messages onto these.
 */

/** A function call the model made. */
export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as the model produced it. */
  arguments: string;
}

/** How closely a vision model should look at an image (OpenAI's `detail`). */
export type ImageDetail = 'auto' | 'low' | 'high';

/** An image, read into memory. */
export interface ImageInput {
  /** e.g. `image/png`. */
  mimeType: string;
  /** Base64 of the image bytes. */
  data: string;
  detail?: ImageDetail;
}

/** An image as a caller refers to it: a `data:image/...;base64,` URI or an http(s) URL (fetched if the policy allows). */
export interface ImageRef {
  url: string;
  detail?: ImageDetail;
}

/** One message as a model sees it. System text arrives as the first `system` message. */
export type ModelMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string; images?: ImageInput[] }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; content: string; toolCallId: string };

/** A message as kept in a transcript: what the model was sent, less the system prompt. */
export type TranscriptMessage = Exclude<ModelMessage, { role: 'system' }>;

/**
 * A message of a turn request, in the caller's order: `system` text is added to the
 * agent's system prompt for this turn; user images are still references.
 */
export type TurnMessage = Exclude<ModelMessage, { role: 'user' }> | { role: 'user'; content: string; images?: ImageRef[] };

/** Why the model stopped, in OpenAI's vocabulary (which the other providers map onto). */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** Token counts as the provider reported them. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}
