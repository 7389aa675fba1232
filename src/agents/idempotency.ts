/**
 * Idempotency keys for any transport (HTTP's `Idempotency-Key`, after the IETF httpapi
 * draft): the first request with a key claims it in the store (shared by every replica)
 * in the same write as its turn's start, and completes it in the one of its end
 * (docs/decisions/0015-idempotency-with-the-turn.md). A repeat within 10 minutes runs
 * nothing and gets the first one's turn back as events, with what the transport kept
 * beside it (`payload`: its response id and the like), or `idempotency_key_in_use`
 * while the first still runs, or `idempotency_key_reused` when the key came with a
 * different request (409s; not the IETF draft's 422: in the spec a 422 is what the Prism
 * mock answers every invalid request with, instead of our 400). A run that fails or is
 * cut off releases its key, so a retry runs it again.
 */
import { idempotencyKeyInUse, idempotencyKeyReused, type GatewayError } from '../domain/errors.js';
import type { AgentEvent } from '../domain/events.js';
import { IDEMPOTENCY_WINDOW_MS, type IdempotencyKeyTaken, type SessionStore, type Turn, type TurnIdempotency } from '../sessions/store.js';

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

/**
 * A key this process has let a request run under, until its turn ends: repeats reaching
 * this process are answered from here, without a store read. `at` bounds a hold whose
 * request never ran its events (it lasts the key's window, as the store's claim would).
 */
export type KeyHolds = Map<string, { fingerprint: string; at: number }>;

/**
 * A key free for this request: start the turn with `idempotency` in its request (the
 * store claims the key with the turn's start, and settles it with its end), and pass its
 * events through `guard` with what the transport keeps for repeats (`payload`). `release`
 * lets go of a key whose turn never started.
 */
export type Claimed<P> = {
  kind: 'run';
  idempotency: TurnIdempotency;
  guard: (events: AsyncIterable<AgentEvent>, payload: P) => AsyncIterable<AgentEvent>;
  release: () => void;
};
/** A repeat of a completed request: its turn as events, and what its transport kept. */
export type Replay<P> = { kind: 'replay'; payload: P; events: AsyncIterable<AgentEvent> };

/** The 409 for a key this process or the store says is taken. */
function taken(state: 'running' | 'mismatch'): GatewayError {
  return state === 'mismatch' ? idempotencyKeyReused() : idempotencyKeyInUse();
}

/**
 * Looks `key` up for the request: free (a `run`, whose turn claims the key with its
 * start), or a replay of the first request; throws 409 `GatewayError`s (and 503 when the
 * store is unavailable). Writes nothing: the key costs the store one read, and a repeat
 * of a key running in this process not even that.
 */
export async function claimKey<P>(store: SessionStore, holds: KeyHolds, { scope, key, fingerprint }: IdempotencyClaim, now: number): Promise<Claimed<P> | Replay<P>> {
  const id = `${scope}\n${key}`;
  const held = (): void => {
    const hold = holds.get(id);
    if (hold && now - hold.at <= IDEMPOTENCY_WINDOW_MS) throw taken(hold.fingerprint === fingerprint ? 'running' : 'mismatch');
  };
  held();
  const found = await store.lookupIdempotencyKey({ scope, key, fingerprint, now });
  if (found.state === 'mismatch' || found.state === 'running') throw taken(found.state);
  if (found.state === 'done') {
    const { turn, payload } = found.result;
    const stored = turn ? await store.getTurn(turn) : undefined;
    // The transcript was pruned (or reset and pruned) since: nothing to answer from, so the key is spent.
    if (!stored || stored.status !== 'ok') throw idempotencyKeyReused();
    return { kind: 'replay', payload: payload as P, events: fromGenerator(replayEvents(stored)) };
  }
  // Another request of this process may have taken it during the read.
  held();
  const hold = { fingerprint, at: now };
  holds.set(id, hold);
  const release = (): void => {
    if (holds.get(id) === hold) holds.delete(id);
  };
  const idempotency: TurnIdempotency = { scope, key, fingerprint };
  return {
    kind: 'run',
    idempotency,
    release,
    guard: (events, payload) => {
      // Recorded with the key when the turn's start is written (the events are not iterated yet).
      idempotency.payload = payload;
      return guarded(events, release);
    },
  };
}

async function* guarded(events: AsyncIterable<AgentEvent>, release: () => void): AsyncGenerator<AgentEvent> {
  try {
    yield* events;
  } finally {
    release();
  }
}

/** The 409 for a turn whose start the store refused because its key was taken meanwhile (by another process). */
export function keyTaken(err: IdempotencyKeyTaken): GatewayError {
  // Completed between the look-up and the start: the retry the 409 asks for gets the replay.
  return taken(err.state === 'mismatch' ? 'mismatch' : 'running');
}
