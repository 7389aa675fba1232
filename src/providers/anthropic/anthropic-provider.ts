import Anthropic from '@anthropic-ai/sdk';
import type { MessageDeltaUsage, Usage as AnthropicUsage } from '@anthropic-ai/sdk/resources/messages';
import { RunAbortedError } from '../../domain/errors.js';
import type { ModelEvent } from '../../domain/events.js';
import type { FinishReason, Usage } from '../../domain/messages.js';
import { DEFAULT_MAX_EVENT_BYTES } from '../event-cap.js';
import type { ModelProvider, ModelRequest, StreamOptions } from '../types.js';
import { createUpstreamFailures, type UpstreamFailure } from '../upstream-failures.js';
import { askedWait, withRetries } from './anthropic-retries.js';
import { cappedFetch } from './capped-fetch.js';
import { toAnthropicPrompt } from './anthropic-messages.js';
import { toAnthropicOptions } from './anthropic-request.js';
import { ToolUseStream } from './anthropic-tool-stream.js';

/** Settings of one `api: "anthropic-messages"` provider, as configured. */
export interface AnthropicSettings {
  id: string;
  /**
   * The API origin, without `/v1`: the SDK posts to `${baseUrl}/v1/messages`.
   * Default: the SDK's own (https://api.anthropic.com), never `ANTHROPIC_BASE_URL`.
   */
  baseUrl?: string;
  /** The only credential sent (as `Authorization: Bearer`, as SDK 1.x does); without it, none. */
  apiKey?: string;
  /** `max_tokens` of a request that sets none; Anthropic requires one (default 4096). */
  maxTokens?: number;
  /** Seconds to wait for the response headers of each attempt (default 600). */
  timeoutSeconds?: number;
  /**
   * Retries before the first byte, on connection errors, timeouts, 408, 409, 429 and 5xx,
   * honouring `retry-after` (default 2).
   */
  maxRetries?: number;
  /** One SSE event at most (default 8 MiB); past it the run ends with 502 `upstream_event_too_large`. */
  maxEventBytes?: number;
}

/**
 * The SDK client, minus its search for credentials on this machine: with no key in the
 * options it would otherwise read profiles, config files and workload identity variables
 * and send what it finds to whatever `baseUrl` is configured.
 */
class ConfiguredAnthropic extends Anthropic {
  protected override _shouldResolveDefaultCredentials(): boolean {
    return false;
  }
}

/**
 * Header names the SDK will add from `ANTHROPIC_CUSTOM_HEADERS` ("Name: value" lines).
 * It merges that variable into every request whatever the options say, so the names are
 * read here only to be removed again.
 */
function environmentHeaderNames(): string[] {
  const raw = process.env['ANTHROPIC_CUSTOM_HEADERS'];
  if (!raw) return [];
  return raw
    .split('\n')
    .filter((line) => line.includes(':'))
    .map((line) => line.slice(0, line.indexOf(':')).trim())
    .filter((name) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/u.test(name));
}

/** Anthropic's stop reasons in OpenAI's vocabulary; unknown ones are a normal `stop`. */
function mapStopReason(reason: string): FinishReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      // Cut off by the context window rather than by `max_tokens`: still a length stop.
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and anything newer.
      return 'stop';
  }
}

/**
 * Token counts from `message_start` and `message_delta`. Delta counts are cumulative, so
 * the latest value of each field wins. Cache reads and writes are prompt tokens too.
 */
class UsageTally {
  private seen = false;
  private input = 0;
  private cacheCreation = 0;
  private cacheRead = 0;
  private output = 0;

  add(usage: Partial<AnthropicUsage | MessageDeltaUsage> | null | undefined): void {
    if (!usage) return;
    const pick = (value: unknown, current: number): number => {
      if (typeof value !== 'number') return current;
      this.seen = true;
      return value;
    };
    this.input = pick(usage.input_tokens, this.input);
    this.cacheCreation = pick(usage.cache_creation_input_tokens, this.cacheCreation);
    this.cacheRead = pick(usage.cache_read_input_tokens, this.cacheRead);
    this.output = pick(usage.output_tokens, this.output);
  }

  result(): Usage | undefined {
    if (!this.seen) return undefined;
    const promptTokens = this.input + this.cacheCreation + this.cacheRead;
    return { promptTokens, completionTokens: this.output, totalTokens: promptTokens + this.output };
  }
}

/** The SDK's errors, for the shared failure mapping (`upstream-failures.ts`). */
function classify(err: unknown): UpstreamFailure | undefined {
  if (err instanceof Anthropic.APIUserAbortError) return { kind: 'aborted' };
  if (err instanceof Anthropic.APIConnectionTimeoutError) return { kind: 'timeout' };
  if (err instanceof Anthropic.APIConnectionError) return { kind: 'unreachable', cause: err };
  if (err instanceof Anthropic.APIError) {
    // No status: an `error` event inside a stream that had started with 200.
    return { kind: 'answered', status: err.status, detail: `${err.type ? `${err.type}: ` : ''}${err.apiMessage ?? err.message}`, retryAfterMs: askedWait(err) };
  }
  return undefined;
}

