/**
 * Clients that misbehave on purpose, for the hardening tests: a body streamed lazily
 * until the server answers (how much was written before the answer is the measure), a
 * raw socket that stops mid-request (slowloris), and a request from a chosen local
 * address (127.0.0.x) so per-address limits can be exercised on loopback.
 */
import { request as httpRequest, type Agent, type OutgoingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

/** A node:http response as a fetch `Response`, so the read helpers can validate it. */
function toResponse(status: number, rawHeaders: Record<string, string | string[] | undefined>, body: Buffer): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  // 1xx/204/304 cannot carry a body in a fetch Response.
  return new Response([101, 204, 205, 304].includes(status) ? null : body, { status, headers });
}

export interface StreamedUpload {
  /** The server's answer, or undefined when the socket closed without one. */
  response: Response | undefined;
  /** Body bytes handed to the socket before the answer (or the close) arrived. */
  bytesWritten: number;
  /** Why the client stopped writing. */
  stoppedBy: 'response' | 'close' | 'finished';
}

/**
 * POSTs a body of `total` bytes made of `chunk` repeated (generated lazily: one buffer,
 * written again and again), chunked unless `declareLength`. Writing stops as soon as
 * the response arrives or the socket closes; the count of bytes written before that is
 * returned with the answer.
 */
export function streamUpload(
  url: string,
  options: { headers: OutgoingHttpHeaders; total: number; chunk: Buffer; declareLength?: boolean },
): Promise<StreamedUpload> {
  return new Promise((resolve, reject) => {
    let bytesWritten = 0;
    let stoppedBy: StreamedUpload['stoppedBy'] | undefined;
    const headers = { ...options.headers, ...(options.declareLength ? { 'content-length': String(options.total) } : {}) };
    const req = httpRequest(url, { method: 'POST', headers, agent: false });
    const stop = (why: StreamedUpload['stoppedBy']): void => {
      stoppedBy ??= why;
    };
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      stop('response');
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        resolve({ response: toResponse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks)), bytesWritten, stoppedBy: stoppedBy ?? 'response' });
        req.destroy();
      });
    });
    req.on('close', () => {
      stop('close');
      // With a response, it resolves once read; otherwise there is none.
      if (!answered) resolve({ response: undefined, bytesWritten, stoppedBy: stoppedBy ?? 'close' });
    });
    // A reset after the answer (the server closes on a refused body) is expected.
    req.on('error', () => stop('close'));
    const pump = (): void => {
      while (stoppedBy === undefined && bytesWritten < options.total) {
        const size = Math.min(options.chunk.length, options.total - bytesWritten);
        const piece = size === options.chunk.length ? options.chunk : options.chunk.subarray(0, size);
        bytesWritten += size;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      if (stoppedBy === undefined) {
        stop('finished');
        req.end();
      }
    };
    pump();
  });
}

export interface StalledConnection {
  socket: Socket;
  /** True once the server has closed (or reset) the connection. */
  readonly closed: boolean;
  /** Everything the server sent, once it closed the connection; rejects after `boundMs`. */
  ended: Promise<{ raw: string; ms: number }>;
}

/**
 * Opens a raw TCP connection, sends `text` (a partial request) and then nothing. The
 * wait for the server to close the connection is bounded by `boundMs`: past it the
 * socket is destroyed and `ended` rejects.
 */
export async function stallRequest(url: string, text: string, boundMs = 5000): Promise<StalledConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const started = performance.now();
  let closed = false;
  let raw = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    raw += chunk;
  });
  const ended = new Promise<{ raw: string; ms: number }>((resolve, reject) => {
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the stalled connection open for more than ${boundMs} ms; received ${JSON.stringify(raw)}`));
    }, boundMs);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      clearTimeout(bound);
      resolve({ raw, ms: performance.now() - started });
    });
  });
  socket.write(text);
  return {
    socket,
    get closed() {
      return closed;
    },
    ended,
  };
}

/** Parses a raw HTTP/1.1 response (as received on a socket) into a fetch `Response`. */
export function parseRawResponse(raw: string): Response {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = '', ...lines] = raw.slice(0, split).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3}) /u.exec(statusLine);
  if (!match) throw new Error(`bad status line: ${JSON.stringify(statusLine)}`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return new Response(raw.slice(split + 4), { status: Number(match[1]), headers });
}

/** One request with node:http, optionally from a chosen local address or through an agent. */
export function sendFrom(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer | string; localAddress?: string; agent?: Agent | false } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: options.method ?? 'POST',
      headers: options.headers ?? {},
      agent: options.agent ?? false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve(toResponse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))));
    });
    if (options.body !== undefined) req.setHeader('content-length', Buffer.byteLength(options.body));
    req.end(options.body);
  });
}
