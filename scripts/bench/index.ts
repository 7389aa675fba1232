/**
 * `npm run bench [-- --quick] [-- --rounds N] [-- --only many-users,memory] [-- --peers]`: how the
 * gateway compares with what this machine can do at all (`floor`), with what Express
 * alone costs (`express-floor`) and with the upstream it fronts, every baseline measured
 * in the same run, alternating; and whether the default config serves many users of a
 * slow model (`many-users`); and turns/s over the WebSocket protocol against HTTP on the
 * echo agent (`websocket`). `--only` runs the named scenarios alone. `--peers` adds a peer
 * gateway (Portkey, installed on demand into a cache directory; `peers.ts`); `--only peers`
 * runs that alone.
 * Every target is a child process on 127.0.0.1; all of them end with this process.
 * Prints the table (progress goes to stderr) and writes the results as JSON to the OS
 * temp dir. Exits 0 whether targets are met or missed; 1 when a scenario could not run.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { history } from './history.js';
import { timedStream, type Target } from './measure.js';
import { manyUsers } from './many-users.js';
import { memory } from './memory.js';
import { startup } from './startup.js';
import { million } from './million.js';
import { soak } from './soak.js';
import { peerRows, peers, type PeerSeries } from './peers.js';
import { postgresAvailable, postgresScenario } from './postgres.js';
import { Agent } from 'node:http';
import { MESSAGE, REQUEST_BODY, REQUEST_HEADERS, STREAM_BODY } from './payloads.mjs';
import { installCleanup, killAll, ROOT, startGateway, startNodeServer, startUpstream, type Proc } from './procs.js';
import { foreignLoad, snapshot } from './noise.js';
import { observability, observabilityRows, type ObservabilityResult } from './observability.js';
import { buildRows, formatTable, type Results } from './report.js';
import { streaming, throughput } from './traffic.js';
import { websocketTurns } from './websocket.js';

const FULL_STREAMS = 2000;
/** The many-users scenario's full size: the 500 users for 20 s. */
const FULL_USERS = 500;
const SCENARIOS = ['throughput', 'streaming', 'history', 'memory', 'startup', 'many-users', 'postgres', 'observability', 'million', 'soak', 'websocket'] as const;

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, only: { type: 'string' }, peers: { type: 'boolean', default: false } },
});
const selected = new Set(values.only === undefined ? SCENARIOS : values.only.split(','));
const withPeers = values.peers === true || selected.delete('peers');
const unknown = [...selected].filter((name) => !(SCENARIOS as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`--only: unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  process.exit(2);
}
const wanted = (name: (typeof SCENARIOS)[number]): boolean => selected.has(name);
const quick = values.quick === true;
const rounds = values.rounds === undefined ? (quick ? 3 : 5) : Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds must be a positive integer, not '${values.rounds}'`);
  process.exit(2);
}
if (!quick && rounds < 5) console.error(`warning: ${rounds} rounds; medians of fewer than 5 rounds are fragile on a noisy machine`);

// --quick keeps the whole run under a minute for CI; its numbers are indicative only.
const settings = quick
  ? { rounds, durationS: 1, warmupS: 0.25, streamRequests: 50, historyRequests: 100, memoryReps: 2, streams: 300, starts: 2, users: 200, usersWarmupS: 2, usersS: 8 }
  : { rounds, durationS: 5, warmupS: 1, streamRequests: 200, historyRequests: 1000, memoryReps: rounds, streams: FULL_STREAMS, starts: 5, users: FULL_USERS, usersWarmupS: 5, usersS: 20 };

installCleanup();
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const began = performance.now();
const loadBefore = loadavg();
say(`bench: ${quick ? 'quick' : 'full'} run, ${JSON.stringify(settings)}`);

