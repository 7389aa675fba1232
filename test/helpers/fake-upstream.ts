/**
 * A real OpenAI-compatible upstream on 127.0.0.1:0 that records every request it gets
 * and answers with a scripted reply (streamed when asked), scripted tool calls, a
 * scripted failure, or a reply it holds open until the test releases it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** Resolves when the client closed the request before the reply was complete. */
  closedEarly: Promise<void>;
  /** Time (performance.now()) the request was closed early, once it has been. */
  closedAt?: number;
}

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

/** A function call the fake upstream makes. */
export interface UpstreamToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments, sent whole or in `chunkSize` fragments. */
  arguments: string;
}

export type UpstreamBehaviour =
  | { kind: 'reply'; deltas: string[]; usage?: Usage | null; finishReason?: string }
  | { kind: 'status'; status: number; body: unknown; headers?: Record<string, string> }
  /**
   * Streams `deltas` (or sends nothing for a JSON request), then waits for `release()`
   * before sending `rest` and finishing; a client that leaves meanwhile is recorded.
   */
  | { kind: 'hold'; deltas: string[]; rest?: string[]; usage?: Usage | null }
  /**
   * Text `deltas` (default none), then `calls` in OpenAI's streamed shape: per call one
   * chunk with `index`, `id`, `type` and `function.name` (and `arguments: ''`), then the
   * arguments in fragments of `chunkSize` characters (default 4); finish reason
   * `tool_calls` unless given. `omitIndex` sends each call whole in one chunk, with its id
   * but no `index`, as some compatible servers do. A JSON request gets
   * `message.tool_calls`.
   */
  | {
      kind: 'tool_calls';
      calls: UpstreamToolCall[];
      deltas?: string[];
      chunkSize?: number;
      omitIndex?: boolean;
      finishReason?: string;
      usage?: Usage | null;
    };

export interface FakeUpstream {
  /** Base URL including `/v1`, as configured for a provider. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Sets the behaviour for requests from now on. */
  behave(next: UpstreamBehaviour): void;
  /** Chooses each request's behaviour from its body (after the `behaveOnce` queue). */
  behaveWith(choose: (body: Record<string, unknown>) => UpstreamBehaviour): void;
  /** Queues behaviours for the next requests, one each, before falling back to `behave`'s. */
  behaveOnce(...next: UpstreamBehaviour[]): void;
  /** Resolves with the n-th request (1-based) once it has arrived and its held deltas are sent. */
  nthRequest(n: number): Promise<RecordedRequest>;
  /** Resolves with the first request (arrived or to come) matching `match`, once its held deltas are sent. */
  requestWhere(match: (request: RecordedRequest) => boolean): Promise<RecordedRequest>;
  /** Lets every held reply finish. */
  release(): void;
  close(): Promise<void>;
}

export const DEFAULT_USAGE: Usage = { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 };

function chunkWriter(res: ServerResponse, model: string): (payload: Record<string, unknown>) => void {
  const base = { id: 'chatcmpl-upstream', object: 'chat.completion.chunk', created: 1, model };
  return (payload) => {
    res.write(`data: ${JSON.stringify({ ...base, ...payload })}\n\n`);
  };
}

