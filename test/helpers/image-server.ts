/**
 * A tiny real HTTP server on 127.0.0.1:0 serving images (and things that are not
 * images) for the gateway's URL-image fetching, plus a real PNG to send.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real 1x1 PNG (RGBA, one opaque pixel). */
export const PNG_BYTES = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
export const PNG_BASE64 = PNG_BYTES.toString('base64');
export const PNG_DATA_URL = `data:image/png;base64,${PNG_BASE64}`;

export interface ImageServer {
  /** e.g. `http://127.0.0.1:PORT`. */
  url: string;
  /** Paths requested so far, in order. */
  requested: string[];
  close(): Promise<void>;
}

/**
 * Routes: `/pixel.png` (the PNG, with content-length), `/stream.png` (image/png, chunked,
 * no content-length, `size` query bytes in several writes, default 4096),
 * `/missing.png` (404), `/page.html` (text/html), `/hang.png` (never answers).
 */
export async function startImageServer(): Promise<ImageServer> {
  const requested: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    requested.push(url.pathname);
    switch (url.pathname) {
      case '/pixel.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG_BYTES.length });
        res.end(PNG_BYTES);
        return;
      case '/stream.png': {
        const size = Number(url.searchParams.get('size') ?? 4096);
        res.writeHead(200, { 'content-type': 'image/png' });
        // Several writes, no length: the reader only learns the size by counting.
        const piece = Buffer.alloc(Math.max(1, Math.ceil(size / 8)), 0x42);
        let sent = 0;
        while (sent < size) {
          const part = piece.subarray(0, Math.min(piece.length, size - sent));
          res.write(part);
          sent += part.length;
        }
        res.end();
        return;
      }
      case '/missing.png':
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not here');
        return;
      case '/page.html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>not an image</title>');
        return;
      case '/hang.png':
        // Never answers; close() ends the connection.
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requested,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
