/**
 * The cap on one server-sent event from an upstream (`maxEventBytes`), counted on the
 * bytes as they arrive, before any parser buffers them: the bytes since the last blank
 * line (the end of an event) may not exceed the cap. That bounds a line that never ends,
 * an event of endless `data:` lines, and endless comment lines alike, so no upstream can
 * grow the gateway's memory without end. Both adapters use it: the OpenAI-compatible one
 * on its response chunks, the Anthropic one through the SDK's `fetch`.
 */

/** Default cap on one upstream SSE line or event (`models.providers.<id>.maxEventBytes`). */
export const DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024;

/** One upstream event (or line) was longer than the cap. */
export class EventTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`an event is longer than ${limit} bytes`);
    this.name = 'EventTooLargeError';
  }
}

export interface EventCap {
  /** Counts `chunk`; throws `EventTooLargeError` once the event in progress is over the cap. */
  take(chunk: Uint8Array): void;
}

const LF = 0x0a;
const CR = 0x0d;
// A blank line is a line ending right after another: with LF, CR and CRLF endings every
// such pair contains LF LF, LF CR or CR CR.
const BOUNDARIES = [Buffer.from([LF, LF]), Buffer.from([LF, CR]), Buffer.from([CR, CR])];

export function createEventCap(maxBytes: number): EventCap {
  /** Bytes since the last event boundary. */
  let pending = 0;
  /** The previous chunk's last byte, for a boundary split across two chunks. */
  let previous = -1;
  return {
    take(chunk) {
      if (chunk.length === 0) return;
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let end = -1;
      for (const boundary of BOUNDARIES) {
        const at = bytes.lastIndexOf(boundary);
        if (at >= 0 && at + 2 > end) end = at + 2;
      }
      const first = bytes[0] as number;
      if (end < 0 && previous === LF && (first === LF || first === CR)) end = 1;
      if (end < 0 && previous === CR && first === CR) end = 1;
      pending = end < 0 ? pending + bytes.length : bytes.length - end;
      previous = bytes[bytes.length - 1] as number;
      if (pending > maxBytes) throw new EventTooLargeError(maxBytes);
    },
  };
}
