/**
 * Reads a gateway response and checks it against our spec and OpenAI's schemas, so
 * every test that reads a response also validates it.
 */
import { expect } from 'vitest';
import type {
  CreateChatCompletionResponse,
  CreateChatCompletionStreamResponse,
  ErrorResponse,
} from '../../generated/client/types.gen.js';
import { schemaProblems } from './schemas.js';
import { parseSse } from './sse.js';

export async function readCompletion(res: Response): Promise<CreateChatCompletionResponse> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/u);
  const body = JSON.parse(text) as CreateChatCompletionResponse;
  expect(schemaProblems('completion', body)).toEqual([]);
  return body;
}

export async function readError(res: Response, status: number): Promise<ErrorResponse['error']> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/u);
  const body = JSON.parse(text) as ErrorResponse;
  expect(schemaProblems('error', body)).toEqual([]);
  return body.error;
}

export interface ReadStream {
  chunks: CreateChatCompletionStreamResponse[];
  /** The final error event, if the stream ended with one. */
  error?: ErrorResponse['error'];
  raw: string;
}

/** Reads a whole SSE response: framing, `[DONE]` last, each chunk valid, same id/created. */
export async function readStream(res: Response): Promise<ReadStream> {
  const raw = await res.text();
  expect(res.status, raw).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const { events, framingErrors } = parseSse(raw);
  expect(framingErrors).toEqual([]);
  expect(events.at(-1)).toBe('[DONE]');
  const chunks: CreateChatCompletionStreamResponse[] = [];
  let error: ErrorResponse['error'] | undefined;
  for (const [i, event] of events.slice(0, -1).entries()) {
    const payload = JSON.parse(event) as Record<string, unknown>;
    if ('error' in payload) {
      expect(i, 'an error event is the last before [DONE]').toBe(events.length - 2);
      expect(schemaProblems('error', payload)).toEqual([]);
      error = (payload as unknown as ErrorResponse).error;
      continue;
    }
    expect(schemaProblems('chunk', payload)).toEqual([]);
    chunks.push(payload as unknown as CreateChatCompletionStreamResponse);
  }
  for (const chunk of chunks) {
    expect(chunk.id).toBe(chunks[0]?.id);
    expect(chunk.created).toBe(chunks[0]?.created);
  }
  return { chunks, ...(error ? { error } : {}), raw };
}

/** The content of a stream's deltas, joined. */
export function streamedText(stream: ReadStream): string {
  return stream.chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}