function streamStart(res: ServerResponse, model: string, deltas: string[]): (payload: Record<string, unknown>) => void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const send = chunkWriter(res, model);
  send({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  for (const text of deltas) send({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
  return send;
}

function streamEnd(res: ServerResponse, send: (payload: Record<string, unknown>) => void, deltas: string[], finishReason: string, usage: Usage | null | undefined): void {
  for (const text of deltas) send({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
  send({ choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
  const reported = usage === undefined ? DEFAULT_USAGE : usage;
  if (reported) send({ choices: [], usage: reported });
  res.end('data: [DONE]\n\n');
}

function streamToolCalls(send: (payload: Record<string, unknown>) => void, behaviour: Extract<UpstreamBehaviour, { kind: 'tool_calls' }>): void {
  const size = Math.max(1, behaviour.chunkSize ?? 4);
  const toolCalls = (calls: Record<string, unknown>[]): void => send({ choices: [{ index: 0, delta: { tool_calls: calls }, finish_reason: null }] });
  behaviour.calls.forEach((call, index) => {
    if (behaviour.omitIndex) {
      toolCalls([{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }]);
      return;
    }
    toolCalls([{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }]);
    for (let at = 0; at < call.arguments.length; at += size) {
      toolCalls([{ index, function: { arguments: call.arguments.slice(at, at + size) } }]);
    }
  });
}

function jsonReply(res: ServerResponse, model: unknown, content: string, finishReason: string, usage: Usage | null | undefined, calls?: UpstreamToolCall[]): void {
  const toolCalls = calls?.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
  const message = toolCalls ? { role: 'assistant', content: content === '' ? null : content, tool_calls: toolCalls } : { role: 'assistant', content };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1,
      model,
      choices: [{ index: 0, message, finish_reason: finishReason }],
      ...(usage === null ? {} : { usage: usage ?? DEFAULT_USAGE }),
    }),
  );
}

export async function startFakeUpstream(initial: UpstreamBehaviour = { kind: 'reply', deltas: ['Hello', ' from', ' upstream'] }): Promise<FakeUpstream> {
  let choose: (body: Record<string, unknown>) => UpstreamBehaviour = () => initial;
  const queued: UpstreamBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  const arrivals: ((request: RecordedRequest) => void)[] = [];
  const arrived: Promise<RecordedRequest>[] = [];
  const announced: RecordedRequest[] = [];
  let watchers: { match: (request: RecordedRequest) => boolean; resolve: (request: RecordedRequest) => void }[] = [];
  const arrival = (n: number): Promise<RecordedRequest> => {
    while (arrived.length < n) arrived.push(new Promise((resolve) => arrivals.push(resolve)));
    return arrived[n - 1] as Promise<RecordedRequest>;
  };
  let releaseAll: () => void = () => undefined;
  let released = new Promise<void>((resolve) => {
    releaseAll = resolve;
  });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      let markClosed!: () => void;
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        closedEarly: new Promise((resolve) => {
          markClosed = resolve;
        }),
      };
      res.on('close', () => {
        if (!res.writableFinished) {
          recorded.closedAt = performance.now();
          markClosed();
        }
      });
      requests.push(recorded);
      const current = queued.shift() ?? choose(body);
      const announce = (): void => {
        arrival(requests.length);
        arrivals[requests.length - 1]?.(recorded);
        announced.push(recorded);
        watchers = watchers.filter((watcher) => {
          if (!watcher.match(recorded)) return true;
          watcher.resolve(recorded);
          return false;
        });
      };
      const model = String(body.model);
      if (current.kind === 'status') {
        res.writeHead(current.status, { 'content-type': 'application/json', ...current.headers });
        res.end(JSON.stringify(current.body));
        announce();
        return;
      }
      if (current.kind === 'reply') {
        if (body.stream === true) streamEnd(res, streamStart(res, model, current.deltas), [], current.finishReason ?? 'stop', current.usage);
        else jsonReply(res, model, current.deltas.join(''), current.finishReason ?? 'stop', current.usage);
        announce();
        return;
      }
      if (current.kind === 'tool_calls') {
        const deltas = current.deltas ?? [];
        const finishReason = current.finishReason ?? 'tool_calls';
        if (body.stream === true) {
          const send = streamStart(res, model, deltas);
          streamToolCalls(send, current);
          streamEnd(res, send, [], finishReason, current.usage);
        } else {
          jsonReply(res, model, deltas.join(''), finishReason, current.usage, current.calls);
        }
        announce();
        return;
      }
      const streaming = body.stream === true;
      const send = streaming ? streamStart(res, model, current.deltas) : undefined;
      announce();
      void released.then(() => {
        if (res.destroyed) return;
        if (send) streamEnd(res, send, current.rest ?? [], 'stop', current.usage);
        else jsonReply(res, model, [...current.deltas, ...(current.rest ?? [])].join(''), 'stop', current.usage);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    behave(next) {
      choose = () => next;
    },
    behaveWith(next) {
      choose = next;
    },
    behaveOnce(...next) {
      queued.push(...next);
    },
    nthRequest: arrival,
    requestWhere(match) {
      const found = announced.find(match);
      return found ? Promise.resolve(found) : new Promise((resolve) => watchers.push({ match, resolve }));
    },
    release() {
      releaseAll();
      released = new Promise<void>((resolve) => {
        releaseAll = resolve;
      });
    },
    async close() {
      releaseAll();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
