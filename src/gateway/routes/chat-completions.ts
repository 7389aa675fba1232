/**
 * `POST /v1/chat/completions`: maps the OpenAI request onto an agent turn and the turn's
 * events back onto OpenAI's `chat.completion` or `chat.completion.chunk` shapes.
 */
import { randomUUID } from 'node:crypto';
import type {
  ChatCompletionMessageToolCall,
  CompletionUsage,
  CreateChatCompletionRequest,
  CreateChatCompletionResponse,
  CreateChatCompletionStreamResponse,
} from '../../../generated/client/types.gen.js';
import type { AgentCore, StartedTurn } from '../../agents/core.js';
import type { AgentEvent } from '../../agents/events.js';
import { turnOptions } from '../../agents/request-options.js';
import type { Usage } from '../../providers/types.js';
import { textPieces } from '../../text-pieces.js';
import type { SessionStore } from '../../sessions/store.js';
import type { HandlerInput, HandlerResult } from '../handler.js';
import { claimKey, requestFingerprint, type Claimed, type ReplayPayload } from '../idempotency.js';

/** Header values must be visible ASCII; other keys (from an exotic `user`) are not echoed. */
const HEADER_SAFE = /^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$/u;

interface CompletionMeta {
  id: string;
  created: number;
  model: string;
  /** `stream_options.include_usage`: `usage: null` on every chunk, then a usage chunk. */
  includeUsage: boolean;
}

type ChunkChoice = CreateChatCompletionStreamResponse['choices'][number];

function wireUsage(usage: Usage): CompletionUsage {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens };
}

function chunk(meta: CompletionMeta, choices: ChunkChoice[], usage?: Usage): CreateChatCompletionStreamResponse {
  return {
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices,
    ...(meta.includeUsage ? { usage: usage ? wireUsage(usage) : null } : {}),
  };
}

const choice = (delta: ChunkChoice['delta'], finishReason: ChunkChoice['finish_reason'] = null): ChunkChoice => ({
  index: 0,
  delta,
  logprobs: null,
  finish_reason: finishReason,
});

/**
 * Longest text in one streamed chunk. A longer delta (an upstream may send megabytes in
 * one event) goes out as several chunks, so the writer sends it in small writes with the
 * event loop free in between (it waits for the socket to drain after each).
 */
const CHUNK_TEXT_CHARS = 64 * 1024;

/** One agent event as the deltas OpenAI streams for it (more than one only for long text). */
function* deltasOf(event: Exclude<AgentEvent, { type: 'done' }>): Generator<ChunkChoice['delta']> {
  if (event.type === 'delta') {
    for (const piece of textPieces(event.text, CHUNK_TEXT_CHARS)) yield { content: piece };
    return;
  }
  let first: object = event.id === undefined ? {} : { id: event.id, type: 'function' as const };
  let name: object = event.name === undefined ? {} : { name: event.name };
  // Later pieces of the arguments continue the same call: index and arguments only.
  for (const piece of textPieces(event.arguments ?? '', CHUNK_TEXT_CHARS)) {
    yield { tool_calls: [{ index: event.index, ...first, function: { ...name, arguments: piece } }] };
    first = {};
    name = {};
  }
}

/**
 * The turn as OpenAI chunks: role chunk, content and tool-call deltas, a final chunk with
 * `finish_reason`, and with `include_usage` a last chunk with the usage. The first agent
 * event is awaited before the role chunk so a failure to start is an HTTP error status.
 */
async function* toChunks(events: AsyncIterable<AgentEvent>, meta: CompletionMeta): AsyncGenerator<CreateChatCompletionStreamResponse> {
  const iterator = events[Symbol.asyncIterator]();
  try {
    let next = await iterator.next();
    yield chunk(meta, [choice({ role: 'assistant', content: '' })]);
    for (; !next.done; next = await iterator.next()) {
      const event = next.value;
      if (event.type !== 'done') {
        for (const delta of deltasOf(event)) yield chunk(meta, [choice(delta)]);
        continue;
      }
      yield chunk(meta, [choice({}, event.finishReason)]);
      if (meta.includeUsage && event.usage) yield chunk(meta, [], event.usage);
    }
  } finally {
    // Stopping early (client gone) must still end the turn so it is recorded.
    await iterator.return?.();
  }
}

/** The turn's `done` (it carries the whole reply: the turn was asked with `bufferedReply`) as a `chat.completion`. */
async function collect(events: AsyncIterable<AgentEvent>, meta: CompletionMeta): Promise<CreateChatCompletionResponse> {
  for await (const event of events) {
    if (event.type !== 'done') continue;
    const content = event.reply?.content ?? '';
    const calls: ChatCompletionMessageToolCall[] = (event.reply?.toolCalls ?? []).map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
    return {
      id: meta.id,
      object: 'chat.completion',
      created: meta.created,
      model: meta.model,
      choices: [
        {
          index: 0,
          // OpenAI's shape for a pure tool call: null content.
          message: { role: 'assistant', content: content === '' && calls.length > 0 ? null : content, refusal: null, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
          logprobs: null,
          finish_reason: event.finishReason,
        },
      ],
      ...(event.usage ? { usage: wireUsage(event.usage) } : {}),
    };
  }
  throw new Error('agent run ended without a done event');
}

/** The response for a turn's events (live, or replayed for a repeated idempotent request). */
function respond(body: CreateChatCompletionRequest, events: AsyncIterable<AgentEvent>, payload: ReplayPayload): HandlerResult {
  const meta: CompletionMeta = {
    id: payload.id,
    created: payload.created,
    model: body.model,
    includeUsage: body.stream_options?.include_usage === true,
  };
  const headers: Record<string, string> = HEADER_SAFE.test(payload.sessionKey) ? { 'x-moltbot-session-key': payload.sessionKey } : {};
  if (body.stream === true) return { kind: 'sse', headers, events: toChunks(events, meta) };
  return { kind: 'json', status: 200, headers, body: collect(events, meta) };
}

/**
 * Builds the operation handler over an agent core; with `store`, requests carrying an
 * `Idempotency-Key` are run at most once per key (`idempotency.ts`).
 */
export function createChatCompletionHandler(core: AgentCore, store?: SessionStore) {
  return async ({ body, headers, signal }: HandlerInput<CreateChatCompletionRequest>): Promise<HandlerResult> => {
    const key = headers['idempotency-key'];
    let claimed: Claimed | undefined;
    if (key !== undefined && store) {
      const found = await claimKey(store, key, requestFingerprint(body, headers));
      if (found.kind === 'replay') return respond(body, found.events, found.payload);
      claimed = found;
    }
    let turn: StartedTurn;
    try {
      turn = core.startTurn(
        {
          agentId: headers['x-moltbot-agent-id'],
          model: body.model,
          sessionKey: headers['x-moltbot-session-key'],
          user: body.user,
          messages: body.messages,
          options: turnOptions(body),
          // A JSON reply is sent whole, after the turn is recorded.
          bufferedReply: body.stream !== true,
        },
        signal,
      );
    } catch (err) {
      claimed?.release();
      throw err;
    }
    const payload: ReplayPayload = { id: `chatcmpl-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), sessionKey: turn.sessionKey };
    return respond(body, claimed ? claimed.guard(turn.events, payload) : turn.events, payload);
  };
}
