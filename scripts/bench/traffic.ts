/**
 * Scenarios 1 and 2: non-streaming throughput/latency under autocannon, and streaming
 * timings (first content byte, [DONE]) with sequential node:http requests. Targets are
 * alternated within every round, so slow drift of a noisy machine (other tenants,
 * thermal state, the gateway's growing session store) lands on every target alike and
 * each round yields one comparable sample per target.
 */
import { Agent } from 'node:http';
import { MESSAGE, REQUEST_BODY, STREAM_BODY } from './payloads.mjs';
import { load, median, timedStream, type Target } from './measure.js';

export interface LoadSeries {
  rps: number[];
  p50: number[];
  p99: number[];
  /** Non-2xx answers, errors and timeouts over all rounds (should be 0). */
  failed: number;
}

export interface StreamSeries {
  /** Per round: the median over that round's requests, ms. */
  firstContent: number[];
  done: number[];
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Round r visits the targets starting at a different one, so no target always runs first or after the same neighbour. */
function rotated<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export async function throughput(
  targets: readonly Target[],
  options: { rounds: number; durationS: number; warmupS: number; concurrencies: readonly number[] },
): Promise<Record<string, Record<string, LoadSeries>>> {
  const results: Record<string, Record<string, LoadSeries>> = {};
  for (const c of options.concurrencies) {
    results[`c${c}`] = Object.fromEntries(targets.map((t) => [t.name, { rps: [], p50: [], p99: [], failed: 0 }]));
    // JIT, connection pools and the store's first pages: warmed once per target, not counted.
    for (const target of targets) await load(target, REQUEST_BODY, { connections: c, durationS: options.warmupS });
  }
  for (let round = 0; round < options.rounds; round += 1) {
    for (const c of options.concurrencies) {
      for (const target of rotated(targets, round)) {
        const run = await load(target, REQUEST_BODY, { connections: c, durationS: options.durationS });
        const series = results[`c${c}`]?.[target.name] as LoadSeries;
        series.rps.push(run.rps);
        series.p50.push(run.p50);
        series.p99.push(run.p99);
        series.failed += run.failed;
        log(
          `  round ${round + 1}/${options.rounds} c=${c} ${target.name.padEnd(16)} ${run.rps.toFixed(0).padStart(6)} req/s  ` +
            `p50 ${run.p50.toFixed(3)} ms  p99 ${run.p99.toFixed(3)} ms${run.failed ? `  FAILED ${run.failed}` : ''}`,
        );
      }
    }
  }
  return results;
}

/**
 * Streaming: the targets take turns request by request (A B C D, B C D A, …), each over
 * its own keep-alive socket, so a burst of foreign load hits all of them alike. A round's
 * value per target is the median over its `requests` requests; every reply is checked.
 */
export async function streaming(
  targets: readonly Target[],
  options: { rounds: number; requests: number },
): Promise<Record<string, StreamSeries>> {
  const results: Record<string, StreamSeries> = Object.fromEntries(targets.map((t) => [t.name, { firstContent: [], done: [] }]));
  const agents = new Map(targets.map((t) => [t.name, new Agent({ keepAlive: true, maxSockets: 1 })]));
  const once = async (target: Target): Promise<{ firstContent: number; done: number }> => {
    const timing = await timedStream(target, STREAM_BODY, agents.get(target.name) as Agent);
    if (timing.content !== MESSAGE) throw new Error(`${target.name}: streamed '${timing.content}', expected the 10-word reply`);
    return timing;
  };
  try {
    for (let i = 0; i < Math.min(50, options.requests); i += 1) for (const target of targets) await once(target);
    for (let round = 0; round < options.rounds; round += 1) {
      const first: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
      const done: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
      for (let i = 0; i < options.requests; i += 1) {
        for (const target of rotated(targets, i)) {
          const timing = await once(target);
          first[target.name]?.push(timing.firstContent);
          done[target.name]?.push(timing.done);
        }
      }
      for (const target of targets) {
        const series = results[target.name] as StreamSeries;
        series.firstContent.push(median(first[target.name] ?? []));
        series.done.push(median(done[target.name] ?? []));
        log(
          `  round ${round + 1}/${options.rounds} stream ${target.name.padEnd(16)} first content ${series.firstContent.at(-1)?.toFixed(3)} ms  [DONE] ${series.done.at(-1)?.toFixed(3)} ms`,
        );
      }
    }
  } finally {
    for (const agent of agents.values()) agent.destroy();
  }
  return results;
}
