/**
 * Reads a streaming response as its bytes arrive, so a test can act while the stream is
 * still open (signal or kill the gateway after some deltas) and validate it afterwards:
 * `finish()` hands the whole body to `readStream`; `receivedChunks()` validates the
 * complete events received so far, for a stream that never finished.
 */
import { expect } from 'vitest';
import type { CreateChatCompletionStreamResponse } from '../../generated/client/types.gen.js';
import { readStream, type ReadStream } from './read.js';
import { schemaProblems } from './schemas.js';

export interface OpenStream {
  response: Response;
  /** The body received so far. */
  readonly raw: string;
  /** Resolves once the body received so far satisfies `until`; rejects if the body ends first. */
  waitFor(until: (raw: string) => boolean): Promise<string>;
  /** Resolves when the body has ended: `error` is set when it was cut (connection lost). */
  ended: Promise<{ raw: string; error?: unknown }>;
  /** Waits for the end of the body and validates it whole with `readStream`. */
  finish(): Promise<ReadStream>;
  /** The complete `data:` events received so far, each validated as a chunk (status 200, SSE). */
  receivedChunks(): CreateChatCompletionStreamResponse[];
}

export function openStream(response: Response): OpenStream {
  if (!response.body) throw new Error('response has no body');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let raw = '';
  let waiters: { until: (raw: string) => boolean; resolve: (raw: string) => void; reject: (err: Error) => void }[] = [];
  const notify = (): void => {
    waiters = waiters.filter((waiter) => {
      if (!waiter.until(raw)) return true;
      waiter.resolve(raw);
      return false;
    });
  };
  const ended = (async (): Promise<{ raw: string; error?: unknown }> => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        raw += decoder.decode(value, { stream: true });
        notify();
      }
      raw += decoder.decode();
      return { raw };
    } catch (error) {
      return { raw, error };
    } finally {
      for (const waiter of waiters) waiter.reject(new Error(`stream ended before the awaited content; got ${JSON.stringify(raw)}`));
      waiters = [];
    }
  })();
  return {
    response,
    get raw() {
      return raw;
    },
    waitFor(until) {
      if (until(raw)) return Promise.resolve(raw);
      return new Promise((resolve, reject) => {
        waiters.push({ until, resolve, reject });
        // Reading may already have finished.
        void ended.then(() => {
          if (waiters.some((w) => w.resolve === resolve)) {
            waiters = waiters.filter((w) => w.resolve !== resolve);
            reject(new Error(`stream ended before the awaited content; got ${JSON.stringify(raw)}`));
          }
        });
      });
    },
    ended,
    async finish() {
      const result = await ended;
      if (result.error !== undefined) throw new Error(`stream was cut after ${JSON.stringify(result.raw)}`, { cause: result.error });
      return readStream(new Response(result.raw, { status: response.status, headers: response.headers }));
    },
    receivedChunks() {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      const blocks = raw.split('\n\n').slice(0, -1);
      return blocks.map((block) => {
        expect(block.startsWith('data: '), block).toBe(true);
        expect(block.includes('\n'), block).toBe(false);
        const payload = JSON.parse(block.slice('data: '.length)) as unknown;
        expect(schemaProblems('chunk', payload)).toEqual([]);
        return payload as CreateChatCompletionStreamResponse;
      });
    },
  };
}

/** The content deltas of chunks, joined. */
export function chunksText(chunks: readonly CreateChatCompletionStreamResponse[]): string {
  return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}
