/**
 * SIGTERM / SIGINT on a gateway process: it drains visibly (the port stays open,
 * `/readyz` answers 503 `draining`, new turns 503 `shutting_down` with `Retry-After`),
 * lets running turns finish within `gateway.shutdownGraceSeconds`, aborts the rest with
 * 503 `shutting_down`, then stops accepting, closes the store and exits 0.
 */
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { chunksText, openStream } from '../helpers/open-stream.js';
import { chat, processEnv, showSession, upstreamConfig, user, waitForLine, within } from '../helpers/process-gateway.js';
import { readError, streamedText } from '../helpers/read.js';

let upstream: FakeUpstream;
const children: RunningGateway[] = [];
beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  await upstream.close();
});

async function start(graceSeconds: number): Promise<{ gateway: RunningGateway; env: Record<string, string>; config: string }> {
  const { env } = processEnv();
  const config = upstreamConfig(upstream.baseUrl, { graceSeconds });
  const gateway = await startCliGateway(['--port', '0', '--config', config], env);
  children.push(gateway);
  return { gateway, env, config };
}

/** A fresh TCP connection to the gateway's port: resolves with the error code it fails with. */
function tcpConnectError(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      // Accepted by the kernel: it must still be refused, with a reset rather than served.
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'unknown'));
      socket.once('close', () => reject(new Error('connection was accepted and closed normally')));
      socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      socket.once('data', () => reject(new Error('a new connection was served after the signal')));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'unknown'));
  });
}

/** Signals the gateway with an open, held stream; it must drain visibly; release lets the stream finish. */
async function drainsHeldStream(signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const { gateway, env, config } = await start(10);
  upstream.behaveOnce({ kind: 'hold', deltas: ['held', ' part'], rest: [' and', ' the rest'] });
  const response = await chat(gateway.url, { model: 'moltbot', user: 'erin', stream: true, messages: [user('drain me')] });
  const key = response.headers.get('x-moltbot-session-key');
  expect(key).toBe('agent:main:openai-user:erin');
  const stream = openStream(response);
  await upstream.nthRequest(1);
  await stream.waitFor((raw) => raw.includes('" part"'));
  expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);

  const stopping = waitForLine(gateway.child.stderr, /"message":"shutting down"/u);
  gateway.child.kill(signal);
  const line = JSON.parse(await stopping) as Record<string, unknown>;
  expect(line).toMatchObject({ signal, pending: 1, graceSeconds: 10 });

  // Draining, visibly: the port is open, not ready, alive; new turns are refused with a wait.
  const ready = await fetch(`${gateway.url}/readyz`);
  expect(ready.headers.get('retry-after')).toBe('1');
  expect(ready.headers.get('connection')).toBe('close');
  expect(await readError(ready, 503)).toMatchObject({ type: 'server_error', code: 'draining' });
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  const refusedTurn = await chat(gateway.url, { model: 'moltbot', user: 'late', messages: [user('too late')] });
  expect(refusedTurn.headers.get('retry-after')).toBe('1');
  expect(await readError(refusedTurn, 503)).toMatchObject({ type: 'server_error', code: 'shutting_down' });
  const refusedStream = await chat(gateway.url, { model: 'moltbot', user: 'late', stream: true, messages: [user('too late')] });
  expect(await readError(refusedStream, 503)).toMatchObject({ code: 'shutting_down' });

  // The running turn still finishes normally within the grace period.
  upstream.release();
  const done = await stream.finish();
  expect(done.error).toBeUndefined();
  expect(streamedText(done)).toBe('held part and the rest');
  expect(done.chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  const exit = await within(gateway.done, 10_000, 'the gateway exiting');
  expect(exit).toMatchObject({ code: 0, signal: null });
  // Gone once the last turn ended: nothing listens on the port.
  expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await tcpConnectError(gateway.url));

  const [history] = await showSession(key as string, env, config);
  expect(history?.turns).toHaveLength(1);
  expect(history?.turns[0]).toMatchObject({ status: 'ok', input: [user('drain me')], reply: { role: 'assistant', content: 'held part and the rest' } });
}

describe('gateway shutdown', () => {
  it('SIGTERM: drains visibly (/readyz 503 draining, new turns 503 shutting_down), lets the in-flight stream finish with [DONE], exits 0, records the turn ok', async () => {
    await drainsHeldStream('SIGTERM');
  });

  it('SIGINT behaves like SIGTERM', async () => {
    await drainsHeldStream('SIGINT');
  });

  it('SIGTERM with a short grace: aborts held turns with 503 shutting_down, closes the upstream requests, exits 0, records them aborted', async () => {
    const { gateway, env, config } = await start(0.5);
    upstream.behave({ kind: 'hold', deltas: ['never', ' finished'] });
    const streamResponse = await chat(gateway.url, { model: 'moltbot', user: 'frank', stream: true, messages: [user('stream me')] });
    const streamKey = streamResponse.headers.get('x-moltbot-session-key');
    const stream = openStream(streamResponse);
    await upstream.nthRequest(1);
    await stream.waitFor((raw) => raw.includes('" finished"'));
    const jsonResponse = chat(gateway.url, { model: 'moltbot', user: 'grace', messages: [user('json me')] });
    // Awaited below; marked handled so a failure there is reported by the assertion, not as unhandled.
    jsonResponse.catch(() => undefined);
    await upstream.nthRequest(2);

    const stopping = waitForLine(gateway.child.stderr, /"message":"shutting down"/u);
    gateway.child.kill('SIGTERM');
    expect(JSON.parse(await stopping)).toMatchObject({ signal: 'SIGTERM', pending: 2, graceSeconds: 0.5 });
    const signalledAt = performance.now();

    const streamed = await stream.finish();
    expect(chunksText(streamed.chunks)).toBe('never finished');
    expect(streamed.chunks.every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
    expect(streamed.error).toMatchObject({ type: 'server_error', code: 'shutting_down' });

    const json = await jsonResponse;
    expect(json.headers.get('x-moltbot-session-key')).toBe('agent:main:openai-user:grace');
    expect(await readError(json, 503)).toMatchObject({ type: 'server_error', code: 'shutting_down' });

    const exit = await within(gateway.done, 5_000, 'the gateway exiting');
    expect(exit).toMatchObject({ code: 0, signal: null });
    const elapsed = performance.now() - signalledAt;
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(5_000);
    await within(Promise.all(upstream.requests.map((r) => r.closedEarly)), 5_000, 'the upstream requests closing');
    expect(upstream.requests).toHaveLength(2);

    for (const [key, text, partial] of [
      [streamKey, 'stream me', 'never finished'],
      ['agent:main:openai-user:grace', 'json me', 'never finished'],
    ] as const) {
      const [history] = await showSession(key as string, env, config);
      expect(history?.turns).toHaveLength(1);
      expect(history?.turns[0]).toMatchObject({
        status: 'aborted',
        input: [user(text)],
        reply: { role: 'assistant', content: partial },
        error: { type: 'server_error', code: 'shutting_down' },
      });
      expect(history?.session.lastStatus).toBe('aborted');
    }
  });
});
