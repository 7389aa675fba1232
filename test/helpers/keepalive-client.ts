/**
 * An HTTP client for load tests: node:http over one keep-alive Agent (bounded sockets),
 * answers collected as status, headers and body (or the part of a stream received before
 * the client hung up on purpose), and `close()` that resolves once every socket it
 * opened is closed — so a test can count handles afterwards without guessing.
 */
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
  /** True when the client hung up (per `hangUpWhen`) before the body ended. */
  hungUp: boolean;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Hang up (destroy the request) as soon as the body received so far satisfies this. */
  hangUpWhen?: (received: string) => boolean;
}

export class KeepAliveClient {
  private readonly agent: Agent;
  private readonly sockets = new Set<Socket>();
  private readonly origin: URL;

  constructor(baseUrl: string, maxSockets: number) {
    this.origin = new URL(baseUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** Sockets this client has open now. */
  get openSockets(): number {
    return this.sockets.size;
  }

  send(path: string, options: SendOptions = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let hungUp = false;
      const req = request(new URL(path, this.origin), { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: this.agent });
      req.on('socket', (socket: Socket) => {
        if (this.sockets.has(socket)) return;
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
      });
      req.on('error', (err) => {
        if (!hungUp) reject(err);
      });
      req.on('response', (res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
        }
        let body = '';
        res.setEncoding('utf8');
        const answer = (): Answer => ({ status: res.statusCode ?? 0, headers, body, hungUp });
        res.on('data', (chunk: string) => {
          body += chunk;
          if (!hungUp && options.hangUpWhen?.(body)) {
            hungUp = true;
            req.destroy();
            resolve(answer());
          }
        });
        res.on('error', (err) => {
          if (!hungUp) reject(err);
        });
        res.on('end', () => {
          if (!hungUp) resolve(answer());
        });
      });
      if (options.body !== undefined) req.setHeader('content-length', Buffer.byteLength(options.body));
      req.end(options.body);
    });
  }

  /** Destroys the agent and resolves once every socket it opened has closed. */
  async close(): Promise<void> {
    const closing = [...this.sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    this.agent.destroy();
    await Promise.all(closing);
  }
}

/** A collected answer as a fetch Response, for the read helpers. */
export function asResponse(answer: Answer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}
