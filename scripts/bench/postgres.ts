/**
 * Scenario 7, PostgreSQL: the same echo turns on the SQLite store and on PostgreSQL
 * (added latency p50/p99 at c=1, turns/s at c=32), and two gateway replicas on one
 * PostgreSQL against one (c=32 in all; the load client sends each replica half the
 * connections). The server is a throwaway cluster started by `scripts/ci/postgres.sh`
 * (the tests' own) and stopped at the end; without PostgreSQL binaries the scenario is
 * skipped with a line saying so. Targets alternate round by round, as elsewhere.
 *
 * On a 2-core machine the client, PostgreSQL and the replicas share the cores, so a second
 * replica has no CPU of its own to add. The replica comparison is therefore also run with
 * each replica capped at `REPLICA_CORES` (CFS bandwidth, `cpu-cap.ts`): the gateway is
 * then the bottleneck, as when replicas run on machines of their own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REQUEST_BODY, REQUEST_HEADERS } from './payloads.mjs';
import { load, type LoadResult, type Target } from './measure.js';
import { createCpuCap, type CpuCap } from './cpu-cap.js';
import { ROOT, startGateway, type Proc } from './procs.js';
import { cpuSeconds } from './usage.js';

export interface PostgresSeries {
  /** Per round, per target: c=1 p50/p99 (ms) and c=32 turns/s. */
  c1: Record<string, { p50: number[]; p99: number[] }>;
  c32: Record<string, number[]>;
  /** CPU per turn at c=32, µs, per run kind: the gateways, PostgreSQL (every backend), the load client. */
  cpu: Record<string, { gateways: number[]; postgres: number[]; client: number[] }>;
  failed: number;
  /** Why the capped replica comparison did not run, when it did not. */
  cappedSkipped?: string;
}

/** CPU seconds of the cluster so far: the postmaster, its live children and the children it reaped. */
function clusterCpuSeconds(postmaster: number): number {
  const fields = (pid: number): string[] => {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  };
  const own = fields(postmaster);
  let total = (Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])) / 100;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/u.test(entry)) continue;
    try {
      const f = fields(Number(entry));
      if (Number(f[1]) === postmaster) total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Whether this machine has PostgreSQL's server binaries (the scenario needs them). */
export function postgresAvailable(): boolean {
  const base = '/usr/lib/postgresql';
  return existsSync(base) && readdirSync(base).some((version) => existsSync(join(base, version, 'bin', 'initdb')));
}

/** Starts a throwaway cluster; returns its URL and a synchronous stop (also run at exit). */
function startCluster(): { url: string; postmaster: number; stop: () => void } {
  const script = join(ROOT, 'scripts/ci/postgres.sh');
  const out = execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const url = /MOLTBOT_TEST_DATABASE_URL='([^']+)'/u.exec(out)?.[1];
  const dir = /MOLTBOT_TEST_PGDIR='([^']+)'/u.exec(out)?.[1];
  if (!url || !dir) throw new Error('scripts/ci/postgres.sh start printed no URL');
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore' });
  };
  process.on('exit', stop);
  const postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { url, postmaster, stop };
}

/** What each replica may spend in the capped comparison: well under what the rest leaves it. */
export const REPLICA_CORES = 0.12;

const target = (name: string, url: string): Target => ({ name, url: `${url}/v1/chat/completions`, headers: REQUEST_HEADERS });

/** c=32 over several targets at once, the connections split between them (the load balancer's round robin). */
async function spread(targets: Target[], connections: number, durationS: number): Promise<{ rps: number; failed: number }> {
  const runs: LoadResult[] = await Promise.all(targets.map((t) => load(t, REQUEST_BODY, { connections: connections / targets.length, durationS })));
  return { rps: runs.reduce((sum, r) => sum + r.rps, 0), failed: runs.reduce((sum, r) => sum + r.failed, 0) };
}