/**
 * Provider for Anthropic's Messages API (`api: "anthropic-messages"`) through the official
 * `@anthropic-ai/sdk`. It streams (`stream: true`) and yields text deltas, `tool_use`
 * blocks as `tool_call` events, one `usage` and one `finish`. It sends images, tools,
 * tool choice, `maxTokens` and `stop`, but no sampling parameters (see
 * `toAnthropicOptions`). It forwards the abort signal (`RunAbortedError` once it
 * aborts); maps a stream that ends without `message_stop` and a stop reason to 502
 * `upstream_incomplete`, an unreachable upstream to 502 `upstream_unavailable`, an error
 * status or mid-stream `error` event to 502 `upstream_error`, and a timeout to 504. The
 * gateway retries before the first byte (`maxRetries`, see `anthropic-retries.ts`).
 * Only configured credentials and headers reach the upstream, never `ANTHROPIC_*`
 * variables, and the API key never appears in a client-visible message.
 */
export function createAnthropicProvider(settings: AnthropicSettings): ModelProvider {
  const timeoutSeconds = settings.timeoutSeconds ?? 600;
  const maxRetries = settings.maxRetries ?? 2;
  const maxTokens = settings.maxTokens ?? 4096;
  const headers: Record<string, string | null> = {};
  for (const name of environmentHeaderNames()) headers[name] = null;
  // Last, so it also wins over an `Authorization` line in ANTHROPIC_CUSTOM_HEADERS; null
  // tells the SDK that sending no credential is intended.
  headers['Authorization'] = settings.apiKey ? `Bearer ${settings.apiKey}` : null;
  const client = new ConfiguredAnthropic({
    // Every option that otherwise falls back to the environment is given: a key (null
    // keeps ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN unread) and a base URL (null means
    // the SDK's default without reading ANTHROPIC_BASE_URL).
    apiKey: settings.apiKey ?? null,
    authToken: null,
    webhookKey: null,
    baseURL: settings.baseUrl ?? null,
    defaultHeaders: headers,
    timeout: timeoutSeconds * 1000,
    // Retries are the gateway's (see `anthropic-retries.ts`).
    maxRetries: 0,
    fetch: cappedFetch(settings.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES),
    // The SDK's own console logging prints raw upstream data (which may carry the API key)
    // outside our JSON log; failures reach the gateway as errors instead.
    logLevel: 'off',
  });
  const failures = createUpstreamFailures({ providerId: settings.id, baseUrl: client.baseURL, apiKey: settings.apiKey, timeoutSeconds, classify });

  return {
    id: settings.id,
    acceptsImages: true,
    async *stream(request: ModelRequest, { signal, deadline, observer, traceHeaders }: StreamOptions): AsyncIterable<ModelEvent> {
      const tally = new UsageTally();
      let stopReason: string | null = null;
      let stopped = false;
      const toolUses = new ToolUseStream();
      try {
        // Into the fresh options object, not a spread of it (eslint.config.js, leading spreads).
        const params = Object.assign(toAnthropicOptions(request, maxTokens), { model: request.model, stream: true as const }, toAnthropicPrompt(request.messages));
        const events = await withRetries(() => client.messages.create(params, { signal, ...(traceHeaders ? { headers: traceHeaders } : {}) }), {
          maxRetries,
          signal,
          deadline,
          observer,
        });
        for await (const event of events) {
          switch (event.type) {
            case 'message_start':
              tally.add(event.message.usage);
              stopReason = event.message.stop_reason ?? stopReason;
              break;
            case 'content_block_start':
              if (event.content_block.type === 'tool_use') yield toolUses.start(event.index, event.content_block);
              break;
            case 'content_block_delta': {
              // Thinking and citation deltas have no place in our events.
              if (event.delta.type === 'text_delta' && event.delta.text) yield { type: 'delta', text: event.delta.text };
              if (event.delta.type === 'input_json_delta') {
                const part = toolUses.delta(event.index, event.delta.partial_json);
                if (part) yield part;
              }
              break;
            }
            case 'content_block_stop': {
              const part = toolUses.stop(event.index);
              if (part) yield part;
              break;
            }
            case 'message_delta':
              tally.add(event.usage);
              stopReason = event.delta.stop_reason ?? stopReason;
              break;
            case 'message_stop':
              stopped = true;
              break;
          }
        }
      } catch (err) {
        throw failures.toRunError(err, signal);
      }
      // The SDK ends a stream quietly when the signal aborts it mid-body.
      if (signal.aborted) throw new RunAbortedError();
      if (!stopped || stopReason === null) throw failures.incomplete('ended its stream before the message was complete.');
      const usage = tally.result();
      if (usage) yield { type: 'usage', usage };
      yield { type: 'finish', reason: mapStopReason(stopReason) };
    },
  };
}
