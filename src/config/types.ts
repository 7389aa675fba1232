/** The config file as written (after `${ENV}` substitution), matching `configSchema`. */
export interface ConfigFile {
  gateway?: {
    port?: number;
    bind?: string;
    shutdownGraceSeconds?: number;
    metrics?: { enabled?: boolean; auth?: MetricsAuth };
    tracing?: { enabled?: boolean; serviceName?: string; endpoint?: string };
    auth?: {
      mode?: AuthMode;
      token?: string;
      password?: string;
      rateLimit?: { enabled?: boolean; maxFailures?: number; windowSeconds?: number; blockSeconds?: number; exemptLoopback?: boolean; maxTracked?: number };
    };
    ws?: {
      maxPayloadBytes?: number;
      maxBufferedBytes?: number;
      tickIntervalSeconds?: number;
      handshakeTimeoutSeconds?: number;
      maxConnections?: number;
      maxUnauthenticated?: number;
      maxInFlightPerConnection?: number;
    };
    http?: {
      maxBodyBytes?: number;
      maxStringLength?: number;
      maxDepth?: number;
      headersTimeoutSeconds?: number;
      requestTimeoutSeconds?: number;
      sseKeepAliveSeconds?: number;
      cors?: { origins: string[] };
      images?: { maxCount?: number; maxBytes?: number; allowUrls?: boolean; fetchTimeoutSeconds?: number };
      endpoints?: { chatCompletions?: { enabled?: boolean } };
    };
  };
  models?: { providers?: Record<string, ProviderConfig> };
  session?: SessionSettings & {
    retention?: { stateless?: string | null; user?: string | null; explicit?: string | null };
    maxStoreBytes?: number;
    maxStoredReplyBytes?: number;
    store?: StoreSettings;
  };
  agents?: {
    defaults?: {
      model?: string;
      systemPrompt?: string;
      history?: HistoryLimits;
      timeoutSeconds?: number;
      maxReplyBytes?: number;
      maxConcurrent?: number;
      maxQueued?: number;
    };
    list?: {
      id: string;
      name?: string;
      model?: string;
      systemPrompt?: string;
      history?: HistoryLimits;
      timeoutSeconds?: number;
      maxReplyBytes?: number;
      session?: SessionSettings;
    }[];
  };
}

/** Where sessions are stored: SQLite in the state dir (the default), or PostgreSQL for replicas. */
export type StoreSettings =
  | { kind: 'sqlite' }
  | { kind: 'postgres'; url: string; poolSize?: number; schema?: string; statementTimeoutMs?: number };

/** When a transcript starts afresh under the same session key. */
export type ResetPolicy =
  | { mode: 'daily'; atHour: number }
  | { mode: 'idle'; idleMinutes: number }
  | { mode: 'never' };

export interface SessionSettings {
  reset?: { mode: ResetPolicy['mode']; atHour?: number; idleMinutes?: number };
}

/** Bounds on the history sent to the model; the system prompt and new turn are always sent. */
export interface HistoryLimits {
  maxTurns?: number;
  /** Estimated tokens (about 4 characters each) of history. */
  maxTokens?: number;
}

export type AuthMode = 'token' | 'password';

/** Whether `GET /metrics` needs the gateway's secret (`gateway`) or nothing (`none`: a private scrape network). */
export type MetricsAuth = 'gateway' | 'none';

/** Caps on what one upstream sends: one SSE line or event, and one reply (the agent may override the latter). */
export interface UpstreamCaps {
  maxEventBytes?: number;
  maxReplyBytes?: number;
}

export type ProviderConfig = (
  | ({ api: 'openai-completions'; baseUrl: string; apiKey?: string; timeoutSeconds?: number; maxRetries?: number } & UpstreamCaps)
  | ({ api: 'anthropic-messages'; baseUrl?: string; apiKey?: string; maxTokens?: number; timeoutSeconds?: number; maxRetries?: number } & UpstreamCaps)
  | { api: 'echo' }
) &
  ProviderLimits;

/** A provider's own cap, for upstreams that take only so many requests at once (a local model). */
export interface ProviderLimits {
  /** Runs on this provider at once; no cap of its own when absent. */
  maxConcurrent?: number;
  /** More runs waiting for one of its slots; past that 429 `provider_queue_full`. */
  maxQueued?: number;
}

