/**
 * Turns the per-round samples into the table: the median over rounds, its spread
 * (min–max, so the noise is visible next to every number), the ratio to a baseline
 * measured in the same run (the median of per-round ratios, so a slow round slows both
 * sides of its ratio alike) and the issue's target, met or missed.
 */
import type { HistorySeries } from './history.js';
import type { ManyUsersResult } from './many-users.js';
import type { MillionResult } from './million.js';
import { millionRows } from './million-rows.js';
import { soakRows, type SoakResult } from './soak.js';
import type { MemorySample } from './memory.js';
import type { StartSeries } from './startup.js';
import { median } from './measure.js';
import { REPLICA_CORES, type PostgresSeries } from './postgres.js';
import type { LoadSeries, StreamSeries } from './traffic.js';
import type { WsSeries } from './websocket.js';

export interface Results {
  throughput?: Record<string, Record<string, LoadSeries>>;
  streaming?: Record<string, StreamSeries>;
  history?: { series: Record<string, HistorySeries>; fillMs: number; promptTokens: Record<string, number> };
  memory?: { streams: number; samples: MemorySample[] };
  startup?: Record<string, StartSeries>;
  manyUsers?: ManyUsersResult;
  websocket?: Record<string, WsSeries>;
  postgres?: PostgresSeries;
  million?: MillionResult;
  soak?: SoakResult;
  /** Scenario → why it was not run (a part this machine lacks). */
  skipped?: Record<string, string>;
  /** Scenario → why it could not be measured. */
  errors: Record<string, string>;
}

export interface Row {
  scenario: string;
  target: string;
  median: string;
  range: string;
  ratio: string;
  goal: string;
  status: '' | 'met' | 'MISSED' | 'n/a';
  /** The number compared with the goal, for the JSON. */
  value?: number;
}

const perRound = (a: readonly number[], b: readonly number[], op: (x: number, y: number) => number): number[] =>
  a.slice(0, Math.min(a.length, b.length)).map((x, i) => op(x, b[i] as number));
const ratioOf = (a: readonly number[], b: readonly number[]): number => median(perRound(a, b, (x, y) => x / y));
const diffOf = (a: readonly number[], b: readonly number[]): number[] => perRound(a, b, (x, y) => x - y);
const spread = (v: readonly number[], digits: number): string =>
  v.length ? `${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}` : '';
const check = (ok: boolean): Row['status'] => (ok ? 'met' : 'MISSED');

/** Many users on the default config: the issue's targets (zero 429s and errors, ≥ 200 turns/s at 500 users, ≤ +5 ms p50). */
function manyUsersRows(m: ManyUsersResult, fullUsers: number): Row[] {
  const scenario = `many users ${m.clients} × ${m.durationS} s`;
  const full = m.clients === fullUsers;
  const counts = (r: ManyUsersResult['direct']): string =>
    `${r.ok} ok of ${r.requests}, ${r.refused} × 429, ${r.errors} errors; others kept ${r.cpu.othersCores.toFixed(2)} cores busy`;
  const timing = (r: ManyUsersResult['direct']): string => `[DONE] p50 ${r.p50.toFixed(1)} / p99 ${r.p99.toFixed(1)} ms`;
  const added = m.gateway.p50 - m.direct.p50;
  const g = m.gateway;
  return [
    { scenario, target: 'upstream direct', median: `${m.direct.turnsPerS.toFixed(1)} turns/s`, range: timing(m.direct), ratio: counts(m.direct), goal: '', status: '' },
    {
      scenario,
      target: 'gateway, default config',
      median: `${g.turnsPerS.toFixed(1)} turns/s`,
      range: timing(g),
      ratio: `${counts(g)}; ×${(g.turnsPerS / m.direct.turnsPerS).toFixed(2)} direct`,
      goal: `≥ 200 turns/s @ ${fullUsers}`,
      status: full ? check(g.turnsPerS >= 200) : 'n/a',
      value: g.turnsPerS,
    },
    { scenario, target: 'gateway 429s', median: String(g.refused), range: '', ratio: '', goal: '0', status: check(g.refused === 0), value: g.refused },
    {
      scenario,
      target: 'gateway errors',
      median: String(g.errors),
      range: '',
      ratio: g.problems.join('; ').slice(0, 100),
      goal: '0',
      status: check(g.errors === 0),
      value: g.errors,
    },
    { scenario, target: 'gateway − direct [DONE] p50', median: `${added.toFixed(1)} ms`, range: '', ratio: '', goal: '≤ 5 ms', status: check(added <= 5), value: added },
    {
      scenario,
      target: 'CPU per turn',
      median: `gateway ${(g.cpu.gatewayUs ?? Number.NaN).toFixed(0)} µs`,
      range: `${((g.cpu.gatewayKernelShare ?? Number.NaN) * 100).toFixed(0)}% in the kernel`,
      ratio: `upstream ${g.cpu.upstreamUs.toFixed(0)} µs, clients ${g.cpu.clientsUs.toFixed(0)} µs`,
      goal: '',
      status: '',
    },
    {
      scenario,
      target: 'gateway peak RSS',
      median: `${(g.peakRssMb ?? Number.NaN).toFixed(1)} MB`,
      range: '',
      ratio: `idle ${(g.idleRssMb ?? Number.NaN).toFixed(1)} MB`,
      goal: 'reported',
      status: '',
      ...(g.peakRssMb === undefined ? {} : { value: g.peakRssMb }),
    },
  ];
}

