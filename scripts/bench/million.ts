/**
 * Scenario 8, cost flat as the store grows: a store of 1,000,000 sessions
 * (`million-store.ts`) against an empty one, in the same rounds:
 * - a new turn (stateless) and a turn of a 10-turn `user` session, c=1, p50, on a gateway
 *   on each store, blocks alternating;
 * - start-up to the first 200 on /healthz, a gateway on each store, alternating;
 * - `moltbot sessions list --limit 50` (the process, start to exit) on each, and the page
 *   query alone in-process (first page, and a page a cursor deep);
 * - retention pruning the 900,000 stateless sessions (`session.retention.stateless: 30d`)
 *   in a gateway while a c=1 client keeps sending turns: the longest a request waited.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, fsyncSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REQUEST_BODY, REQUEST_HEADERS, userBody } from './payloads.mjs';
import { load, percentile, timedSequence, type Target, type TimedRequest } from './measure.js';
import { STATELESS, USER_TRANSCRIPTS, writeMillionStore } from './million-store.js';
import { ROOT, SCRATCH, freePort, gatewayArgs, startGateway } from './procs.js';
import { timeStart } from './startup.js';

/** Every kind kept forever: only the retention phase prunes. */
const KEEP = { retention: { stateless: 'forever', user: 'forever', explicit: 'forever' } };
const BLOCK = 50;

export interface MillionResult {
  writeMs: number;
  /** Per round, p50 ms: `${store}:${kind}` with store empty|million, kind stateless|user. */
  turnP50: Record<string, number[]>;
  startMs: Record<'empty' | 'million', number[]>;
  listMs: Record<'empty' | 'million', number[]>;
  /** In-process page queries on the million store (ms): first page, and after 10 pages. */
  queryMs: { first: number[]; deep: number[] };
  retention?: Latencies & {
    pruned: number;
    passMs: number;
    failed: number;
    /** The longest request of the pass: seconds into it, and what the pruner was doing (deleting or vacuuming). */
    longest: { ms: number; atS: number; phase: string };
    /** How the pruner held the event loop (its own account, from the gateway's log line). */
    pace?: PrunedLine['pace'];
    /** Requests from the gateway's start to the pass's (its first requests included). */
    before: Latencies;
    /** The same client on the same gateway for as many requests right after the pass: this machine's own stalls. */
    after: Latencies;
  };
}

/**
 * A copy of the template store (the phases that write get their own), on disk before a
 * gateway opens it: a store is not a 1 GB file still being written back, and the
 * gateway's first commit (its WAL header is synced) waited ~0.5 s for that write-back.
 */
function copyStore(template: string): string {
  const dir = mkdtempSync(join(SCRATCH, 'million-copy-'));
  const path = join(dir, 'sessions.sqlite');
  copyFileSync(join(template, 'sessions.sqlite'), path);
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return dir;
}

/** Latency figures of some requests (ms). */
interface Latencies {
  requests: number;
  p50: number;
  p99: number;
  maxMs: number;
  /** Requests over 50 ms (the target: none while pruning). */
  over50: number;
}

function latencies(requests: readonly TimedRequest[]): Latencies {
  const sorted = requests.map((r) => r.ms).sort((a, b) => a - b);
  return { requests: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), maxMs: sorted.at(-1) ?? Number.NaN, over50: sorted.filter((ms) => ms > 50).length };
}

/** The gateway's `pruned old sessions` log line. */
interface PrunedLine {
  time: string;
  sessions: number;
  ms: number;
  pace?: { transactions: number; deletingMs: number; vacuumingMs: number; longestStepMs: number; longestStep: string };
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(ROOT, 'bin/moltbot.mjs'), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`sessions list exited ${code}: ${stderr}`))));
  });
}

