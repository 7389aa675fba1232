/**
 * The composition root: wires config, store, providers and the agent core. Both
 * `moltbot gateway` and `moltbot agent` build their runtime here, so both run turns
 * through the same code path.
 */
import { createAgentCore, type AgentCore } from './agents/core.js';
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

export async function createRuntime(config: GatewayConfig, overrides: { store?: SessionStore; now?: () => number } = {}): Promise<Runtime> {
  const provider = await createProviders(config.providers);
  const store = overrides.store ?? openSqliteStore(storePath(config), { backgroundCheckpoints: true });
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
    ...(overrides.now ? { now: overrides.now } : {}),
  });
  return { core, store, close: () => store.close() };
}
