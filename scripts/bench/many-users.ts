/**
 * Scenario 6, many users of a real model on the default config: an upstream that takes
 * seconds per reply (the paced upstream: 10 deltas 200 ms apart), `clients` users each on
 * a keep-alive connection of their own and a session of their own (`user`), streaming
 * turns back to back, a warm-up and then `durationS` measured. The same clients first
 * talk to the upstream directly (the baseline), then through a gateway started with the
 * config a new user writes (endpoint on, the agent's model on the upstream; no limits
 * set). Counted: turns per second, 429s, every other failure, time to `[DONE]`, CPU per
 * turn, and the gateway's peak RSS (sampled every 100 ms).
 */
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { replyFor } from '../../test/helpers/paced-upstream.js';
import { MESSAGE, PACED_DELAY_MS, PACED_DELTAS, REQUEST_HEADERS, streamUserBody } from './payloads.mjs';
import { percentile, sleep, type Target } from './measure.js';
import { rssMb, startGateway, startUpstream, type Proc } from './procs.js';
import { cpuSeconds, cpuTimes, machineBusySeconds, sampleRss } from './usage.js';

export interface UsersRun {
  /** Requests sent after the warm-up (each client's last one may end after `durationS`). */
  requests: number;
  /** Of those, streams that ended with the whole reply and `[DONE]`. */
  ok: number;
  /** 429 answers, warm-up included. */
  refused: number;
  /** Anything else, warm-up included: another status, a broken connection, an error event, a wrong or cut reply. */
  errors: number;
  /**
   * Whole replies per second: the sum over clients of each one's rate between its first
   * and its last whole reply (a client with fewer than two adds nothing), so neither the
   * ramp nor the last requests of the run dilute it.
   */
  turnsPerS: number;
  /** Time to `[DONE]` of the whole replies, ms. */
  p50: number;
  p99: number;
  /** Time to the first content delta of the whole replies, median, ms. */
  firstContentP50: number;
  /** Up to 5 distinct failure descriptions. */
  problems: string[];
  /** The gateway only: RSS before the load and the highest sample during it, MB. */
  idleRssMb?: number;
  peakRssMb?: number;
  /**
   * CPU time (user + system) per whole reply, µs: of the clients (this process), the
   * upstream and the gateway (through it only, and the share of it in the kernel); and
   * the cores other processes kept busy meanwhile, out of `cores`: on a shared machine
   * they slow the run down, the gateway's more (three processes of ours, not two).
   */
  cpu: { clientsUs: number; upstreamUs: number; gatewayUs?: number; gatewayKernelShare?: number; othersCores: number; cores: number };
}

export interface ManyUsersResult {
  clients: number;
  durationS: number;
  direct: UsersRun;
  gateway: UsersRun;
}

/**
 * Clients start evenly spread over one reply's time, as independent users arrive; all at
 * once, they would stay in step (every reply takes the same time), and the run would
 * measure one burst of hundreds of turn starts and ends every 2.2 s, not many users.
 */
const RAMP_MS = (PACED_DELTAS + 1) * PACED_DELAY_MS;
/** A run shorter than this gives most clients too few replies to have a rate. */
const SHORTEST_RUN_S = 5;
/** A failed client pauses this long before its next request, so a refusing target is not flooded. */
const PAUSE_AFTER_FAILURE_MS = 100;
/** One reply takes 2.2 s; a stream still open after this is a failure. */
const REQUEST_TIMEOUT_MS = 30_000;

const EXPECTED = replyFor(MESSAGE);

type Outcome = { kind: 'ok'; ms: number; firstMs: number } | { kind: 'refused' } | { kind: 'error'; why: string };

