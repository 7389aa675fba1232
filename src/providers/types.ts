/**
 * The model-provider interface: the only thing the agent core knows about providers.
 * Adapters implement it and never import the core; provider quirks stay in the adapter.
 * The messages, options and events it speaks are the domain's (`src/domain/`).
 */
import type { ModelEvent } from '../domain/events.js';
import type { ModelMessage } from '../domain/messages.js';
import type { ModelParameters, ToolChoice, ToolDefinition } from '../domain/options.js';
import type { UpstreamObserver } from '../domain/telemetry.js';

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
  /** Told of every attempt at the upstream request and every retry (metrics, logs). */
  observer?: UpstreamObserver | undefined;
  /**
   * Headers to send with the upstream request besides the adapter's own: the W3C
   * `traceparent` (and `tracestate`) of the run's trace when tracing is on.
   */
  traceHeaders?: Readonly<Record<string, string>> | undefined;
}

/**
 * A model provider. `stream` yields deltas and tool-call parts, at most one `usage` and
 * exactly one `finish` on success; it throws a `GatewayError` (502/504) on upstream
 * failure and rejects promptly once `signal` aborts (`RunAbortedError`).
 */
export interface ModelProvider {
  /** The provider id from config (`models.providers.<id>`), used in messages. */
  readonly id: string;
  /** Whether user messages may carry images; the core refuses them (400) otherwise. */
  readonly acceptsImages: boolean;
  stream(request: ModelRequest, options: StreamOptions): AsyncIterable<ModelEvent>;
}
