/**
 * The real reference client: `GatewayClient` of clawdbot@2026.1.24 (vendored under
 * test/reference-client/, MIT) connects to this gateway as the CLI does (challenge, signed
 * device block, token; and password mode), and runs `health`, `agent` with expectFinal
 * (the CLI's call, with its delivery fields) and `chat.send` with its events. It accepts
 * every frame (it silently drops any that fail its schemas, which would hang a request),
 * and is never given a device token to store.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayClient, type GatewayClientOptions } from '../reference-client/clawdbot/gateway/client.js';
import { loadOrCreateDeviceIdentity } from '../reference-client/clawdbot/infra/device-identity.js';
import { logged } from '../reference-client/clawdbot/logger.js';
import { DEFAULT_REPLY, startCore, type CoreSetup } from '../core/support.js';
import { CLI_SCOPES } from '../helpers/ws.js';

let setup: CoreSetup | undefined;
let stateDir: string;
const previousStateDir = process.env.CLAWDBOT_STATE_DIR;
beforeEach(() => {
  // Where the client would store a device token (it must never get one).
  stateDir = mkdtempSync(join(tmpdir(), 'clawdbot-state-'));
  process.env.CLAWDBOT_STATE_DIR = stateDir;
  logged.length = 0;
});
afterEach(async () => {
  if (previousStateDir === undefined) delete process.env.CLAWDBOT_STATE_DIR;
  else process.env.CLAWDBOT_STATE_DIR = previousStateDir;
  await setup?.close();
  setup = undefined;
});

type Event = { event: string; payload?: unknown; seq?: number };

/** Starts the reference client as `callGateway` does and resolves once hello-ok arrived. */
async function connect(options: Partial<GatewayClientOptions>): Promise<{ client: GatewayClient; hello: Record<string, unknown>; events: Event[]; gaps: unknown[] }> {
  const events: Event[] = [];
  const gaps: unknown[] = [];
  let client!: GatewayClient;
  const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
    client = new GatewayClient({
      url: setup!.gateway.wsUrl,
      clientName: 'cli',
      mode: 'cli',
      role: 'operator',
      scopes: CLI_SCOPES,
      instanceId: randomUUID(),
      deviceIdentity: loadOrCreateDeviceIdentity(join(stateDir, 'identity', 'device.json')),
      onHelloOk: resolve,
      // It would reconnect with backoff: stopped once the connect failed.
      onConnectError: (err) => {
        client.stop();
        reject(err);
      },
      onClose: (code, reason) => {
        client.stop();
        reject(new Error(`closed ${code} ${reason}`));
      },
      onEvent: (event) => events.push(event),
      onGap: (gap) => gaps.push(gap),
      ...options,
    });
    client.start();
  });
  return { client, hello, events, gaps };
}

describe('the reference client (clawdbot@2026.1.24 GatewayClient)', () => {
  it('connects with the token and a signed device, runs health, agent (expectFinal) and chat.send', async () => {
    setup = await startCore();
    const { client, hello, events, gaps } = await connect({ token: setup.gateway.token });
    expect(hello).toMatchObject({ type: 'hello-ok', protocol: 3, policy: { tickIntervalMs: 30_000 } });
    expect(hello).not.toHaveProperty('auth');
    expect(await client.request('health')).toMatchObject({ ok: true, defaultAgentId: 'main' });
    const final = await client.request<{ status: string; result: { payloads: { text: string }[] } }>(
      'agent',
      { message: 'from the reference CLI', agentId: 'main', sessionKey: 'agent:main:main', deliver: false, channel: 'whatsapp', timeout: 600, idempotencyKey: randomUUID() },
      { expectFinal: true },
    );
    expect(final).toMatchObject({ status: 'ok', result: { payloads: [{ text: DEFAULT_REPLY }] } });
    const runId = randomUUID();
    expect(await client.request('chat.send', { sessionKey: 'main', message: 'and from the UI path', idempotencyKey: runId })).toEqual({ runId, status: 'started' });
    await expect.poll(() => events.some((e) => e.event === 'chat' && (e.payload as { runId: string; state: string }).runId === runId && (e.payload as { state: string }).state === 'final')).toBe(true);
    const history = await client.request<{ messages: unknown[] }>('chat.history', { sessionKey: 'main' });
    expect(history.messages).toHaveLength(4);
    expect(gaps).toEqual([]);
    client.stop();
    // No device token was issued, so none was stored; nothing was logged as an error.
    expect(existsSync(join(stateDir, 'identity', 'device-auth.json'))).toBe(false);
    expect(logged.filter((line) => line.startsWith('error'))).toEqual([]);
  });

  it('connects in password mode (the password, no token in the signature)', async () => {
    setup = await startCore({
      edit: (file) => {
        file.gateway = { ...file.gateway, auth: { mode: 'password', password: 'reference pass' } };
      },
    });
    const { client } = await connect({ password: 'reference pass' });
    expect(await client.request('agents.list')).toMatchObject({ defaultId: 'main' });
    client.stop();
  });

  it('a wrong token: the reference client gets the error and the gateway closes', async () => {
    setup = await startCore();
    await expect(connect({ token: 'wrong' })).rejects.toThrow(/unauthorized: gateway token mismatch/u);
  });
});
