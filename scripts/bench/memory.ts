/**
 * Scenario 4, on fresh processes: resident memory with N streams held open through the
 * gateway and, alternately, through `proxy-floor` (what two connections per stream cost
 * any Node proxy). Start-up (scenario 5) is in `startup.ts`.
 */
import { Agent, request } from 'node:http';
import { REQUEST_HEADERS, STREAM_BODY } from './payloads.mjs';
import { sleep } from './measure.js';
import { rssMb, startGateway, startNodeServer, startUpstream, type Proc } from './procs.js';

/** Lets a process that just did something settle (lazy allocations, timers) before its RSS is read. */
const SETTLE_MS = 500;

export interface MemorySample {
  /** `gateway-upstream` or `proxy-floor`. */
  target: string;
  idleMb: number;
  loadedMb: number;
  /** Streams that ended with [DONE] after the release (should be all). */
  completed: number;
}

/** Waits until `test()` holds, polling; throws `describe()` after `timeoutMs`. */
export async function until(test: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!test()) {
    if (performance.now() > deadline) throw new Error(describe());
    await sleep(20);
  }
}

type HoldUpstream = Awaited<ReturnType<typeof startUpstream>>;

/**
 * One repetition: a fresh gateway on the hold-mode upstream, `streams` streams opened
 * and held. `before` requests reached the upstream in earlier repetitions. `body` is the
 * streaming request each client sends (default: the 10-word message alone).
 */
export async function heldStreams(upstream: HoldUpstream, target: string, streams: number, before: number, body = STREAM_BODY): Promise<MemorySample> {
  // N open streams need N run slots: the limits are set to exactly that, whatever the
  // defaults are. Nothing else differs from gateway-upstream.
  const server: { proc: Proc; url: string } =
    target === 'proxy-floor'
      ? await startNodeServer('proxy-floor', 'proxy-floor.mjs', [upstream.baseUrl])
      : await startGateway('gateway-upstream-held', { upstream: upstream.baseUrl, limits: { maxConcurrent: streams, maxQueued: 64 } });
  try {
    await sleep(SETTLE_MS);
    const idleMb = rssMb(server.proc.pid);
    const url = new URL(`${server.url}/v1/chat/completions`);
    // No keep-alive, no socket cap: every stream its own connection, as N clients would be.
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    let open = 0;
    let completed = 0;
    let failed = 0;
    const problems: string[] = [];
    const headers = { ...REQUEST_HEADERS, 'content-length': String(Buffer.byteLength(body)) };
    for (let i = 0; i < streams; i += 1) {
      const req = request({ agent, method: 'POST', hostname: url.hostname, port: url.port, path: url.pathname, headers }, (res) => {
        if (res.statusCode !== 200) {
          failed += 1;
          if (problems.length < 3) problems.push(`status ${res.statusCode}`);
          res.resume();
          return;
        }
        open += 1;
        let tail = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          tail = (tail + text).slice(-64);
        });
        res.on('end', () => {
          if (tail.endsWith('data: [DONE]\n\n')) completed += 1;
          else failed += 1;
        });
      });
      req.on('error', (err) => {
        failed += 1;
        if (problems.length < 3) problems.push(err.message);
      });
      req.end(body);
      // Batches of 100: a burst of thousands of SYNs overflows the listen backlog (511)
      // and costs 1 s retransmits, which would measure the kernel, not the gateway.
      if (i % 100 === 99) await sleep(10);
    }
    const state = (): string => `${open} open, ${failed} failed of ${streams}${problems.length ? ` (${problems.join('; ')})` : ''}`;
    const rounded = Math.floor((before + streams) / 100) * 100;
    await upstream.proc.waitForLine(new RegExp(`^arrived ${rounded}$`, 'u'), 60_000);
    await until(() => open + failed >= streams, 60_000, () => `streams did not all open: ${state()}`);
    if (failed > 0) throw new Error(`streams failed: ${state()}`);
    await sleep(SETTLE_MS);
    const loadedMb = rssMb(server.proc.pid);
    upstream.proc.child.stdin?.write('release\n');
    await until(() => completed + failed >= streams, 30_000, () => `released streams did not all finish: ${completed} done, ${state()}`);
    agent.destroy();
    return { target, idleMb, loadedMb, completed };
  } finally {
    await server.proc.stop();
  }
}

export async function memory(options: { reps: number; streams: number }): Promise<MemorySample[]> {
  const samples: MemorySample[] = [];
  // One upstream for every repetition: only the proxies are measured, and a `release`
  // lets the held replies finish while later requests are held again.
  const upstream = await startUpstream('upstream-hold', 'hold');
  try {
    for (let rep = 0; rep < options.reps; rep += 1) {
      // Alternating which goes first, like the other scenarios.
      const order = rep % 2 ? ['proxy-floor', 'gateway-upstream'] : ['gateway-upstream', 'proxy-floor'];
      for (const target of order) {
        const sample = await heldStreams(upstream, target, options.streams, samples.length * options.streams);
        samples.push(sample);
        process.stderr.write(
          `  rep ${rep + 1}/${options.reps} memory ${target.padEnd(16)} idle ${sample.idleMb.toFixed(1)} MB, with ${options.streams} streams ${sample.loadedMb.toFixed(1)} MB ` +
            `(+${(sample.loadedMb - sample.idleMb).toFixed(1)}), ${sample.completed} completed\n`,
        );
      }
    }
  } finally {
    await upstream.proc.stop();
  }
  return samples;
}
