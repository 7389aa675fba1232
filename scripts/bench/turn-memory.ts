/**
 * `npx tsx scripts/bench/turn-memory.ts [--reps 3] [--sizes 500,1000,2000] [--conversation-kb 32]`: what a
 * running turn and a queued turn cost in memory, the figures the default run limits are
 * derived from (docs/decisions/0001-default-run-limits.md). For each size N, alternately:
 *
 *   running  a gateway whose limits admit N runs holds N streams open on the hold-mode
 *            upstream (the memory scenario's `heldStreams`): N client connections, N
 *            upstream requests, N turns in the core and the store
 *   queued   a gateway with one run slot and N queue places: one stream held, N more
 *            requests accepted and waiting for the slot (client connection, parsed
 *            request, routed turn; no upstream request yet)
 *
 * Each client sends the 10-word message alone, or with `--conversation-kb K` a stateless
 * conversation of about K kB (alternating user and assistant messages of 1 kB before the
 * new message, as clients that resend the whole chat do): the turn then holds it, and the
 * gateway sends it all upstream.
 *
 * `--at-limits` instead fills a gateway on the default config to its limits (every run
 * slot and every queue place taken) and reads its RSS and open descriptors.
 *
 * Each sample is the gateway's RSS (and open file descriptors) with the load, minus the
 * same process idle just before. Prints per-turn figures and medians; every process runs
 * on 127.0.0.1 and ends with this one.
 */
import { readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { median, sleep } from './measure.js';
import { heldStreams, until } from './memory.js';
import { MESSAGE, REQUEST_HEADERS, STREAM_BODY } from './payloads.mjs';
import { installCleanup, killAll, rssMb, startGateway, startUpstream } from './procs.js';
import { DEFAULT_LIMITS } from '../../src/config/load.js';

const SETTLE_MS = 500;

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    sizes: { type: 'string', default: '500,1000,2000' },
    'conversation-kb': { type: 'string', default: '0' },
    'at-limits': { type: 'boolean', default: false },
  },
});
const reps = Number(values.reps);
const sizes = values.sizes.split(',').map(Number);
const conversationKb = Number(values['conversation-kb']);
if (!Number.isInteger(reps) || reps < 1 || sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(conversationKb) || conversationKb < 0) {
  console.error('--reps: a positive integer; --sizes: positive integers separated by commas; --conversation-kb: an integer >= 0');
  process.exit(2);
}

