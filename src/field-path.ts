/**
 * How a place inside JSON is named in messages and `param`: `messages[0].content`.
 * Numeric segments (numbers, or all-digit strings from JSON Pointers) become indexes.
 */
export function fieldPath(segments: readonly (string | number)[]): string {
  return segments.reduce<string>((acc, part) => {
    if (typeof part === 'number' || /^\d+$/u.test(part)) return `${acc}[${part}]`;
    return acc ? `${acc}.${part}` : part;
  }, '');
}