/** PostgreSQL against SQLite (echo turns), and two replicas against one. */
function postgresRows(p: PostgresSeries): Row[] {
  const rows: Row[] = [];
  const failed = p.failed ? ` (${p.failed} FAILED)` : '';
  for (const name of ['sqlite', 'postgres'] as const) {
    const s = p.c1[name];
    if (s) rows.push({ scenario: 'postgres c=1', target: `gateway-echo on ${name}`, median: `p50 ${median(s.p50).toFixed(3)} / p99 ${median(s.p99).toFixed(3)} ms`, range: `p50 ${spread(s.p50, 3)}`, ratio: '', goal: '', status: '' });
  }
  const [sq, pg] = [p.c1.sqlite, p.c1.postgres];
  if (sq && pg) {
    for (const [q, goal] of [['p50', 2], ['p99', undefined]] as const) {
      const added = diffOf(pg[q], sq[q]);
      const value = median(added);
      rows.push({
        scenario: 'postgres c=1',
        target: `added ${q}: postgres − sqlite`,
        median: `${value.toFixed(3)} ms${failed}`,
        range: spread(added, 3),
        ratio: '',
        goal: goal === undefined ? 'reported' : `≤ ${goal} ms`,
        status: goal === undefined ? '' : check(value <= goal && !p.failed),
        value,
      });
    }
  }
  for (const name of ['sqlite', 'postgres', 'postgres ×1', 'postgres ×2']) {
    const s = p.c32[name] ?? [];
    const base = name === 'postgres' ? ` ×${ratioOf(s, p.c32.sqlite ?? []).toFixed(2)} sqlite` : '';
    rows.push({ scenario: 'postgres c=32', target: name.includes('×') ? `replicas ${name}` : `gateway-echo on ${name}`, median: `${median(s).toFixed(0)} turns/s`, range: spread(s, 0), ratio: base.trim(), goal: '', status: '' });
  }
  for (const [kind, c] of Object.entries(p.cpu)) {
    const total = median(c.gateways) + median(c.postgres) + median(c.client);
    rows.push({
      scenario: 'postgres c=32',
      target: `CPU per turn, ${kind}`,
      median: `gateways ${median(c.gateways).toFixed(0)} µs`,
      range: `postgres ${median(c.postgres).toFixed(0)} µs`,
      ratio: `client ${median(c.client).toFixed(0)} µs; all ${total.toFixed(0)} µs (2 cores: ≤ ${(2e6 / total).toFixed(0)} turns/s)`,
      goal: '',
      status: '',
    });
  }
  const two = ratioOf(p.c32['postgres ×2'] ?? [], p.c32['postgres ×1'] ?? []);
  rows.push({ scenario: 'postgres c=32', target: '2 replicas / 1 replica, sharing the cores', median: `×${two.toFixed(2)}`, range: '', ratio: '', goal: '', status: '' });
  const capped = [p.c32['postgres ×1 capped'] ?? [], p.c32['postgres ×2 capped'] ?? []] as const;
  if (capped[0].length > 0 && capped[1].length > 0) {
    for (const [i, s] of capped.entries()) {
      rows.push({ scenario: 'postgres c=32', target: `replicas postgres ×${i + 1}, each capped at ${REPLICA_CORES} CPU`, median: `${median(s).toFixed(0)} turns/s`, range: spread(s, 0), ratio: '', goal: '', status: '' });
    }
    const gatewayBound = ratioOf(capped[1], capped[0]);
    rows.push({ scenario: 'postgres c=32', target: '2 replicas / 1 replica, gateway-bound (capped)', median: `×${gatewayBound.toFixed(2)}`, range: '', ratio: '', goal: '≥ ×1.6 (gateway-bound)', status: check(gatewayBound >= 1.6), value: gatewayBound });
  } else {
    rows.push({ scenario: 'postgres c=32', target: '2 replicas / 1 replica, gateway-bound (capped)', median: 'not run', range: p.cappedSkipped ?? '', ratio: '', goal: '≥ ×1.6 (gateway-bound)', status: '' });
  }
  return rows;
}

