import OpenAI from 'openai';
import type { FinishReason, ModelEvent, ModelProvider, ModelRequest, StreamOptions, Usage } from '../types.js';
import { RunAbortedError, upstreamError, upstreamTimeout } from '../../errors.js';
import { abortable } from '../abortable.js';
import { toRequestOptions, toWireMessage, ToolCallStream } from './openai-wire.js';

/** Settings of one `api: "openai-completions"` provider, as configured. */
export interface OpenAICompatibleSettings {
  id: string;
  baseUrl: string;
  apiKey?: string;
  /** Seconds to wait for the upstream to answer (default 600). */
  timeoutSeconds?: number;
  /** Retries before the first byte, on connection errors, 408, 409, 429 and 5xx (default 2). */
  maxRetries?: number;
}

const FINISH_REASONS: ReadonlySet<string> = new Set(['stop', 'length', 'tool_calls', 'content_filter']);

/** Upstream finish reasons outside OpenAI's current set (`function_call`, vendor values) map to `stop`. */
function mapFinishReason(reason: string): FinishReason {
  if (reason === 'function_call') return 'tool_calls';
  return FINISH_REASONS.has(reason) ? (reason as FinishReason) : 'stop';
}

/**
 * Provider for any OpenAI-compatible Chat Completions upstream (OpenAI, Ollama, vLLM,
 * llama.cpp, LM Studio, OpenRouter), through the official `openai` SDK: it streams,
 * asks for usage (`stream_options.include_usage`), forwards the abort signal and maps
 * upstream failures to 502 and timeouts to 504. It forwards every sampling parameter,
 * tools, tool choice and images (see `toRequestOptions`, `toWireMessage`), and yields
 * streamed tool calls as `tool_call` events with OpenAI's own indexes. The upstream API
 * key is never put in a message the client sees.
 */
export function createOpenAICompatibleProvider(settings: OpenAICompatibleSettings): ModelProvider {
  const timeoutSeconds = settings.timeoutSeconds ?? 600;
  const client = new OpenAI({
    baseURL: settings.baseUrl,
    // Pass every credential explicitly: the SDK would otherwise read OPENAI_API_KEY and
    // friends from this process's environment and send them to an arbitrary upstream.
    apiKey: settings.apiKey ?? 'unused',
    organization: null,
    project: null,
    defaultHeaders: settings.apiKey ? {} : { Authorization: null },
    timeout: timeoutSeconds * 1000,
    maxRetries: settings.maxRetries ?? 2,
    // The SDK's own console logging prints raw upstream data (which may carry the API key)
    // outside our JSON log; failures reach the gateway as errors instead.
    logLevel: 'off',
  });
  const where = `The model provider '${settings.id}'`;

  const redact = (text: string): string =>
    settings.apiKey ? text.split(settings.apiKey).join('***') : text;

  function mapError(err: unknown, signal: AbortSignal): Error {
    if (signal.aborted || err instanceof OpenAI.APIUserAbortError) return new RunAbortedError();
    if (err instanceof OpenAI.APIConnectionTimeoutError) {
      return upstreamTimeout(`${where} did not answer within ${timeoutSeconds} s.`, err);
    }
    if (err instanceof OpenAI.APIConnectionError) {
      return upstreamError(`${where} could not be reached at ${settings.baseUrl}.`, 'upstream_unavailable', err);
    }
    if (err instanceof OpenAI.APIError && err.status !== undefined) {
      const detail = redact(String((err.error as { message?: unknown } | undefined)?.message ?? err.message));
      return upstreamError(`${where} answered ${err.status}: ${detail.slice(0, 500)}`, 'upstream_error', err);
    }
    const detail = err instanceof Error ? redact(err.message) : 'unknown failure';
    return upstreamError(`${where} failed mid-reply: ${detail.slice(0, 500)}`, 'upstream_error', err);
  }

  return {
    id: settings.id,
    acceptsImages: true,
    async *stream(request: ModelRequest, { signal }: StreamOptions): AsyncIterable<ModelEvent> {
      let finish: FinishReason | undefined;
      let usage: Usage | undefined;
      const toolCalls = new ToolCallStream();
      try {
        const stream = await abortable(
          client.chat.completions.create(
            {
              ...toRequestOptions(request),
              model: request.model,
              messages: request.messages.map(toWireMessage),
              stream: true,
              stream_options: { include_usage: true },
            },
            { signal },
          ),
          signal,
        );
        for await (const chunk of stream) {
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
        throw mapError(err, signal);
      }
      if (signal.aborted) throw new RunAbortedError();
      if (finish === undefined) {
        throw upstreamError(`${where} ended its stream without a finish reason.`, 'upstream_incomplete');
      }
      if (usage) yield { type: 'usage', usage };
      yield { type: 'finish', reason: finish };
    },
  };
}
