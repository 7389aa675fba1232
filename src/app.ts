/**
 * The composition root: wires config, store, providers and the agent core. Both
 * `moltbot gateway` and `moltbot agent` build their runtime here, so both run turns
 * through the same code path.
 */
import { createAgentCore, type AgentCore, type AgentCoreDeps } from './agents/core.js';
import { createProviderLimiter } from './agents/limiter.js';
import type { GatewayConfig } from './config/types.js';
import { memoryAuthFailureCounter, type AuthFailureCounter } from './domain/auth-failure-counter.js';
import type { AuthLimiterOptions } from './domain/auth-limiter.js';
import { UNCONFIGURED_AGENT, type CoreObserver } from './domain/telemetry.js';
import { createProviders } from './providers/registry.js';
import { join } from 'node:path';
import type { PostgresStoreEvents } from './sessions/postgres/store.js';
import { openSqliteStore } from './sessions/sqlite-store.js';
import type { SessionStore, StoreEvents } from './sessions/store.js';

export interface Runtime {
  core: AgentCore;
  store: SessionStore;
  /** Failed-auth counting: shared by the replicas on PostgreSQL, in this process's memory on SQLite. */
  authFailures: (options: AuthLimiterOptions) => AuthFailureCounter;
  close(): Promise<void>;
}

/** Where the embedded store lives: `sessions.sqlite` in the state dir. */
export function storePath(config: GatewayConfig): string {
  return join(config.stateDir, 'sessions.sqlite');
}

export interface OpenedStore {
  store: SessionStore;
  authFailures: Runtime['authFailures'];
}

/**
 * Opens the configured store (`session.store`): SQLite in the state dir, or PostgreSQL.
 * Failures to open are `StoreOpenError`s (exit 2) that never show the database password.
 */
export async function openStore(config: GatewayConfig, options: { background?: boolean; events?: PostgresStoreEvents } = {}): Promise<OpenedStore> {
  const database = config.store.database;
  if (database.kind === 'postgres') {
    // Loaded only when configured: `pg` is ~40-250 ms of start-up an SQLite gateway never needs.
    const { openPostgresStore } = await import('./sessions/postgres/store.js');
    const store = await openPostgresStore(
      {
        url: database.url,
        ...(database.poolSize === undefined ? {} : { poolSize: database.poolSize }),
        ...(database.schema === undefined ? {} : { schema: database.schema }),
        ...(database.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: database.statementTimeoutMs }),
      },
      options.events,
    );
    return { store, authFailures: (limits) => store.authFailureCounter(limits) };
  }
  const store = openSqliteStore(storePath(config), {
    ...(options.background ? { backgroundCheckpoints: true } : {}),
    ...(options.events?.onInterrupted ? { onInterrupted: options.events.onInterrupted } : {}),
    ...(config.store.maxBytes === undefined ? {} : { maxBytes: config.store.maxBytes }),
  });
  return { store, authFailures: memoryAuthFailureCounter };
}

export interface RuntimeOptions {
  store?: SessionStore;
  /** With `store`: its failed-auth counting (in memory when not given). */
  authFailures?: Runtime['authFailures'];
  now?: () => number;
  /** Told when a turn waits for a turn of its session running in another process. */
  onSessionWait?: AgentCoreDeps['onSessionWait'];
  /** Told of queueing, runs, store writes and upstream calls (metrics, logs). */
  observer?: AgentCoreDeps['observer'];
  /** Run and upstream spans when tracing is on. */
  tracer?: AgentCoreDeps['tracer'];
  /** Told when the PostgreSQL store loses or regains its database. */
  storeEvents?: PostgresStoreEvents;
}

/**
 * Tells `observer` of turns a store marked interrupted, a count per agent. Agents the
 * configuration no longer lists share `UNCONFIGURED_AGENT`: a metric label stays bounded
 * by the configuration, whatever agent ids the store holds.
 */
function countInterrupted(config: GatewayConfig, observer: CoreObserver): NonNullable<StoreEvents['onInterrupted']> {
  const configured = new Set(config.agents.map((agent) => agent.id));
  return (turns) => {
    const perAgent = new Map<string, number>();
    for (const { agentId } of turns) {
      const label = configured.has(agentId) ? agentId : UNCONFIGURED_AGENT;
      perAgent.set(label, (perAgent.get(label) ?? 0) + 1);
    }
    for (const [agentId, count] of perAgent) observer.interrupted(agentId, count);
  };
}

export async function createRuntime(config: GatewayConfig, overrides: RuntimeOptions = {}): Promise<Runtime> {
  const provider = await createProviders(config.providers);
  // Only a process that observes counts interrupted turns; on PostgreSQL the others leave them to one that does.
  const events: PostgresStoreEvents = {
    ...overrides.storeEvents,
    ...(overrides.observer ? { onInterrupted: countInterrupted(config, overrides.observer) } : {}),
  };
  const opened: OpenedStore = overrides.store
    ? { store: overrides.store, authFailures: overrides.authFailures ?? memoryAuthFailureCounter }
    : await openStore(config, { background: true, events });
  const { store } = opened;
  // Only providers with a cap of their own get a limiter; the others are bounded by the global one.
  const providerLimiters = new Map(Object.entries(config.limits.providers).map(([id, limits]) => [id, createProviderLimiter(id, limits)]));
  const core = createAgentCore({
    agents: config.agents,
    defaultAgentId: config.defaultAgentId,
    store,
    provider,
    limits: config.limits,
    providerLimiter: (id) => providerLimiters.get(id),
    images: config.images,
    maxStoredReplyBytes: config.store.maxStoredReplyBytes,
    ...(overrides.now ? { now: overrides.now } : {}),
    ...(overrides.onSessionWait ? { onSessionWait: overrides.onSessionWait } : {}),
    ...(overrides.observer ? { observer: overrides.observer } : {}),
    ...(overrides.tracer ? { tracer: overrides.tracer } : {}),
  });
  return { core, store, authFailures: opened.authFailures, close: () => store.close() };
}
