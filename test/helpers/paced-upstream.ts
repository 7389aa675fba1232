/**
 * An OpenAI-compatible upstream for load tests: every reply is a pure function of the
 * turn's last user message (`replyFor`), so a test can tell whether any stored reply is
 * whole without having watched it; it streams in `deltas` parts paced by a timer inside
 * the server, each part due `delayMs` after the one before (the test's own
 * synchronisation never sleeps), optionally held after the first part until the test
 * opens a gate. A message starting with `hang:` gets its first delta and then nothing
 * until the gateway closes the request (a client abort reaching upstream), bounded by
 * `hangLimitMs`. Sockets are tracked so a test can wait until none is open.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface PacedUpstreamOptions {
  /** Parts each reply is streamed in (default 4). */
  deltas?: number;
  /** Milliseconds between parts; 0 writes them on successive setImmediate turns (default 0). */
  delayMs?: number;
  /** Answer with `connection: close`, so the gateway keeps no pooled upstream connection. */
  connectionClose?: boolean;
  /** How long a `hang:` reply waits for its request to be closed before finishing (default 10 s). */
  hangLimitMs?: number;
  /** When given, every reply sends its first part, then waits for this before pacing out the rest. */
  gate?: Promise<void>;
}

export interface PacedUpstream {
  baseUrl: string;
  /** Requests received. */
  readonly requests: number;
  /** Replies finished (the stream ended with [DONE]). */
  readonly completed: number;
  /** Requests the gateway closed before their reply was complete. */
  readonly closedEarly: number;
  /** Resolves once `n` requests have arrived. */
  arrived(n: number): Promise<void>;
  /** Closes every connection not answering a request and resolves when no socket is open. */
  quiesce(): Promise<void>;
  readonly openSockets: number;
  close(): Promise<void>;
}

/** The reply the upstream gives to a turn whose last user message is `content`. */
export function replyFor(content: string): string {
  return `ack<${content}> from upstream`;
}

/** `text` in `parts` pieces (fewer for short text), concatenating back to `text`. */
export function splitInto(text: string, parts: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / parts));
  const pieces: string[] = [];
  for (let at = 0; at < text.length; at += size) pieces.push(text.slice(at, at + size));
  return pieces;
}

function chunk(model: string, delta: Record<string, unknown>, finishReason: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-paced', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`;
}

export async function startPacedUpstream(options: PacedUpstreamOptions = {}): Promise<PacedUpstream> {
  const parts = options.deltas ?? 4;
  const delayMs = options.delayMs ?? 0;
  const hangLimitMs = options.hangLimitMs ?? 10_000;
  let requests = 0;
  let completed = 0;
  let closedEarly = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  let onNoSockets: (() => void) | undefined;

  function reply(res: ServerResponse, model: string, content: string): void {
    // Each part is due `delayMs` after the previous one was due, not after it was sent: a
    // late timer (a busy machine) delays one part, it does not push back every later one.
    let due = performance.now();
    const later = (fn: () => void): void => {
      if (delayMs === 0) {
        setImmediate(fn);
        return;
      }
      due += delayMs;
      setTimeout(fn, Math.max(0, due - performance.now()));
    };
    const hang = content.startsWith('hang:');
    const pieces = splitInto(replyFor(content), parts);
    res.writeHead(200, { 'content-type': 'text/event-stream', ...(options.connectionClose ? { connection: 'close' } : {}) });
    res.write(chunk(model, { role: 'assistant', content: '' }));
    const finish = (): void => {
      if (res.destroyed) return;
      res.write(chunk(model, {}, 'stop'));
      res.write(`data: ${JSON.stringify({ id: 'chatcmpl-paced', object: 'chat.completion.chunk', created: 1, model, choices: [], usage: { prompt_tokens: 5, completion_tokens: pieces.length, total_tokens: 5 + pieces.length } })}\n\n`);
      res.end('data: [DONE]\n\n', () => (completed += 1));
    };
    if (hang) {
      res.write(chunk(model, { content: pieces[0] ?? '' }));
      const bound = setTimeout(() => {
        for (const piece of pieces.slice(1)) res.write(chunk(model, { content: piece }));
        finish();
      }, hangLimitMs);
      res.once('close', () => clearTimeout(bound));
      return;
    }
    let next = 0;
    const step = (): void => {
      if (res.destroyed) return;
      const piece = pieces[next];
      next += 1;
      if (piece === undefined) {
        finish();
        return;
      }
      res.write(chunk(model, { content: piece }));
      if (next === 1 && options.gate) {
        void options.gate.then(() => {
          // The pacing resumes from when the gate opened.
          due = performance.now();
          later(step);
        });
      } else later(step);
    };
    later(step);
  }

  /** Sockets with a request being answered; the others are idle or were never used. */
  const busy = new Set<Socket>();
  const server = createServer((req, res) => {
    const socket = req.socket;
    busy.add(socket);
    res.once('close', () => busy.delete(socket));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests += 1;
      for (const waiter of waiting.splice(0)) {
        if (waiter.n <= requests) waiter.resolve();
        else waiting.push(waiter);
      }
      res.once('close', () => {
        if (!res.writableFinished) closedEarly += 1;
      });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; messages: { role: string; content: unknown }[] };
      const last = [...body.messages].reverse().find((m) => m.role === 'user');
      reply(res, body.model, typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content));
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) onNoSockets?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return requests;
    },
    get completed() {
      return completed;
    },
    get closedEarly() {
      return closedEarly;
    },
    get openSockets() {
      return sockets.size;
    },
    arrived(n) {
      if (requests >= n) return Promise.resolve();
      return new Promise((resolve) => waiting.push({ n, resolve }));
    },
    quiesce() {
      // closeIdleConnections() spares connections that never carried a request (clients
      // open spare ones); close every socket not answering a request.
      server.closeIdleConnections();
      for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
      if (sockets.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onNoSockets = () => {
          onNoSockets = undefined;
          resolve();
        };
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
