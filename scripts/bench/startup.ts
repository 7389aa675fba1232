/**
 * Scenario 5, start-up: from spawn to the first 200 on `/healthz`, for `moltbot gateway`
 * on a fresh state dir (echo agent, and an OpenAI-compatible upstream) against the same
 * measurement of a bare `node:http` server script (`bare-http.mjs`), alternating, so the
 * ratio is taken within each round. Also the idle RSS of the gateway just started.
 */
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { sleep } from './measure.js';
import { freePort, gatewayArgs, rssMb, spawnTracked } from './procs.js';

/** Nothing has run yet but start-up itself: a short settle before RSS is read. */
const START_SETTLE_MS = 300;
const BARE = fileURLToPath(new URL('./bare-http.mjs', import.meta.url));

/** GET /healthz on a fresh connection; false while nothing listens yet. */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ hostname: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export interface StartSeries {
  ms: number[];
  idleMb: number[];
}

export interface StartOne {
  ms: number;
  idleMb: number;
}

/**
 * Spawns `args` (with `env`), polls `/healthz` on `port` every 5 ms from the first instant,
 * and stops the process once it answered 200 and its RSS was read.
 */
export async function timeStart(name: string, port: number, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<StartOne> {
  const t0 = performance.now();
  const proc = spawnTracked(`${name}-start`, args, { env, logToFile: true });
  try {
    let ms = Number.NaN;
    while (Number.isNaN(ms)) {
      if (await healthy(port)) ms = performance.now() - t0;
      else if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${name} exited during start-up (see ${proc.logPath})`);
      else if (performance.now() - t0 > 30_000) throw new Error(`${name}: no 200 on /healthz within 30 s`);
      else await sleep(5);
    }
    await sleep(START_SETTLE_MS);
    return { ms, idleMb: rssMb(proc.pid) };
  } finally {
    await proc.stop();
  }
}

/** Starts `bare-node`, gateway-echo and gateway-upstream `starts` times each, in rotating order. */
export async function startup(options: { starts: number; upstream: string }): Promise<Record<string, StartSeries>> {
  const names = ['bare-node', 'gateway-echo', 'gateway-upstream'];
  const results: Record<string, StartSeries> = Object.fromEntries(names.map((n) => [n, { ms: [], idleMb: [] }]));
  for (let i = 0; i < options.starts; i += 1) {
    const order = [...names.slice(i % names.length), ...names.slice(0, i % names.length)];
    for (const name of order) {
      // The port must be known before the process prints it, to poll from the first instant.
      const port = await freePort();
      const { args, env } =
        name === 'bare-node'
          ? { args: [BARE, String(port)], env: process.env }
          : gatewayArgs({ port, ...(name === 'gateway-upstream' ? { upstream: options.upstream } : {}) });
      const one = await timeStart(name, port, args, env);
      results[name]?.ms.push(one.ms);
      results[name]?.idleMb.push(one.idleMb);
      process.stderr.write(`  start ${i + 1}/${options.starts} ${name.padEnd(16)} ${one.ms.toFixed(0)} ms to /healthz 200, idle ${one.idleMb.toFixed(1)} MB\n`);
    }
  }
  return results;
}

