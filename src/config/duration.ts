/** Durations as operators write them: a whole number and a unit, `30d`, `12h`, `15m`, `45s`, `0s`. */

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const DURATION_PATTERN = '^[0-9]{1,9}[smhd]$';
const DURATION = new RegExp(DURATION_PATTERN, 'u');

/** `text` in milliseconds, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  return Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1) as keyof typeof UNIT_MS];
}
