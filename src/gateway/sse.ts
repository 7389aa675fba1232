/**
 * Server-Sent Events framing for OpenAI-style streams: each event a single
 * `data: <json>` line followed by a blank line, and `data: [DONE]` last.
 */
import type { ServerResponse } from 'node:http';
import { createChatCompletionStreamSentinels } from '../../generated/streams.js';

/** The last event's data, as the stream's `x-itemSchema` states it. */
const END = createChatCompletionStreamSentinels[0];

/**
 * No `Connection` header: Node writes the true one (`keep-alive` on HTTP/1.1, `close`
 * for an HTTP/1.0 client, whose stream can only end by closing the connection).
 */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  // Tells nginx-style proxies not to buffer the stream.
  'x-accel-buffering': 'no',
} as const;

/** Writes one `data:` event; JSON.stringify never emits a raw newline, so one line it is. */
export function writeEvent(res: ServerResponse, payload: unknown): void {
  res.write(`data: ${JSON.stringify(payload)}\n\n`);
}

/** Writes the terminating `data: [DONE]` and ends the response. */
export function endStream(res: ServerResponse): void {
  res.end(`data: ${END}\n\n`);
}
