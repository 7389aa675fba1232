/**
 * One request with node:http, sending headers exactly as given (`Origin`, preflight
 * headers, odd `x-request-id` values), answered as status, headers and body text. Unlike
 * a fetch `Response`, a 204 is fine; `response()` turns it into one for the read helpers.
 */
import { request, type OutgoingHttpHeaders } from 'node:http';

export interface RawAnswer {
  status: number;
  headers: Headers;
  body: string;
  /** As a fetch Response (not for 1xx/204/304, which cannot have a body there). */
  response(): Response;
}

export function httpCall(url: string, options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
        }
        const status = res.statusCode ?? 0;
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status, headers, body, response: () => new Response(body, { status, headers }) });
      });
    });
    if (options.body !== undefined) req.setHeader('content-length', Buffer.byteLength(options.body));
    req.end(options.body);
  });
}