/** Every target answers the 10-word reply, streamed and not; the gateways refuse a missing token. */
async function sanityCheck(target: Target, gateway: boolean): Promise<void> {
  const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: REQUEST_BODY });
  const json = (await res.json()) as { choices?: { message?: { content?: string } }[] };
  const content = json.choices?.[0]?.message?.content;
  if (res.status !== 200 || content !== MESSAGE) throw new Error(`${target.name}: answered ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
  const agent = new Agent({ keepAlive: false });
  const streamed = await timedStream(target, STREAM_BODY, agent);
  if (streamed.content !== MESSAGE) throw new Error(`${target.name}: streamed '${streamed.content}'`);
  if (gateway) {
    const anonymous = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: REQUEST_BODY });
    await anonymous.arrayBuffer();
    if (anonymous.status !== 401) throw new Error(`${target.name}: a request without the token answered ${anonymous.status}, not 401`);
  }
}

const results: Results = { errors: {} };
/** Scenario → cores other processes on this machine kept busy meanwhile, and steal. */
const noise: Record<string, { cores: number; steal: number }> = {};

/** Runs one scenario; a failure is recorded and the others still run. */
async function scenario(name: string, run: () => Promise<void>): Promise<void> {
  say(`\n== ${name}`);
  const t0 = performance.now();
  const before = snapshot();
  try {
    await run();
  } catch (err) {
    results.errors[name] = err instanceof Error ? err.message : String(err);
    say(`!! ${name} could not be measured: ${results.errors[name]}`);
  }
  const foreign = foreignLoad(before, snapshot());
  if (foreign !== undefined) noise[name] = foreign;
  say(`   (${((performance.now() - t0) / 1000).toFixed(1)} s; others kept ${foreign?.cores.toFixed(2) ?? '?'} cores busy, steal ${foreign?.steal.toFixed(2) ?? '?'})`);
}

/** Scenarios 1 and 2, on targets started for them and stopped after. */
async function traffic(): Promise<void> {
  say('starting targets');
  // Started side by side: start-up is measured in scenario 5, not here.
  const [floor, expressFloor, upstream, gatewayEcho] = await Promise.all([
    startNodeServer('floor', 'floor.mjs'),
    startNodeServer('express-floor', 'express-floor.mjs'),
    startUpstream('upstream', 'reply'),
    startGateway('gateway-echo'),
  ]);
  const gatewayUpstream = await startGateway('gateway-upstream', { upstream: upstream.baseUrl });
  const running: Proc[] = [floor.proc, expressFloor.proc, upstream.proc, gatewayEcho.proc, gatewayUpstream.proc];
  const targets: Record<string, Target> = {
    floor: { name: 'floor', url: `${floor.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
    'express-floor': { name: 'express-floor', url: `${expressFloor.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
    upstream: { name: 'upstream', url: `${upstream.baseUrl}/chat/completions`, headers: REQUEST_HEADERS },
    'gateway-echo': { name: 'gateway-echo', url: `${gatewayEcho.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
    'gateway-upstream': { name: 'gateway-upstream', url: `${gatewayUpstream.url}/v1/chat/completions`, headers: REQUEST_HEADERS },
  };
  for (const [name, target] of Object.entries(targets)) await sanityCheck(target, name.startsWith('gateway'));
  say(`targets up and answering: ${Object.keys(targets).join(', ')}`);

  if (wanted('throughput')) {
    await scenario('1 throughput', async () => {
      results.throughput = await throughput(Object.values(targets), {
        rounds: settings.rounds,
        durationS: settings.durationS,
        warmupS: settings.warmupS,
        concurrencies: [1, 32],
      });
    });
  }

  if (wanted('streaming')) {
    await scenario('2 streaming', async () => {
      const names = ['floor', 'upstream', 'gateway-echo', 'gateway-upstream'];
      results.streaming = await streaming(names.map((n) => targets[n] as Target), { rounds: settings.rounds, requests: settings.streamRequests });
    });
  }

  // The remaining scenarios start processes of their own; the traffic targets stop here so
  // that they cannot take CPU time from them.
  for (const proc of running) await proc.stop();
}

if (wanted('throughput') || wanted('streaming')) await traffic();

if (wanted('history')) {
  await scenario('3 history', async () => {
    results.history = await history({ rounds: settings.rounds, requests: settings.historyRequests });
  });
}

if (wanted('memory')) {
  await scenario('4 memory', async () => {
    results.memory = { streams: settings.streams, samples: await memory({ reps: settings.memoryReps, streams: settings.streams }) };
  });
}

if (wanted('startup')) {
  await scenario('5 start-up', async () => {
    const upstream = await startUpstream('upstream', 'reply');
    try {
      results.startup = await startup({ starts: settings.starts, upstream: upstream.baseUrl });
    } finally {
      await upstream.proc.stop();
    }
  });
}

if (wanted('many-users')) {
  await scenario('6 many users', async () => {
    results.manyUsers = await manyUsers({ clients: settings.users, warmupS: settings.usersWarmupS, durationS: settings.usersS });
  });
}

if (wanted('postgres')) {
  if (postgresAvailable()) {
    await scenario('7 postgres', async () => {
      results.postgres = await postgresScenario({ rounds: settings.rounds, durationS: settings.durationS, warmupS: settings.warmupS });
    });
  } else {
    say('\n== 7 postgres: SKIPPED, no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); apt-get install postgresql, or run scripts/ci/postgres.sh start once as root');
    results.skipped = { ...results.skipped, postgres: 'no PostgreSQL server binaries' };
  }
}

let observed: ObservabilityResult | undefined;
if (wanted('observability')) {
  await scenario('8 observability', async () => {
    observed = await observability({ rounds: settings.rounds, durationS: settings.durationS, warmupS: settings.warmupS });
  });
}

if (wanted('websocket')) {
  await scenario('12 websocket', async () => {
    results.websocket = await websocketTurns({ rounds: settings.rounds, durationS: settings.durationS, warmupS: settings.warmupS, concurrencies: [1, 32] });
  });
}

let peerSeries: PeerSeries | undefined;
if (withPeers) {
  await scenario('9 peers', async () => {
    peerSeries = await peers({ rounds: settings.rounds, durationS: settings.durationS, warmupS: settings.warmupS });
  });
}

if (wanted('million') && quick && values.only === undefined) {
  // Minutes of writing and pruning: not in a --quick run unless asked for by name.
  results.skipped = { ...results.skipped, million: 'not in --quick (run --only million)' };
} else if (wanted('million')) {
  await scenario('10 a million sessions', async () => {
    results.million = await million({ rounds: settings.rounds, requests: quick ? 200 : 1000, say });
  });
}

if (wanted('soak')) {
  await scenario('11 soak', async () => {
    results.soak = await soak({ requests: quick ? 2000 : 20_000, settleS: 30, say });
  });
}

killAll();

const rows = [
  ...buildRows(results, { fullStreams: FULL_STREAMS, fullUsers: FULL_USERS }),
  ...(observed ? observabilityRows(observed) : []),
  ...(peerSeries ? peerRows(peerSeries) : []),
];
const seconds = (performance.now() - began) / 1000;
const cpu = cpus();
const meta = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  settings,
  seconds,
  node: process.version,
  cpus: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
  loadavgBefore: loadBefore,
  loadavgAfter: loadavg(),
  foreignCores: noise,
  commit: (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })(),
};
const jsonPath = join(tmpdir(), 'bench-results.json');
writeFileSync(jsonPath, `${JSON.stringify({ meta, rows, raw: { ...results, observability: observed, peers: peerSeries } }, null, 2)}\n`);

console.log(
  `\nmoltbot-gateway benchmark (${meta.mode}: ${settings.rounds} rounds, ${settings.durationS} s per load run), ${meta.cpus}, node ${meta.node}, ` +
    `commit ${meta.commit}, load avg ${loadBefore.map((l) => l.toFixed(2)).join(' ')} → ${meta.loadavgAfter.map((l) => l.toFixed(2)).join(' ')}, ${seconds.toFixed(0)} s\n`,
);
console.log(formatTable(rows));
const noisy = Object.entries(noise).filter(([, n]) => n.cores + n.steal >= 0.1);
console.log(
  `\nCPU taken by other processes (+ hypervisor steal) while measuring, in cores of ${cpu.length}: ` +
    (Object.entries(noise).map(([n, c]) => `${n} ${c.cores.toFixed(2)} (+${c.steal.toFixed(2)})`).join(', ') || 'unknown') +
    (noisy.length ? `\n  NOTE: the machine was shared during ${noisy.map(([n]) => n).join(', ')}; absolute numbers there are understated; per-round ratios are less affected, not immune` : ''),
);
console.log(`\nresults: ${jsonPath}`);
process.exit(Object.keys(results.errors).length > 0 ? 1 : 0);
