/**
 * CORS for browser clients, off unless `gateway.http.cors.origins` lists origins (or
 * `*`). Preflights are answered here, before auth (browsers send no credentials on
 * them), for the headers OpenAI's browser SDKs send.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerParameters } from '../../generated/spec-constants.js';

/** Request headers a browser client may send: OpenAI SDK's (`x-stainless-*`, `openai-*`) and the spec's header parameters. */
const ALLOWED = new Set(['authorization', 'content-type', 'accept', ...Object.values(headerParameters)]);
const SDK_HEADER = /^(x-stainless-[a-z0-9-]+|openai-[a-z0-9-]+)$/u;
/** Response headers a browser client may read: the request id, the session key, and how long to wait. */
const EXPOSED = [headerParameters.RequestIdHeader, headerParameters.SessionKeyHeader, 'retry-after'].join(', ');
const METHODS = 'GET, HEAD, POST, OPTIONS';

export interface Cors {
  /**
   * Adds CORS headers for an allowed origin; answers a preflight completely.
   * Returns true when the request has been answered.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createCors(origins: readonly string[]): Cors {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return {
    handle(req, res) {
      const origin = req.headers.origin;
      if (origins.length === 0 || origin === undefined || !(any || allowed.has(origin))) return false;
      res.setHeader('access-control-allow-origin', any ? '*' : origin);
      res.setHeader('vary', 'Origin');
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (!preflight) {
        res.setHeader('access-control-expose-headers', EXPOSED);
        return false;
      }
      const requested = (req.headers['access-control-request-headers'] ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean);
      const headers = requested.filter((h) => ALLOWED.has(h) || SDK_HEADER.test(h));
      res.writeHead(204, {
        'access-control-allow-methods': METHODS,
        ...(headers.length > 0 ? { 'access-control-allow-headers': headers.join(', ') } : {}),
        'access-control-max-age': '600',
        'content-length': '0',
      });
      res.end();
      return true;
    },
  };
}
