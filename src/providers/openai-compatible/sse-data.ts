/**
 * The `data` of each server-sent event in a response body, up to `data: [DONE]`
 * (parsed by `eventsource-parser`). One event may hold at most `maxEventBytes`, counted
 * on the bytes before the parser sees them (see `event-cap.ts`): past it the body is
 * closed and `EventTooLargeError` thrown. After `[DONE]` the rest of the body is read
 * out (up to `AFTER_DONE_BYTES`), so the connection goes back to the keep-alive pool.
 */
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { createParser } from 'eventsource-parser';
import { createEventCap } from '../event-cap.js';

/** Bytes read after `[DONE]` at most before the connection is given up instead of reused. */
const AFTER_DONE_BYTES = 64 * 1024;

export async function* sseData(res: IncomingMessage, maxEventBytes: number): AsyncGenerator<string> {
  const pending: string[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event.data) });
  const cap = createEventCap(maxEventBytes);
  // Split multi-byte characters are joined across chunks; invalid bytes become U+FFFD.
  const decoder = new StringDecoder('utf8');
  let done = false;
  let afterDone = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (done) {
      afterDone += chunk.length;
      if (afterDone > AFTER_DONE_BYTES) break;
      continue;
    }
    try {
      cap.take(chunk);
    } catch (err) {
      res.destroy();
      throw err;
    }
    parser.feed(decoder.write(chunk));
    for (const data of pending.splice(0)) {
      if (data === '[DONE]') {
        done = true;
        break;
      }
      yield data;
    }
  }
  if (done) return;
  // A last event the upstream did not end with a blank line.
  parser.feed(decoder.end());
  parser.reset({ consume: true });
  for (const data of pending.splice(0)) {
    if (data === '[DONE]') return;
    yield data;
  }
}
