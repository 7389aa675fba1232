/**
 * A real Anthropic Messages API stand-in on 127.0.0.1:0: `POST /v1/messages` answered
 * with Anthropic's streaming SSE (`event: NAME\ndata: JSON\n\n`) or one of its error
 * bodies. It records every request (headers and JSON body) and follows a script: one
 * behaviour per request from a queue, then the default behaviour.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AnthropicUsageScript {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** A `tool_use` block the fake streams. */
export interface AnthropicToolUseScript {
  id: string;
  name: string;
  /** The input as JSON text; '' streams no input at all. */
  json: string;
  /** Characters per `input_json_delta` fragment (default: the whole text in one). */
  chunkSize?: number;
}

export type AnthropicBehaviour =
  | {
      /** A complete streamed message. */
      kind: 'reply';
      deltas?: string[];
      /** `message_delta.delta.stop_reason`; null sends a message that never gives one. */
      stopReason?: string | null;
      usage?: AnthropicUsageScript;
      /**
       * `tool_use` blocks after the text block (so the first is content block 1), each
       * starting with `input: {}` and an empty `input_json_delta` as the real API does,
       * then its input in fragments.
       */
      toolUse?: AnthropicToolUseScript | AnthropicToolUseScript[];
    }
  | {
      /** An HTTP error with Anthropic's body `{type:'error', error:{type, message}}`. */
      kind: 'status';
      status: number;
      errorType: string;
      message: string;
      headers?: Record<string, string>;
    }
  | {
      /**
       * Starts a 200 stream, sends `deltas`, then: `destroy` kills the socket, `end` ends
       * the body cleanly without `message_delta`/`message_stop`, `error` sends Anthropic's
       * mid-stream `event: error`, `hold` keeps the connection open until the client leaves.
       */
      kind: 'partial';
      deltas: string[];
      then: 'destroy' | 'end' | 'error' | 'hold';
      error?: { type: string; message: string };
    }
  | { /** Never answers: no status, no headers, until the client closes the request. */ kind: 'hold' };

export interface RecordedAnthropicRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** Settles once the connection for this request closes; `completed` is false when the client left first. */
  closed: Promise<{ completed: boolean }>;
}

export interface FakeAnthropic {
  /** What to configure as `baseUrl`: the origin, since the SDK appends `/v1/messages`. */
  baseUrl: string;
  requests: RecordedAnthropicRequest[];
  /** The behaviour for every request not covered by `queue`. */
  behave(next: AnthropicBehaviour): void;
  /** Behaviours for the next requests, in order, before the default applies again. */
  queue(...next: AnthropicBehaviour[]): void;
  /** Resolves once `count` requests have arrived. */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_ANTHROPIC_USAGE: AnthropicUsageScript = { input_tokens: 21, output_tokens: 5 };

function sendEvent(res: ServerResponse, name: string, payload: Record<string, unknown>): void {
  res.write(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...payload })}\n\n`);
}

function startStream(res: ServerResponse, model: string, usage: AnthropicUsageScript): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_fake' });
  sendEvent(res, 'message_start', {
    message: {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      content: [],
      model,
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage.input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
        output_tokens: 1,
      },
    },
  });
  res.write('event: ping\ndata: {"type": "ping"}\n\n');
}

function sendText(res: ServerResponse, index: number, deltas: string[]): void {
  sendEvent(res, 'content_block_start', { index, content_block: { type: 'text', text: '' } });
  for (const text of deltas) sendEvent(res, 'content_block_delta', { index, delta: { type: 'text_delta', text } });
}

function reply(res: ServerResponse, behaviour: Extract<AnthropicBehaviour, { kind: 'reply' }>, model: string): void {
  const usage = behaviour.usage ?? DEFAULT_ANTHROPIC_USAGE;
  startStream(res, model, usage);
  sendText(res, 0, behaviour.deltas ?? ['Hello', ' from', ' Claude']);
  sendEvent(res, 'content_block_stop', { index: 0 });
  const toolUses = behaviour.toolUse === undefined ? [] : [behaviour.toolUse].flat();
  toolUses.forEach(({ id, name, json, chunkSize }, i) => {
    const index = i + 1;
    const size = Math.max(1, chunkSize ?? json.length);
    sendEvent(res, 'content_block_start', { index, content_block: { type: 'tool_use', id, name, input: {} } });
    sendEvent(res, 'content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
    for (let at = 0; at < json.length; at += size) {
      sendEvent(res, 'content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(at, at + size) } });
    }
    sendEvent(res, 'content_block_stop', { index });
  });
  const stopReason = behaviour.stopReason === undefined ? 'end_turn' : behaviour.stopReason;
  sendEvent(res, 'message_delta', {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  sendEvent(res, 'message_stop', {});
  res.end();
}

function partial(res: ServerResponse, behaviour: Extract<AnthropicBehaviour, { kind: 'partial' }>, model: string): void {
  startStream(res, model, DEFAULT_ANTHROPIC_USAGE);
  sendText(res, 0, behaviour.deltas);
  switch (behaviour.then) {
    case 'destroy':
      // Only once what was written has reached the socket: destroying at once would
      // discard it, and the client would see a refused request instead of a broken stream.
      res.write(': breaking off\n\n', () => res.socket?.destroy());
      return;
    case 'end':
      res.end();
      return;
    case 'error':
      sendEvent(res, 'error', { error: behaviour.error ?? { type: 'overloaded_error', message: 'Overloaded' } });
      res.end();
      return;
    case 'hold':
      return;
  }
}

function errorStatus(res: ServerResponse, behaviour: Extract<AnthropicBehaviour, { kind: 'status' }>): void {
  res.writeHead(behaviour.status, { 'content-type': 'application/json', 'request-id': 'req_fake', ...behaviour.headers });
  res.end(
    JSON.stringify({
      type: 'error',
      error: { type: behaviour.errorType, message: behaviour.message },
      request_id: 'req_fake',
    }),
  );
}

export async function startFakeAnthropic(initial: AnthropicBehaviour = { kind: 'reply' }): Promise<FakeAnthropic> {
  let behaviour = initial;
  const pending: AnthropicBehaviour[] = [];
  const requests: RecordedAnthropicRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];

  const server: Server = createServer((req, res) => {
    const closed = new Promise<{ completed: boolean }>((resolve) => {
      res.on('close', () => resolve({ completed: res.writableFinished }));
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, closed });
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      if (req.method !== 'POST' || req.url !== '/v1/messages') {
        errorStatus(res, { kind: 'status', status: 404, errorType: 'not_found_error', message: `no route ${req.method} ${req.url}` });
        return;
      }
      const current = pending.shift() ?? behaviour;
      const model = String(body.model);
      switch (current.kind) {
        case 'reply':
          reply(res, current, model);
          return;
        case 'status':
          errorStatus(res, current);
          return;
        case 'partial':
          partial(res, current, model);
          return;
        case 'hold':
          return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    behave(next) {
      behaviour = next;
    },
    queue(...next) {
      pending.push(...next);
    },
    received(count) {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
