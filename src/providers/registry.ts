/**
 * Builds providers from config: the only place that knows every adapter. The agent core
 * receives the resulting lookup function, never an adapter.
 */
import type { ProviderConfig } from '../config/types.js';
import { createAnthropicProvider } from './anthropic/anthropic-provider.js';
import { createEchoProvider } from './echo/echo-provider.js';
import { createOpenAICompatibleProvider } from './openai-compatible/openai-compatible-provider.js';
import type { ModelProvider } from './types.js';

function createProvider(id: string, config: ProviderConfig): ModelProvider {
  switch (config.api) {
    case 'echo':
      return createEchoProvider(id);
    case 'openai-completions':
      return createOpenAICompatibleProvider({ id, ...config });
    case 'anthropic-messages':
      return createAnthropicProvider({ id, ...config });
  }
}

export function createProviders(configs: Readonly<Record<string, ProviderConfig>>): (id: string) => ModelProvider {
  const providers = new Map<string, ModelProvider>();
  for (const [id, config] of Object.entries(configs)) {
    providers.set(id, createProvider(id, config));
  }
  return (id) => {
    const provider = providers.get(id);
    if (!provider) throw new Error(`provider '${id}' is not configured`);
    return provider;
  };
}
