/**
 * Shared set-up for the agent-core tests: a fake OpenAI-compatible upstream, a gateway
 * whose agents run on it (provider `up`, no retries, no session reset unless a test
 * edits the config), and small request/inspection helpers.
 */
import { expect } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import type { Turn } from '../../src/sessions/store.js';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type UpstreamBehaviour } from '../helpers/fake-upstream.js';
import { TEST_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { schemaProblems } from '../helpers/schemas.js';
import { parseSse } from '../helpers/sse.js';

export const SYSTEM_PROMPT = 'You are the core test agent.';
export const MODEL = 'some-model';
/** The fake upstream's default reply, joined. */
export const DEFAULT_REPLY = 'Hello from upstream';

export type Message = { role: 'user' | 'assistant' | 'system'; content: string };
export const user = (content: string): Message => ({ role: 'user', content });
export const assistant = (content: string): Message => ({ role: 'assistant', content });
export const system = (content: string = SYSTEM_PROMPT): Message => ({ role: 'system', content });

/** Endpoint enabled, provider `up` on `baseUrl` (no retries), reset `never`, agent `main` on `up/some-model`. */
export function coreConfig(baseUrl: string): ConfigFile {
  return {
    gateway: { auth: { token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: { providers: { up: { api: 'openai-completions', baseUrl, maxRetries: 0 } } },
    session: { reset: { mode: 'never' } },
    agents: { list: [{ id: 'main', model: `up/${MODEL}`, systemPrompt: SYSTEM_PROMPT }] },
  };
}

export interface CoreSetup {
  upstream: FakeUpstream;
  gateway: TestGateway;
  close(): Promise<void>;
}

export interface CoreOptions {
  edit?: (file: ConfigFile) => void;
  now?: () => number;
  storePath?: string;
  /** Reuse an upstream (restart tests); it is then not closed by `close`. */
  upstream?: FakeUpstream;
  /** Told when a turn waits for another process's turn in its session. */
  onSessionWait?: () => void;
}

export async function startCore(options: CoreOptions = {}): Promise<CoreSetup> {
  const upstream = options.upstream ?? (await startFakeUpstream());
  const file = coreConfig(upstream.baseUrl);
  options.edit?.(file);
  const gateway = await startGateway(file, {
    ...(options.now ? { now: options.now } : {}),
    ...(options.storePath ? { storePath: options.storePath } : {}),
    ...(options.onSessionWait ? { onSessionWait: options.onSessionWait } : {}),
  });
  return {
    upstream,
    gateway,
    async close() {
      await gateway.close();
      if (!options.upstream) await upstream.close();
    },
  };
}

export interface ChatOptions {
  /** A single user message, or the whole `messages` array. */
  content?: string;
  messages?: Message[];
  user?: string;
  key?: string;
  agent?: string;
  model?: string;
  stream?: boolean;
  signal?: AbortSignal;
}

/** POST /v1/chat/completions with the gateway's token. */
export function chat(gateway: { url: string; token: string }, options: ChatOptions): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${gateway.token}`, 'content-type': 'application/json' };
  if (options.key !== undefined) headers['x-moltbot-session-key'] = options.key;
  if (options.agent !== undefined) headers['x-moltbot-agent-id'] = options.agent;
  const body = {
    model: options.model ?? 'moltbot',
    messages: options.messages ?? [user(options.content ?? 'hi')],
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(options.stream ? { stream: true } : {}),
  };
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** The messages the upstream received in a request. */
export function messagesOf(request: RecordedRequest): unknown[] {
  return request.body.messages as unknown[];
}

/** The content of the last message of an upstream request. */
export function lastContent(request: RecordedRequest): unknown {
  return (messagesOf(request).at(-1) as { content?: unknown } | undefined)?.content;
}

/** A reply held at the upstream after `deltas` were streamed; `release()` sends `rest` and finishes. */
export function hold(deltas: string[], rest: string[] = []): UpstreamBehaviour {
  return { kind: 'hold', deltas, rest };
}

export function reply(text: string): UpstreamBehaviour {
  return { kind: 'reply', deltas: [text] };
}

/** A turn's user-visible shape: status, input and reply text. */
export function turnSummary(turn: Turn): { status: string; input: unknown; reply: string | undefined } {
  return { status: turn.status, input: turn.input, reply: turn.reply?.content };
}

/**
 * Reads an SSE response until `done(text so far)` holds, validating every chunk against
 * the chunk schema, and returns the text read. The body is left open for the caller.
 */
export async function readStreamUntil(res: Response, done: (text: string) => boolean): Promise<string> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let text = '';
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error(`stream ended before the expected content; got ${JSON.stringify(text)}`);
    buffered += decoder.decode(value, { stream: true });
    const complete = buffered.lastIndexOf('\n\n');
    if (complete < 0) continue;
    const { events, framingErrors } = parseSse(buffered.slice(0, complete + 2));
    buffered = buffered.slice(complete + 2);
    expect(framingErrors).toEqual([]);
    for (const event of events) {
      const payload = JSON.parse(event) as { choices: { delta: { content?: string } }[] };
      expect(schemaProblems('chunk', payload)).toEqual([]);
      text += payload.choices[0]?.delta.content ?? '';
    }
    if (done(text)) {
      reader.releaseLock();
      return text;
    }
  }
}

/**
 * One request/response with the gateway (GET /healthz). A client's closed connection is
 * noticed by the gateway within one event-loop turn; a round trip started after the client
 * aborted spans more than that, so awaiting it orders the test after the gateway has seen
 * the abort. An event to wait on, not a delay.
 */
export async function roundTrip(gateway: { url: string }): Promise<void> {
  const res = await fetch(`${gateway.url}/healthz`);
  expect(res.status).toBe(200);
  await res.text();
}
