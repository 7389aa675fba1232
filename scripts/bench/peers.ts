/**
 * `npm run bench -- --peers`: a peer gateway in the same run. `@portkey-ai/gateway`
 * (a pure proxy: it stores nothing) is installed on demand into a cache directory,
 * outside the project's dependencies, and put in front of the same fake upstream as our
 * gateway's proxy path; the two alternate round by round (with the upstream alone as the
 * baseline of added latency), at c=32 for throughput and at c=1 for added latency, and
 * each process's CPU per request is read from /proc. Our gateway persists every turn.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, median, type Target } from './measure.js';
import { MESSAGE, REQUEST_BODY, REQUEST_HEADERS } from './payloads.mjs';
import { freePort, spawnTracked, startGateway, startUpstream, type Proc } from './procs.js';
import type { Row } from './report.js';
import { cpuSeconds } from './usage.js';

const PORTKEY = '@portkey-ai/gateway';
const PORTKEY_VERSION = '1.15.2';
/** Portkey 1.15.2's own `@hono/node-server` does not start on Node 20; this one does. */
const NODE_SERVER_OVERRIDE = '1.13.5';
const LOOPBACK = fileURLToPath(new URL('./loopback-listen.mjs', import.meta.url));

export interface PeerSeries {
  /** Per round, per target: req/s at c=32, p50 at c=1 (ms), CPU per request at c=32 (µs). */
  rps: Record<string, number[]>;
  p50: Record<string, number[]>;
  cpuUs: Record<string, number[]>;
  failed: number;
  installed: string;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** The cache directory (`$XDG_CACHE_HOME/moltbot-bench`, else `~/.cache/moltbot-bench`). */
function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'moltbot-bench', `portkey-${PORTKEY_VERSION}`);
}

/**
 * Portkey's server script, installed first if it is not in the cache. Throws, saying
 * why, when npm cannot install it (no registry, no disk).
 */
export function ensurePortkey(): string {
  const dir = cacheDir();
  const script = join(dir, 'node_modules', ...PORTKEY.split('/'), 'build', 'start-server.js');
  if (existsSync(script)) return script;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'moltbot-bench-peers', private: true, dependencies: { [PORTKEY]: PORTKEY_VERSION }, overrides: { '@hono/node-server': NODE_SERVER_OVERRIDE } }, null, 2)}\n`,
  );
  log(`installing ${PORTKEY}@${PORTKEY_VERSION} into ${dir}`);
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-5).join(' / ');
    throw new Error(`npm could not install ${PORTKEY}@${PORTKEY_VERSION} into ${dir}: ${stderr || (err as Error).message}`);
  }
  if (!existsSync(script)) throw new Error(`${PORTKEY}@${PORTKEY_VERSION} installed without ${script}`);
  return script;
}

async function startPortkey(script: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = spawnTracked('portkey', ['--import', LOOPBACK, script, `--port=${port}`, '--headless']);
  await proc.waitForLine(/Ready for connections/u, 30_000);
  return { proc, url: `http://127.0.0.1:${port}` };
}

