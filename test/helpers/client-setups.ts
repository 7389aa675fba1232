/**
 * The three gateway set-ups the third-party client tests run against, from one config
 * builder: agent `main` on the echo stand-in, on a fake OpenAI-compatible upstream, or on
 * a fake Anthropic Messages API. Each set-up scripts the next model reply the same way,
 * so a test written once runs against all three.
 */
import type { ConfigFile, ProviderConfig } from '../../src/config/types.js';
import { startFakeAnthropic, type FakeAnthropic } from './fake-anthropic.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { TEST_TOKEN, startGateway, type TestGateway } from './gateway.js';

export const CLIENT_SYSTEM_PROMPT = 'You are the client test agent.';
/** The model names the providers are asked for (the part after `provider/`). */
export const UPSTREAM_MODEL = 'gpt-client-test';
export const ANTHROPIC_MODEL = 'claude-client-test';

export type SetupKind = 'echo' | 'openai' | 'anthropic';

export interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A function call scripted for the model's next reply. */
export interface ScriptedCall {
  id: string;
  name: string;
  /** JSON text of the arguments. */
  arguments: string;
}

/**
 * Endpoint on, token auth, session reset `never`, agent `main` on the set-up's provider
 * (`echo/echo`, `local/<UPSTREAM_MODEL>`, `claude/<ANTHROPIC_MODEL>`), providers without
 * retries.
 */
export function clientConfig(kind: SetupKind, baseUrl = ''): ConfigFile {
  const providers: Record<string, ProviderConfig> = {};
  let model = 'echo/echo';
  if (kind === 'openai') {
    providers.local = { api: 'openai-completions', baseUrl, apiKey: 'sk-upstream-test', maxRetries: 0 };
    model = `local/${UPSTREAM_MODEL}`;
  }
  if (kind === 'anthropic') {
    providers.claude = { api: 'anthropic-messages', baseUrl, apiKey: 'sk-ant-test', maxRetries: 0 };
    model = `claude/${ANTHROPIC_MODEL}`;
  }
  return {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: { providers },
    session: { reset: { mode: 'never' } },
    agents: { list: [{ id: 'main', model, systemPrompt: CLIENT_SYSTEM_PROMPT }] },
  };
}

/** Whitespace-separated words: the echo stand-in's token count. */
export function words(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/u).length;
}

export interface ClientSetup {
  kind: SetupKind;
  gateway: TestGateway;
  /**
   * Scripts the model's next reply as `deltas` (echo ignores them and repeats `prompt`)
   * and returns the text and usage a client should get for a one-message stateless
   * request with `prompt`.
   */
  scriptReply(prompt: string, deltas: string[]): { text: string; usage: WireUsage };
  /** The JSON bodies of the model requests the set-up's upstream received so far (echo: none). */
  modelRequests(): Record<string, unknown>[];
  close(): Promise<void>;
}

export interface OpenAISetup extends ClientSetup {
  kind: 'openai';
  upstream: FakeUpstream;
  /** Scripts the next reply as one function call (finish reason `tool_calls`). */
  scriptToolCall(call: ScriptedCall): void;
}

export interface AnthropicSetup extends ClientSetup {
  kind: 'anthropic';
  anthropic: FakeAnthropic;
  /** Scripts the next reply as one `tool_use` block (stop reason `tool_use`). */
  scriptToolCall(call: ScriptedCall): void;
}

export type ToolSetup = OpenAISetup | AnthropicSetup;

export async function startEchoSetup(): Promise<ClientSetup> {
  const gateway = await startGateway(clientConfig('echo'));
  return {
    kind: 'echo',
    gateway,
    scriptReply(prompt) {
      const prompt_tokens = words(CLIENT_SYSTEM_PROMPT) + words(prompt);
      const completion_tokens = words(prompt);
      return { text: prompt, usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens } };
    },
    modelRequests: () => [],
    close: () => gateway.close(),
  };
}

export async function startOpenAISetup(): Promise<OpenAISetup> {
  const upstream = await startFakeUpstream();
  const gateway = await startGateway(clientConfig('openai', upstream.baseUrl));
  let replies = 0;
  return {
    kind: 'openai',
    gateway,
    upstream,
    scriptReply(_prompt, deltas) {
      // Numbers of its own per reply, so a test sees the upstream's, not a constant.
      replies += 1;
      const usage = { prompt_tokens: 40 + replies, completion_tokens: 7 + replies, total_tokens: 47 + 2 * replies };
      upstream.behaveOnce({ kind: 'reply', deltas, usage });
      return { text: deltas.join(''), usage };
    },
    scriptToolCall(call) {
      upstream.behaveOnce({ kind: 'tool_calls', calls: [call], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } });
    },
    modelRequests: () => upstream.requests.map((r) => r.body),
    async close() {
      await gateway.close();
      await upstream.close();
    },
  };
}

export async function startAnthropicSetup(): Promise<AnthropicSetup> {
  const anthropic = await startFakeAnthropic();
  const gateway = await startGateway(clientConfig('anthropic', anthropic.baseUrl));
  let replies = 0;
  return {
    kind: 'anthropic',
    gateway,
    anthropic,
    scriptReply(_prompt, deltas) {
      replies += 1;
      const input = 50 + replies;
      const output = 4 + replies;
      anthropic.queue({ kind: 'reply', deltas, usage: { input_tokens: input, output_tokens: output } });
      return { text: deltas.join(''), usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } };
    },
    scriptToolCall(call) {
      anthropic.queue({
        kind: 'reply',
        deltas: [],
        toolUse: { id: call.id, name: call.name, json: call.arguments, chunkSize: 5 },
        stopReason: 'tool_use',
        usage: { input_tokens: 33, output_tokens: 12 },
      });
    },
    modelRequests: () => anthropic.requests.map((r) => r.body),
    async close() {
      await gateway.close();
      await anthropic.close();
    },
  };
}

export function startSetup(kind: 'echo'): Promise<ClientSetup>;
export function startSetup(kind: 'openai'): Promise<OpenAISetup>;
export function startSetup(kind: 'anthropic'): Promise<AnthropicSetup>;
export function startSetup(kind: SetupKind): Promise<ClientSetup>;
export function startSetup(kind: SetupKind): Promise<ClientSetup> {
  if (kind === 'openai') return startOpenAISetup();
  if (kind === 'anthropic') return startAnthropicSetup();
  return startEchoSetup();
}

export const SETUP_NAMES: Record<SetupKind, string> = {
  echo: '(A) main on the echo stand-in',
  openai: '(B) main on a fake OpenAI-compatible upstream',
  anthropic: '(C) main on a fake Anthropic upstream',
};

/** The session key the gateway derives for `user` on agent `main`. */
export const userSessionKey = (user: string): string => `agent:main:openai-user:${user}`;

/**
 * What a model request must contain after a tool round trip, in the provider's wire
 * shape: the assistant's call and the tool's result, in that order.
 */
export function expectedToolHistory(kind: 'openai' | 'anthropic', call: ScriptedCall, result: string): unknown[] {
  if (kind === 'openai') {
    return [
      { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }] },
      { role: 'tool', tool_call_id: call.id, content: result },
    ];
  }
  return [
    { role: 'assistant', content: [{ type: 'tool_use', id: call.id, name: call.name, input: JSON.parse(call.arguments) as unknown }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: result }] },
  ];
}
