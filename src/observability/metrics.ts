/**
 * The gateway's Prometheus metrics: one prom-client registry per gateway (tests run
 * several in one process) with prom-client's default process metrics, and the gateway's
 * own families (`metric-family.ts`: an observation is a field update). Names are fixed by issue 16 and the README; every label is
 * bounded: route templates from the spec, methods from a fixed set, status codes, agent
 * and provider ids from the configuration, error kinds; never a session key, a user or
 * free text.
 */
import { statSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreObserver, RecordedTurn, TurnLabels, UpstreamAttempt } from '../domain/telemetry.js';
import { CounterFamily, GaugeFamily, HistogramFamily } from './metric-family.js';

/** Why a request failed authentication: no `Authorization: Bearer` at all, or a wrong secret. */
export type AuthFailureReason = 'missing' | 'invalid';

/** Latency buckets (seconds) for requests and first bytes: from a cached answer to a long agent turn. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Store writes: a group commit takes about a millisecond, a full disk or a slow database much more. */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** How often the event-loop delay (`nodejs_eventloop_lag_*`) is sampled. */
const LAG_SAMPLE_MS = 100;

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** What the WebSocket protocol counts: connections open, and frames received (`in`) and sent (`out`). */
export interface WsMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  frame(direction: 'in' | 'out'): void;
}

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
  /** The WebSocket protocol's part. */
  readonly ws: WsMetrics;
  /** The registry in the Prometheus text format. */
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** The SQLite store's write-ahead log, for `moltbot_store_wal_bytes`; absent for other stores. */
  walFile?: string | undefined;
}

export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  // The event-loop delay is sampled every 100 ms, not prom-client's 10: each sample is a
  // timer that wakes an idle loop, 8 ms of CPU a second for nothing at 10 (2 ms at 100);
  // a stall still shows in the next sample, and a scrape sees hundreds of samples.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
  const counter = (name: string, help: string, labelNames: readonly string[] = []): CounterFamily => new CounterFamily({ name, help, labelNames }, registry);
  const gauge = (name: string, help: string, labelNames: readonly string[] = []): GaugeFamily => new GaugeFamily({ name, help, labelNames }, registry);
  const histogram = (name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): HistogramFamily =>
    new HistogramFamily({ name, help, labelNames, buckets }, registry);

  const httpRequests = counter('moltbot_http_requests_total', 'HTTP requests answered, by route template, method and status.', ['route', 'method', 'status']);
  const httpDuration = histogram('moltbot_http_request_duration_seconds', 'Time from a request\'s arrival until its response ended (a stream: its last byte).', LATENCY_BUCKETS, ['route']);
  const firstByte = histogram('moltbot_stream_first_byte_seconds', 'Time from a streamed request\'s arrival until its first chunk was written.', LATENCY_BUCKETS).child();
  const runsActive = gauge('moltbot_runs_active', 'Turns running now (holding a run slot), by agent.', ['agent']);
  const runsQueued = gauge('moltbot_runs_queued', 'Turns admitted and waiting for their session lane or a run slot.').child();
  const runsTotal = counter('moltbot_runs_total', 'Turns recorded, by agent and status as recorded (ok, error, aborted, timeout; interrupted: a turn whose process died, counted by the process that marked it).', ['agent', 'status']);
  const rejections = counter('moltbot_queue_rejections_total', 'Turns refused because the gateway or their provider was at capacity (429 queue_full, provider_queue_full).').child();
  const tokens = counter('moltbot_tokens_total', 'Tokens used by recorded turns as their provider reported them, by agent and kind (prompt, completion).', ['agent', 'kind']);
  const upstreamRequests = counter('moltbot_upstream_requests_total', 'Attempts at upstream model requests, by provider and status (HTTP status, error or timeout).', ['provider', 'status']);
  const upstreamDuration = histogram('moltbot_upstream_duration_seconds', 'Time from an upstream attempt until its answer\'s headers (or its failure), by provider.', LATENCY_BUCKETS, ['provider']);
  const upstreamRetries = counter('moltbot_upstream_retries_total', 'Upstream requests retried before their first byte, by provider.', ['provider']);
  const authFailures = counter('moltbot_auth_failures_total', 'Requests refused 401, by reason (missing, invalid).', ['reason']);
  const authBlocked = counter('moltbot_auth_blocked_total', 'Requests refused 429 because their address failed authentication too often.').child();
  const storeWrites = histogram('moltbot_store_write_duration_seconds', 'Time a turn\'s store write took until committed, by op (begin, finish).', STORE_BUCKETS, ['op']);
  const wsConnections = gauge('moltbot_ws_connections', 'WebSocket connections open now (from the upgrade until closed, authenticated or not).').child();
  const wsFrames = counter('moltbot_ws_frames_total', 'WebSocket messages received (in) and sent (out), by direction; control frames (ping, pong, close) are not counted.', ['direction']);
  const wsIn = wsFrames.child('in');
  const wsOut = wsFrames.child('out');
  const { walFile } = options;
  if (walFile !== undefined) {
    const wal = new GaugeFamily(
      {
        name: 'moltbot_store_wal_bytes',
        help: 'Size of the SQLite store\'s write-ahead log file.',
        // Read at scrape time only; a missing file (checkpointed and removed) is empty.
        collect: () => wal.child().set(statSync(walFile, { throwIfNoEntry: false })?.size ?? 0),
      },
      registry,
    );
  }

  const core: CoreObserver = {
    queued: () => runsQueued.inc(),
    started: (turn: TurnLabels) => {
      runsQueued.dec();
      runsActive.child(turn.agentId).inc();
    },
    left: (turn, started) => (started ? runsActive.child(turn.agentId).dec() : runsQueued.dec()),
    rejected: () => rejections.inc(),
    recorded: (turn, outcome: RecordedTurn) => {
      runsTotal.child(turn.agentId, outcome.status).inc();
      if (outcome.usage) {
        tokens.child(turn.agentId, 'prompt').inc(outcome.usage.promptTokens);
        tokens.child(turn.agentId, 'completion').inc(outcome.usage.completionTokens);
      }
    },
    interrupted: (agentId, count) => runsTotal.child(agentId, 'interrupted').inc(count),
    storeWrite: (op, seconds) => storeWrites.child(op).observe(seconds),
    upstreamAttempt: (turn, attempt: UpstreamAttempt) => {
      upstreamRequests.child(turn.provider, attempt.status).inc();
      upstreamDuration.child(turn.provider).observe(attempt.seconds);
    },
    upstreamRetry: (turn) => upstreamRetries.child(turn.provider).inc(),
  };

  return {
    registry,
    core,
    contentType: registry.contentType,
    httpRequest(route, method, status, seconds) {
      const upper = method.toUpperCase();
      httpRequests.child(route, METHODS.has(upper) ? upper : 'OTHER', String(status)).inc();
      httpDuration.child(route).observe(seconds);
    },
    streamFirstByte: (seconds) => firstByte.observe(seconds),
    authFailure: (reason) => authFailures.child(reason).inc(),
    authBlocked: () => authBlocked.inc(),
    ws: {
      connectionOpened: () => wsConnections.inc(),
      connectionClosed: () => wsConnections.dec(),
      frame: (direction) => (direction === 'in' ? wsIn : wsOut).inc(),
    },
    render: () => registry.metrics(),
  };
}
