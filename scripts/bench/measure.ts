/**
 * The measuring instruments: an autocannon run with exact (sub-millisecond) latencies,
 * a timed streaming request, and the statistics the report uses.
 */
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';

export interface Target {
  name: string;
  /** The full URL requests go to. */
  url: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  /** Successful (2xx) responses per second of wall time. */
  rps: number;
  /** Latency percentiles of the 2xx responses, in ms. */
  p50: number;
  p99: number;
  ok: number;
  /** Anything that is not a 2xx answer: a benchmark of failures is no benchmark. */
  failed: number;
  /** Every 2xx latency, ms, sorted (callers pool short runs into one distribution). */
  durations: Float64Array;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * One autocannon run: `durationS` seconds, or `amount` requests. autocannon's own
 * latency histogram keeps whole milliseconds only, which hides exactly the fractions
 * this benchmark is about, so every response's duration (a float, in ms) is collected
 * from the client's `response` event instead, and the rate is counted the same way.
 */
export function load(target: Target, body: string, options: { connections: number; durationS?: number; amount?: number }): Promise<LoadResult> {
  let durations = new Float64Array(1 << 16);
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: target.url,
        method: 'POST',
        headers: target.headers,
        body,
        connections: options.connections,
        ...(options.amount ? { amount: options.amount } : { duration: options.durationS ?? 1 }),
        // The run only ends at a sample tick; 50 ms keeps a 1 s run from lasting 2 s.
        sampleInt: 50,
        timeout: 10,
        setupClient(client) {
          client.on('response', (status: number, _bytes: number, duration: number) => {
            if (status < 200 || status > 299) {
              failed += 1;
              return;
            }
            if (ok === durations.length) {
              const grown = new Float64Array(durations.length * 2);
              grown.set(durations);
              durations = grown;
            }
            durations[ok] = duration;
            ok += 1;
          });
        },
      },
      (err, result) => {
        if (err) return reject(err);
        const elapsedS = (performance.now() - started) / 1000;
        const sorted = durations.subarray(0, ok).sort();
        resolve({
          rps: ok / elapsedS,
          p50: percentile(sorted, 0.5),
          p99: percentile(sorted, 0.99),
          ok,
          failed: failed + result.errors + result.timeouts,
          durations: sorted,
        });
      },
    );
  });
}

export interface StreamTiming {
  /** ms from sending the request to the first `data:` event carrying non-empty content. */
  firstContent: number;
  /** ms from sending the request to `data: [DONE]`. */
  done: number;
  /** The streamed content, joined (checked by the caller). */
  content: string;
}

/** One streaming request over `agent` (keep-alive, one socket: sequential requests). */
export function timedStream(target: Target, body: string, agent: Agent, timeoutMs = 10_000): Promise<StreamTiming> {
  return new Promise((resolve, reject) => {
    const url = new URL(target.url);
    let firstContent = Number.NaN;
    let done = Number.NaN;
    let content = '';
    let pending = '';
    const req = request(
      { agent, method: 'POST', hostname: url.hostname, port: url.port, path: url.pathname, headers: { ...target.headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`${target.name}: streaming request answered ${res.statusCode}`));
        }
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          const now = performance.now();
          pending += text;
          // SSE events end with a blank line; an event may span chunks.
          for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            if (!event.startsWith('data: ')) continue;
            const data = event.slice(6);
            if (data === '[DONE]') {
              done = now - t0;
              continue;
            }
            const delta = (JSON.parse(data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content;
            if (typeof delta === 'string' && delta !== '') {
              if (Number.isNaN(firstContent)) firstContent = now - t0;
              content += delta;
            }
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          if (Number.isNaN(done)) reject(new Error(`${target.name}: stream ended without [DONE]`));
          else resolve({ firstContent, done, content });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`${target.name}: stream took over ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const t0 = performance.now();
    req.end(body);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One request of `timedSequence`: when it started (wall clock, ms since the epoch) and how long it took. */
export interface TimedRequest {
  at: number;
  ms: number;
  ok: boolean;
}

/**
 * `count` requests one after another on one keep-alive connection (c=1), each with its
 * start time, so that a slow one can be set beside what the server was doing then.
 */
export async function timedSequence(target: Target, body: string, count: number): Promise<TimedRequest[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { ...target.headers, 'content-length': String(Buffer.byteLength(body)) };
  const out: TimedRequest[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const started = performance.now();
      const ok = await new Promise<boolean>((resolve) => {
        const req = request(target.url, { method: 'POST', agent, headers, timeout: 10_000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300));
          res.on('error', () => resolve(false));
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(false));
        req.end(body);
      });
      out.push({ at: performance.timeOrigin + started, ms: performance.now() - started, ok });
    }
  } finally {
    agent.destroy();
  }
  return out;
}
