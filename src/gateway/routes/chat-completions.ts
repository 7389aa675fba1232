/**
 * `POST /v1/chat/completions`: runs the request as an agent turn (`chat-request.ts`) and
 * maps the turn's events back onto OpenAI's `chat.completion` or `chat.completion.chunk`
 * shapes.
 */
import { hash, randomUUID } from 'node:crypto';
import type {
  ChatCompletionMessageToolCall,
  CompletionUsage,
  CreateChatCompletionRequest,
  CreateChatCompletionResponse,
  CreateChatCompletionStreamResponse,
} from '../../../generated/client/types.gen.js';
import { headerParameters, stringSchemas } from '../../../generated/spec-constants.js';
import type { AgentCore, StartedTurn } from '../../agents/core-api.js';
import type { Claimed } from '../../agents/idempotency.js';
import type { AgentEvent } from '../../domain/events.js';
import type { Usage } from '../../domain/messages.js';
import { textPieces } from '../../text-pieces.js';
import type { OperationRequest } from '../../../generated/operations.js';
import type { HandlerResult, OperationHandler, RequestFacts, ResponseHeaders } from '../handler.js';
import { chatTurn, type ChatTurn } from './chat-request.js';

/** The spec's session key (`components.schemas.SessionKey`): a key outside it (from an exotic `user`) is not echoed. */
const SESSION_KEY = new RegExp(stringSchemas.SessionKey.pattern, 'u');
const echoable = (key: string): boolean => key.length <= stringSchemas.SessionKey.maxLength && SESSION_KEY.test(key);

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
    yield { tool_calls: [{ index: event.index, ...first, function: Object.assign({}, name, { arguments: piece }) }] };
    first = {};
    name = {};
  }
}

/**
 * The turn as OpenAI chunks: role chunk, content and tool-call deltas, a final chunk with
 * `finish_reason`, and with `include_usage` a last chunk with the usage. The first agent
 * event is awaited before the role chunk so a failure to start is an HTTP error status.
 */
async function* toChunks(events: AsyncIterable<AgentEvent>, meta: CompletionMeta, named: ChatTurn['named'], facts: RequestFacts): AsyncGenerator<CreateChatCompletionStreamResponse> {
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
      countTokens(facts, event.usage);
      yield chunk(meta, [choice({}, event.finishReason)]);
      if (meta.includeUsage && event.usage) yield chunk(meta, [], event.usage);
    }
  } catch (err) {
    throw named(err);
  } finally {
    // Stopping early (client gone) must still end the turn so it is recorded.
    await iterator.return?.();
  }
}

/** The turn's `done` (it carries the whole reply: the turn was asked with `bufferedReply`) as a `chat.completion`. */
async function collect(events: AsyncIterable<AgentEvent>, meta: CompletionMeta, named: ChatTurn['named'], facts: RequestFacts): Promise<CreateChatCompletionResponse> {
  try {
    const response = await whole(events, meta);
    countTokens(facts, response.usage && { promptTokens: response.usage.prompt_tokens, completionTokens: response.usage.completion_tokens, totalTokens: response.usage.total_tokens });
    return response;
  } catch (err) {
    throw named(err);
  }
}

async function whole(events: AsyncIterable<AgentEvent>, meta: CompletionMeta): Promise<CreateChatCompletionResponse> {
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

/** The turn's token counts, for the request's log line. */
function countTokens(facts: RequestFacts, usage: Usage | undefined): void {
  if (!usage) return;
  facts.promptTokens = usage.promptTokens;
  facts.completionTokens = usage.completionTokens;
}

type ChatHeaders = OperationRequest<'createChatCompletion'>['header'];

/** The idempotency scope of this operation's keys. */
const IDEMPOTENCY_SCOPE = 'http:chat.completions';

/** What a completed request keeps for its repeats, beside its turn: its response's identity. */
interface ReplayPayload {
  id: string;
  created: number;
  sessionKey: string;
}

/** A digest of what makes two requests the same: the body and the routing headers. */
function requestFingerprint(body: CreateChatCompletionRequest, headers: ChatHeaders): string {
  const routing = [headers[headerParameters.AgentIdHeader] ?? null, headers[headerParameters.SessionKeyHeader] ?? null];
  return hash('sha256', JSON.stringify([routing, body]), 'base64url');
}

/** The response for a turn's events (live, or replayed for a repeated idempotent request). */
function respond(
  chat: ChatTurn,
  body: CreateChatCompletionRequest,
  events: AsyncIterable<AgentEvent>,
  payload: ReplayPayload,
  facts: RequestFacts,
): HandlerResult<'createChatCompletion'> {
  const meta: CompletionMeta = {
    id: payload.id,
    created: payload.created,
    model: body.model,
    includeUsage: body.stream_options?.include_usage === true,
  };
  const headers: ResponseHeaders<'createChatCompletion'> = echoable(payload.sessionKey) ? { [headerParameters.SessionKeyHeader]: payload.sessionKey } : {};
  if (body.stream === true) return { kind: 'sse', headers, events: toChunks(events, meta, chat.named, facts) };
  return { kind: 'json', status: 200, headers, body: collect(events, meta, chat.named, facts) };
}

/**
 * Builds the operation handler over an agent core. A request with an `Idempotency-Key`
 * runs at most once per key (`agents/idempotency.ts`); its repeats are answered from the
 * recorded turn. Session keys are logged as a hash keyed by `logKey` (the gateway's
 * secret): the same key gives the same hash, so an operator can follow a session, but
 * the hash of a guessable key (from `user`) cannot be reversed without the secret.
 */
export function createChatCompletionHandler(core: AgentCore, logKey: string): OperationHandler<'createChatCompletion'> {
  // A keyed one-shot SHA-256 (the key's own digest, then the session key): an HMAC object
  // per request was 1.3% of the gateway's CPU at c=32. Only pseudonymity is asked of it.
  const logSalt = hash('sha256', logKey, 'hex');
  return async ({ body, headers, signal, requestId, facts, traceContext }) => {
    const chat = chatTurn(body, headers);
    const key = headers[headerParameters.IdempotencyKeyHeader];
    let claimed: Claimed<ReplayPayload> | undefined;
    if (key !== undefined) {
      const found = await core
        .claimIdempotencyKey<ReplayPayload>({ scope: IDEMPOTENCY_SCOPE, key, fingerprint: requestFingerprint(body, headers) })
        .catch((err: unknown) => Promise.reject(chat.named(err)));
      if (found.kind === 'replay') return respond(chat, body, found.events, found.payload, facts);
      claimed = found;
    }
    let turn: StartedTurn;
    try {
      turn = core.startTurn({ requestId, ...chat.request, traceContext, idempotency: claimed?.idempotency }, signal);
    } catch (err) {
      claimed?.release();
      throw chat.named(err);
    }
    facts.agent = turn.agentId;
    facts.sessionKind = turn.sessionKind;
    const { sessionKey } = turn;
    facts.sessionKeyHash = () => hash('sha256', `${logSalt}\n${sessionKey}`, 'hex').slice(0, 16);
    const payload: ReplayPayload = { id: `chatcmpl-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), sessionKey: turn.sessionKey };
    return respond(chat, body, claimed ? claimed.guard(turn.events, payload) : turn.events, payload, facts);
  };
}
