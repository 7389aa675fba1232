/**
 * Idempotency keys for any transport (HTTP's `Idempotency-Key`, after the IETF httpapi
 * draft): the first request with a key claims it in the store (shared by every replica);
 * a repeat within 10 minutes runs nothing and gets the first one's turn back as events,
 * with what the transport kept beside it (`payload`: its response id and the like), or
 * `idempotency_key_in_use` while the first still runs, or `idempotency_key_reused` when
 * the key came with a different request (409s; not the IETF draft's 422: in the spec a
 * 422 is what the Prism mock answers every invalid request with, instead of our 400). A
 * run that fails or is cut off releases its key, so a retry runs it again.
 */
import { idempotencyKeyInUse, idempotencyKeyReused } from '../domain/errors.js';
import type { AgentEvent } from '../domain/events.js';
import type { IdempotencyResult, SessionStore, Turn, TurnRef } from '../sessions/store.js';

/** One claim: `scope` separates transports and operations; `fingerprint` digests what makes two requests the same. */
export interface IdempotencyClaim {
  scope: string;
  key: string;
  fingerprint: string;
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

/** A claimed key: run the turn, its events through `guard` (which completes the key when the turn is done, else releases it). */
export type Claimed<P> = { kind: 'run'; guard: (events: AsyncIterable<AgentEvent>, payload: P) => AsyncIterable<AgentEvent>; release: () => void };
/** A repeat of a completed request: its turn as events, and what its transport kept. */
export type Replay<P> = { kind: 'replay'; payload: P; events: AsyncIterable<AgentEvent> };

/**
 * Claims `key` for the request: a run (whose events go through `guard`, which completes
 * the key when the turn is done and releases it otherwise), or a replay of the first
 * request; throws 409 `GatewayError`s (and 503 when the store is unavailable).
 */
export async function claimKey<P>(store: SessionStore, { scope, key, fingerprint }: IdempotencyClaim): Promise<Claimed<P> | Replay<P>> {
  const claim = await store.claimIdempotencyKey({ scope, key, fingerprint, now: Date.now() });
  if (claim.state === 'mismatch') throw idempotencyKeyReused();
  if (claim.state === 'running') throw idempotencyKeyInUse();
  const release = (): void => {
    // Best effort: a key that cannot be released expires with its window.
    store.releaseIdempotencyKey(scope, key).catch(() => undefined);
  };
  if (claim.state === 'done') {
    const { turn, payload } = claim.result;
    const stored = turn ? await store.getTurn(turn) : undefined;
    // The transcript was pruned (or reset and pruned) since: nothing to answer from, so the key is spent.
    if (!stored || stored.status !== 'ok') throw idempotencyKeyReused();
    return { kind: 'replay', payload: payload as P, events: fromGenerator(replayEvents(stored)) };
  }
  return {
    kind: 'run',
    release,
    guard: (events, payload) => guarded(store, scope, key, events, payload, release),
  };
}

async function* guarded<P>(store: SessionStore, scope: string, key: string, events: AsyncIterable<AgentEvent>, payload: P, release: () => void): AsyncGenerator<AgentEvent> {
  let completed = false;
  try {
    for await (const event of events) {
      if (event.type === 'done' && event.turn) {
        const result: IdempotencyResult = { turn: event.turn as TurnRef, payload };
        // Completed before the client has the answer, so a repeat never runs the turn again.
        completed = await store.completeIdempotencyKey(scope, key, result).then(
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
