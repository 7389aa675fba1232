/**
 * The composition root: wires config, store, providers and the agent core. Both
 * `moltbot gateway` and `moltbot agent` build their runtime here, so both run turns
 * through the same code path.
 */
import { createAgentCore, type AgentCore } from './agents/core.js';
import type { GatewayConfig } from './config/types.js';
import { createProviders } from './providers/registry.js';
import { createMemoryStore } from './sessions/memory-store.js';
import type { SessionStore } from './sessions/store.js';

export interface Runtime {
  core: AgentCore;
  store: SessionStore;
  close(): Promise<void>;
}

export function createRuntime(config: GatewayConfig, overrides: { store?: SessionStore } = {}): Runtime {
  const store = overrides.store ?? createMemoryStore();
  const core = createAgentCore({
    agents: config.agents,
    defaultAgentId: config.defaultAgentId,
    store,
    provider: createProviders(config.providers),
  });
  return { core, store, close: () => store.close() };
}
