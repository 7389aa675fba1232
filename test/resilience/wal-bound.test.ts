/**
 * The write-ahead log stays bounded under steady load: 20,000 stateless turns at
 * concurrency 8 against a gateway process (echo provider: nothing but the gateway and its
 * store in the loop) never grow `sessions.sqlite-wal` past 64 MB. The size is sampled
 * while the load runs (every 25 ms and every 250 turns); the maximum is printed. Passive
 * checkpoints alone never restart a WAL that is written to without pause: before the
 * bound, 200,000 turns grew it to 2.7 GB.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCliGateway, writeConfig, type RunningGateway } from '../helpers/cli.js';
import { PROCESS_TOKEN, processEnv } from '../helpers/process-gateway.js';

const TURNS = 20_000;
const CONCURRENCY = 8;
const BOUND = 64 * 1024 * 1024;
/** A message of about 600 bytes; the echo reply repeats it, so each turn stores it twice. */
const MESSAGE = `wal bound ${'lorem ipsum dolor sit amet '.repeat(22)}`;

let gateway: RunningGateway | undefined;
afterEach(() => {
  gateway?.child.kill('SIGKILL');
  gateway = undefined;
});

describe('WAL size under steady load', () => {
  it(`${TURNS} stateless turns at concurrency ${CONCURRENCY} keep sessions.sqlite-wal under 64 MB while they run`, { timeout: 300_000 }, async () => {
    const { env, stateDir } = processEnv();
    const config = writeConfig(`{
      gateway: { auth: { rateLimit: { exemptLoopback: true } }, http: { endpoints: { chatCompletions: { enabled: true } } } },
      agents: { defaults: { maxConcurrent: ${CONCURRENCY}, maxQueued: ${CONCURRENCY * 4} }, list: [{ id: 'main' }] },
    }`);
    gateway = await startCliGateway(['--port', '0', '--config', config], env);
    const wal = join(stateDir, 'sessions.sqlite-wal');
    let max = 0;
    let samples = 0;
    const sample = (): void => {
      let size = 0;
      try {
        size = statSync(wal).size;
      } catch {
        // Not created yet, or truncated away and not yet rewritten.
      }
      samples += 1;
      max = Math.max(max, size);
    };
    const sampler = setInterval(sample, 25);
    const url = `${gateway.url}/v1/chat/completions`;
    const body = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: MESSAGE }] });
    const headers = { authorization: `Bearer ${PROCESS_TOKEN}`, 'content-type': 'application/json' };
    let issued = 0;
    let completed = 0;
    const failures: string[] = [];
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (issued < TURNS) {
        issued += 1;
        const res = await fetch(url, { method: 'POST', headers, body });
        const text = await res.text();
        if (res.status !== 200 && failures.length < 5) failures.push(`${res.status} ${text.slice(0, 200)}`);
        completed += 1;
        if (completed % 250 === 0) sample();
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      clearInterval(sampler);
    }
    sample();
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `wal-bound: ${completed} turns in ${seconds.toFixed(1)} s (${(completed / seconds).toFixed(0)}/s); ` +
        `max sessions.sqlite-wal ${(max / 1024 / 1024).toFixed(1)} MiB over ${samples} samples; at the end ${(statSync(wal).size / 1024 / 1024).toFixed(1)} MiB`,
    );
    expect(failures).toEqual([]);
    expect(completed).toBe(TURNS);
    expect(max).toBeLessThan(BOUND);
  });
});
