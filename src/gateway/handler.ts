/**
 * The contract between operation handlers and the HTTP edge. Handlers take typed input
 * and return a result; only the edge (`api.ts`) touches the socket.
 */

/** What a handler receives: the validated body and the (lower-cased) request headers. */
export interface HandlerInput<Body> {
  body: Body;
  headers: Readonly<Record<string, string | undefined>>;
  /** Path parameters, by name. */
  params: Readonly<Record<string, string | undefined>>;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/**
 * A JSON response. `body` may be a promise: its rejection is rendered as an error
 * response that still carries `headers`.
 */
export interface JsonResult {
  kind: 'json';
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/**
 * A `text/event-stream` response: each payload becomes one `data:` event, then
 * `data: [DONE]`. An error thrown before the first payload becomes an HTTP error status;
 * after it, a final `data: {"error": ...}` event.
 */
export interface StreamResult {
  kind: 'sse';
  headers?: Record<string, string>;
  events: AsyncIterable<unknown>;
}

/** A static document (the spec, the docs page). */
export interface RawResult {
  kind: 'raw';
  status: number;
  contentType: string;
  headers?: Record<string, string>;
  body: Buffer;
}

export type HandlerResult = JsonResult | StreamResult | RawResult;

export type OperationHandler<Body = unknown> = (input: HandlerInput<Body>) => Promise<HandlerResult>;