/** An agent with every default applied; `id` is lower-case. */
export interface AgentConfig {
  id: string;
  name?: string;
  /** Provider id and the provider's model name, from `"provider/model"`. */
  provider: string;
  model: string;
  systemPrompt: string;
  history: HistoryLimits;
  /** A run longer than this is ended and recorded as `timeout`. */
  timeoutSeconds: number;
  /** A reply (text and tool-call arguments, UTF-8) longer than this ends the run: 502 `upstream_reply_too_large`. */
  maxReplyBytes: number;
  reset: ResetPolicy;
}

/** Everything the gateway runs on: flags, file, environment and defaults merged. */
export interface GatewayConfig {
  gateway: {
    port: number;
    /** The address to listen on (`loopback` → 127.0.0.1, `lan` → 0.0.0.0). */
    host: string;
    /** On SIGTERM, how long running turns may take to finish before they are aborted. */
    shutdownGraceSeconds: number;
    /** `GET /metrics`: served while `enabled`; behind the gateway's auth unless `auth` is `none`. */
    metrics: { enabled: boolean; auth: MetricsAuth };
    /**
     * OpenTelemetry spans (request, run, upstream call): on when `enabled`, or when
     * `OTEL_EXPORTER_OTLP_ENDPOINT` is set; off, no OpenTelemetry module is loaded.
     */
    tracing: {
      enabled: boolean;
      serviceName: string;
      /** Where spans are POSTed (OTLP/HTTP JSON): `<endpoint>/v1/traces`, else the OTLP variables, else localhost:4318. */
      tracesUrl: string;
    };
    auth: {
      mode: AuthMode;
      secret: string | undefined;
      /** Failed-auth limit per client address; `maxFailures` in `windowMs` blocks it for `blockMs`. */
      rateLimit: { enabled: boolean; maxFailures: number; windowMs: number; blockMs: number; exemptLoopback: boolean; maxTracked: number };
    };
    /** The WebSocket protocol on the same port. */
    ws: {
      /** Largest frame a client may send; past it the socket closes with 1009. */
      maxPayloadBytes: number;
      /** Bytes queued for a client past which it is a slow consumer (closed 1008). */
      maxBufferedBytes: number;
      /** How often every connection gets a `tick` event. */
      tickIntervalMs: number;
      /** A connection without a successful `connect` by then is closed. */
      handshakeTimeoutMs: number;
      /** Open connections at most (authenticated or not); more upgrades get 503. */
      maxConnections: number;
      /** Of those, not yet authenticated at most. */
      maxUnauthenticated: number;
      /** Requests one connection may have unanswered at once. */
      maxInFlightPerConnection: number;
    };
    http: {
      maxBodyBytes: number;
      /** Longest string anywhere in a JSON body, in characters. */
      maxStringLength: number;
      /** Deepest nesting of arrays and objects in a JSON body. */
      maxDepth: number;
      /** Slow clients: all headers within this, the whole request within `requestTimeoutMs`. */
      headersTimeoutMs: number;
      requestTimeoutMs: number;
      chatCompletionsEnabled: boolean;
      /** A `: keep-alive` comment goes out after this long without a byte on a stream. */
      sseKeepAliveSeconds: number;
      /** Origins allowed cross-origin (CORS); empty means CORS is off. */
      corsOrigins: string[];
    };
  };
  providers: Record<string, ProviderConfig>;
  agents: AgentConfig[];
  /** The agent used when a request names none. */
  defaultAgentId: string;
  /** Images in requests: count and size limits, and whether URLs are fetched. */
  images: { maxCount: number; maxBytes: number; allowUrls: boolean; fetchTimeoutMs: number };
  /**
   * Runs across all sessions: at most `maxConcurrent` at once, `maxQueued` more waiting;
   * `providers` holds the caps of the providers that have one.
   */
  limits: { maxConcurrent: number; maxQueued: number; providers: Record<string, { maxConcurrent: number; maxQueued: number }> };
  stateDir: string;
  /** The session store: which, and its limits. */
  store: {
    /** SQLite at `<stateDir>/sessions.sqlite`, or PostgreSQL (`session.store`). */
    database: StoreSettings;
    /** Largest the database file may grow; past it turns fail with 507 `storage_full`. Unlimited when undefined. */
    maxBytes: number | undefined;
    /**
     * How long transcripts of each kind are kept after their last update, in ms;
     * undefined keeps them forever. Pruned in the background by the gateway.
     */
    retention: Record<'stateless' | 'user' | 'explicit', number | undefined>;
    /** A reply larger than this (UTF-8 bytes of text and tool-call arguments) is stored cut, with a marker. */
    maxStoredReplyBytes: number;
  };
}
