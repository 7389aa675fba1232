/**
 * The composition root: wires config, store, providers and the agent core. Both
 * `moltbot gateway` and `moltbot agent` build their runtime here, so both run turns
 * through the same code path.
 */
import { createAgentCore, type AgentCore, type AgentCoreDeps } from './agents/core.js';
import { createProviderLimiter } from './agents/limiter.js';
import type { GatewayConfig } from './config/types.js';
import { createProviders } from './providers/registry.js';
import { join } from 'node:path';
import { openSqliteStore } from './sessions/sqlite-store.js';
import type { SessionStore } from './sessions/store.js';

export interface Runtime {
  core: AgentCore;
  store: SessionStore;
  close(): Promise<void>;
}

/** Where the embedded store lives: `sessions.sqlite` in the state dir. */
export function storePath(config: GatewayConfig): string {
  return join(config.stateDir, 'sessions.sqlite');
}

export interface RuntimeOptions {
  store?: SessionStore;
  now?: () => number;
  /** Told when a turn waits for a turn of its session running in another process. */
  onSessionWait?: AgentCoreDeps['onSessionWait'];
  /** Told of queueing, runs, store writes and upstream calls (metrics, logs). */
  observer?: AgentCoreDeps['observer'];
  /** Run and upstream spans when tracing is on. */
  tracer?: AgentCoreDeps['tracer'];
}

export async function createRuntime(config: GatewayConfig, overrides: RuntimeOptions = {}): Promise<Runtime> {
  const provider = await createProviders(config.providers);
  const store = overrides.store ?? openSqliteStore(storePath(config), {
      backgroundCheckpoints: true,
      ...(config.store.maxBytes === undefined ? {} : { maxBytes: config.store.maxBytes }),
    });
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
  return { core, store, close: () => store.close() };
}
