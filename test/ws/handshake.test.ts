/**
 * Points 1 and 2 of the protocol: the same port and the same auth as HTTP (challenge
 * first, `connect` with the token or password compared like the bearer, failures in the
 * same limiter, the device signature verified as the reference does), and hello-ok in
 * the shape the clients expect.
 */
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { wsMethodNames } from '../../generated/ws/methods.js';
import { validateHelloOk } from '../../generated/ws/methods.js';
import type { ConfigFile } from '../../src/config/types.js';
import { createDeviceIdentity, publicKeyRawBase64Url, signDevice } from '../../src/client/device-identity.js';
import { GatewayRequestError } from '../../src/client/gateway-client.js';
import { TEST_TOKEN, baseConfig, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CLI_SCOPES, TEST_DEVICE, openClient, openRaw } from '../helpers/ws.js';

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const start = async (edit: (file: ConfigFile) => void = () => undefined): Promise<TestGateway> => {
  const file = baseConfig();
  edit(file);
  gateway = await startGateway(file);
  return gateway;
};

const connectFrame = (params: Record<string, unknown>) => ({
  type: 'req',
  id: 'connect-1',
  method: 'connect',
  params: { minProtocol: 3, maxProtocol: 3, client: { id: 'cli', version: 'dev', platform: 'linux', mode: 'cli' }, caps: [], role: 'operator', scopes: CLI_SCOPES, ...params },
});

/** Sends `connect` after the challenge and returns the challenge, the response and how the socket closed (if it did). */
async function attempt(g: TestGateway, params: (nonce: string) => Record<string, unknown>) {
  const raw = await openRaw(g.wsUrl);
  const challenge = await raw.frame();
  const nonce = (challenge.payload as { nonce: string }).nonce;
  raw.send(connectFrame(params(nonce)));
  const response = await raw.frame((f) => f.type === 'res');
  return { raw, challenge, response };
}

const device = (nonce: string | undefined, overrides: { token?: string; scopes?: string[]; signedAtMs?: number } = {}) =>
  signDevice(TEST_DEVICE, { clientId: 'cli', clientMode: 'cli', role: 'operator', scopes: overrides.scopes ?? CLI_SCOPES, token: overrides.token ?? TEST_TOKEN, nonce, signedAtMs: overrides.signedAtMs ?? Date.now() });

