/**
 * What the agent core and the providers tell whoever watches them (metrics, logs,
 * traces), in domain terms: the core calls a `CoreObserver` it is given and knows nothing
 * of Prometheus, pino or OpenTelemetry. Every value passed is bounded (ids from the
 * configuration, statuses, numbers), never a session key, a user or message text, so an
 * observer may use them as metric labels. Observers must be cheap and must not throw.
 */
import type { Usage } from './messages.js';

/** The statuses a turn is recorded with by the gateway itself (`interrupted` is set by a store: `CoreObserver.interrupted`). */
export type RecordedStatus = 'ok' | 'error' | 'aborted' | 'timeout';

/**
 * The agent id `CoreObserver.interrupted` names for turns of an agent the configuration no
 * longer lists (no agent id can start with `_`): those share one label, so a store's old
 * agent ids never add series.
 */
export const UNCONFIGURED_AGENT = '_unconfigured';

/** Which turn an observation is about. */
export interface TurnLabels {
  agentId: string;
  /** The agent's provider id (`models.providers.<id>`). */
  provider: string;
  /** The id the transport logs the request under, when it has one (never a label). */
  requestId?: string | undefined;
}

/**
 * One attempt at an upstream request: `status` is the HTTP status it answered (`"200"`,
 * `"503"`), or `"error"` (not reached, connection broken) or `"timeout"` (no answer in
 * time); `seconds` is the time until its answer's headers (or the failure).
 */
export interface UpstreamAttempt {
  status: string;
  seconds: number;
}

/** A retry about to be made: which (0 for the first), after what failure, after how long. */
export interface UpstreamRetry {
  retry: number;
  status: string;
  waitMs: number;
}

/** What an adapter reports of its upstream calls (see `StreamOptions.observer`). */
export interface UpstreamObserver {
  attempt(attempt: UpstreamAttempt): void;
  retry(retry: UpstreamRetry): void;
}

/** A turn as recorded: its status, usage (as the provider reported it) and duration. */
export interface RecordedTurn {
  status: RecordedStatus;
  /** The error code a failed turn was recorded with. */
  code?: string | null | undefined;
  usage?: Usage | undefined;
  seconds: number;
}

/**
 * What the core reports. A turn is `queued` once admitted, `started` once it holds its
 * session lane and run slots, and `left` exactly once after either (with whether it had
 * started); `rejected` when it was refused for capacity (429).
 */
export interface CoreObserver {
  queued(turn: TurnLabels): void;
  started(turn: TurnLabels): void;
  left(turn: TurnLabels, started: boolean): void;
  rejected(turn: TurnLabels): void;
  /** The turn's ending is in the store. */
  recorded(turn: TurnLabels, outcome: RecordedTurn): void;
  /**
   * A store marked `count` running turns of agent `agentId` (or `UNCONFIGURED_AGENT`)
   * `interrupted`: the process running them died (this one's predecessor, another replica).
   * Each such turn is told once, to one process; none of them was `started` here.
   */
  interrupted(agentId: string, count: number): void;
  /** One store write of a turn (`begin`: its start, `finish`: its ending) took `seconds`. */
  storeWrite(op: 'begin' | 'finish', seconds: number): void;
  upstreamAttempt(turn: TurnLabels, attempt: UpstreamAttempt): void;
  upstreamRetry(turn: TurnLabels, retry: UpstreamRetry): void;
}

/** An upstream call's span: the W3C trace headers to send with it, and its end. */
export interface UpstreamSpan {
  /** `traceparent` (and `tracestate`) naming this span as the upstream request's parent. */
  headers: Readonly<Record<string, string>>;
  end(error?: string): void;
}

/** A run's span, as the core sees it. */
export interface RunSpan {
  /** Starts the span of the run's call to its provider, a child of the run's. */
  upstream(): UpstreamSpan;
  /** Ends the run's span with the status the turn was recorded with (or `error`). */
  end(status: string): void;
}

/**
 * Starts run spans when tracing is on. `parent` is the caller's trace context
 * (`TurnRequest.traceContext`), opaque to the core: whatever the tracer gave the transport.
 */
export interface RunTracer {
  startRun(turn: TurnLabels, parent: unknown): RunSpan;
}
