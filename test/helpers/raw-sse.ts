/**
 * Reads an SSE response's raw bytes as they arrive, comments included (`: keep-alive`),
 * which readStream's parser does not take: a test waits for some text, acts (releases
 * the upstream), then validates the whole body with readStream once the comments are
 * taken out.
 */
import { expect } from 'vitest';
import { readStream, type ReadStream } from './read.js';

export const KEEP_ALIVE = ': keep-alive\n\n';

export interface RawSse {
  response: Response;
  /** The body received so far. */
  readonly raw: string;
  /** Resolves with the body once `until(body)` holds; rejects if the body ends first. */
  waitFor(until: (raw: string) => boolean): Promise<string>;
  /** The whole body, once the server has ended it. */
  ended: Promise<string>;
}

export function rawSse(response: Response): RawSse {
  if (!response.body) throw new Error(`response ${response.status} has no body`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let raw = '';
  let done = false;
  let waiters: { until: (raw: string) => boolean; resolve: (raw: string) => void; reject: (err: Error) => void }[] = [];
  const settle = (): void => {
    waiters = waiters.filter((w) => {
      if (w.until(raw)) {
        w.resolve(raw);
        return false;
      }
      if (done) {
        w.reject(new Error(`the stream ended before the awaited text; body: ${JSON.stringify(raw)}`));
        return false;
      }
      return true;
    });
  };
  const ended = (async () => {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        raw += decoder.decode(chunk.value, { stream: true });
        settle();
      }
      raw += decoder.decode();
      return raw;
    } finally {
      done = true;
      settle();
    }
  })();
  return {
    response,
    get raw() {
      return raw;
    },
    waitFor(until) {
      return new Promise((resolve, reject) => {
        waiters.push({ until, resolve, reject });
        settle();
      });
    },
    ended,
  };
}

/** How many `: keep-alive` comments a body holds, and the body without them. */
export function splitComments(raw: string): { comments: number; events: string } {
  const blocks = raw.split('\n\n');
  const kept = blocks.filter((block) => block !== ': keep-alive');
  for (const block of kept) expect(block.startsWith(':'), `unexpected comment ${JSON.stringify(block)}`).toBe(false);
  return { comments: blocks.length - kept.length, events: kept.join('\n\n') };
}

/** Validates a finished raw body (comments removed) as a stream with readStream. */
export function readRawStream(response: Response, raw: string): Promise<ReadStream> {
  return readStream(new Response(splitComments(raw).events, { status: response.status, headers: response.headers }));
}
