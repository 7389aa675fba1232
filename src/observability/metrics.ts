/**
 * The gateway's Prometheus metrics (prom-client), one registry per gateway (tests run
 * several in one process). Names are fixed by issue 16 and the README; every label is
 * bounded: route templates from the spec, methods from a fixed set, status codes, agent
 * and provider ids from the configuration, error kinds; never a session key, a user or
 * free text.
 */
import { statSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreObserver, RecordedTurn, TurnLabels, UpstreamAttempt } from '../domain/telemetry.js';

/** Why a request failed authentication: no `Authorization: Bearer` at all, or a wrong secret. */
export type AuthFailureReason = 'missing' | 'invalid';

/** Latency buckets (seconds) for requests and first bytes: from a cached answer to a long agent turn. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Store writes: a group commit takes about a millisecond, a full disk or a slow database much more. */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface GatewayMetrics {
  readonly registry: Registry;
  /** One answered (or abandoned) HTTP request; `route` is the spec's path template or `unmatched`. */
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /** Time from a streamed request's arrival to its first chunk. */
  streamFirstByte(seconds: number): void;
  authFailure(reason: AuthFailureReason): void;
  /** A request refused because its address is blocked after too many auth failures. */
  authBlocked(): void;
  /** The core's part: runs, queueing, tokens, store writes, upstream calls. */
  readonly core: CoreObserver;
  /** The registry in the Prometheus text format. */
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** The SQLite store's write-ahead log, for `moltbot_store_wal_bytes`; absent for other stores. */
  walFile?: string | undefined;
}

/** Bound children per label values: prom-client hashes the label object on every call otherwise. */
function cached<T>(make: (...values: string[]) => T): (...values: string[]) => T {
  const children = new Map<string, T>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = children.get(key);
    if (!child) {
      child = make(...values);
      children.set(key, child);
    }
    return child;
  };
}

export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpRequests = new Counter({ name: 'moltbot_http_requests_total', help: 'HTTP requests answered, by route template, method and status.', labelNames: ['route', 'method', 'status'], registers });
  const httpDuration = new Histogram({ name: 'moltbot_http_request_duration_seconds', help: 'Time from a request\'s arrival until its response ended (a stream: its last byte).', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers });
  const firstByte = new Histogram({ name: 'moltbot_stream_first_byte_seconds', help: 'Time from a streamed request\'s arrival until its first chunk was written.', buckets: LATENCY_BUCKETS, registers });
  const runsActive = new Gauge({ name: 'moltbot_runs_active', help: 'Turns running now (holding a run slot), by agent.', labelNames: ['agent'], registers });
  const runsQueued = new Gauge({ name: 'moltbot_runs_queued', help: 'Turns admitted and waiting for their session lane or a run slot.', registers });
  const runsTotal = new Counter({ name: 'moltbot_runs_total', help: 'Turns recorded, by agent and status as recorded (ok, error, aborted, timeout).', labelNames: ['agent', 'status'], registers });
  const rejections = new Counter({ name: 'moltbot_queue_rejections_total', help: 'Turns refused because the gateway or their provider was at capacity (429 queue_full, provider_queue_full).', registers });
  const tokens = new Counter({ name: 'moltbot_tokens_total', help: 'Tokens used by recorded turns as their provider reported them, by agent and kind (prompt, completion).', labelNames: ['agent', 'kind'], registers });
  const upstreamRequests = new Counter({ name: 'moltbot_upstream_requests_total', help: 'Attempts at upstream model requests, by provider and status (HTTP status, error or timeout).', labelNames: ['provider', 'status'], registers });
  const upstreamDuration = new Histogram({ name: 'moltbot_upstream_duration_seconds', help: 'Time from an upstream attempt until its answer\'s headers (or its failure), by provider.', labelNames: ['provider'], buckets: LATENCY_BUCKETS, registers });
  const upstreamRetries = new Counter({ name: 'moltbot_upstream_retries_total', help: 'Upstream requests retried before their first byte, by provider.', labelNames: ['provider'], registers });
  const authFailures = new Counter({ name: 'moltbot_auth_failures_total', help: 'Requests refused 401, by reason (missing, invalid).', labelNames: ['reason'], registers });
  const authBlocked = new Counter({ name: 'moltbot_auth_blocked_total', help: 'Requests refused 429 because their address failed authentication too often.', registers });
  const storeWrites = new Histogram({ name: 'moltbot_store_write_duration_seconds', help: 'Time a turn\'s store write took until committed, by op (begin, finish).', labelNames: ['op'], buckets: STORE_BUCKETS, registers });
  const { walFile } = options;
  if (walFile !== undefined) {
    new Gauge({
      name: 'moltbot_store_wal_bytes',
      help: 'Size of the SQLite store\'s write-ahead log file.',
      registers,
      collect() {
        // Read at scrape time only; a missing file (checkpointed and removed) is empty.
        this.set(statSync(walFile, { throwIfNoEntry: false })?.size ?? 0);
      },
    });
  }

  const requestChild = cached((route, method, status) => httpRequests.labels(route as string, method as string, status as string));
  const durationChild = cached((route) => httpDuration.labels(route as string));
  const activeChild = cached((agent) => runsActive.labels(agent as string));
  const runChild = cached((agent, status) => runsTotal.labels(agent as string, status as string));
  const upstreamChild = cached((provider, status) => upstreamRequests.labels(provider as string, status as string));
  const upstreamTime = cached((provider) => upstreamDuration.labels(provider as string));
  const tokenChild = cached((agent, kind) => tokens.labels(agent as string, kind as string));
  const storeChild = cached((op) => storeWrites.labels(op as string));
  const retryChild = cached((provider) => upstreamRetries.labels(provider as string));
  const authChild = cached((reason) => authFailures.labels(reason as string));

  const core: CoreObserver = {
    queued: () => runsQueued.inc(),
    started: (turn: TurnLabels) => {
      runsQueued.dec();
      activeChild(turn.agentId).inc();
    },
    left: (turn, started) => (started ? activeChild(turn.agentId).dec() : runsQueued.dec()),
    rejected: () => rejections.inc(),
    recorded: (turn, outcome: RecordedTurn) => {
      runChild(turn.agentId, outcome.status).inc();
      if (outcome.usage) {
        tokenChild(turn.agentId, 'prompt').inc(outcome.usage.promptTokens);
        tokenChild(turn.agentId, 'completion').inc(outcome.usage.completionTokens);
      }
    },
    storeWrite: (op, seconds) => storeChild(op).observe(seconds),
    upstreamAttempt: (turn, attempt: UpstreamAttempt) => {
      upstreamChild(turn.provider, attempt.status).inc();
      upstreamTime(turn.provider).observe(attempt.seconds);
    },
    upstreamRetry: (turn) => retryChild(turn.provider).inc(),
  };

  return {
    registry,
    core,
    contentType: registry.contentType,
    httpRequest(route, method, status, seconds) {
      const upper = method.toUpperCase();
      requestChild(route, METHODS.has(upper) ? upper : 'OTHER', String(status)).inc();
      durationChild(route).observe(seconds);
    },
    streamFirstByte: (seconds) => firstByte.observe(seconds),
    authFailure: (reason) => authChild(reason).inc(),
    authBlocked: () => authBlocked.inc(),
    render: () => registry.metrics(),
  };
}