export async function postgresScenario(options: { rounds: number; durationS: number; warmupS: number }): Promise<PostgresSeries> {
  const cluster = startCluster();
  const running: Proc[] = [];
  const caps: CpuCap[] = [];
  try {
    const store = (schema: string) => ({ kind: 'postgres', url: cluster.url, schema, poolSize: 16 });
    const [sqlite, pgA, pgB] = await Promise.all([
      startGateway('gateway-sqlite'),
      startGateway('gateway-postgres', { store: store('bench') }),
      startGateway('gateway-postgres-2', { store: store('bench') }),
    ]);
    running.push(sqlite.proc, pgA.proc, pgB.proc);
    const targets = { sqlite: target('gateway-sqlite', sqlite.url), postgres: target('gateway-postgres', pgA.url), second: target('gateway-postgres-2', pgB.url) };
    const series: PostgresSeries = {
      c1: { sqlite: { p50: [], p99: [] }, postgres: { p50: [], p99: [] } },
      c32: { sqlite: [], postgres: [], 'postgres ×1': [], 'postgres ×2': [] },
      cpu: {},
      failed: 0,
    };
    /** Runs `measure` and records CPU per turn of the gateways `pids`, the cluster and this client. */
    const withCpu = async (kind: string, pids: number[], measure: () => Promise<{ rps: number }>): Promise<{ rps: number }> => {
      const before = { g: pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0), p: clusterCpuSeconds(cluster.postmaster), c: process.cpuUsage() };
      const started = performance.now();
      const run = await measure();
      const turns = (run.rps * (performance.now() - started)) / 1000;
      const cpu = (series.cpu[kind] ??= { gateways: [], postgres: [], client: [] });
      const client = process.cpuUsage(before.c);
      cpu.gateways.push(((pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - before.g) * 1e6) / turns);
      cpu.postgres.push(((clusterCpuSeconds(cluster.postmaster) - before.p) * 1e6) / turns);
      cpu.client.push((client.user + client.system) / turns);
      return run;
    };
    for (const t of Object.values(targets)) await load(t, REQUEST_BODY, { connections: 8, durationS: options.warmupS });
    // One CPU group per replica, capped only while the capped comparison runs.
    for (const [i, proc] of [pgA.proc, pgB.proc].entries()) {
      const cap = createCpuCap(`moltbot-bench-replica-${i + 1}`);
      if (!cap) break;
      cap.add(proc.pid);
      caps.push(cap);
    }
    if (caps.length < 2) series.cappedSkipped = 'no writable cgroup cpu controller (needs root and a cgroup hierarchy the container grants)';
    for (let round = 0; round < options.rounds; round += 1) {
      const order = round % 2 === 0 ? (['sqlite', 'postgres'] as const) : (['postgres', 'sqlite'] as const);
      for (const name of order) {
        const run = await load(targets[name], REQUEST_BODY, { connections: 1, durationS: options.durationS });
        series.c1[name]?.p50.push(run.p50);
        series.c1[name]?.p99.push(run.p99);
        series.failed += run.failed;
        log(`  round ${round + 1}/${options.rounds} c=1 ${name.padEnd(8)} p50 ${run.p50.toFixed(3)} ms  p99 ${run.p99.toFixed(3)} ms`);
      }
      for (const name of order) {
        const pid = (name === 'sqlite' ? sqlite : pgA).proc.pid;
        const run = (await withCpu(name, [pid], () => load(targets[name], REQUEST_BODY, { connections: 32, durationS: options.durationS }))) as LoadResult;
        series.c32[name]?.push(run.rps);
        series.failed += run.failed;
        log(`  round ${round + 1}/${options.rounds} c=32 ${name.padEnd(8)} ${run.rps.toFixed(0)} turns/s`);
      }
      const replicaOrder = round % 2 === 0 ? [1, 2] : [2, 1];
      for (const n of replicaOrder) {
        const pids = n === 1 ? [pgA.proc.pid] : [pgA.proc.pid, pgB.proc.pid];
        const run = (await withCpu(`postgres ×${n}`, pids, () => spread(n === 1 ? [targets.postgres] : [targets.postgres, targets.second], 32, options.durationS))) as {
          rps: number;
          failed: number;
        };
        series.c32[`postgres ×${n}`]?.push(run.rps);
        series.failed += run.failed;
        log(`  round ${round + 1}/${options.rounds} c=32 ${n} replica${n === 1 ? '' : 's'} ${run.rps.toFixed(0)} turns/s`);
      }
      if (caps.length === 2) {
        for (const cap of caps) cap.limit(REPLICA_CORES);
        try {
          for (const n of replicaOrder) {
            const pids = n === 1 ? [pgA.proc.pid] : [pgA.proc.pid, pgB.proc.pid];
            const kind = `postgres ×${n} capped`;
            const run = (await withCpu(kind, pids, () => spread(n === 1 ? [targets.postgres] : [targets.postgres, targets.second], 32, options.durationS))) as {
              rps: number;
              failed: number;
            };
            (series.c32[kind] ??= []).push(run.rps);
            series.failed += run.failed;
            log(`  round ${round + 1}/${options.rounds} c=32 ${n} replica${n === 1 ? '' : 's'} capped at ${REPLICA_CORES} CPU each: ${run.rps.toFixed(0)} turns/s`);
          }
        } finally {
          for (const cap of caps) cap.limit(undefined);
        }
      }
    }
    return series;
  } finally {
    for (const proc of running) await proc.stop();
    for (const cap of caps) cap.remove();
    cluster.stop();
  }
}