/** One streamed turn over `agent`: the whole reply and `[DONE]`, or why not. */
function turn(url: URL, headers: Record<string, string>, body: string, agent: Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(
      { agent, method: 'POST', hostname: url.hostname, port: url.port, path: url.pathname, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve(res.statusCode === 429 ? { kind: 'refused' } : { kind: 'error', why: `status ${res.statusCode}` });
          return;
        }
        let pending = '';
        let content = '';
        let done = Number.NaN;
        let first = Number.NaN;
        let failure: string | undefined;
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          pending += text;
          for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            if (!event.startsWith('data: ')) continue;
            const data = event.slice(6);
            if (data === '[DONE]') {
              done = performance.now() - t0;
              continue;
            }
            const parsed = JSON.parse(data) as { error?: { code?: string }; choices?: { delta?: { content?: string } }[] };
            if (parsed.error) failure ??= `error event ${parsed.error.code ?? ''}`;
            const delta = parsed.choices?.[0]?.delta?.content ?? '';
            if (delta !== '' && Number.isNaN(first)) first = performance.now() - t0;
            content += delta;
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          if (failure) resolve({ kind: 'error', why: failure });
          else if (Number.isNaN(done)) resolve({ kind: 'error', why: 'stream ended without [DONE]' });
          else if (content !== EXPECTED) resolve({ kind: 'error', why: 'wrong reply' });
          else resolve({ kind: 'ok', ms: done, firstMs: first });
        });
        res.on('error', (err) => resolve({ kind: 'error', why: err.message }));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no [DONE] within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
    req.on('error', (err) => {
      clearTimeout(timer);
      resolve({ kind: 'error', why: err.message });
    });
    req.end(body);
  });
}

interface DriveOptions {
  clients: number;
  /** Not measured: JIT, connection pools and the store's first pages warm up (failures still count). */
  warmupS: number;
  durationS: number;
  /** Names the run's `user`s. */
  run: string;
  /** Called when the warm-up ends and measuring starts. */
  onMeasuring: () => void;
}

/**
 * `clients` users, each on its own keep-alive connection and `user`, streaming back to
 * back through the warm-up and `durationS` more. Turns started after the warm-up are
 * measured; every 429 and failure counts.
 */
async function drive(target: Target, options: DriveOptions): Promise<Omit<UsersRun, 'cpu'>> {
  const url = new URL(target.url);
  const measuredFrom = performance.now() + options.warmupS * 1000;
  const deadline = measuredFrom + options.durationS * 1000;
  setTimeout(options.onMeasuring, options.warmupS * 1000);
  const durations: number[] = [];
  const firsts: number[] = [];
  let turnsPerS = 0;
  let requests = 0;
  let refused = 0;
  let errors = 0;
  const problems = new Set<string>();

  async function client(i: number): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const body = streamUserBody(`${options.run}-user-${i}`);
    let first = Number.NaN;
    let last = Number.NaN;
    let ok = 0;
    try {
      await sleep((i * RAMP_MS) / options.clients);
      while (performance.now() < deadline) {
        const measured = performance.now() >= measuredFrom;
        if (measured) requests += 1;
        const outcome = await turn(url, target.headers, body, agent);
        if (outcome.kind === 'ok') {
          if (!measured) continue;
          durations.push(outcome.ms);
          firsts.push(outcome.firstMs);
          last = performance.now();
          if (ok === 0) first = last;
          ok += 1;
          continue;
        }
        if (outcome.kind === 'refused') refused += 1;
        else {
          errors += 1;
          if (problems.size < 5) problems.add(outcome.why);
        }
        await sleep(PAUSE_AFTER_FAILURE_MS);
      }
    } finally {
      agent.destroy();
    }
    if (ok >= 2) turnsPerS += ((ok - 1) * 1000) / (last - first);
  }

  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  const sorted = Float64Array.from(durations).sort();
  return {
    requests,
    ok: durations.length,
    refused,
    errors,
    turnsPerS,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    firstContentP50: percentile(Float64Array.from(firsts).sort(), 0.5),
    problems: [...problems],
  };
}

/**
 * Runs `drive` and accounts the CPU time each party used from the end of the warm-up to
 * the end, per measured turn (Linux /proc; zeros elsewhere). Turns still running from the
 * warm-up add their last part to it: a few per cent at most.
 */