describe('same port, same auth', () => {
  it('upgrades on the HTTP port, sends connect.challenge first, and HTTP keeps working beside it', async () => {
    const g = await start();
    const raw = await openRaw(g.wsUrl);
    const first = await raw.frame();
    expect(first).toEqual({ type: 'event', event: 'connect.challenge', payload: { nonce: expect.stringMatching(/^[0-9a-f-]{36}$/u), ts: expect.any(Number) } });
    expect(Math.abs((first.payload as { ts: number }).ts - Date.now())).toBeLessThan(5000);
    const res = await postChat(g, { model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    raw.ws.close();
  });

  it('serves WS while the chat endpoint is disabled (its switch is HTTP only)', async () => {
    const g = await start((file) => {
      file.gateway = { ...file.gateway, http: { endpoints: { chatCompletions: { enabled: false } } } };
    });
    expect((await postChat(g, { model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(404);
    const c = await openClient(g);
    const reply = await c.client.request<{ status: string }>('agent', { message: 'hello', idempotencyKey: 'disabled-http' }, { expectFinal: true });
    expect(reply.status).toBe('ok');
    c.close();
  });

  it('accepts the token with a signed device block (as the reference CLI connects) and without one', async () => {
    const g = await start();
    const withDevice = await openClient(g);
    expect(withDevice.client.hello?.type).toBe('hello-ok');
    const withoutDevice = await openClient(g, { device: false });
    expect(withoutDevice.client.hello?.type).toBe('hello-ok');
    withDevice.close();
    withoutDevice.close();
  });

  it('password mode: the password in auth.password works with and without a device block; the token field is not the password', async () => {
    const g = await start((file) => {
      file.gateway = { ...file.gateway, auth: { mode: 'password', password: 'pass word 42' } };
    });
    const both = [await openClient(g, { token: undefined, password: 'pass word 42' }), await openClient(g, { token: undefined, password: 'pass word 42', device: false })];
    for (const c of both) expect(c.client.hello?.protocol).toBe(3);
    const { response, raw } = await attempt(g, () => ({ auth: { token: 'pass word 42' } }));
    expect(response).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('unauthorized: gateway password missing') } });
    expect((await raw.closed).code).toBe(1008);
    for (const c of both) c.close();
  });

  it('a wrong or missing token: an error response, then close 1008, and the agent never runs', async () => {
    const g = await start();
    for (const auth of [{ token: 'wrong' }, {}, undefined]) {
      const { response, raw } = await attempt(g, () => (auth === undefined ? {} : { auth }));
      expect(response).toMatchObject({ type: 'res', id: 'connect-1', ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringMatching(/^unauthorized: gateway token (mismatch|missing)/u) } });
      expect(JSON.stringify(response)).not.toContain(TEST_TOKEN);
      const closed = await raw.closed;
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/^unauthorized/u);
    }
    expect(await g.store.listSessions()).toEqual([]);
  });

  it('failed attempts count in the limiter HTTP uses: WS failures block HTTP, and HTTP failures block WS', async () => {
    const g = await start((file) => {
      file.gateway = { ...file.gateway, auth: { mode: 'token', token: TEST_TOKEN, rateLimit: { maxFailures: 3, exemptLoopback: false } } };
    });
    for (let i = 0; i < 2; i += 1) await attempt(g, () => ({ auth: { token: `wrong-${i}` } }));
    const http = await postChat({ url: g.url, token: 'wrong-http' }, { model: 'moltbot', messages: [{ role: 'user', content: 'x' }] });
    expect(http.status).toBe(401);
    // The third failure (HTTP's) blocked the address: the right token is refused on both transports.
    expect((await postChat(g, { model: 'moltbot', messages: [{ role: 'user', content: 'x' }] })).status).toBe(429);
    const { response, raw } = await attempt(g, () => ({ auth: { token: TEST_TOKEN } }));
    expect(response).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('too many failed authentication attempts'), retryable: true, retryAfterMs: expect.any(Number) } });
    expect((await raw.closed).code).toBe(1008);
  });

  it('verifies the device block: identity, signature, nonce and clock skew, as the reference does', async () => {
    const g = await start();
    const other = createDeviceIdentity();
    const cases: [string, (nonce: string) => Record<string, unknown>, string][] = [
      ['a signature over another token', (n) => ({ auth: { token: TEST_TOKEN }, device: device(n, { token: 'other' }) }), 'device signature invalid'],
      ['a signature over other scopes', (n) => ({ auth: { token: TEST_TOKEN }, device: device(n, { scopes: ['operator.read'] }) }), 'device signature invalid'],
      ['another connection\'s nonce', () => ({ auth: { token: TEST_TOKEN }, device: device('2f1e8c1a-0000-4000-8000-000000000000') }), 'device nonce mismatch'],
      ['signed 11 minutes ago', (n) => ({ auth: { token: TEST_TOKEN }, device: device(n, { signedAtMs: Date.now() - 11 * 60_000 }) }), 'device signature expired'],
      ['signed 11 minutes ahead', (n) => ({ auth: { token: TEST_TOKEN }, device: device(n, { signedAtMs: Date.now() + 11 * 60_000 }) }), 'device signature expired'],
      ['an id that is not the key\'s', (n) => ({ auth: { token: TEST_TOKEN }, device: { ...device(n), id: other.deviceId } }), 'device identity mismatch'],
      ['another key than the signer\'s', (n) => ({ auth: { token: TEST_TOKEN }, device: { ...device(n), id: other.deviceId, publicKey: publicKeyRawBase64Url(other.publicKeyPem) } }), 'device signature invalid'],
      ['a key that is not Ed25519', (n) => ({ auth: { token: TEST_TOKEN }, device: { ...device(n), publicKey: 'AAAA' } }), 'device public key invalid'],
    ];
    for (const [name, params, message] of cases) {
      const { response, raw } = await attempt(g, params);
      expect(response, name).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message } });
      expect((await raw.closed).code, name).toBe(1008);
    }
    // Skew within 10 minutes passes.
    const { response } = await attempt(g, (n) => ({ auth: { token: TEST_TOKEN }, device: device(n, { signedAtMs: Date.now() - 9 * 60_000 }) }));
    expect(response.ok).toBe(true);
  });

  it('the reference test vector verifies (v2 payload, base64url raw key, sha256 device id)', async () => {
    const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const payload = 'v2|65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8|cli|cli|operator|operator.admin,operator.approvals,operator.pairing|1737264000000|secret-token|2f1e8c1a-0000-4000-8000-000000000000';
    expect(sign(null, Buffer.from(payload), key).toString('base64url')).toBe('z2xw3tWeHja1mpT9MFhTuUF8L_uGEt4bp0_nlFFlxUC8FtQfFWhJY1axzWFGgG_6LPJeOj_u2Eq56CXlucj6Bg');
    expect(createHash('sha256').update(Buffer.from('ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ', 'base64url')).digest('hex')).toBe('65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8');
    const { deviceProblem } = await import('../../src/gateway/ws/device-auth.js');
    const block = { id: '65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8', publicKey: 'ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ', signature: 'z2xw3tWeHja1mpT9MFhTuUF8L_uGEt4bp0_nlFFlxUC8FtQfFWhJY1axzWFGgG_6LPJeOj_u2Eq56CXlucj6Bg', signedAt: 1737264000000, nonce: '2f1e8c1a-0000-4000-8000-000000000000' };
    const fields = { clientId: 'cli', clientMode: 'cli', role: 'operator', scopes: CLI_SCOPES, token: 'secret-token' };
    expect(deviceProblem(block, fields, block.nonce, false, 1737264000000)).toBeUndefined();
    expect(deviceProblem(block, { ...fields, token: 'other' }, block.nonce, false, 1737264000000)).toBe('device signature invalid');
  });

  it('the first frame must be connect; a request in its place gets an error and close 1008; garbage closes 1008', async () => {
    const g = await start();
    const raw = await openRaw(g.wsUrl);
    await raw.frame();
    raw.send({ type: 'req', id: 'h1', method: 'health' });
    expect(await raw.frame((f) => f.type === 'res')).toMatchObject({ id: 'h1', ok: false, error: { code: 'INVALID_REQUEST', message: 'invalid handshake: first request must be connect' } });
    expect((await raw.closed).code).toBe(1008);
    const garbage = await openRaw(g.wsUrl);
    garbage.send('not json {');
    expect((await garbage.closed).code).toBe(1008);
  });

  it('closes a connection that sends no connect within the handshake timeout', async () => {
    const g = await start((file) => {
      file.gateway = { ...file.gateway, ws: { handshakeTimeoutSeconds: 0.3 } };
    });
    const raw = await openRaw(g.wsUrl);
    const opened = performance.now();
    const closed = await raw.closed;
    expect(closed).toEqual({ code: 1008, reason: 'handshake timeout' });
    expect(performance.now() - opened).toBeGreaterThanOrEqual(250);
  });

  it('protocol range without 3: INVALID_REQUEST with the expected protocol, close 1002; bad params name the field', async () => {
    const g = await start();
    const { response, raw } = await attempt(g, () => ({ minProtocol: 4, maxProtocol: 5, auth: { token: TEST_TOKEN } }));
    expect(response).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: 'protocol mismatch', details: { expectedProtocol: 3 } } });
    expect((await raw.closed).code).toBe(1002);
    const bad = await attempt(g, () => ({ auth: { token: TEST_TOKEN }, client: { id: 'ios-node', version: '1', platform: 'x', mode: 'cli' } }));
    expect(bad.response).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringMatching(/^invalid connect params: at \/client\/id/u) } });
    const node = await attempt(g, () => ({ auth: { token: TEST_TOKEN }, role: 'node' }));
    expect(node.response).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('role node is not supported') } });
  });
});

