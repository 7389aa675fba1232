/** The table rows of scenario 8 (a million stored sessions against an empty store). */
import type { MillionResult } from './million.js';
import { median } from './measure.js';
import type { Row } from './report.js';

const perRoundRatio = (a: readonly number[], b: readonly number[]): number => median(a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / (b[i] as number)));
const spread = (v: readonly number[], digits: number): string => (v.length ? `${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}` : '');
const check = (ok: boolean): Row['status'] => (ok ? 'met' : 'MISSED');

export function millionRows(m: MillionResult): Row[] {
  const scenario = '1M sessions';
  const rows: Row[] = [
    { scenario, target: 'store written', median: `${(m.writeMs / 1000).toFixed(0)} s`, range: '', ratio: '1,000,000 sessions, 1,900,000 turns, straight into SQLite', goal: 'minutes', status: '' },
  ];
  for (const kind of ['stateless', 'user']) {
    const million = m.turnP50[`million:${kind}`] ?? [];
    const empty = m.turnP50[`empty:${kind}`] ?? [];
    const ratio = perRoundRatio(million, empty);
    rows.push({
      scenario,
      target: `turn p50 c=1, ${kind === 'user' ? '10-turn user session' : 'new stateless session'}`,
      median: `${median(million).toFixed(3)} ms (empty ${median(empty).toFixed(3)})`,
      range: spread(million, 3),
      ratio: `×${ratio.toFixed(2)} empty store`,
      goal: '≤ ×1.2 empty store',
      status: check(ratio <= 1.2),
      value: ratio,
    });
  }
  const start = perRoundRatio(m.startMs.million, m.startMs.empty);
  rows.push({
    scenario,
    target: 'start-up to /healthz 200',
    median: `${median(m.startMs.million).toFixed(0)} ms (empty ${median(m.startMs.empty).toFixed(0)})`,
    range: spread(m.startMs.million, 0),
    ratio: `×${start.toFixed(2)} empty store`,
    goal: 'not growing (≤ ×1.2)',
    status: check(start <= 1.2),
    value: start,
  });
  const list = median(m.listMs.million);
  rows.push({
    scenario,
    target: 'moltbot sessions list --limit 50 (process)',
    median: `${list.toFixed(0)} ms (empty ${median(m.listMs.empty).toFixed(0)})`,
    range: spread(m.listMs.million, 0),
    ratio: `×${perRoundRatio(m.listMs.million, m.listMs.empty).toFixed(2)} empty store; the page query ${median(m.queryMs.first).toFixed(2)} ms, 10 pages deep ${median(m.queryMs.deep).toFixed(2)} ms`,
    goal: '≤ 200 ms',
    status: check(list <= 200),
    value: list,
  });
  const r = m.retention;
  if (r) {
    rows.push({
      scenario,
      target: 'retention: longest request while pruning',
      median: `${r.maxMs.toFixed(1)} ms`,
      range: `p50 ${r.p50.toFixed(2)} / p99 ${r.p99.toFixed(2)} ms`,
      ratio:
        `${r.pruned} pruned in ${(r.passMs / 1000).toFixed(0)} s; ${r.requests} requests meanwhile, ${r.over50} over 50 ms, ${r.failed} failed; ` +
        `the longest ${r.longest.atS.toFixed(0)} s in, while ${r.longest.phase}` +
        (r.pace ? ` (the pruner's longest step ${r.pace.longestStepMs.toFixed(1)} ms, ${r.pace.longestStep})` : '') +
        `; as many right after: p50 ${r.after.p50.toFixed(2)} / p99 ${r.after.p99.toFixed(2)} / max ${r.after.maxMs.toFixed(1)} ms`,
      goal: '≤ 50 ms',
      status: check(r.maxMs <= 50 && r.failed === 0),
      value: r.maxMs,
    });
  }
  return rows;
}
