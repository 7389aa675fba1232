/**
 * `upstream`: the tests' fake OpenAI-compatible upstreams as a process of their own
 * (run with `node --import tsx`, so the pid we measure and kill is the server itself).
 *
 *   --mode reply   every request gets the 10-delta reply (streamed when asked)
 *   --mode hold    streams the role chunk and the first delta, then holds the rest until
 *                  a `release` line arrives on stdin
 *   --mode paced   a model at reading speed: every reply streamed in `PACED_DELTAS` parts
 *                  `PACED_DELAY_MS` apart, paced by timers inside this process (the paced
 *                  upstream of the load tests; the reply is `replyFor(last user message)`)
 *
 * stdout: `baseUrl <url>` once listening; in hold mode `arrived <n>` at every 100th
 * request (the memory scenario waits for these). Exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { startFakeUpstream, type UpstreamBehaviour } from '../../test/helpers/fake-upstream.js';
import { startPacedUpstream } from '../../test/helpers/paced-upstream.js';
import { DELTAS, PACED_DELAY_MS, PACED_DELTAS } from './payloads.mjs';

const modeAt = process.argv.indexOf('--mode');
const mode = modeAt >= 0 ? process.argv[modeAt + 1] : 'reply';
if (mode !== 'reply' && mode !== 'hold' && mode !== 'paced') {
  console.error(`upstream.ts: unknown --mode '${mode}'`);
  process.exit(2);
}

async function start(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  if (mode === 'paced') {
    // Counters only: nothing per request is kept, however long the run.
    return startPacedUpstream({ deltas: PACED_DELTAS, delayMs: PACED_DELAY_MS });
  }
  const behaviour: UpstreamBehaviour =
    mode === 'reply' ? { kind: 'reply', deltas: DELTAS } : { kind: 'hold', deltas: DELTAS.slice(0, 1), rest: DELTAS.slice(1) };
  const upstream = await startFakeUpstream(behaviour);
  if (mode === 'reply') {
    // The helper records every request (headers, body, a promise) for the tests to inspect.
    // Over a benchmark that is hundreds of thousands of requests: memory and GC time that
    // would grow round by round and make later rounds slower. Forget them regularly; the
    // helper only ever indexes this array by its current length, so truncating is safe.
    setInterval(() => {
      upstream.requests.length = 0;
    }, 250).unref();
  } else {
    void (async () => {
      for (let n = 100; ; n += 100) {
        await upstream.nthRequest(n);
        console.log(`arrived ${n}`);
      }
    })();
  }
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'release') upstream.release();
  });
  return upstream;
}

const upstream = await start();
process.stdin.resume();
process.stdin.on('end', () => {
  void upstream.close().finally(() => process.exit(0));
});

console.log(`baseUrl ${upstream.baseUrl}`);
