/** The config file as written (after `${ENV}` substitution), matching `configSchema`. */
export interface ConfigFile {
  gateway?: {
    port?: number;
    bind?: string;
    auth?: { mode?: AuthMode; token?: string; password?: string };
    http?: {
      maxBodyBytes?: number;
      endpoints?: { chatCompletions?: { enabled?: boolean } };
    };
  };
  models?: { providers?: Record<string, ProviderConfig> };
  agents?: {
    defaults?: { model?: string; systemPrompt?: string };
    list?: { id: string; name?: string; model?: string; systemPrompt?: string }[];
  };
}

export type AuthMode = 'token' | 'password';

export type ProviderConfig =
  | { api: 'openai-completions'; baseUrl: string; apiKey?: string; timeoutSeconds?: number; maxRetries?: number }
  | { api: 'echo' };

/** An agent with every default applied; `id` is lower-case. */
export interface AgentConfig {
  id: string;
  name?: string;
  /** Provider id and the provider's model name, from `"provider/model"`. */
  provider: string;
  model: string;
  systemPrompt: string;
}

/** Everything the gateway runs on: flags, file, environment and defaults merged. */
export interface GatewayConfig {
  gateway: {
    port: number;
    /** The address to listen on (`loopback` → 127.0.0.1, `lan` → 0.0.0.0). */
    host: string;
    auth: { mode: AuthMode; secret: string | undefined };
    http: { maxBodyBytes: number; chatCompletionsEnabled: boolean };
  };
  providers: Record<string, ProviderConfig>;
  agents: AgentConfig[];
  /** The agent used when a request names none. */
  defaultAgentId: string;
  stateDir: string;
}
