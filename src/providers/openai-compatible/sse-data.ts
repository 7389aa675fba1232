/**
 * The `data` of each server-sent event in a response body, up to `data: [DONE]`
 * (parsed by `eventsource-parser`). One event may hold at most `maxEventBytes`, counted
 * on the bytes before anything is parsed (see `event-cap.ts`): past it the body is
 * closed and `EventTooLargeError` thrown. After `[DONE]` the rest of the body is read
 * out (up to `AFTER_DONE_BYTES`), so the connection goes back to the keep-alive pool.
 *
 * Lines are handed to the parser whole. A `data:` line of `BIG_LINE_BYTES` or more (an
 * upstream may send a whole reply, or an image, in one event) never becomes a string on
 * the event loop: its bytes are kept as they arrived and yielded as they are, for the
 * JSON worker (`json-off-thread.ts`) to decode and parse. The parser sees a placeholder
 * in its place, so the event's framing is still the parser's. Measured on a 7 MiB event:
 * decoding and parsing it as text cost the event loop ~40 ms a turn on a loaded 2-core
 * machine, this ~1 ms (one copy of its bytes).
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createParser } from 'eventsource-parser';
import { createEventCap } from '../event-cap.js';

/** Bytes read after `[DONE]` at most before the connection is given up instead of reused. */
const AFTER_DONE_BYTES = 64 * 1024;
/** A `data:` line this long is passed on as bytes (see above). */
export const BIG_LINE_BYTES = 1024 * 1024;
/** The most of the body looked at in one step. */
const PIECE_BYTES = 64 * 1024;

/** An event's data: text, or the raw UTF-8 bytes of a big single-line value. */
export type SseData = string | Uint8Array;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const DATA = Buffer.from('data:');

function lastLineEnd(chunk: Buffer): number {
  return Math.max(chunk.lastIndexOf(LF), chunk.lastIndexOf(CR));
}

function firstLineEnd(chunk: Buffer): number {
  const lf = chunk.indexOf(LF);
  const cr = chunk.indexOf(CR);
  return lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
}

export async function* sseData(res: Readable, maxEventBytes: number): AsyncGenerator<SseData> {
  const pending: string[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event.data) });
  const cap = createEventCap(maxEventBytes);
  /** Big values by their placeholder; the placeholders cannot occur in an upstream's text. */
  const bigs = new Map<string, Buffer>();
  // Made with the first big line (few streams have one).
  let placeholder: string | undefined;
  let bigLines = 0;
  /** The line in progress, as received. */
  let line: Buffer[] = [];
  let lineLength = 0;

  /** Feeds a whole line (without its ending) of `BIG_LINE_BYTES` or more. */
  const feedBigLine = (bytes: Buffer): void => {
    if (bytes.subarray(0, DATA.length).equals(DATA)) {
      const start = bytes[DATA.length] === SPACE ? DATA.length + 1 : DATA.length;
      bigLines += 1;
      placeholder ??= `\u0000big-${randomUUID()}-`;
      const token = `${placeholder}${bigLines}`;
      bigs.set(token, bytes.subarray(start));
      parser.feed(`data: ${token}`);
    } else if (bytes[0] !== COLON) {
      // Not data, not a comment (which would be dropped anyway): parse it as text.
      parser.feed(bytes.toString('utf8'));
    }
  };

  /** An event's data as yielded: a big value alone as its bytes, else text. */
  const dataOf = (data: string): SseData => {
    if (placeholder === undefined || bigs.size === 0 || !data.includes(placeholder)) return data;
    const big = bigs.get(data);
    if (big) {
      bigs.delete(data);
      return big;
    }
    // A big line among other data lines of one event (rare): the text, on the loop.
    let text = data;
    for (const [token, bytes] of bigs) {
      if (!text.includes(token)) continue;
      text = text.replace(token, () => bytes.toString('utf8'));
      bigs.delete(token);
    }
    return text;
  };

  /** Takes one piece of the body (at most `PIECE_BYTES`, so a big line always spans pieces). */
  const take = (chunk: Buffer): void => {
    const last = lastLineEnd(chunk);
    if (last < 0) {
      line.push(chunk);
      lineLength += chunk.length;
      return;
    }
    // Lines end at ASCII bytes, so whole lines are whole UTF-8 text.
    const first = lineLength + last < BIG_LINE_BYTES ? -1 : firstLineEnd(chunk);
    if (first >= 0 && lineLength + first >= BIG_LINE_BYTES) {
      feedBigLine(Buffer.concat([...line, chunk.subarray(0, first)]));
      parser.feed(chunk.toString('utf8', first, last + 1));
    } else {
      parser.feed(lineLength === 0 ? chunk.toString('utf8', 0, last + 1) : Buffer.concat([...line, chunk.subarray(0, last + 1)]).toString('utf8'));
    }
    line = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
    lineLength = chunk.length - last - 1;
  };

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
    // Sockets deliver at most 64 KiB at a time; anything larger is cut to that.
    for (let start = 0; start < chunk.length; start += PIECE_BYTES) take(chunk.length <= PIECE_BYTES ? chunk : chunk.subarray(start, start + PIECE_BYTES));
    for (const data of pending.splice(0)) {
      if (data === '[DONE]') {
        done = true;
        break;
      }
      yield dataOf(data);
    }
  }
  if (done) return;
  // A last line and event the upstream did not end: ended here.
  if (lineLength >= BIG_LINE_BYTES) feedBigLine(Buffer.concat(line));
  else if (lineLength > 0) parser.feed(Buffer.concat(line).toString('utf8'));
  parser.feed('\n\n');
  for (const data of pending.splice(0)) {
    if (data === '[DONE]') return;
    yield dataOf(data);
  }
}
