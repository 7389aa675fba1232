/**
 * Scrapes a gateway's `/metrics` and reads it with a strict parser of the Prometheus
 * text format 0.0.4, written here from the format's definition (independent of
 * prom-client, which has no parser): every line is a `# HELP`, a `# TYPE` or a sample
 * of a declared family, label values are properly quoted and escaped, values are
 * numbers, and each histogram series has rising buckets ending in `+Inf` equal to its
 * `_count`. A sample's value is then looked up by name and labels.
 */
import { expect } from 'vitest';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  text: string;
  /** Family name -> its type (`counter`, `gauge`, `histogram`, ...). */
  families: Map<string, string>;
  samples: Sample[];
  /**
   * The sum of the samples of `name` whose labels include `labels` (0 when none); for a
   * histogram, of its `_count` series.
   */
  value(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/u;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/u;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/u;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== '') {
    const match = LABEL.exec(rest);
    if (!match) throw new Error(`bad labels in: ${line}`);
    const [whole, key, raw] = match as unknown as [string, string, string];
    if (key in labels) throw new Error(`label ${key} twice in: ${line}`);
    labels[key] = raw.replace(/\\(.)/gu, (_m, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
  }
  return labels;
}

/** A value as Prometheus reads it (Go's ParseFloat: `NaN` and `Inf` in any case; prom-client writes `Nan`). */
function parseValue(text: string, line: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/u.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

/** The family a sample belongs to (`x_bucket` of histogram `x`), if declared. */
function familyOf(name: string, families: Map<string, string>): string | undefined {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/u, '');
  return base !== name && (families.get(base) === 'histogram' || families.get(base) === 'summary') ? base : undefined;
}

/** Checks each histogram series: cumulative buckets, `+Inf` last and equal to `_count`. */
function checkHistograms(samples: Sample[], families: Map<string, string>): void {
  for (const [family, type] of families) {
    if (type !== 'histogram') continue;
    const series = new Map<string, { buckets: [number, number][]; count?: number }>();
    for (const sample of samples) {
      if (!sample.name.startsWith(`${family}_`)) continue;
      const { le, ...rest } = sample.labels;
      const key = JSON.stringify(rest);
      const entry = series.get(key) ?? { buckets: [] };
      series.set(key, entry);
      if (sample.name === `${family}_bucket`) entry.buckets.push([parseValue(le ?? 'missing', family), sample.value]);
      if (sample.name === `${family}_count`) entry.count = sample.value;
    }
    for (const [key, { buckets, count }] of series) {
      expect(buckets.at(-1)?.[0], `${family}${key}: last bucket`).toBe(Infinity);
      expect(buckets.at(-1)?.[1], `${family}${key}: +Inf bucket = count`).toBe(count);
      for (let i = 1; i < buckets.length; i += 1) {
        const [le, n] = buckets[i] as [number, number];
        const [prevLe, prevN] = buckets[i - 1] as [number, number];
        expect(le > prevLe && n >= prevN, `${family}${key}: buckets rise`).toBe(true);
      }
    }
  }
}

/** Parses exposition text strictly (throws on any line outside the format). */
export function parseMetrics(text: string): Scrape {
  expect(text.endsWith('\n'), 'the text ends with a newline').toBe(true);
  const families = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      expect(line.split(' ')[2], line).toMatch(NAME);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type, extra] = line.split(' ');
      expect(name, line).toMatch(NAME);
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped'], line).toContain(type);
      expect(extra, line).toBeUndefined();
      expect(families.has(name as string), `${name} declared twice`).toBe(false);
      families.set(name as string, type as string);
      continue;
    }
    expect(line.startsWith('#'), `a comment that is neither HELP nor TYPE: ${line}`).toBe(false);
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const name = match[1] as string;
    expect(familyOf(name, families), `${name} has no # TYPE before it`).toBeDefined();
    samples.push({ name, labels: parseLabels(match[3] ?? '', line), value: parseValue(match[4] as string, line) });
  }
  checkHistograms(samples, families);
  return {
    text,
    families,
    samples,
    value(name, labels = {}) {
      const type = families.get(name);
      const series = type === 'histogram' || type === 'summary' ? `${name}_count` : name;
      let total = 0;
      for (const sample of samples) {
        if (sample.name !== series) continue;
        if (Object.entries(labels).every(([key, want]) => sample.labels[key] === want)) total += sample.value;
      }
      return total;
    },
  };
}

/** GETs `/metrics` (with the secret unless `token` is null) and parses it. */
export async function scrape(gateway: { url: string; token: string }, token: string | null = gateway.token): Promise<Scrape> {
  const res = await fetch(`${gateway.url}/metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/u);
  return parseMetrics(await res.text());
}

/** How much the samples of `name` with `labels` moved between two scrapes. */
export function moved(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  return after.value(name, labels) - before.value(name, labels);
}
