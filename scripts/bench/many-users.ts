/**
 * Scenario 6, many users of a real model on the default config: an upstream that takes
 * seconds per reply (the paced upstream: 10 deltas 200 ms apart), `clients` users each on
 * a keep-alive connection of their own and a session of their own (`user`), streaming
 * turns back to back for `durationS`. The same clients first talk to the upstream
 * directly (the baseline), then through a gateway started with the config a new user
 * writes (endpoint on, the agent's model on the upstream; no limits set). Counted: turns
 * per second in the steady state, 429s, every other failure, time to `[DONE]`, and the
 * gateway's peak RSS (sampled every 100 ms).
 */
import { Agent, request } from 'node:http';
import { replyFor } from '../../test/helpers/paced-upstream.js';
import { MESSAGE, REQUEST_HEADERS, streamUserBody } from './payloads.mjs';
import { percentile, sleep, type Target } from './measure.js';
import { rssMb, startGateway, startUpstream, type Proc } from './procs.js';

export interface UsersRun {
  /** Requests sent (each client's last one may have ended after `durationS`). */
  requests: number;
  /** Streams that ended with the whole reply and `[DONE]`. */
  ok: number;
  /** 429 answers. */
  refused: number;
  /** Anything else: another status, a broken connection, an error event, a wrong or cut reply. */
  errors: number;
  /** Whole replies per second in the steady state (after every client's first reply, until the end). */
  turnsPerS: number;
  /** Time to `[DONE]` of the whole replies, ms. */
  p50: number;
  p99: number;
  /** Up to 5 distinct failure descriptions. */
  problems: string[];
  /** The gateway only: RSS before the load and the highest sample during it, MB. */
  idleRssMb?: number;
  peakRssMb?: number;
}

export interface ManyUsersResult {
  clients: number;
  durationS: number;
  direct: UsersRun;
  gateway: UsersRun;
}

/** Clients start spread over this long (a burst of hundreds of SYNs would measure the listen backlog). */
const RAMP_MS = 1000;
/** The steady state starts once every client has had its first reply (ramp + a 2.2 s reply + margin). */
const STEADY_FROM_MS = RAMP_MS + 3000;
/** A failed client pauses this long before its next request, so a refusing target is not flooded. */
const PAUSE_AFTER_FAILURE_MS = 100;
/** One reply takes 2.2 s; a stream still open after this is a failure. */
const REQUEST_TIMEOUT_MS = 30_000;

const EXPECTED = replyFor(MESSAGE);

type Outcome = { kind: 'ok'; ms: number } | { kind: 'refused' } | { kind: 'error'; why: string };

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
            content += parsed.choices?.[0]?.delta?.content ?? '';
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          if (failure) resolve({ kind: 'error', why: failure });
          else if (Number.isNaN(done)) resolve({ kind: 'error', why: 'stream ended without [DONE]' });
          else if (content !== EXPECTED) resolve({ kind: 'error', why: 'wrong reply' });
          else resolve({ kind: 'ok', ms: done });
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

/** `clients` users, each on its own keep-alive connection and `user`, streaming back to back until `durationS`. */
async function drive(target: Target, options: { clients: number; durationS: number; run: string }): Promise<UsersRun> {
  const url = new URL(target.url);
  const t0 = performance.now();
  const deadline = t0 + options.durationS * 1000;
  const durations: number[] = [];
  let steadyTurns = 0;
  let requests = 0;
  let refused = 0;
  let errors = 0;
  const problems = new Set<string>();

  async function client(i: number): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const body = streamUserBody(`${options.run}-user-${i}`);
    try {
      await sleep((i * RAMP_MS) / options.clients);
      while (performance.now() < deadline) {
        requests += 1;
        const outcome = await turn(url, target.headers, body, agent);
        if (outcome.kind === 'ok') {
          durations.push(outcome.ms);
          const at = performance.now() - t0;
          if (at >= STEADY_FROM_MS && at <= options.durationS * 1000) steadyTurns += 1;
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
  }

  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  const sorted = Float64Array.from(durations).sort();
  return {
    requests,
    ok: durations.length,
    refused,
    errors,
    turnsPerS: steadyTurns / (options.durationS - STEADY_FROM_MS / 1000),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    problems: [...problems],
  };
}

/** Samples a process's RSS every 100 ms until stopped; returns the highest sample, MB. */
function sampleRss(proc: Proc): () => number {
  let peak = rssMb(proc.pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(proc.pid));
    } catch {
      // The process is gone: the run reports its failures.
    }
  }, 100);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

const describe = (name: string, r: UsersRun): string =>
  `  ${name.padEnd(8)} ${r.turnsPerS.toFixed(1)} turns/s, ${r.ok} ok of ${r.requests}, ${r.refused} × 429, ${r.errors} errors, ` +
  `[DONE] p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms` +
  (r.peakRssMb === undefined ? '' : `, RSS idle ${r.idleRssMb?.toFixed(1)} MB peak ${r.peakRssMb.toFixed(1)} MB`) +
  (r.problems.length ? ` (${r.problems.join('; ')})` : '');

export async function manyUsers(options: { clients: number; durationS: number }): Promise<ManyUsersResult> {
  if (options.durationS * 1000 <= STEADY_FROM_MS) throw new Error(`many-users needs more than ${STEADY_FROM_MS / 1000} s`);
  const upstream = await startUpstream('upstream-paced', 'paced');
  try {
    const direct = await drive({ name: 'direct', url: `${upstream.baseUrl}/chat/completions`, headers: REQUEST_HEADERS }, { ...options, run: 'direct' });
    process.stderr.write(`${describe('direct', direct)}\n`);
    const gateway = await startGateway('gateway-defaults', { upstream: upstream.baseUrl, plain: true });
    try {
      await sleep(500);
      const idleRssMb = rssMb(gateway.proc.pid);
      const peak = sampleRss(gateway.proc);
      const run = await drive({ name: 'gateway', url: `${gateway.url}/v1/chat/completions`, headers: REQUEST_HEADERS }, { ...options, run: 'gateway' });
      const through = { ...run, idleRssMb, peakRssMb: peak() };
      process.stderr.write(`${describe('gateway', through)}\n`);
      return { ...options, direct, gateway: through };
    } finally {
      await gateway.proc.stop();
    }
  } finally {
    await upstream.proc.stop();
  }
}