export function buildRows(results: Results, options: { fullStreams: number; fullUsers: number }): Row[] {
  const rows: Row[] = [];
  const { throughput, streaming, history, memory, startup } = results;

  for (const [conc, byTarget] of Object.entries(throughput ?? {})) {
    const c = conc.slice(1);
    const rps = (name: string): number[] => byTarget[name]?.rps ?? [];
    const ratios: Record<string, [string, string][]> = {
      'express-floor': [['floor', 'floor']],
      upstream: [['floor', 'floor']],
      'gateway-echo': [['express-floor', 'express-floor'], ['floor', 'floor']],
      'gateway-upstream': [['express-floor', 'express-floor'], ['upstream', 'upstream']],
    };
    const goals: Record<string, number> = c === '32' ? { 'gateway-echo': 0.6, 'gateway-upstream': 0.4 } : {};
    for (const [name, s] of Object.entries(byTarget)) {
      const failed = s.failed ? ` (${s.failed} FAILED)` : '';
      const text = (ratios[name] ?? []).map(([base, label]) => `×${ratioOf(s.rps, rps(base)).toFixed(2)} ${label}`).join(', ');
      const goal = goals[name];
      const vsExpress = ratioOf(s.rps, rps('express-floor'));
      rows.push({
        scenario: `throughput c=${c}`,
        target: name,
        median: `${median(s.rps).toFixed(0)} req/s${failed}`,
        range: spread(s.rps, 0),
        ratio: text,
        goal: goal === undefined ? '' : `≥ ×${goal} express-floor`,
        status: goal === undefined ? '' : check(vsExpress >= goal && !s.failed),
        ...(goal === undefined ? {} : { value: vsExpress }),
      });
    }
    for (const [name, s] of Object.entries(byTarget)) {
      rows.push({ scenario: `latency c=${c}`, target: name, median: `p50 ${median(s.p50).toFixed(3)} / p99 ${median(s.p99).toFixed(3)} ms`, range: `p50 ${spread(s.p50, 3)}`, ratio: '', goal: '', status: '' });
    }
    const gw = byTarget['gateway-upstream'];
    const up = byTarget.upstream;
    if (gw && up) {
      for (const [q, limit] of [['p50', 0.5], ['p99', 2]] as const) {
        const added = diffOf(gw[q], up[q]);
        const value = median(added);
        const withGoal = c === '1';
        rows.push({
          scenario: `added latency c=${c}`,
          target: `gateway-upstream − upstream ${q}`,
          median: `${value.toFixed(3)} ms`,
          range: spread(added, 3),
          ratio: '',
          goal: withGoal ? `≤ ${limit} ms` : '',
          status: withGoal ? check(value <= limit) : '',
          value,
        });
      }
    }
  }

  if (streaming) {
    for (const [name, s] of Object.entries(streaming)) {
      rows.push({ scenario: 'stream first content', target: name, median: `${median(s.firstContent).toFixed(3)} ms`, range: spread(s.firstContent, 3), ratio: '', goal: '', status: '' });
    }
    for (const [name, s] of Object.entries(streaming)) {
      rows.push({ scenario: 'stream [DONE]', target: name, median: `${median(s.done).toFixed(3)} ms`, range: spread(s.done, 3), ratio: '', goal: '', status: '' });
    }
    const gw = streaming['gateway-upstream'];
    const up = streaming.upstream;
    if (gw && up) {
      const added = diffOf(gw.firstContent, up.firstContent);
      const value = median(added);
      rows.push({ scenario: 'stream first content', target: 'gateway-upstream − upstream', median: `${value.toFixed(3)} ms`, range: spread(added, 3), ratio: '', goal: '≤ 1 ms', status: check(value <= 1), value });
      const done = diffOf(gw.done, up.done);
      rows.push({ scenario: 'stream [DONE]', target: 'gateway-upstream − upstream', median: `${median(done).toFixed(3)} ms`, range: spread(done, 3), ratio: '', goal: '', status: '' });
    }
  }

  if (history) {
    const s = history.series;
    const base = s['new-session']?.p50 ?? [];
    for (const [name, series] of Object.entries(s)) {
      const isGoal = name === 'session-10k';
      const value = ratioOf(series.p50, base);
      const vs60 = name === 'session-10k' && s['session-60'] ? `, ×${ratioOf(series.p50, s['session-60'].p50).toFixed(2)} session-60` : '';
      rows.push({
        scenario: 'history c=1 p50',
        target: `gateway-echo ${name}`,
        median: `${median(series.p50).toFixed(3)} ms${series.failed ? ` (${series.failed} FAILED)` : ''}`,
        range: spread(series.p50, 3),
        ratio: name === 'new-session' ? '' : `×${value.toFixed(2)} new-session${vs60}`,
        goal: isGoal ? '≤ ×1.2 new-session' : '',
        status: isGoal ? check(value <= 1.2 && !series.failed) : '',
        ...(isGoal ? { value } : {}),
      });
    }
  }

  for (const [name, s] of Object.entries(startup ?? {})) {
    if (name === 'bare-node') continue;
    const value = median(s.idleMb);
    rows.push({ scenario: 'idle RSS', target: name, median: `${value.toFixed(1)} MB`, range: spread(s.idleMb, 1), ratio: '', goal: '≤ 80 MB', status: check(value <= 80), value });
  }
  if (memory) {
    const full = memory.streams === options.fullStreams;
    const added = (target: string): number[] => memory.samples.filter((m) => m.target === target).map((m) => m.loadedMb - m.idleMb);
    const floor = added('proxy-floor');
    const gateway = added('gateway-upstream');
    // Samples alternate gateway / floor, so the i-th of each were measured side by side.
    const ratios = gateway.map((g, i) => g / (floor[i] as number)).filter((r) => Number.isFinite(r));
    for (const [target, series] of [['proxy-floor', floor], ['gateway-upstream', gateway]] as const) {
      if (series.length === 0) continue;
      const value = median(series);
      const idle = median(memory.samples.filter((m) => m.target === target).map((m) => m.idleMb));
      const isGateway = target === 'gateway-upstream';
      rows.push({
        scenario: `${memory.streams} open streams`,
        target: `${target} (held)`,
        median: `+${value.toFixed(1)} MB`,
        range: spread(series, 1),
        ratio: `${((value * 1000) / memory.streams).toFixed(1)} kB/stream; idle ${idle.toFixed(1)} MB${isGateway && ratios.length > 0 ? `; ×${median(ratios).toFixed(2)} proxy-floor` : ''}`,
        goal: isGateway ? `≤ +100 MB @ ${options.fullStreams}` : '',
        status: isGateway ? (full ? check(value <= 100) : 'n/a') : '',
        ...(isGateway ? { value } : {}),
      });
    }
  }
  for (const [name, s] of Object.entries(startup ?? {})) {
    const bare = startup?.['bare-node']?.ms ?? [];
    const ratio = ratioOf(s.ms, bare);
    const isGoal = name !== 'bare-node' && bare.length > 0;
    rows.push({
      scenario: 'start-up to /healthz 200',
      target: name,
      median: `${median(s.ms).toFixed(0)} ms`,
      range: spread(s.ms, 0),
      ratio: isGoal ? `×${ratio.toFixed(2)} bare-node` : '',
      goal: isGoal ? '≤ ×2.5 bare-node' : '',
      status: isGoal ? check(ratio <= 2.5) : '',
      ...(isGoal ? { value: ratio } : {}),
    });
  }
  if (results.manyUsers) rows.push(...manyUsersRows(results.manyUsers, options.fullUsers));
  for (const [concurrency, s] of Object.entries(results.websocket ?? {})) {
    const scenario = `websocket turns ${concurrency}`;
    rows.push({ scenario, target: 'HTTP POST (echo agent)', median: `${median(s.http).toFixed(0)} turns/s`, range: spread(s.http, 0), ratio: '', goal: '', status: '' });
    const cpu = (series: number[] | undefined): string => (series && series.length > 0 ? `, ${median(series).toFixed(0)} µs CPU/turn` : '');
    rows[rows.length - 1] = { ...(rows.at(-1) as Row), median: `${median(s.http).toFixed(0)} turns/s${cpu(s.cpu?.http)}` };
    if (s.httpKey && s.httpKey.length > 0) {
      const keyed = ratioOf(s.httpKey, s.http);
      rows.push({ scenario, target: 'HTTP POST + Idempotency-Key', median: `${median(s.httpKey).toFixed(0)} turns/s${cpu(s.cpu?.httpKey)}`, range: spread(s.httpKey, 0), ratio: `×${keyed.toFixed(2)} HTTP`, goal: '', status: '' });
    }
    const value = ratioOf(s.ws, s.http);
    rows.push({ scenario, target: 'WS agent, expectFinal', median: `${median(s.ws).toFixed(0)} turns/s${cpu(s.cpu?.ws)}`, range: spread(s.ws, 0), ratio: `×${value.toFixed(2)} HTTP`, goal: '≥ ×1.00 HTTP', status: check(value >= 1), value });
  }
  if (results.postgres) rows.push(...postgresRows(results.postgres));
  if (results.million) rows.push(...millionRows(results.million));
  if (results.soak) rows.push(...soakRows(results.soak));
  for (const [scenario, why] of Object.entries(results.skipped ?? {})) {
    rows.push({ scenario, target: 'SKIPPED', median: why, range: '', ratio: '', goal: '', status: 'n/a' });
  }
  for (const [scenario, why] of Object.entries(results.errors)) {
    rows.push({ scenario, target: 'NOT MEASURED', median: why.split('\n')[0]?.slice(0, 100) ?? '', range: '', ratio: '', goal: '', status: '' });
  }
  return rows;
}

export function formatTable(rows: readonly Row[]): string {
  const header: Row = { scenario: 'scenario', target: 'target', median: 'median', range: 'min–max over rounds', ratio: 'ratio (median of per-round ratios)', goal: 'issue target', status: '' };
  const keys = ['scenario', 'target', 'median', 'range', 'ratio', 'goal', 'status'] as const;
  const all = [header, ...rows];
  const widths = keys.map((k) => Math.max(...all.map((r) => String(r[k]).length)));
  const line = (r: Row): string => keys.map((k, i) => String(r[k]).padEnd(widths[i] as number)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out: string[] = [line(header), rule];
  let previous = '';
  for (const r of rows) {
    const group = r.scenario.split(' ')[0] ?? '';
    if (previous && group !== previous) out.push('');
    previous = group;
    out.push(line(r));
  }
  return out.join('\n');
}
