/**
 * Scenario 8, observability: what metrics and logs cost on the echo path. Two gateways
 * on echo, alike but for `gateway.metrics.enabled` and the log level: `obs-on` counts
 * every request and writes a JSON line per request and per run (to a file, as a real
 * deployment writes them to a pipe), with `/metrics` scraped every second meanwhile;
 * `obs-off` has metrics disabled and `--log-level warn`. They take turns run by run
 * (the order flips every round), so each round's ratio is on against off on the same
 * machine at nearly the same moment. Besides req/s, each run's CPU time of the gateway
 * process per request is read from /proc: on a shared machine that is the steadier
 * figure. Each round starts a fresh pair: with one pair for all rounds, the ratio was
 * as much the two processes' as the setting's (two obs-off gateways of the same build
 * measured 206.6 and 217.1 µs of CPU per request in the same alternating run). Goal: on
 * ≥ ×0.95 off in req/s at c=32 (issue 16: cost ≤ 5%).
 */
import { REQUEST_BODY, REQUEST_HEADERS, TOKEN } from './payloads.mjs';
import { load, median, type Target } from './measure.js';
import { startGateway, type Proc } from './procs.js';
import type { Row } from './report.js';
import { cpuSeconds } from './usage.js';

interface Series {
  rps: number[];
  /** CPU time of the gateway process per request answered, µs. */
  cpuUs: number[];
  failed: number;
}

export interface ObservabilityResult {
  /** Concurrency (`c1`, `c32`) → target (`obs-on`, `obs-off`) → series. */
  byConcurrency: Record<string, Record<string, Series>>;
  /** Scrapes of `/metrics` made during the runs, and their median time (ms). */
  scrapes: number;
  scrapeMs: number;
}

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export async function observability(options: { rounds: number; durationS: number; warmupS: number }): Promise<ObservabilityResult> {
  const scrapeTimes: number[] = [];
  const byConcurrency: ObservabilityResult['byConcurrency'] = {};
  for (const c of [1, 32]) byConcurrency[`c${c}`] = { 'obs-on': { rps: [], cpuUs: [], failed: 0 }, 'obs-off': { rps: [], cpuUs: [], failed: 0 } };
  for (let round = 0; round < options.rounds; round += 1) {
    // A fresh pair each round: two processes of the same build differ by up to ~5% in
    // CPU per request (JIT decisions, memory layout), which one pair kept for every
    // round would count as the cost of the setting.
    const [on, off] = await Promise.all([startGateway('obs-on', { logLevel: 'info' }), startGateway('obs-off', { logLevel: 'warn', metrics: false })]);
    const procs: Record<string, Proc> = { 'obs-on': on.proc, 'obs-off': off.proc };
    const targets: Target[] = [
      { name: 'obs-on', url: `${on.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
      { name: 'obs-off', url: `${off.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
    ];
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
      for (const c of [1, 32]) for (const target of targets) await load(target, REQUEST_BODY, { connections: c, durationS: options.warmupS });
      for (const c of [1, 32]) {
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          const pid = (procs[target.name] as Proc).pid;
          const cpuBefore = cpuSeconds(pid);
          const run = await load(target, REQUEST_BODY, { connections: c, durationS: options.durationS });
          const cpuUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, run.ok + run.failed);
          const series = byConcurrency[`c${c}`]?.[target.name] as Series;
          series.rps.push(run.rps);
          series.cpuUs.push(cpuUs);
          series.failed += run.failed;
          say(`  round ${round + 1}/${options.rounds} c=${c} ${target.name.padEnd(8)} ${run.rps.toFixed(0).padStart(6)} req/s  ${cpuUs.toFixed(0).padStart(5)} us CPU/request${run.failed ? `  FAILED ${run.failed}` : ''}`);
        }
      }
    } finally {
      clearInterval(scraper);
      for (const proc of Object.values(procs)) await proc.stop();
    }
  }
  return { byConcurrency, scrapes: scrapeTimes.length, scrapeMs: median(scrapeTimes) };
}

const range = (values: readonly number[], digits: number): string => (values.length ? `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}` : '');
const perRound = (a: readonly number[], b: readonly number[]): number[] => a.slice(0, b.length).map((value, i) => value / (b[i] as number));

/** The table's rows: req/s and CPU per request, on and off, and the median per-round ratios; the goal on req/s at c=32. */
export function observabilityRows(result: ObservabilityResult): Row[] {
  const rows: Row[] = [];
  for (const [conc, byTarget] of Object.entries(result.byConcurrency)) {
    const scenario = `observability c=${conc.slice(1)}`;
    const onS = byTarget['obs-on'] as Series;
    const offS = byTarget['obs-off'] as Series;
    for (const [name, s] of [['obs-off', offS], ['obs-on', onS]] as const) {
      const failed = s.failed ? ` (${s.failed} FAILED)` : '';
      rows.push({ scenario, target: name, median: `${median(s.rps).toFixed(0)} req/s${failed}, ${median(s.cpuUs).toFixed(0)} us CPU/req`, range: range(s.rps, 0), ratio: '', goal: '', status: '' });
    }
    const rps = perRound(onS.rps, offS.rps);
    const cpu = perRound(onS.cpuUs, offS.cpuUs);
    const value = median(rps);
    const withGoal = conc === 'c32';
    rows.push({
      scenario,
      target: 'obs-on / obs-off',
      median: `req/s ×${value.toFixed(3)}, CPU/req ×${median(cpu).toFixed(3)}`,
      range: `req/s ${range(rps, 3)}`,
      ratio: `${result.scrapes} scrapes, median ${result.scrapeMs.toFixed(1)} ms`,
      goal: withGoal ? 'req/s ≥ ×0.95' : '',
      status: withGoal ? (value >= 0.95 && !onS.failed ? 'met' : 'MISSED') : '',
      value,
    });
  }
  return rows;
}
