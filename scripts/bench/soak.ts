/**
 * Scenario 9, memory after load: a gateway in front of the fake upstream takes a mixed
 * soak of 20,000 requests at c=32 (JSON turns, streamed turns, streams the client cuts
 * after their first bytes, and 4xx: no token, malformed JSON, no messages, an unknown
 * path), then sits idle. Its RSS before the soak (after a warm-up of the same mix and a
 * pause), at its peak, and every second for 30 s after: the target is back within 20%
 * of the pre-soak value within those 30 s.
 */
import { Agent, request } from 'node:http';
import { REQUEST_BODY, REQUEST_HEADERS, STREAM_BODY } from './payloads.mjs';
import { sleep } from './measure.js';
import { rssMb, startGateway, startUpstream } from './procs.js';

export interface SoakResult {
  requests: number;
  /** Outcome → count (`200`, `401`, `aborted`, `error: ...`). */
  outcomes: Record<string, number>;
  /** Requests whose outcome was not the one expected of their kind. */
  unexpected: number;
  soakS: number;
  preMb: number;
  peakMb: number;
  /** RSS each second after the soak ended, 30 samples. */
  afterMb: number[];
  /** Seconds after the soak until RSS was within 20% of preMb (undefined: never within 30 s). */
  backWithinS?: number;
}

type Kind = 'json' | 'stream' | 'abort' | 'no-token' | 'bad-json' | 'no-messages' | 'not-found';
/** Out of 20: 8 JSON, 6 streams, 3 cut streams, 3 × 4xx (one of each in turn). */
const MIX: Kind[] = ['json', 'stream', 'json', 'abort', 'json', 'stream', 'no-token', 'json', 'stream', 'json', 'abort', 'bad-json', 'json', 'stream', 'json', 'no-messages', 'stream', 'abort', 'json', 'not-found'];
const EXPECTED: Record<Kind, string> = { json: '200', stream: '200', abort: 'aborted', 'no-token': '401', 'bad-json': '400', 'no-messages': '400', 'not-found': '404' };

function one(base: URL, kind: Kind, agent: Agent): Promise<string> {
  const headers: Record<string, string> = kind === 'no-token' ? { 'content-type': 'application/json' } : { ...REQUEST_HEADERS };
  const body =
    kind === 'stream' || kind === 'abort' ? STREAM_BODY : kind === 'bad-json' ? '{"model": "moltbot", "messages": [' : kind === 'no-messages' ? '{"model":"moltbot","messages":[]}' : REQUEST_BODY;
  const path = kind === 'not-found' ? '/v1/nothing-here' : '/v1/chat/completions';
  return new Promise((resolve) => {
    const req = request(
      // A cut stream closes its own connection, as a client that goes away does.
      { agent: kind === 'abort' ? false : agent, method: 'POST', hostname: base.hostname, port: base.port, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        if (kind === 'abort' && res.statusCode === 200) {
          res.once('data', () => {
            req.destroy();
            resolve('aborted');
          });
          res.on('end', () => resolve('finished before the cut'));
          return;
        }
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      },
    );
    req.on('error', (err) => resolve(kind === 'abort' ? 'aborted' : `error: ${err.message}`));
    req.end(body);
  });
}

async function drive(base: URL, requests: number, connections: number, outcomes: Record<string, number>): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let next = 0;
  let unexpected = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      const kind = MIX[next % MIX.length] as Kind;
      next += 1;
      const outcome = await one(base, kind, agent);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (outcome !== EXPECTED[kind]) unexpected += 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  agent.destroy();
  return unexpected;
}

export async function soak(options: { requests: number; settleS: number; say: (line: string) => void }): Promise<SoakResult> {
  const upstream = await startUpstream('upstream-soak', 'reply');
  const gateway = await startGateway('gateway-upstream-soak', { upstream: upstream.baseUrl });
  try {
    const base = new URL(gateway.url);
    const pid = gateway.proc.pid;
    await drive(base, 1000, 32, {});
    await sleep(5000);
    const preMb = rssMb(pid);
    let peakMb = preMb;
    const sampler = setInterval(() => {
      peakMb = Math.max(peakMb, rssMb(pid));
    }, 250);
    const outcomes: Record<string, number> = {};
    const t0 = performance.now();
    let unexpected: number;
    try {
      unexpected = await drive(base, options.requests, 32, outcomes);
    } finally {
      clearInterval(sampler);
    }
    const soakS = (performance.now() - t0) / 1000;
    const afterMb: number[] = [];
    let backWithinS: number | undefined;
    for (let s = 1; s <= options.settleS; s += 1) {
      await sleep(1000);
      const mb = rssMb(pid);
      afterMb.push(mb);
      if (backWithinS === undefined && mb <= preMb * 1.2) backWithinS = s;
    }
    options.say(
      `  soak ${options.requests} requests in ${soakS.toFixed(1)} s (${JSON.stringify(outcomes)}, ${unexpected} unexpected); RSS pre ${preMb.toFixed(1)}, peak ${peakMb.toFixed(1)}, ` +
        `after 1/10/30 s ${[afterMb[0], afterMb[9], afterMb.at(-1)].map((v) => v?.toFixed(1)).join('/')} MB`,
    );
    return { requests: options.requests, outcomes, unexpected, soakS, preMb, peakMb, afterMb, ...(backWithinS === undefined ? {} : { backWithinS }) };
  } finally {
    await gateway.proc.stop();
    await upstream.proc.stop();
  }
}

/** The table rows. */
export function soakRows(s: SoakResult): { scenario: string; target: string; median: string; range: string; ratio: string; goal: string; status: '' | 'met' | 'MISSED'; value?: number }[] {
  const last = s.afterMb.at(-1) ?? Number.NaN;
  const ratio = last / s.preMb;
  return [
    {
      scenario: `soak ${s.requests}`,
      target: 'gateway-upstream RSS 30 s after',
      median: `${last.toFixed(1)} MB`,
      range: `pre ${s.preMb.toFixed(1)}, peak ${s.peakMb.toFixed(1)} MB`,
      ratio: `×${ratio.toFixed(2)} pre-soak; back within 20% after ${s.backWithinS ?? '>30'} s; ${s.unexpected} unexpected of ${s.requests} in ${s.soakS.toFixed(0)} s`,
      goal: '≤ ×1.2 pre-soak within 30 s',
      status: s.backWithinS !== undefined && s.unexpected === 0 ? 'met' : 'MISSED',
      value: ratio,
    },
  ];
}
