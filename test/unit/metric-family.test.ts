/**
 * The gateway's metric families render through prom-client's registry as prom-client's
 * own would: counters and gauges per label values, histograms with cumulative buckets
 * ending in `+Inf` equal to `_count`, `_sum`; a family without labels shows 0 before
 * anything happened; a non-finite observation is dropped; label values are escaped.
 * Read back with the strict parser of the test helpers, independent of prom-client.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily, GaugeFamily, HistogramFamily } from '../../src/observability/metric-family.js';
import { parseMetrics } from '../helpers/metrics.js';

describe('metric families', () => {
  it('count, gauge and bucket what they are told, as prom-client renders the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const requests = new CounterFamily({ name: 'x_requests_total', help: 'Requests.', labelNames: ['route', 'status'] }, ours);
    const reference = new Counter({ name: 'x_requests_total', help: 'Requests.', labelNames: ['route', 'status'], registers: [theirs] });
    const buckets = [0.01, 0.1, 1];
    const durations = new HistogramFamily({ name: 'x_seconds', help: 'Durations.', labelNames: ['route'], buckets }, ours);
    const referenceDurations = new Histogram({ name: 'x_seconds', help: 'Durations.', labelNames: ['route'], buckets, registers: [theirs] });
    const queued = new GaugeFamily({ name: 'x_queued', help: 'Queued.' }, ours);
    new HistogramFamily({ name: 'x_empty_seconds', help: 'Nothing yet.', buckets }, ours);

    const route = '/v1/"odd"\\path\n';
    for (const [status, n] of [['200', 3], ['500', 1]] as const) {
      requests.child(route, status).inc(n);
      reference.labels(route, status).inc(n);
    }
    for (const seconds of [0.005, 0.01, 0.05, 0.5, 5, 1]) {
      durations.child(route).observe(seconds);
      referenceDurations.labels(route).observe(seconds);
    }
    durations.child(route).observe(Number.NaN);
    durations.child(route).observe(Number.POSITIVE_INFINITY);
    queued.child().inc(3);
    queued.child().dec();

    const scrape = parseMetrics(await ours.metrics());
    const expected = parseMetrics(await theirs.metrics());
    expect(scrape.value('x_requests_total', { route, status: '200' })).toBe(3);
    expect(scrape.value('x_requests_total', { route })).toBe(4);
    expect(scrape.value('x_queued')).toBe(2);
    expect(scrape.value('x_seconds', { route })).toBe(6);
    expect(scrape.value('x_empty_seconds')).toBe(0);
    expect(scrape.families.get('x_seconds')).toBe('histogram');
    const series = (s: typeof scrape, name: string): string[] =>
      s.samples
        .filter((sample) => sample.name.startsWith(name))
        .map((sample) => `${sample.name} ${JSON.stringify(Object.entries(sample.labels).sort())} ${sample.value}`)
        .sort();
    expect(series(scrape, 'x_seconds')).toEqual(series(expected, 'x_seconds'));
    expect(series(scrape, 'x_requests_total')).toEqual(series(expected, 'x_requests_total'));
  });

  it('refuses label values that do not fit the family', () => {
    const family = new CounterFamily({ name: 'y_total', help: 'Y.', labelNames: ['a', 'b'] }, new Registry());
    expect(() => family.child('only-one')).toThrow(/2 label values expected/u);
  });
});
