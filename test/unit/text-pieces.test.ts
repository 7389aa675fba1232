import { describe, expect, it } from 'vitest';
import { textPieces } from '../../src/text-pieces.js';

describe('textPieces', () => {
  it('cuts into pieces of at most the size that join back to the text', () => {
    const text = 'abcdefghij'.repeat(7);
    const pieces = [...textPieces(text, 16)];
    expect(pieces.join('')).toBe(text);
    expect(pieces.every((p) => p.length <= 16)).toBe(true);
    expect(pieces).toHaveLength(5);
  });

  it('never separates the halves of a surrogate pair, so each piece is valid UTF-16 on its own', () => {
    const text = `a${'😀'.repeat(20)}`;
    const pieces = [...textPieces(text, 4)];
    expect(pieces.join('')).toBe(text);
    for (const piece of pieces) expect(Buffer.from(piece).toString('utf8')).toBe(piece);
  });

  it('a size of 1 still keeps each pair whole', () => {
    expect([...textPieces('😀a😀', 1)]).toEqual(['😀', 'a', '😀']);
  });

  it('short text is one piece, the same string', () => {
    expect([...textPieces('hi', 4)]).toEqual(['hi']);
    expect([...textPieces('', 4)]).toEqual(['']);
  });
});