describe('hello-ok', () => {
  it('has the shape the clients expect, lists exactly the implemented methods, and carries no device token', async () => {
    const g = await start();
    const c = await openClient(g);
    const hello = c.client.hello;
    expect(validateHelloOk(hello), JSON.stringify(validateHelloOk.errors)).toBe(true);
    expect(hello).toMatchObject({
      type: 'hello-ok',
      protocol: 3,
      server: { version: expect.any(String), connId: expect.any(String) },
      features: { methods: expect.any(Array), events: expect.any(Array) },
      snapshot: { presence: expect.any(Array), health: expect.any(Object), stateVersion: { presence: expect.any(Number), health: expect.any(Number) }, uptimeMs: expect.any(Number) },
      policy: { maxPayload: 512 * 1024, maxBufferedBytes: 1536 * 1024, tickIntervalMs: 30_000 },
    });
    expect([...(hello?.features.methods ?? [])].sort()).toEqual([...wsMethodNames].sort());
    expect(hello?.features.methods).toHaveLength(14);
    expect([...(hello?.features.events ?? [])].sort()).toEqual(['agent', 'chat', 'connect.challenge', 'shutdown', 'tick']);
    expect(hello).not.toHaveProperty('auth');
    expect(hello?.snapshot.sessionDefaults).toEqual({ defaultAgentId: 'main', mainKey: 'main', mainSessionKey: 'agent:main:main', scope: 'per-sender' });
    // Every method it lists answers (none is an unknown method).
    for (const method of hello?.features.methods ?? []) {
      const outcome = await c.client.request(method, {}).catch((err: GatewayRequestError) => err.error);
      expect(JSON.stringify(outcome), method).not.toContain('unknown method');
    }
    expect(c.invalid).toEqual([]);
    c.close();
  });
});
