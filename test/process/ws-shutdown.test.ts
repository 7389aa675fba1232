/**
 * SIGTERM on a gateway process with WebSocket clients: they get the `shutdown` event at
 * once, a running `agent` turn still sends its final response, then every socket closes
 * with 1001 and the process exits 0.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../src/client/gateway-client.js';
import type { EventFrame } from '../../generated/ws/types.js';
import { startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { PROCESS_TOKEN, processEnv, upstreamConfig, within } from '../helpers/process-gateway.js';

let upstream: FakeUpstream;
let gateway: RunningGateway | undefined;
beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  gateway?.child.kill('SIGKILL');
  await upstream.close();
});

describe('moltbot gateway stopping with WebSocket clients', () => {
  it('shutdown event, the running turn\'s final, then close 1001 and exit 0', async () => {
    const { env } = processEnv();
    gateway = await startCliGateway(['--port', '0', '--config', upstreamConfig(upstream.baseUrl, { graceSeconds: 20 })], env);
    const events: EventFrame[] = [];
    let shutdownSeen: () => void = () => undefined;
    const shutdown = new Promise<void>((resolve) => (shutdownSeen = resolve));
    const client = new GatewayClient({
      url: gateway.url.replace('http:', 'ws:'),
      token: PROCESS_TOKEN,
      clientName: 'cli',
      mode: 'cli',
      onEvent: (event) => {
        events.push(event);
        if (event.event === 'shutdown') shutdownSeen();
      },
    });
    await client.connected();
    const closed = new Promise<number>((resolve) => client.ws.once('close', (code) => resolve(code)));
    upstream.behaveOnce({ kind: 'hold', deltas: ['nearly'], rest: [' there'] });
    const final = client.request('agent', { message: 'finish before exit', idempotencyKey: 'stop-1' }, { expectFinal: true });
    await upstream.nthRequest(1);
    gateway.child.kill('SIGTERM');
    await within(shutdown, 10_000, 'the shutdown event');
    expect(events.find((e) => e.event === 'shutdown')?.payload).toEqual({ reason: 'gateway stopping' });
    upstream.release();
    expect(await within(final, 10_000, 'the final response')).toMatchObject({ status: 'ok', result: { payloads: [{ text: 'nearly there' }] } });
    expect(await within(closed, 10_000, 'the close')).toBe(1001);
    expect((await within(gateway.done, 10_000, 'the exit')).code).toBe(0);
  });
});