/** The earlier messages of a conversation of about `kb` kB, then the new one. */
function conversationBody(kb: number): string {
  const filler = 'The figures for the northern region were revised after the audit. '.repeat(15).slice(0, 1000);
  const earlier = Array.from({ length: kb }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${i} ${filler}` }));
  return JSON.stringify({ model: 'moltbot', stream: true, messages: [...earlier, { role: 'user', content: MESSAGE }] });
}
const body = conversationKb > 0 ? conversationBody(conversationKb) : STREAM_BODY;
installCleanup();

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

/**
 * A fresh gateway (with `limits`, else the defaults) given `running` + `queued` turns at
 * once: waits until it holds every client connection and the running turns' upstream
 * connections, then reads its RSS and open descriptors, idle and loaded.
 */
async function loaded(upstream: Upstream, turns: { running: number; queued: number }, limits?: { maxConcurrent: number; maxQueued: number }) {
  const gateway = await startGateway('gateway-loaded', { upstream: upstream.baseUrl, ...(limits ? { limits } : { plain: true }) });
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  try {
    await sleep(SETTLE_MS);
    const idleMb = rssMb(gateway.proc.pid);
    const idleFds = openFds(gateway.proc.pid);
    const url = new URL(`${gateway.url}/v1/chat/completions`);
    const headers = { ...REQUEST_HEADERS, 'content-length': String(Buffer.byteLength(body)) };
    const total = turns.running + turns.queued;
    let refused = 0;
    for (let i = 0; i < total; i += 1) {
      const req = request({ agent, method: 'POST', hostname: url.hostname, port: url.port, path: url.pathname, headers }, (res) => {
        if (res.statusCode !== 200) refused += 1;
        res.resume();
      });
      req.on('error', () => undefined);
      req.end(body);
      if (i % 100 === 99) await sleep(10);
    }
    const expected = total + turns.running;
    await until(
      () => refused > 0 || openFds(gateway.proc.pid) >= idleFds + expected,
      120_000,
      () => `only ${openFds(gateway.proc.pid) - idleFds} of ${expected} connections open`,
    );
    if (refused > 0) throw new Error(`${refused} requests were refused`);
    await sleep(SETTLE_MS);
    return { idleMb, loadedMb: rssMb(gateway.proc.pid), idleFds, loadedFds: openFds(gateway.proc.pid) };
  } finally {
    agent.destroy();
    await gateway.proc.stop();
  }
}

/** N turns queued behind one held run; RSS and fds over idle. */
async function queuedTurns(upstream: Upstream, queued: number): Promise<{ addedMb: number; addedFds: number }> {
  const sample = await loaded(upstream, { running: 1, queued }, { maxConcurrent: 1, maxQueued: queued });
  return { addedMb: sample.loadedMb - sample.idleMb, addedFds: sample.loadedFds - sample.idleFds - 2 };
}

const upstream = await startUpstream('upstream-hold', 'hold');
if (values['at-limits']) {
  // A gateway on the default config, as full as it lets itself be: every run slot taken, every queue place.
  for (let rep = 0; rep < reps; rep += 1) {
    const sample = await loaded(upstream, { running: DEFAULT_LIMITS.maxConcurrent, queued: DEFAULT_LIMITS.maxQueued });
    console.log(
      `at the default limits (${DEFAULT_LIMITS.maxConcurrent} running, ${DEFAULT_LIMITS.maxQueued} queued, request body ${(Buffer.byteLength(body) / 1000).toFixed(1)} kB): ` +
        `RSS ${sample.idleMb.toFixed(1)} → ${sample.loadedMb.toFixed(1)} MB, open files ${sample.idleFds} → ${sample.loadedFds}`,
    );
  }
  await upstream.proc.stop();
  killAll();
  process.exit(0);
}
let reached = 0;
const results: { size: number; running: number[]; queued: number[]; queuedFds: number[] }[] = [];
for (const size of sizes) {
  const entry = { size, running: [] as number[], queued: [] as number[], queuedFds: [] as number[] };
  results.push(entry);
  for (let rep = 0; rep < reps; rep += 1) {
    const sample = await heldStreams(upstream, 'gateway-upstream', size, reached, body);
    reached += size;
    entry.running.push(sample.loadedMb - sample.idleMb);
    const queued = await queuedTurns(upstream, size);
    reached += 1;
    entry.queued.push(queued.addedMb);
    entry.queuedFds.push(queued.addedFds);
    process.stderr.write(
      `  N=${size} rep ${rep + 1}/${reps}: running +${(sample.loadedMb - sample.idleMb).toFixed(1)} MB, ` +
        `queued +${queued.addedMb.toFixed(1)} MB (+${queued.addedFds} fds)\n`,
    );
  }
}
await upstream.proc.stop();
killAll();

console.log(`\nrequest body ${(Buffer.byteLength(body) / 1000).toFixed(1)} kB`);
console.log('N      running: +MB (kB/turn)      queued: +MB (kB/turn)      queued fds/turn');
for (const r of results) {
  const run = median(r.running);
  const queue = median(r.queued);
  console.log(
    `${String(r.size).padEnd(6)} +${run.toFixed(1)} MB (${((run * 1000) / r.size).toFixed(1)})`.padEnd(35) +
      `+${queue.toFixed(1)} MB (${((queue * 1000) / r.size).toFixed(1)})`.padEnd(27) +
      `${(median(r.queuedFds) / r.size).toFixed(2)}`,
  );
}
process.exit(0);
