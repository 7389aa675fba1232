/**
 * The contract between operation handlers and the HTTP edge. A handler takes its
 * operation's request as the generated types say it (validated before it is called) and
 * returns a result; only the edge (`api.ts`) touches the socket.
 */
import type { OperationId, OperationRequest, OperationResponseHeaders } from '../../generated/operations.js';
import type { OperationStreamData } from '../../generated/streams.js';
import type { CallerSignal } from '../domain/caller-signal.js';

/** What a handler receives: its operation's validated body, header parameters and path parameters. */
export interface HandlerInput<K extends OperationId> {
  body: OperationRequest<K>['requestBody'];
  /** The header parameters the operation declares (lower-case names, as Node gives them). */
  headers: Readonly<OperationRequest<K>['header']>;
  params: Readonly<OperationRequest<K>['path']>;
  /** Aborts when the client goes away. */
  signal: CallerSignal;
  /** The request's id (`x-request-id`, echoed or new). */
  requestId: string;
  /** Filled by the handler for the request's log line. */
  facts: RequestFacts;
  /** The request's trace context when tracing is on (for the turn it starts); opaque. */
  traceContext?: unknown;
}

/**
 * What a handler adds to its request's log line beyond what the edge knows: bounded or
 * hashed values only (a session key is logged as a keyed hash, never as its text).
 */
export interface RequestFacts {
  agent?: string;
  sessionKind?: string;
  /**
   * SHA-256 of the session key keyed by the gateway's secret, 16 hex digits: correlates
   * turns, reveals nothing. A function: computed only when the line is written.
   */
  sessionKeyHash?: () => string;
  promptTokens?: number;
  completionTokens?: number;
}

/** Response headers an operation declares in the spec. */
export type ResponseHeaders<K extends OperationId> = Partial<Record<OperationResponseHeaders[K], string>>;

/**
 * A JSON response. `body` may be a promise: its rejection is rendered as an error
 * response that still carries `headers`.
 */
export interface JsonResult<K extends OperationId> {
  kind: 'json';
  status: number;
  headers?: ResponseHeaders<K>;
  body: unknown;
}

/**
 * A `text/event-stream` response: each payload becomes one `data:` event, then
 * `data: [DONE]`. An error thrown before the first payload becomes an HTTP error status;
 * after it, a final `data: {"error": ...}` event. Payloads are typed by the stream's
 * `x-itemSchema` (generated/streams.ts).
 */
export interface StreamResult<K extends OperationId> {
  kind: 'sse';
  headers?: ResponseHeaders<K>;
  events: AsyncIterable<K extends keyof OperationStreamData ? OperationStreamData[K] : never>;
}

/** A static document (the spec, the docs page). */
export interface RawResult<K extends OperationId> {
  kind: 'raw';
  status: number;
  contentType: string;
  headers?: ResponseHeaders<K>;
  body: Buffer;
}

export type HandlerResult<K extends OperationId> = JsonResult<K> | StreamResult<K> | RawResult<K>;

export type OperationHandler<K extends OperationId> = (input: HandlerInput<K>) => Promise<HandlerResult<K>>;

/** One handler per operationId in the spec: a missing one is a compile error. */
export type OperationHandlers = { [K in OperationId]: OperationHandler<K> };
