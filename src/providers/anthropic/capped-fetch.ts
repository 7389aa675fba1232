/**
 * The `fetch` the Anthropic SDK is given: the global one, with the body of an event
 * stream passed through the `maxEventBytes` cap (see `event-cap.ts`). The SDK buffers
 * an unfinished event without limit; with the cap, an event past it errors the body
 * (which cancels the upstream request) and the SDK's iteration throws
 * `EventTooLargeError`.
 */
import { createEventCap } from '../event-cap.js';

export function cappedFetch(maxEventBytes: number): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) return res;
    const cap = createEventCap(maxEventBytes);
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          cap.take(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
