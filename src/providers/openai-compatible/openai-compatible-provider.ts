import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { RunAbortedError } from '../../domain/errors.js';
import type { ModelEvent } from '../../domain/events.js';
import type { FinishReason, Usage } from '../../domain/messages.js';
import { DEFAULT_MAX_EVENT_BYTES } from '../event-cap.js';
import type { ModelProvider, ModelRequest, StreamOptions } from '../types.js';
import { createUpstreamFailures, type UpstreamFailure } from '../upstream-failures.js';
import { toRequestOptions, toWireMessage, ToolCallStream } from './openai-wire.js';
import { OFF_THREAD_CHARS, parseJsonOffThread } from './json-off-thread.js';
import { sseData } from './sse-data.js';
import { createUpstreamClient, UpstreamConnectionError, UpstreamStatusError, UpstreamTimeoutError } from './upstream-http.js';

/** Settings of one `api: "openai-completions"` provider, as configured. */
export interface OpenAICompatibleSettings {
  id: string;
  baseUrl: string;
  apiKey?: string;
  /** Seconds to wait for the upstream to answer (default 600). */
  timeoutSeconds?: number;
  /** Retries before the first byte, on connection errors, 408, 409, 429 and 5xx (default 2). */
  maxRetries?: number;
  /** One SSE line or event at most (default 8 MiB); past it the run ends with 502 `upstream_event_too_large`. */
  maxEventBytes?: number;
}

const FINISH_REASONS: ReadonlySet<string> = new Set(['stop', 'length', 'tool_calls', 'content_filter']);

/** Upstream finish reasons outside OpenAI's current set (`function_call`, vendor values) map to `stop`. */
function mapFinishReason(reason: string): FinishReason {
  if (reason === 'function_call') return 'tool_calls';
  return FINISH_REASONS.has(reason) ? (reason as FinishReason) : 'stop';
}

/** This adapter's errors, for the shared failure mapping (`upstream-failures.ts`). */
function classify(err: unknown): UpstreamFailure | undefined {
  if (err instanceof UpstreamTimeoutError) return { kind: 'timeout' };
  if (err instanceof UpstreamConnectionError) return { kind: 'unreachable', cause: err.cause };
  if (err instanceof UpstreamStatusError) {
    return { kind: 'answered', status: err.status, detail: err.detail, retryAfterMs: err.retryAfterMs, logText: `${err.status}: ${err.detail}` };
  }
  return undefined;
}

/**
 * Provider for any OpenAI-compatible Chat Completions upstream (OpenAI, Ollama, vLLM,
 * llama.cpp, LM Studio, OpenRouter): it streams, asks for usage
 * (`stream_options.include_usage`), closes the upstream request when the signal aborts,
 * retries before the first byte like the official SDKs, and maps upstream failures to
 * 502 and timeouts to 504. It forwards every sampling parameter, tools, tool choice and
 * images (see `toRequestOptions`, `toWireMessage`), and yields streamed tool calls as
 * `tool_call` events with OpenAI's own indexes. The upstream API key is never put in a
 * message the client sees.
 */
export function createOpenAICompatibleProvider(settings: OpenAICompatibleSettings): ModelProvider {
  const timeoutSeconds = settings.timeoutSeconds ?? 600;
  const maxEventBytes = settings.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const url = new URL(`${settings.baseUrl.replace(/\/+$/u, '')}/chat/completions`);
  const client = createUpstreamClient({
    timeoutMs: timeoutSeconds * 1000,
    maxRetries: settings.maxRetries ?? 2,
    // Only the configured key: nothing from this process's environment goes to an upstream.
    headers: {
      // What the official SDK sends, streaming or not: some servers check it.
      accept: 'application/json',
      'user-agent': 'moltbot-gateway',
      ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}),
    },
  });
  const failures = createUpstreamFailures({
    providerId: settings.id,
    baseUrl: settings.baseUrl,
    apiKey: settings.apiKey,
    timeoutSeconds,
    classify,
  });

  /** One event's parsed data as a chunk; anything else is a failure of the upstream. */
  function toChunk(value: unknown): ChatCompletionChunk {
    const record = value as { error?: { message?: unknown } | string; choices?: unknown } | null;
    if (record?.error !== undefined) {
      const message = typeof record.error === 'string' ? record.error : String(record.error?.message ?? 'an error event');
      throw new Error(message);
    }
    if (!Array.isArray(record?.choices)) throw new Error('an event is not a chat.completion.chunk');
    return value as ChatCompletionChunk;
  }

  /** One event's data as a chunk; a large event is parsed off the event loop (see `json-off-thread.ts`). */
  async function parseLargeChunk(data: string | Uint8Array): Promise<ChatCompletionChunk> {
    return toChunk(await parseJsonOffThread(data).catch(() => {
      throw new Error('an event is not valid JSON');
    }));
  }

  function parseChunk(data: string): ChatCompletionChunk {
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      throw new Error('an event is not valid JSON');
    }
    return toChunk(value);
  }

  return {
    id: settings.id,
    acceptsImages: true,
    async *stream(request: ModelRequest, { signal, deadline, observer, traceHeaders }: StreamOptions): AsyncIterable<ModelEvent> {
      let finish: FinishReason | undefined;
      let usage: Usage | undefined;
      const toolCalls = new ToolCallStream();
      try {
        // Into the fresh options object, not a spread of it (see eslint.config.js, leading spreads).
        const body = JSON.stringify(
          Object.assign(toRequestOptions(request), {
            model: request.model,
            messages: request.messages.map(toWireMessage),
            stream: true,
            stream_options: { include_usage: true },
          }),
        );
        const res = await client.post(url, body, signal, { deadline, observer, extraHeaders: traceHeaders });
        for await (const data of sseData(res.body, maxEventBytes)) {
          const chunk = typeof data === 'string' && data.length < OFF_THREAD_CHARS ? parseChunk(data) : await parseLargeChunk(data);
          if (chunk.usage) {
            usage = {
              promptTokens: chunk.usage.prompt_tokens,
              completionTokens: chunk.usage.completion_tokens,
              totalTokens: chunk.usage.total_tokens,
            };
          }
          const choice = chunk.choices[0];
          if (!choice) continue;
          if (choice.delta?.content) yield { type: 'delta', text: choice.delta.content };
          yield* toolCalls.events(choice.delta?.tool_calls);
          if (choice.finish_reason) finish = mapFinishReason(choice.finish_reason);
        }
      } catch (err) {
        throw failures.toRunError(err, signal);
      }
      if (signal.aborted) throw new RunAbortedError();
      if (finish === undefined) throw failures.incomplete('ended its stream without a finish reason.');
      if (usage) yield { type: 'usage', usage };
      yield { type: 'finish', reason: finish };
    },
  };
}