export async function million(options: { rounds: number; requests: number; say: (line: string) => void }): Promise<MillionResult> {
  const { say } = options;
  const template = join(SCRATCH, 'million');
  const writeMs = await writeMillionStore(template, say);
  const result: MillionResult = { writeMs, turnP50: {}, startMs: { empty: [], million: [] }, listMs: { empty: [], million: [] }, queryMs: { first: [], deep: [] } };

  // Turns: one gateway per store. The million one on a copy (turns are written to it).
  const stores = { empty: mkdtempSync(join(SCRATCH, 'million-empty-')), million: copyStore(template) };
  const gateways = {
    empty: await startGateway('gateway-echo-empty', { stateDir: stores.empty, session: KEEP }),
    million: await startGateway('gateway-echo-million', { stateDir: stores.million, session: KEEP }),
  };
  try {
    // A 10-turn user session in each: the million store has 100,000; the empty one gets one now.
    const bodies = { stateless: REQUEST_BODY, user: userBody(`bench-user-${USER_TRANSCRIPTS - 1}`) };
    const emptyTarget: Target = { name: 'empty', url: `${gateways.empty.url}/v1/chat/completions`, headers: REQUEST_HEADERS };
    await load(emptyTarget, bodies.user, { connections: 1, amount: 10 });
    const targets = { empty: emptyTarget, million: { name: 'million', url: `${gateways.million.url}/v1/chat/completions`, headers: REQUEST_HEADERS } };
    for (const t of Object.values(targets)) for (const body of Object.values(bodies)) await load(t, body, { connections: 1, amount: 100 });
    const names = Object.keys(targets).flatMap((store) => Object.keys(bodies).map((kind) => `${store}:${kind}`));
    for (const name of names) result.turnP50[name] = [];
    const blocks = Math.max(1, Math.round(options.requests / BLOCK));
    for (let round = 0; round < options.rounds; round += 1) {
      const pooled: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (let block = 0; block < blocks; block += 1) {
        const shift = (round + block) % names.length;
        for (const name of [...names.slice(shift), ...names.slice(0, shift)]) {
          const [store, kind] = name.split(':') as ['empty' | 'million', 'stateless' | 'user'];
          const run = await load(targets[store], bodies[kind], { connections: 1, amount: BLOCK });
          if (run.failed) throw new Error(`${name}: ${run.failed} requests failed`);
          pooled[name]?.push(...run.durations);
        }
      }
      for (const name of names) {
        const p50 = percentile((pooled[name] as number[]).sort((a, b) => a - b), 0.5);
        result.turnP50[name]?.push(p50);
      }
      say(`  round ${round + 1}/${options.rounds} turn p50 ${names.map((n) => `${n} ${result.turnP50[n]?.at(-1)?.toFixed(3)}`).join(', ')} ms`);
    }
  } finally {
    await gateways.empty.proc.stop();
    await gateways.million.proc.stop();
  }

  // Start-up and `sessions list` on the template (neither writes a session), alternating with an empty store.
  for (let round = 0; round < options.rounds; round += 1) {
    const order = round % 2 ? (['million', 'empty'] as const) : (['empty', 'million'] as const);
    for (const store of order) {
      const stateDir = store === 'million' ? template : mkdtempSync(join(SCRATCH, 'million-empty-'));
      const port = await freePort();
      const { args, env } = gatewayArgs({ port, stateDir, session: KEEP });
      result.startMs[store].push((await timeStart(`gateway-${store}`, port, args, env)).ms);
      const config = args[args.indexOf('--config') + 1] as string;
      result.listMs[store].push(await runCli(['sessions', 'list', '--limit', '50', '--config', config], env));
    }
    say(`  round ${round + 1}/${options.rounds} start-up empty ${result.startMs.empty.at(-1)?.toFixed(0)} / million ${result.startMs.million.at(-1)?.toFixed(0)} ms; sessions list --limit 50 empty ${result.listMs.empty.at(-1)?.toFixed(0)} / million ${result.listMs.million.at(-1)?.toFixed(0)} ms`);
  }
  const { openSqliteStore } = (await import(pathToFileURL(join(ROOT, 'dist/src/sessions/sqlite-store.js')).href)) as typeof import('../../src/sessions/sqlite-store.js');
  const store = openSqliteStore(join(template, 'sessions.sqlite'));
  try {
    for (let round = 0; round < options.rounds; round += 1) {
      let t0 = performance.now();
      let page = await store.listSessions({ limit: 51 });
      result.queryMs.first.push(performance.now() - t0);
      for (let i = 0; i < 10; i += 1) {
        const last = page[49] as { updatedAt: number; id: string };
        t0 = performance.now();
        page = await store.listSessions({ limit: 51, after: { updatedAt: last.updatedAt, id: last.id } });
      }
      result.queryMs.deep.push(performance.now() - t0);
    }
  } finally {
    await store.close();
  }

  // Retention: a gateway prunes the 900,000 stateless sessions (its first pass starts 2 s
  // after start-up) while one client sends turns back to back. Each request's start is
  // kept: the pass's window (from the gateway's log line) says which were sent meanwhile.
  const pruneDir = copyStore(template);
  const gateway = await startGateway('gateway-echo-retention', { stateDir: pruneDir, session: { retention: { stateless: '30d', user: 'forever', explicit: 'forever' } } });
  try {
    const target: Target = { name: 'retention', url: `${gateway.url}/v1/chat/completions`, headers: REQUEST_HEADERS };
    const requests: TimedRequest[] = [];
    const logPath = gateway.proc.logPath as string;
    const pruned = (): PrunedLine | undefined => {
      const line = readFileSync(logPath, 'utf8')
        .split('\n')
        .find((l) => l.includes('pruned old sessions'));
      return line ? (JSON.parse(line) as PrunedLine) : undefined;
    };
    const deadline = performance.now() + 15 * 60_000;
    let done: PrunedLine | undefined;
    while (!(done = pruned())) {
      if (performance.now() > deadline) throw new Error('retention did not finish within 15 minutes');
      requests.push(...(await timedSequence(target, REQUEST_BODY, 200)));
    }
    const passEnd = Date.parse(done.time);
    const passStart = passEnd - done.ms;
    const vacuumFrom = passStart + (done.pace?.deletingMs ?? done.ms);
    // Sent while the pass ran: started before its end, and ended after its start.
    const during = requests.filter((r) => r.at < passEnd && r.at + r.ms > passStart);
    const before = requests.filter((r) => r.at + r.ms <= passStart);
    const after: TimedRequest[] = [];
    while (after.length < during.length) after.push(...(await timedSequence(target, REQUEST_BODY, 200)));
    const longest = during.reduce<TimedRequest | undefined>((a, r) => (a && a.ms >= r.ms ? a : r), undefined);
    const failed = [...requests, ...after].filter((r) => !r.ok).length;
    result.retention = {
      pruned: done.sessions,
      passMs: done.ms,
      failed,
      ...latencies(during),
      longest: {
        ms: longest?.ms ?? Number.NaN,
        atS: longest ? (longest.at - passStart) / 1000 : Number.NaN,
        phase: !longest ? 'none' : longest.at + longest.ms < vacuumFrom ? 'deleting' : longest.at >= vacuumFrom ? 'vacuuming' : 'deleting, then vacuuming',
      },
      ...(done.pace ? { pace: done.pace } : {}),
      before: latencies(before),
      after: latencies(after),
    };
    const r = result.retention;
    const figures = (l: Latencies): string => `p50 ${l.p50.toFixed(2)}, p99 ${l.p99.toFixed(2)}, max ${l.maxMs.toFixed(1)} ms, ${l.over50} over 50 ms`;
    say(`  retention pruned ${done.sessions} sessions in ${(done.ms / 1000).toFixed(1)} s; meanwhile ${r.requests} requests: ${figures(r)}, ${failed} failed`);
    say(
      `  the longest: ${r.longest.ms.toFixed(1)} ms, ${r.longest.atS.toFixed(1)} s into the pass, while ${r.longest.phase}` +
        (r.pace
          ? `; the pruner: ${r.pace.transactions} transactions, deleting ${(r.pace.deletingMs / 1000).toFixed(1)} s, vacuuming ${(r.pace.vacuumingMs / 1000).toFixed(1)} s, its longest step ${r.pace.longestStepMs.toFixed(1)} ms (${r.pace.longestStep})`
          : ''),
    );
    say(`  before the pass (the gateway's first ${r.before.requests} requests): ${figures(r.before)}; as many after it: ${figures(r.after)}`);
    if (done.sessions !== STATELESS) throw new Error(`retention pruned ${done.sessions} sessions, not ${STATELESS}`);
  } finally {
    await gateway.proc.stop();
  }
  return result;
}
