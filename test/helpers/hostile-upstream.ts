/**
 * Upstreams that misbehave on purpose, for the resilience tests: a scripted HTTP server
 * whose every answer is written by the test (partial streams, malformed SSE, HTML error
 * pages, cut sockets), and a TCP server that accepts connections and never says a word.
 * Both track their sockets so `close()` never leaves one open.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

/** One request the scripted upstream received, with the means to answer it. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  body: Record<string, unknown>;
}

export type Script = (exchange: Exchange) => void;

export interface ScriptedUpstream {
  /** Base URL including `/v1`. */
  baseUrl: string;
  port: number;
  /** Requests received so far. */
  readonly requests: number;
  /** Answers every request from now on with `script`. */
  respond(script: Script): void;
  close(): Promise<void>;
}

function track(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
}

/** An HTTP server on 127.0.0.1:0 that answers with whatever the current script writes. */
export async function startScriptedUpstream(initial: Script = (x) => x.res.end()): Promise<ScriptedUpstream> {
  let script = initial;
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests += 1;
      const text = Buffer.concat(chunks).toString('utf8');
      script({ req, res, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> });
    });
  });
  server.on('connection', (socket: Socket) => track(sockets, socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    get requests() {
      return requests;
    },
    respond(next) {
      script = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface SilentServer {
  /** Base URL including `/v1`. */
  baseUrl: string;
  /** Connections accepted so far (clients may open spare ones). */
  readonly accepted: number;
  /** Connections on which a request arrived (the first bytes were read). */
  readonly requested: number;
  close(): Promise<void>;
}

/** A TCP server that accepts every connection, reads what comes and never writes a byte. */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let requested = 0;
  const server = createTcpServer((socket) => {
    accepted += 1;
    track(sockets, socket);
    socket.once('data', () => (requested += 1));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get accepted() {
      return accepted;
    },
    get requested() {
      return requested;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One SSE `data:` event as an OpenAI-compatible server writes it. */
export function sseEvent(payload: unknown): string {
  return `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;
}

/** A `chat.completion.chunk` event with a content delta (or a role chunk for `null`). */
export function contentEvent(text: string | null, model = 'm'): string {
  const delta = text === null ? { role: 'assistant', content: '' } : { content: text };
  return sseEvent({ id: 'chatcmpl-up', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: null }] });
}

/** The chunk with `finish_reason`. */
export function finishEvent(reason = 'stop', model = 'm'): string {
  return sseEvent({ id: 'chatcmpl-up', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: {}, finish_reason: reason }] });
}

/** Starts an SSE response (200, text/event-stream) and writes `events`. */
export function startSse(res: ServerResponse, ...events: string[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const event of events) res.write(event);
}

/**
 * Writes `data` then destroys the socket once it has been handed to the kernel, so the
 * peer receives the bytes and then sees the connection reset.
 */
export function writeThenDestroy(res: ServerResponse, data: string | Buffer): void {
  res.write(data, () => res.socket?.destroy());
}
