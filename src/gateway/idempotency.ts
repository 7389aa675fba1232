/**
 * `Idempotency-Key` on `POST /v1/chat/completions` (after the IETF httpapi draft): the
 * first request with a key claims it in the store (shared by every replica); a repeat
 * within 10 minutes runs nothing and gets the first one's response rebuilt from its
 * recorded turn (the same `chat.completion` and id; a stream replayed as chunks), or 409
 * `idempotency_key_in_use` while the first still runs, or 409 `idempotency_key_reused`
 * when the key came with a different request (409, not the IETF draft's 422: in the spec
 * a 422 is what the Prism mock answers every invalid request with, instead of our 400).
 * A run that fails or is cut off releases its key, so a retry runs it again.
 */
import { hash } from 'node:crypto';
import type { AgentEvent } from '../agents/events.js';
import { GatewayError } from '../errors.js';
import type { IdempotencyResult, SessionStore, Turn, TurnRef } from '../sessions/store.js';

export const IDEMPOTENCY_SCOPE = 'http:chat.completions';

/** What a completed request keeps for its repeats, beside its turn. */
export interface ReplayPayload {
  id: string;
  created: number;
  sessionKey: string;
}

function inUse(): GatewayError {
  return new GatewayError({
    status: 409,
    type: 'invalid_request_error',
    code: 'idempotency_key_in_use',
    param: 'Idempotency-Key',
    message: 'A request with this Idempotency-Key is still running; retry in 1 s to get its response.',
    headers: { 'retry-after': '1' },
  });
}

function reused(): GatewayError {
  return new GatewayError({
    status: 409,
    type: 'invalid_request_error',
    code: 'idempotency_key_reused',
    param: 'Idempotency-Key',
    message: 'This Idempotency-Key was used for a different request within the last 10 minutes; use a new key for a new request.',
  });
}

/** A digest of what makes two requests the same: the body and the routing headers. */
export function requestFingerprint(body: unknown, headers: Readonly<Record<string, string | undefined>>): string {
  const routing = [headers['x-moltbot-agent-id'] ?? null, headers['x-moltbot-session-key'] ?? null];
  return hash('sha256', JSON.stringify([routing, body]), 'base64url');
}

/** A recorded turn as the agent events that produced it, for the same renderers to answer again. */
function* replayEvents(turn: Turn): Generator<AgentEvent> {
  const reply = turn.reply?.role === 'assistant' ? turn.reply : undefined;
  const content = reply?.content ?? '';
  const toolCalls = reply?.toolCalls ?? [];
  if (content !== '') yield { type: 'delta', text: content };
  for (const [index, call] of toolCalls.entries()) yield { type: 'tool_call', index, id: call.id, name: call.name, arguments: call.arguments };
  yield {
    type: 'done',
    finishReason: turn.finishReason ?? 'stop',
    ...(turn.usage ? { usage: turn.usage } : {}),
    reply: { content, toolCalls },
    turn: { sessionId: turn.sessionId, seq: turn.seq },
  };
}

async function* fromGenerator(events: Generator<AgentEvent>): AsyncGenerator<AgentEvent> {
  yield* events;
}

export type Claimed = { kind: 'run'; guard: (events: AsyncIterable<AgentEvent>, payload: ReplayPayload) => AsyncIterable<AgentEvent>; release: () => void };
export type Replay = { kind: 'replay'; payload: ReplayPayload; events: AsyncIterable<AgentEvent> };

/**
 * Claims `key` for the request: a run (whose events go through `guard`, which completes
 * the key when the turn is done and releases it otherwise), or a replay of the first
 * request; throws 409 `GatewayError`s (and 503 when the store is unavailable).
 */
export async function claimKey(store: SessionStore, key: string, fingerprint: string): Promise<Claimed | Replay> {
  const claim = await store.claimIdempotencyKey({ scope: IDEMPOTENCY_SCOPE, key, fingerprint, now: Date.now() });
  if (claim.state === 'mismatch') throw reused();
  if (claim.state === 'running') throw inUse();
  const release = (): void => {
    // Best effort: a key that cannot be released expires with its window.
    store.releaseIdempotencyKey(IDEMPOTENCY_SCOPE, key).catch(() => undefined);
  };
  if (claim.state === 'done') {
    const { turn, payload } = claim.result;
    const stored = turn ? await store.getTurn(turn) : undefined;
    // The transcript was pruned (or reset and pruned) since: nothing to answer from, so the key is spent.
    if (!stored || stored.status !== 'ok') throw reused();
    return { kind: 'replay', payload: payload as ReplayPayload, events: fromGenerator(replayEvents(stored)) };
  }
  return {
    kind: 'run',
    release,
    guard: (events, payload) => guarded(store, key, events, payload, release),
  };
}

async function* guarded(store: SessionStore, key: string, events: AsyncIterable<AgentEvent>, payload: ReplayPayload, release: () => void): AsyncGenerator<AgentEvent> {
  let completed = false;
  try {
    for await (const event of events) {
      if (event.type === 'done' && event.turn) {
        const result: IdempotencyResult = { turn: event.turn as TurnRef, payload };
        // Completed before the client has the answer, so a repeat never runs the turn again.
        completed = await store.completeIdempotencyKey(IDEMPOTENCY_SCOPE, key, result).then(
          () => true,
          () => false,
        );
      }
      yield event;
    }
  } finally {
    if (!completed) release();
  }
}
