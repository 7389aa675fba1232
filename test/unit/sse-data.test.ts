/**
 * The SSE data reader: whole lines to the parser, whatever the chunking; big `data:`
 * lines passed on as their bytes; the event cap; `[DONE]`.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventTooLargeError } from '../../src/providers/event-cap.js';
import { BIG_LINE_BYTES, sseData, type SseData } from '../../src/providers/openai-compatible/sse-data.js';

const MiB = 1024 * 1024;

async function read(chunks: Buffer[], maxEventBytes = 8 * MiB): Promise<SseData[]> {
  const out: SseData[] = [];
  for await (const data of sseData(Readable.from(chunks) as unknown as IncomingMessage, maxEventBytes)) out.push(data);
  return out;
}

/** `text` cut into chunks at every `size` bytes (through multi-byte characters and line endings). */
const cut = (text: string, size: number): Buffer[] => {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
};

const STREAM = 'data: {"a":"é😀"}\n\n: comment\n\ndata: line one\ndata: line two\n\nevent: x\r\ndata: crlf\r\n\r\ndata: cr\r\rdata: [DONE]\n\ndata: after\n\n';
const EXPECTED = ['{"a":"é😀"}', 'line one\nline two', 'crlf', 'cr'];

describe('sseData', () => {
  it.each([1, 2, 3, 5, 7, 64, 1000])('gives the same events whatever the chunk size (%d bytes)', async (size) => {
    expect(await read(cut(STREAM, size))).toEqual(EXPECTED);
  });

  it('an event the upstream did not end is still read', async () => {
    expect(await read(cut('data: one\n\ndata: two', 3))).toEqual(['one', 'two']);
  });

  it('a big data line comes as its bytes, in chunks or whole', async () => {
    const value = `{"content":"${'é'.repeat(BIG_LINE_BYTES)}"}`;
    for (const size of [64 * 1024, 7 * MiB]) {
      const [first, big, last] = await read(cut(`data: small\n\ndata: ${value}\n\ndata: after\n\n`, size));
      expect(first).toBe('small');
      expect(big).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(big as Uint8Array).toString('utf8')).toBe(value);
      expect(last).toBe('after');
    }
  });

  it('a big data line without a space after the colon, and one at the very end without a line ending', async () => {
    const value = 'v'.repeat(BIG_LINE_BYTES + 10);
    const [big] = await read(cut(`data:${value}\n\n`, 65536));
    expect(Buffer.from(big as Uint8Array).toString()).toBe(value);
    const [unended] = await read(cut(`data: ${value}`, 65536));
    expect(Buffer.from(unended as Uint8Array).toString()).toBe(value);
  });

  it('a big line among other data lines of the same event is joined as text', async () => {
    const value = 'w'.repeat(BIG_LINE_BYTES);
    expect(await read(cut(`data: a\ndata: ${value}\ndata: $& b\n\n`, 65536))).toEqual([`a\n${value}\n$& b`]);
  });

  it('a big comment is dropped', async () => {
    expect(await read(cut(`: ${'c'.repeat(BIG_LINE_BYTES)}\n\ndata: x\n\n`, 65536))).toEqual(['x']);
  });

  it('an event past the cap throws EventTooLargeError', async () => {
    await expect(read(cut(`data: ${'z'.repeat(200_000)}`, 65536), 100_000)).rejects.toBeInstanceOf(EventTooLargeError);
  });
});
