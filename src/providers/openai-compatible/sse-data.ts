/**
 * The `data` of each server-sent event in a response body, up to `data: [DONE]`
 * (parsed by `eventsource-parser`). The body is read to its end even after `[DONE]`, so
 * the connection goes back to the keep-alive pool instead of being destroyed.
 */
import type { IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';

export async function* sseData(res: IncomingMessage): AsyncGenerator<string> {
  const pending: string[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event.data) });
  let done = false;
  // Split multi-byte characters are joined across chunks; invalid bytes become U+FFFD.
  res.setEncoding('utf8');
  for await (const text of res as AsyncIterable<string>) {
    if (done) continue;
    parser.feed(text);
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
  parser.reset({ consume: true });
  for (const data of pending.splice(0)) {
    if (data === '[DONE]') return;
    yield data;
  }
}
