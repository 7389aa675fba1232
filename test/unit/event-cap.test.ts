/** The per-event byte cap: what counts as the end of an event, across chunks and line endings. */
import { describe, expect, it } from 'vitest';
import { EventTooLargeError, createEventCap } from '../../src/providers/event-cap.js';

const feed = (cap: number, chunks: string[]): void => {
  const counter = createEventCap(cap);
  for (const chunk of chunks) counter.take(Buffer.from(chunk));
};

describe('createEventCap', () => {
  it('many small events never trip it, whatever their total', () => {
    expect(() => feed(32, Array.from({ length: 10_000 }, () => 'data: {"a":1}\n\n'))).not.toThrow();
  });

  it('a line of exactly the cap passes; one byte more trips it, also split over chunks', () => {
    expect(() => feed(20, ['x'.repeat(20)])).not.toThrow();
    expect(() => feed(20, ['x'.repeat(21)])).toThrow(EventTooLargeError);
    expect(() => feed(20, ['x'.repeat(10), 'x'.repeat(10), 'x'])).toThrow(EventTooLargeError);
  });

  it('an event of many short lines and no blank line trips it', () => {
    expect(() => feed(100, Array.from({ length: 20 }, () => 'data: x\n'))).toThrow(/longer than 100 bytes/u);
  });

  it.each([
    ['LF LF', '\n\n'],
    ['CRLF CRLF', '\r\n\r\n'],
    ['CR CR', '\r\r'],
    ['CRLF LF', '\r\n\n'],
  ])('%s ends an event, also when the two endings arrive in different chunks', (_name, ending) => {
    const event = `data: ${'y'.repeat(50)}`;
    expect(() => feed(80, [event + ending, event + ending, event + ending])).not.toThrow();
    const half = ending.length / 2;
    expect(() => feed(80, [event + ending.slice(0, half), ending.slice(half) + event + ending.slice(0, half), ending.slice(half) + event])).not.toThrow();
  });

  it('counts what follows the last event in a chunk', () => {
    const counter = createEventCap(40);
    counter.take(Buffer.from(`data: a\n\n${'z'.repeat(30)}`));
    expect(() => counter.take(Buffer.from('z'.repeat(10)))).not.toThrow();
    expect(() => counter.take(Buffer.from('z'))).toThrow(EventTooLargeError);
  });
});
