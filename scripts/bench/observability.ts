/**
 * Scenario 8, observability: what metrics and logs cost on the echo path. Two gateways
 * on echo, alike but for `gateway.metrics.enabled` and the log level: `obs-on` counts
 * every request and writes a JSON line per request and per run (to a file, as a real
 * deployment writes them to a pipe), with `/metrics` scraped every second meanwhile;
 * `obs-off` has metrics disabled and `--log-level warn`. They take turns round by round
 * (the `throughput` loop), so the ratio per round is on against off on the same machine
 * at the same moment. Goal: on ≥ ×0.95 off (issue 16: cost ≤ 5%).
 */
import { startGateway, type Proc } from './procs.js';
import { median } from './measure.js';
import type { Row } from './report.js';
import { REQUEST_HEADERS, TOKEN } from './payloads.mjs';
import { throughput, type LoadSeries } from './traffic.js';

export interface ObservabilityResult {
  /** Concurrency → target (`obs-on`, `obs-off`) → series. */
  byConcurrency: Record<string, Record<string, LoadSeries>>;
  /** Scrapes of `/metrics` made during the `obs-on` runs, and their median time (ms). */
  scrapes: number;
  scrapeMs: number;
}

export async function observability(options: { rounds: number; durationS: number; warmupS: number }): Promise<ObservabilityResult> {
  const [on, off] = await Promise.all([
    startGateway('obs-on', { logLevel: 'info' }),
    startGateway('obs-off', { logLevel: 'warn', metrics: false }),
  ]);
  const running: Proc[] = [on.proc, off.proc];
  const scrapeTimes: number[] = [];
  // A Prometheus server scraping every second (15 s is the usual interval: this is harsher).
  const scraper = setInterval(() => {
    const t0 = performance.now();
    fetch(`${on.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
      .then(async (res) => {
        await res.text();
        if (res.status === 200) scrapeTimes.push(performance.now() - t0);
      })
      .catch(() => undefined);
  }, 1000);
  try {
    const byConcurrency = await throughput(
      [
        { name: 'obs-on', url: `${on.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
        { name: 'obs-off', url: `${off.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
      ],
      { ...options, concurrencies: [1, 32] },
    );
    return { byConcurrency, scrapes: scrapeTimes.length, scrapeMs: median(scrapeTimes) };
  } finally {
    clearInterval(scraper);
    for (const proc of running) await proc.stop();
  }
}

/** The table's rows: req/s on and off, and the median per-round ratio against the goal. */
export function observabilityRows(result: ObservabilityResult): Row[] {
  const rows: Row[] = [];
  for (const [conc, byTarget] of Object.entries(result.byConcurrency)) {
    const onRps = byTarget['obs-on']?.rps ?? [];
    const offRps = byTarget['obs-off']?.rps ?? [];
    const ratios = onRps.slice(0, offRps.length).map((value, i) => value / (offRps[i] as number));
    const value = median(ratios);
    const range = ratios.length ? `${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}` : '';
    for (const [name, rps] of [['obs-off', offRps], ['obs-on', onRps]] as const) {
      rows.push({ scenario: `observability c=${conc.slice(1)}`, target: name, median: `${median(rps).toFixed(0)} req/s`, range: rps.length ? `${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)}` : '', ratio: '', goal: '', status: '' });
    }
    rows.push({
      scenario: `observability c=${conc.slice(1)}`,
      target: 'obs-on / obs-off',
      median: `×${value.toFixed(3)}`,
      range,
      ratio: `${result.scrapes} scrapes, median ${result.scrapeMs.toFixed(1)} ms`,
      goal: '≥ ×0.95',
      status: value >= 0.95 ? 'met' : 'MISSED',
      value,
    });
  }
  return rows;
}
