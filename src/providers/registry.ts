/**
 * Builds providers from config: the only place that knows every adapter. The agent core
 * receives the resulting lookup function, never an adapter.
 */
import type { ProviderConfig } from '../config/types.js';
import { createEchoProvider } from './echo/echo-provider.js';
import { createOpenAICompatibleProvider } from './openai-compatible/openai-compatible-provider.js';
import type { ModelProvider } from './types.js';

export function createProviders(configs: Readonly<Record<string, ProviderConfig>>): (id: string) => ModelProvider {
  const providers = new Map<string, ModelProvider>();
  for (const [id, config] of Object.entries(configs)) {
    providers.set(
      id,
      config.api === 'echo'
        ? createEchoProvider(id)
        : createOpenAICompatibleProvider({
            id,
            baseUrl: config.baseUrl,
            ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }),
            ...(config.timeoutSeconds === undefined ? {} : { timeoutSeconds: config.timeoutSeconds }),
            ...(config.maxRetries === undefined ? {} : { maxRetries: config.maxRetries }),
          }),
    );
  }
  return (id) => {
    const provider = providers.get(id);
    if (!provider) throw new Error(`provider '${id}' is not configured`);
    return provider;
  };
}
