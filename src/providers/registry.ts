/**
 * Builds providers from config: the only place that knows every adapter. The agent core
 * receives the resulting lookup function, never an adapter. An adapter's module (and any
 * SDK it needs: Anthropic's is tens of MB) is imported only when a provider uses it.
 */
import type { ProviderConfig } from '../config/types.js';
import { createEchoProvider } from './echo/echo-provider.js';
import type { ModelProvider } from './types.js';

async function createProvider(id: string, config: ProviderConfig): Promise<ModelProvider> {
  switch (config.api) {
    case 'echo':
      return createEchoProvider(id);
    case 'openai-completions': {
      const { createOpenAICompatibleProvider } = await import('./openai-compatible/openai-compatible-provider.js');
      return createOpenAICompatibleProvider({ id, ...config });
    }
    case 'anthropic-messages': {
      const { createAnthropicProvider } = await import('./anthropic/anthropic-provider.js');
      return createAnthropicProvider({ id, ...config });
    }
  }
}

export async function createProviders(configs: Readonly<Record<string, ProviderConfig>>): Promise<(id: string) => ModelProvider> {
  const entries = await Promise.all(Object.entries(configs).map(async ([id, config]) => [id, await createProvider(id, config)] as const));
  const providers = new Map(entries);
  return (id) => {
    const provider = providers.get(id);
    if (!provider) throw new Error(`provider '${id}' is not configured`);
    return provider;
  };
}
