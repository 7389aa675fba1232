/**
 * The agent core's interface: what a caller asks for (a turn), what it gets back (the
 * turn's events), and what the core is built from. `core.ts` implements it. Everything
 * here is in domain terms: each transport (the OpenAI HTTP endpoint, the WebSocket
 * protocol, `moltbot agent`) maps its own request onto a `TurnRequest` and renders the
 * events and errors in its own framing.
 */
import type { CallerSignal } from '../domain/caller-signal.js';
import type { AgentConfig } from '../config/types.js';
import type { AgentEvent } from '../domain/events.js';
import type { TurnMessage } from '../domain/messages.js';
import type { TurnOptions } from '../domain/options.js';
import type { CoreObserver, RunTracer } from '../domain/telemetry.js';
import type { ModelProvider } from '../providers/types.js';
import type { SessionKind, SessionStore, StoreHealth, TurnIdempotency } from '../sessions/store.js';
import type { Claimed, IdempotencyClaim, Replay } from './idempotency.js';
import type { ImagePolicy } from './images.js';
import type { LaneId, Lanes } from './lanes.js';
import type { Limiter } from './limiter.js';
import type { SessionAdmin } from './session-admin.js';

export type { SessionAdmin, SessionInfo, Turn } from './session-admin.js';
/** A session changed under a write, or another process runs a turn in it (the store's). */
export { SessionConflict } from '../sessions/store.js';

/**
 * One turn as a caller asks for it. A 4xx `GatewayError` about one of these inputs has
 * `field` set to its name here (`agentId`, `model`, `sessionKey`, `input`, or
 * `input[i].images[j]`), for the caller to name it its own way (`GatewayError.named`).
 */
export interface TurnRequest {
  /** An explicit agent id; wins over `model`. */
  agentId?: string | undefined;
  /**
   * A model name that may name the agent: `moltbot:<id>`, `moltbot/<id>` or
   * `agent:<id>`; anything else (or none) means the default agent.
   */
  model?: string | undefined;
  /** The session, as given; without it, derived from `user`, else a new one per turn. */
  sessionKey?: string | undefined;
  /** A stable end-user id: the session `agent:<id>:openai-user:<user>` when no key is given. */
  user?: string | null | undefined;
  /**
   * The messages, in the caller's order: `system` text joins the agent's system prompt
   * for this turn; the rest is the conversation as the caller has it, ending with the new
   * user or tool messages. A stored transcript is authoritative: only the new messages
   * (after the last `assistant` one) are added to it.
   */
  input: readonly TurnMessage[];
  /** Sampling parameters and tools, forwarded where the provider supports them. */
  options?: TurnOptions | undefined;
  /**
   * True when the caller holds the reply until the turn is done (a JSON response). The
   * model is then called without waiting for the turn's start to be committed, a turn
   * that ends within the same commit window is written once, and the run yields only its
   * `done` event, with the whole reply. Otherwise (streaming) the start is committed
   * before the first event is yielded: a client never sees a reply the store has no
   * record of.
   */
  bufferedReply?: boolean | undefined;
  /** The id the caller logs this request under: passed to the observer, never stored. */
  requestId?: string | undefined;
  /** The caller's trace context (its request's span), for `AgentCoreDeps.tracer`; opaque to the core. */
  traceContext?: unknown;
  /** A shorter run time than the agent's `timeoutSeconds` for this turn (never a longer one). */
  timeoutSeconds?: number | undefined;
  /**
   * The idempotency key the turn runs under, from `claimIdempotencyKey`'s `run`: claimed
   * in the store with the turn's start (the model is called while that commits; nothing
   * streams before it has) and settled with its end. A key taken meanwhile by another
   * process ends the run with the 409 `idempotency_key_in_use` / `idempotency_key_reused`
   * before anything streams.
   */
  idempotency?: TurnIdempotency | undefined;
}

/** A turn that has been routed and is ready to stream. */
export interface StartedTurn {
  agentId: string;
  sessionKey: string;
  /** How the key was chosen: given, derived from `user`, or new for this turn. */
  sessionKind: SessionKind;
  /**
   * Deltas then `done`; throws a `GatewayError` on failure (429 when the gateway or its
   * provider is at capacity, 504 on timeout, 503 on shutdown, 502/504 from the provider,
   * 400 for an image that cannot be fetched) or `RunAbortedError` when the caller's
   * signal aborted. Iterate once; stopping early ends the run and records it as aborted.
   */
  events: AsyncIterable<AgentEvent>;
}

export interface AgentCoreDeps {
  agents: readonly AgentConfig[];
  defaultAgentId: string;
  store: SessionStore;
  /** The provider for an id from config; every agent's provider must exist. */
  provider: (id: string) => ModelProvider;
  limits: { maxConcurrent: number; maxQueued: number };
  /**
   * The limiter of a provider with a cap of its own, else undefined. Its admission is
   * checked with the global one; its slot is taken after the session lane and the global
   * slot and held for the run.
   */
  providerLimiter?: (providerId: string) => Limiter | undefined;
  images: ImagePolicy;
  /**
   * Serialises turns per session (agent and key) within this process. Across processes
   * the store serialises them (`beginTurn`'s expected state).
   */
  lanes?: Lanes;
  /**
   * Told when a turn has to wait for a turn of the same session running in another
   * process (`moltbot agent` beside a gateway), so an operator or a user can see why.
   */
  onSessionWait?: (session: LaneId) => void;
  /** Told of queueing, runs, store writes and upstream calls (metrics, logs); nothing when absent. */
  observer?: CoreObserver | undefined;
  /** Spans for runs and their upstream calls when tracing is on; nothing is traced when absent. */
  tracer?: RunTracer | undefined;
  /** Replies larger than this (UTF-8 bytes of text and tool-call arguments) are stored cut, with a marker. */
  maxStoredReplyBytes?: number;
  now?: () => number;
}

export interface AgentCore {
  /**
   * Routes the request (400/404 `GatewayError`s are thrown here, before anything
   * streams) and returns the turn's event stream. Aborting `signal` stops the run and
   * the provider request; the turn is then recorded as `aborted`.
   */
  startTurn(request: TurnRequest, signal: CallerSignal): StartedTurn;
  /**
   * Shutdown: refuses new turns (503), lets running and queued ones finish for up to
   * `graceMs`, then aborts the rest (they end with a 503 error) and resolves when every
   * turn is recorded.
   */
  drain(graceMs: number): Promise<void>;
  /** Turns admitted and not yet finished (running or queued). */
  readonly pending: number;
  /** Reading, resetting and deleting sessions, for the transports that offer it. */
  readonly sessions: SessionAdmin;
  /** The configured agents, as given (the default one is `defaultAgentId`). */
  readonly agents: readonly AgentConfig[];
  readonly defaultAgentId: string;
  /**
   * Looks an idempotency key up before a turn starts (`idempotency.ts`): `run` (start the
   * turn with `idempotency` in its request and pass its events through `guard`) or `replay` (the first request's recorded
   * turn as events, and the `payload` its transport kept). Throws the 409s
   * `idempotency_key_in_use` / `idempotency_key_reused` (field `idempotencyKey`) and
   * 503 `store_unavailable`.
   */
  claimIdempotencyKey<P>(claim: IdempotencyClaim): Promise<Claimed<P> | Replay<P>>;
  /** Whether the session store can be reached, as last seen (no I/O). */
  storeHealth(): StoreHealth;
}
