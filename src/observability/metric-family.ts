/**
 * The gateway's own metric families: counters, gauges and histograms whose every
 * observation is a number added to a field of a cell bound once per label values, and
 * which prom-client's registry renders with its own exposition code (each family is a
 * registry metric: `name`, `help`, `type`, `get()`).
 *
 * Why not prom-client's `Counter`/`Gauge`/`Histogram`: even through a child bound with
 * `labels()`, each of their observations hashes the label object, validates it and (a
 * histogram) allocates a closure: 0.6-0.7 µs each, and a turn makes about a dozen of
 * them (`npm run bench` scenario 8; decision record 0014). Here an observation is a
 * field update (~10 ns); the work moves to the scrape.
 */
import type { Metric, MetricValueWithName, Registry } from 'prom-client';

type Labels = Record<string, string>;
type MetricKind = 'counter' | 'gauge' | 'histogram';

/** A series of a counter: only ever rises. */
export class CounterCell {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

/** A series of a gauge: goes up and down. */
export class GaugeCell {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
  set(value: number): void {
    this.value = value;
  }
}

/** A series of a histogram: a count per bucket (not cumulative; the scrape sums them), the sum and the count. */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    // NaN or an infinity would poison `_sum` for good: such an observation is dropped.
    if (!Number.isFinite(value)) return;
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i += 1) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number) += 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }
}

interface Series<C> {
  labels: Labels;
  cell: C;
}

/** One family: its series by label values, created on first use (or up front, for a family without labels). */
abstract class Family<C> {
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series<C>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricKind,
    private readonly labelNames: readonly string[],
    registry: Registry,
    private readonly makeCell: () => C,
    private readonly collect?: () => void,
  ) {
    // The registry takes any object with these fields and `get()`; its type names only prom-client's classes.
    registry.registerMetric(this as unknown as Metric);
    // A family without labels shows its zero before anything happened, as prom-client's do.
    if (labelNames.length === 0) this.child();
  }

  /**
   * The series of these label values (in `labelNames` order); bind it once where the
   * values are fixed, or call per observation (a Map lookup).
   */
  child(...values: string[]): C {
    const key = values.length === 1 ? (values[0] as string) : values.join('\u0000');
    let entry = this.series.get(key);
    if (!entry) {
      if (values.length !== this.labelNames.length) throw new Error(`${this.name}: ${this.labelNames.length} label values expected, got ${values.length}`);
      const labels: Labels = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] as string;
      });
      entry = { labels, cell: this.makeCell() };
      this.series.set(key, entry);
    }
    return entry.cell;
  }

  protected entries(): IterableIterator<Series<C>> {
    return this.series.values();
  }

  /** What the registry renders: `collect` runs first (a gauge read at scrape time). */
  async get(): Promise<{ name: string; help: string; type: MetricKind; aggregator: string; values: MetricValueWithName<string>[] }> {
    this.collect?.();
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  protected abstract values(): MetricValueWithName<string>[];
}

export class CounterFamily extends Family<CounterCell> {
  constructor(options: { name: string; help: string; labelNames?: readonly string[] }, registry: Registry) {
    super(options.name, options.help, 'counter', options.labelNames ?? [], registry, () => new CounterCell());
  }
  protected values(): MetricValueWithName<string>[] {
    return [...this.entries()].map(({ labels, cell }) => ({ labels, value: cell.value }));
  }
}

export class GaugeFamily extends Family<GaugeCell> {
  /** `collect` runs before each scrape renders the family (to set a gauge read at scrape time). */
  constructor(options: { name: string; help: string; labelNames?: readonly string[]; collect?: () => void }, registry: Registry) {
    super(options.name, options.help, 'gauge', options.labelNames ?? [], registry, () => new GaugeCell(), options.collect);
  }
  protected values(): MetricValueWithName<string>[] {
    return [...this.entries()].map(({ labels, cell }) => ({ labels, value: cell.value }));
  }
}

export class HistogramFamily extends Family<HistogramCell> {
  private readonly bounds: readonly number[];
  constructor(options: { name: string; help: string; labelNames?: readonly string[]; buckets: readonly number[] }, registry: Registry) {
    const bounds = [...options.buckets].sort((a, b) => a - b);
    super(options.name, options.help, 'histogram', options.labelNames ?? [], registry, () => new HistogramCell(bounds));
    this.bounds = bounds;
  }
  protected values(): MetricValueWithName<string>[] {
    const out: MetricValueWithName<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, cell } of this.entries()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.counts[i] as number;
        out.push({ metricName: bucket, labels: Object.assign({}, labels, { le }), value: cumulative });
      });
      out.push({ metricName: bucket, labels: Object.assign({}, labels, { le: '+Inf' }), value: cell.count });
      out.push({ metricName: `${this.name}_sum`, labels, value: cell.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: cell.count });
    }
    return out;
  }
}
