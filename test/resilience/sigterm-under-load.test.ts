/**
 * SIGTERM with ~30 requests in flight (streaming and JSON, each taking about a second at
 * the paced upstream) and `shutdownGraceSeconds: 10`: the gateway drains visibly (new
 * connections are still served: `/readyz` 503 `draining`, a new turn 503
 * `shutting_down`), every request accepted before the signal completes normally (200,
 * full reply, [DONE]) — no 5xx —, then it stops accepting, exits 0 and every turn is
 * recorded ok.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { loadConfig, readStore, tcpConnectError } from '../helpers/load.js';
import { openStream } from '../helpers/open-stream.js';
import { replyFor, startPacedUpstream, type PacedUpstream } from '../helpers/paced-upstream.js';
import { chat, processEnv, waitForLine, within } from '../helpers/process-gateway.js';
import { readCompletion, streamedText } from '../helpers/read.js';

const REQUESTS = 30;

let upstream: PacedUpstream | undefined;
const children: RunningGateway[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  await upstream?.close();
});

describe('SIGTERM under load', () => {
  it('drains: requests accepted before the signal all complete 200, new ones get 503 meanwhile, then refused, exit 0, all turns ok', { timeout: 60_000 }, async () => {
    // Each reply sends its first part, waits for the gate (opened once the signal has been
    // handled), then its 9 other parts 100 ms apart: about a second of work left in flight.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    upstream = await startPacedUpstream({ deltas: 10, delayMs: 100, gate });
    const { env, stateDir } = processEnv();
    const config = loadConfig(upstream.baseUrl, { graceSeconds: 10, maxConcurrent: 64 });
    const gateway = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(gateway);

    const requests = Array.from({ length: REQUESTS }, (_, i) => {
      const streaming = i % 2 === 0;
      const content = `drain-${i}`;
      const result = chat(gateway.url, { model: 'moltbot', user: `drain-${i}`, messages: [{ role: 'user', content }], ...(streaming ? { stream: true } : {}) }).then(
        async (response) => {
          if (!streaming) {
            const body = await readCompletion(response);
            return { content, text: body.choices[0]?.message.content, finish: body.choices[0]?.finish_reason };
          }
          const stream = await openStream(response).finish();
          expect(stream.error).toBeUndefined();
          return { content, text: streamedText(stream), finish: stream.chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason };
        },
      );
      // Awaited below; marked handled so a failure there is reported by the assertion.
      result.catch(() => undefined);
      return result;
    });

    // Every request has reached the upstream: all were accepted and are running.
    await within(upstream.arrived(REQUESTS), 10_000, 'all requests reaching the upstream');

    const stopping = waitForLine(gateway.child.stderr, /"message":"shutting down"/u);
    gateway.child.kill('SIGTERM');
    const signalledAt = performance.now();
    expect(JSON.parse(await stopping)).toMatchObject({ signal: 'SIGTERM', pending: REQUESTS, graceSeconds: 10 });

    // Draining: new connections are served, told to go elsewhere, while the accepted requests still run.
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: { code: string } }).error.code).toBe('draining');
    const late = await chat(gateway.url, { model: 'moltbot', user: 'late', messages: [{ role: 'user', content: 'late' }] });
    expect(late.status).toBe(503);
    expect(late.headers.get('retry-after')).toBe('1');
    await late.text();
    expect(upstream.completed, 'the turns are all still in flight').toBe(0);
    openGate();

    const results = await within(Promise.all(requests), 15_000, 'the accepted requests completing');
    for (const result of results) expect(result).toEqual({ content: result.content, text: replyFor(result.content), finish: 'stop' });

    const exit = await within(gateway.done, 15_000, 'the gateway exiting');
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await tcpConnectError(gateway.url));
    const drainMs = performance.now() - signalledAt;
    // Well within the grace period: it waited for the turns, not for the grace to run out.
    expect(drainMs).toBeLessThan(8_000);
    expect(upstream.closedEarly).toBe(0);
    expect(upstream.completed).toBe(REQUESTS);
    // Nothing logged as failed but the late turn refused during the drain.
    const problems = exit.stderr.split('\n').filter((line) => /"level":"(warn|error)"/u.test(line));
    expect(problems.every((line) => /"code":"(shutting_down|draining)"/u.test(line)), problems.join('\n')).toBe(true);

    const store = readStore(join(stateDir, 'sessions.sqlite'));
    expect(store.integrity).toBe('ok');
    for (let i = 0; i < REQUESTS; i += 1) {
      const turns = store.turns.get(`agent:main:openai-user:drain-${i}`) ?? [];
      expect(turns).toEqual([
        { key: `agent:main:openai-user:drain-${i}`, seq: 1, status: 'ok', input: [{ role: 'user', content: `drain-${i}` }], reply: { role: 'assistant', content: replyFor(`drain-${i}`) }, finishReason: 'stop', endedAt: expect.any(Number) },
      ]);
    }
    console.log(`sigterm under load: ${REQUESTS} requests in flight at the signal, all 200; drained and exited in ${Math.round(drainMs)} ms`);
  });
});