async function answers(target: Target): Promise<void> {
  const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: REQUEST_BODY });
  const json = (await res.json()) as { choices?: { message?: { content?: string } }[] };
  if (res.status !== 200 || json.choices?.[0]?.message?.content !== MESSAGE) throw new Error(`${target.name}: answered ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
}

export async function peers(options: { rounds: number; durationS: number; warmupS: number }): Promise<PeerSeries> {
  const script = ensurePortkey();
  const upstream = await startUpstream('upstream', 'reply');
  const [gateway, portkey] = await Promise.all([startGateway('gateway-upstream', { upstream: upstream.baseUrl }), startPortkey(script)]);
  const procs: Record<string, Proc> = { 'gateway-upstream': gateway.proc, portkey: portkey.proc, upstream: upstream.proc };
  try {
    const targets: Target[] = [
      { name: 'gateway-upstream', url: `${gateway.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
      {
        name: 'portkey',
        url: `${portkey.url}/v1/chat/completions`,
        headers: { ...REQUEST_HEADERS, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream.baseUrl },
      },
      { name: 'upstream', url: `${upstream.baseUrl}/chat/completions`, headers: REQUEST_HEADERS },
    ];
    for (const target of targets) await answers(target);
    const series: PeerSeries = {
      rps: Object.fromEntries(targets.map((t) => [t.name, []])),
      p50: Object.fromEntries(targets.map((t) => [t.name, []])),
      cpuUs: Object.fromEntries(targets.map((t) => [t.name, []])),
      failed: 0,
      installed: script,
    };
    for (const c of [32, 1]) for (const target of targets) await load(target, REQUEST_BODY, { connections: c, durationS: options.warmupS });
    for (let round = 0; round < options.rounds; round += 1) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const proc = procs[target.name] as Proc;
        const cpu0 = cpuSeconds(proc.pid);
        const run = await load(target, REQUEST_BODY, { connections: 32, durationS: options.durationS });
        const cpuUs = ((cpuSeconds(proc.pid) - cpu0) * 1e6) / Math.max(1, run.ok);
        const slow = await load(target, REQUEST_BODY, { connections: 1, durationS: options.durationS });
        series.rps[target.name]?.push(run.rps);
        series.cpuUs[target.name]?.push(cpuUs);
        series.p50[target.name]?.push(slow.p50);
        series.failed += run.failed + slow.failed;
        log(
          `  round ${round + 1}/${options.rounds} ${target.name.padEnd(16)} c=32 ${run.rps.toFixed(0).padStart(6)} req/s, ${cpuUs.toFixed(0)} µs CPU/request; ` +
            `c=1 p50 ${slow.p50.toFixed(3)} ms${run.failed + slow.failed ? `  FAILED ${run.failed + slow.failed}` : ''}`,
        );
      }
    }
    return series;
  } finally {
    await Promise.all([gateway.proc.stop(), portkey.proc.stop(), upstream.proc.stop()]);
  }
}

const perRound = (a: readonly number[], b: readonly number[], op: (x: number, y: number) => number): number[] =>
  a.slice(0, Math.min(a.length, b.length)).map((x, i) => op(x, b[i] as number));
const spread = (v: readonly number[], digits: number): string => (v.length ? `${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}` : '');

/** The table's rows: our req/s against Portkey's (≥ ×2), our added p50 against its (below). */
export function peerRows(s: PeerSeries): Row[] {
  const ours = 'gateway-upstream';
  const failed = s.failed ? ` (${s.failed} FAILED)` : '';
  const rows: Row[] = [];
  for (const name of [ours, 'portkey', 'upstream']) {
    rows.push({
      scenario: 'peers c=32',
      target: name === 'portkey' ? `portkey ${PORTKEY_VERSION}` : name,
      median: `${median(s.rps[name] ?? []).toFixed(0)} req/s`,
      range: spread(s.rps[name] ?? [], 0),
      ratio: `${median(s.cpuUs[name] ?? []).toFixed(0)} µs CPU/request`,
      goal: '',
      status: '',
    });
  }
  const ratio = median(perRound(s.rps[ours] ?? [], s.rps.portkey ?? [], (a, b) => a / b));
  rows.push({
    scenario: 'peers c=32',
    target: `${ours} / portkey`,
    median: `×${ratio.toFixed(2)}${failed}`,
    range: spread(perRound(s.rps[ours] ?? [], s.rps.portkey ?? [], (a, b) => a / b), 2),
    ratio: `CPU/request ×${median(perRound(s.cpuUs[ours] ?? [], s.cpuUs.portkey ?? [], (a, b) => a / b)).toFixed(2)}`,
    goal: '≥ ×2',
    status: ratio >= 2 && !s.failed ? 'met' : 'MISSED',
    value: ratio,
  });
  const addedOurs = perRound(s.p50[ours] ?? [], s.p50.upstream ?? [], (a, b) => a - b);
  const addedPeer = perRound(s.p50.portkey ?? [], s.p50.upstream ?? [], (a, b) => a - b);
  const [mine, theirs] = [median(addedOurs), median(addedPeer)];
  rows.push({
    scenario: 'peers c=1',
    target: 'added p50 − upstream',
    median: `ours ${mine.toFixed(3)} ms`,
    range: spread(addedOurs, 3),
    ratio: `portkey ${theirs.toFixed(3)} ms (${spread(addedPeer, 3)})`,
    goal: '< portkey',
    status: mine < theirs && !s.failed ? 'met' : 'MISSED',
    value: mine,
  });
  return rows;
}