async function accounted(upstream: Proc, gateway: Proc | undefined, run: (onMeasuring: () => void) => Promise<Omit<UsersRun, 'cpu'>>): Promise<UsersRun> {
  const linux = process.platform === 'linux';
  const read = (): number[] => {
    if (!linux) return [0, 0, 0, 0, 0];
    const own = process.cpuUsage();
    return [machineBusySeconds(), cpuSeconds(upstream.pid), gateway ? cpuSeconds(gateway.pid) : 0, gateway ? cpuTimes(gateway.pid).system : 0, (own.user + own.system) / 1e6];
  };
  let t0 = performance.now();
  let before = read();
  const result = await run(() => {
    t0 = performance.now();
    before = read();
  });
  const [machine, up, gw, gwSystem, clients] = read().map((value, i) => value - (before[i] as number)) as [number, number, number, number, number];
  const seconds = (performance.now() - t0) / 1000;
  const perTurn = (s: number): number => (s * 1e6) / Math.max(1, result.ok);
  return {
    ...result,
    cpu: {
      clientsUs: perTurn(clients),
      upstreamUs: perTurn(up),
      ...(gateway ? { gatewayUs: perTurn(gw), gatewayKernelShare: gw > 0 ? gwSystem / gw : 0 } : {}),
      othersCores: Math.max(0, (machine - up - gw - clients) / seconds),
      cores: cpus().length,
    },
  };
}

const describe = (name: string, r: UsersRun): string =>
  `  ${name.padEnd(8)} ${r.turnsPerS.toFixed(1)} turns/s, ${r.ok} ok of ${r.requests}, ${r.refused} × 429, ${r.errors} errors, ` +
  `first content p50 ${r.firstContentP50.toFixed(1)} ms, [DONE] p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms` +
  (r.peakRssMb === undefined ? '' : `, RSS idle ${r.idleRssMb?.toFixed(1)} MB peak ${r.peakRssMb.toFixed(1)} MB`) +
  `; CPU per turn: clients ${r.cpu.clientsUs.toFixed(0)} µs, upstream ${r.cpu.upstreamUs.toFixed(0)} µs` +
  (r.cpu.gatewayUs === undefined ? '' : `, gateway ${r.cpu.gatewayUs.toFixed(0)} µs (${((r.cpu.gatewayKernelShare ?? 0) * 100).toFixed(0)}% in the kernel)`) +
  `; other processes kept ${r.cpu.othersCores.toFixed(2)} of ${r.cpu.cores} cores busy` +
  (r.problems.length ? ` (${r.problems.join('; ')})` : '');

export async function manyUsers(options: { clients: number; warmupS: number; durationS: number }): Promise<ManyUsersResult> {
  if (options.durationS < SHORTEST_RUN_S) throw new Error(`many-users needs at least ${SHORTEST_RUN_S} s`);
  const upstream = await startUpstream('upstream-paced', 'paced');
  try {
    const directTarget = { name: 'direct', url: `${upstream.baseUrl}/chat/completions`, headers: REQUEST_HEADERS };
    const direct = await accounted(upstream.proc, undefined, (onMeasuring) => drive(directTarget, { ...options, run: 'direct', onMeasuring }));
    process.stderr.write(`${describe('direct', direct)}\n`);
    const gateway = await startGateway('gateway-defaults', { upstream: upstream.baseUrl, plain: true });
    try {
      await sleep(500);
      const idleRssMb = rssMb(gateway.proc.pid);
      const peak = sampleRss(gateway.proc);
      const gatewayTarget = { name: 'gateway', url: `${gateway.url}/v1/chat/completions`, headers: REQUEST_HEADERS };
      const run = await accounted(upstream.proc, gateway.proc, (onMeasuring) => drive(gatewayTarget, { ...options, run: 'gateway', onMeasuring }));
      const through = { ...run, idleRssMb, peakRssMb: peak() };
      process.stderr.write(`${describe('gateway', through)}\n`);
      return { clients: options.clients, durationS: options.durationS, direct, gateway: through };
    } finally {
      await gateway.proc.stop();
    }
  } finally {
    await upstream.proc.stop();
  }
}
