import type { ModelProvider } from '../types.js';

/** Settings of one `api: "anthropic-messages"` provider, as configured. */
export interface AnthropicSettings {
  id: string;
  baseUrl?: string;
  apiKey?: string;
  maxTokens?: number;
  timeoutSeconds?: number;
  maxRetries?: number;
}

/** Placeholder until the adapter lands. */
export function createAnthropicProvider(settings: AnthropicSettings): ModelProvider {
  return {
    id: settings.id,
    stream() {
      throw new Error('anthropic-messages is not implemented yet');
    },
  };
}
