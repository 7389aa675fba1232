/**
 * Long text cut into pieces of at most `size` UTF-16 units, never between the two
 * halves of a surrogate pair (so with a `size` of 1 a pair is a piece of 2), so each
 * piece encodes to UTF-8 on its own exactly as it would inside the whole. Writers use it to send megabytes as many small writes, with
 * the event loop free between them.
 */
export function* textPieces(text: string, size: number): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    let end = start + size;
    const last = text.charCodeAt(end - 1);
    // A high surrogate at the cut: keep it with its low half (in the next piece, or in
    // this one when the piece would otherwise be empty).
    if (last >= 0xd800 && last <= 0xdbff) end += end - 1 > start ? -1 : 1;
    yield text.slice(start, end);
    start = end;
  }
  if (start === 0) yield text;
  else if (start < text.length) yield text.slice(start);
}
