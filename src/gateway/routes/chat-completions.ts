/**
 * `POST /v1/chat/completions`: maps the OpenAI request onto an agent turn and the turn's
 * events back onto OpenAI's `chat.completion` or `chat.completion.chunk` shapes.
 */
import { randomUUID } from 'node:crypto';
import type {
  CreateChatCompletionRequest,
  CreateChatCompletionResponse,
  CreateChatCompletionStreamResponse,
  CompletionUsage,
} from '../../../generated/client/types.gen.js';
import type { AgentCore } from '../../agents/core.js';
import type { AgentEvent } from '../../agents/events.js';
import type { Usage } from '../../providers/types.js';
import type { HandlerInput, HandlerResult } from '../handler.js';

/** Header values must be visible ASCII; other keys (from an exotic `user`) are not echoed. */
const HEADER_SAFE = /^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$/u;

interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

function wireUsage(usage: Usage): CompletionUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
  };
}

function chunk(meta: CompletionMeta, choice: CreateChatCompletionStreamResponse['choices'][number]): CreateChatCompletionStreamResponse {
  return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [choice] };
}

/**
 * The turn as OpenAI chunks: role chunk, content deltas, a final chunk with
 * `finish_reason`. The first agent event is awaited before the role chunk so a failure
 * to start is still an HTTP error status.
 */
async function* toChunks(events: AsyncIterable<AgentEvent>, meta: CompletionMeta): AsyncGenerator<CreateChatCompletionStreamResponse> {
  const iterator = events[Symbol.asyncIterator]();
  try {
    let next = await iterator.next();
    yield chunk(meta, { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
    for (; !next.done; next = await iterator.next()) {
      const event = next.value;
      if (event.type === 'delta') {
        yield chunk(meta, { index: 0, delta: { content: event.text }, logprobs: null, finish_reason: null });
      } else {
        yield chunk(meta, { index: 0, delta: {}, logprobs: null, finish_reason: event.finishReason });
      }
    }
  } finally {
    // Stopping early (client gone) must still end the turn so it is recorded.
    await iterator.return?.();
  }
}

async function collect(events: AsyncIterable<AgentEvent>, meta: CompletionMeta): Promise<CreateChatCompletionResponse> {
  let content = '';
  for await (const event of events) {
    if (event.type === 'delta') {
      content += event.text;
      continue;
    }
    return {
      id: meta.id,
      object: 'chat.completion',
      created: meta.created,
      model: meta.model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: event.finishReason }],
      ...(event.usage ? { usage: wireUsage(event.usage) } : {}),
    };
  }
  throw new Error('agent run ended without a done event');
}

/** Builds the operation handler over an agent core. */
export function createChatCompletionHandler(core: AgentCore) {
  return async ({ body, headers, signal }: HandlerInput<CreateChatCompletionRequest>): Promise<HandlerResult> => {
    const turn = core.startTurn(
      {
        agentId: headers['x-moltbot-agent-id'],
        model: body.model,
        sessionKey: headers['x-moltbot-session-key'],
        user: body.user,
        messages: body.messages,
      },
      signal,
    );
    const meta: CompletionMeta = {
      id: `chatcmpl-${randomUUID().replaceAll('-', '')}`,
      created: Math.floor(Date.now() / 1000),
      model: body.model,
    };
    const responseHeaders: Record<string, string> = HEADER_SAFE.test(turn.sessionKey)
      ? { 'x-moltbot-session-key': turn.sessionKey }
      : {};
    if (body.stream === true) {
      return { kind: 'sse', headers: responseHeaders, events: toChunks(turn.events, meta) };
    }
    return { kind: 'json', status: 200, headers: responseHeaders, body: collect(turn.events, meta) };
  };
}
