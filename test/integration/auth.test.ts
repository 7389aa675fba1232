/**
 * Bearer auth on POST /v1/chat/completions: which secret counts in which mode, where it
 * comes from (flag > config > env), the 401 shape, and that an unauthenticated request
 * never reaches an agent.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayFlags } from '../../src/config/load.js';
import type { ConfigFile } from '../../src/config/types.js';
import { postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';
import { startTwoAgentGateway, type TwoAgentSetup } from '../helpers/scenarios.js';

const HI = { model: 'moltbot', messages: [{ role: 'user', content: 'hi there' }] };

function fileWithAuth(auth: NonNullable<NonNullable<ConfigFile['gateway']>['auth']>): ConfigFile {
  return {
    gateway: { auth, http: { endpoints: { chatCompletions: { enabled: true } } } },
    agents: { list: [{ id: 'main' }] },
  };
}

/** POSTs HI with a raw Authorization header (or none). */
function postWithAuthorization(gateway: TestGateway, authorization: string | undefined, body: unknown = HI): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function expectAccepted(gateway: TestGateway, secret: string): Promise<void> {
  const body = await readCompletion(await postWithAuthorization(gateway, `Bearer ${secret}`));
  expect(body.choices[0]?.message.content).toBe('hi there');
}

async function expectRejected(gateway: TestGateway, authorization: string | undefined, secrets: string[]): Promise<void> {
  const res = await postWithAuthorization(gateway, authorization);
  const raw = await res.clone().text();
  const error = await readError(res, 401);
  expect(error.code).toBe('invalid_api_key');
  expect(error.type).toBe('invalid_request_error');
  expect(error.param).toBeNull();
  for (const secret of secrets) expect(raw).not.toContain(secret);
}

describe('auth sources and modes', () => {
  const gateways: TestGateway[] = [];
  async function start(file: ConfigFile, options: { flags?: GatewayFlags; env?: Record<string, string> } = {}): Promise<TestGateway> {
    const gateway = await startGateway(file, options);
    gateways.push(gateway);
    return gateway;
  }
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
  });

  it('token mode accepts the config token and answers 401 to anything else, without echoing a secret', async () => {
    const token = 'cfg-token-7f3a9c';
    const password = 'cfg-password-51be';
    const gateway = await start(fileWithAuth({ mode: 'token', token, password }));
    await expectAccepted(gateway, token);
    await expectRejected(gateway, undefined, [token, password]);
    await expectRejected(gateway, `Basic ${token}`, [token, password]);
    await expectRejected(gateway, `Token ${token}`, [token, password]);
    await expectRejected(gateway, token, [token, password]);
    await expectRejected(gateway, 'Bearer wrong-token', [token, password, 'wrong-token']);
    await expectRejected(gateway, `Bearer ${token.slice(0, -1)}`, [token, password]);
    await expectRejected(gateway, `Bearer ${token}x`, [token, password]);
    await expectRejected(gateway, 'Bearer ', [token, password]);
    // The password is not a secret of token mode.
    await expectRejected(gateway, `Bearer ${password}`, [token, password]);
  });

  it('token mode takes the token from CLAWDBOT_GATEWAY_TOKEN', async () => {
    const gateway = await start(fileWithAuth({ mode: 'token' }), { env: { CLAWDBOT_GATEWAY_TOKEN: 'env-token-clawd' } });
    await expectAccepted(gateway, 'env-token-clawd');
    await expectRejected(gateway, 'Bearer env-token-claw', ['env-token-clawd']);
  });

  it('token mode takes the token from the MOLTBOT_GATEWAY_TOKEN alias', async () => {
    const gateway = await start(fileWithAuth({ mode: 'token' }), { env: { MOLTBOT_GATEWAY_TOKEN: 'env-token-molt' } });
    await expectAccepted(gateway, 'env-token-molt');
    await expectRejected(gateway, 'Bearer other', ['env-token-molt']);
  });

  it('password mode accepts gateway.auth.password and rejects the token', async () => {
    const gateway = await start(fileWithAuth({ mode: 'password', password: 'pw-from-config', token: 'tok-ignored' }));
    await expectAccepted(gateway, 'pw-from-config');
    await expectRejected(gateway, 'Bearer tok-ignored', ['pw-from-config', 'tok-ignored']);
    await expectRejected(gateway, undefined, ['pw-from-config']);
  });

  it('password mode takes the password from CLAWDBOT_GATEWAY_PASSWORD', async () => {
    const gateway = await start(fileWithAuth({ mode: 'password' }), { env: { CLAWDBOT_GATEWAY_PASSWORD: 'pw-from-env' } });
    await expectAccepted(gateway, 'pw-from-env');
    await expectRejected(gateway, 'Bearer pw-from-en', ['pw-from-env']);
  });

  it('defaults to password mode when only a password is set', async () => {
    const gateway = await start(fileWithAuth({ password: 'only-a-password' }));
    expect(gateway.config.gateway.auth.mode).toBe('password');
    await expectAccepted(gateway, 'only-a-password');
    await expectRejected(gateway, 'Bearer nope', ['only-a-password']);
  });

  it('a CLI token flag wins over the config token, which wins over the env token', async () => {
    const env = { CLAWDBOT_GATEWAY_TOKEN: 'tok-env' };
    const flagged = await start(fileWithAuth({ mode: 'token', token: 'tok-file' }), { flags: { token: 'tok-flag' }, env });
    await expectAccepted(flagged, 'tok-flag');
    await expectRejected(flagged, 'Bearer tok-file', ['tok-flag', 'tok-file']);
    await expectRejected(flagged, 'Bearer tok-env', ['tok-flag', 'tok-env']);

    const filed = await start(fileWithAuth({ mode: 'token', token: 'tok-file' }), { env });
    await expectAccepted(filed, 'tok-file');
    await expectRejected(filed, 'Bearer tok-env', ['tok-file', 'tok-env']);
  });

  it('a CLI password flag wins over the config password, which wins over the env password', async () => {
    const env = { CLAWDBOT_GATEWAY_PASSWORD: 'pw-env' };
    const flagged = await start(fileWithAuth({ mode: 'password', password: 'pw-file' }), { flags: { password: 'pw-flag' }, env });
    await expectAccepted(flagged, 'pw-flag');
    await expectRejected(flagged, 'Bearer pw-file', ['pw-flag', 'pw-file']);

    const filed = await start(fileWithAuth({ mode: 'password', password: 'pw-file' }), { env });
    await expectAccepted(filed, 'pw-file');
    await expectRejected(filed, 'Bearer pw-env', ['pw-file', 'pw-env']);
  });

  it('a CLI --auth flag wins over the configured mode', async () => {
    const gateway = await start(fileWithAuth({ mode: 'token', token: 'tok-file', password: 'pw-file' }), { flags: { auth: 'password' } });
    await expectAccepted(gateway, 'pw-file');
    await expectRejected(gateway, 'Bearer tok-file', ['pw-file', 'tok-file']);
  });

  it('accepts a configured password that contains spaces', async () => {
    // Any string is a valid gateway.auth.password; the gateway must accept the one it was given.
    const gateway = await start(fileWithAuth({ mode: 'password', password: 'correct horse battery staple' }));
    await expectAccepted(gateway, 'correct horse battery staple');
  });
});

describe('an unauthenticated request never reaches an agent', () => {
  let setup: TwoAgentSetup;
  beforeEach(async () => {
    setup = await startTwoAgentGateway();
  });
  afterEach(() => setup.close());

  it('answers 401 before routing, validation or the model, and stores nothing', async () => {
    const { gateway, upstream } = setup;
    const toBeta = { model: 'moltbot:beta', messages: [{ role: 'user', content: 'secret plans' }], user: 'mallory' };
    const attempts: { authorization: string | undefined; body: unknown; headers?: Record<string, string> }[] = [
      { authorization: undefined, body: toBeta },
      { authorization: 'Bearer wrong', body: toBeta },
      { authorization: undefined, body: { ...toBeta, stream: true } },
      // Invalid body (schema violation), invalid JSON and an unknown agent: still 401, not 400/404.
      { authorization: undefined, body: { model: 'moltbot:beta', messages: [{ role: 'wizard', content: 'x' }] } },
      { authorization: undefined, body: '{"model": "moltbot:beta", "messages": [' },
      { authorization: 'Bearer wrong', body: { model: 'moltbot:nobody', messages: [{ role: 'user', content: 'x' }] } },
      { authorization: undefined, body: toBeta, headers: { 'x-moltbot-agent-id': 'nobody' } },
      { authorization: undefined, body: toBeta, headers: { 'x-moltbot-agent-id': 'beta', 'x-moltbot-session-key': 'agent:beta:probe' } },
    ];
    for (const attempt of attempts) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...attempt.headers };
      if (attempt.authorization !== undefined) headers.authorization = attempt.authorization;
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: typeof attempt.body === 'string' ? attempt.body : JSON.stringify(attempt.body),
      });
      expect(res.headers.get('x-moltbot-session-key')).toBeNull();
      const error = await readError(res, 401);
      expect(error.code).toBe('invalid_api_key');
    }
    expect(upstream.requests).toHaveLength(0);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:openai-user:mallory')).toEqual([]);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:probe')).toEqual([]);

    // Control: the same request with the token does reach beta's model and is stored.
    const ok = await readCompletion(await postChat(gateway, toBeta));
    expect(ok.choices[0]?.message.content).toBe('Hello from upstream');
    expect(upstream.requests).toHaveLength(1);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:openai-user:mallory')).toHaveLength(1);
  });

  it('an invalid request with a valid token is refused before the model', async () => {
    const { gateway, upstream } = setup;
    const invalid: unknown[] = [
      { model: 'moltbot:beta', messages: [{ role: 'wizard', content: 'x' }] },
      { model: 'moltbot:beta', messages: [] },
      { model: 'moltbot:beta', messages: [{ role: 'user' }] },
      { model: 'moltbot:beta', messages: [{ role: 'user', content: 'x' }], stream: 'yes' },
      { model: 'moltbot:beta', messages: [{ role: 'tool', content: 'x' }] },
      { model: 'moltbot:beta', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] },
      { model: 'moltbot:beta', messages: [{ role: 'user', content: 'x' }], user: 7 },
    ];
    for (const body of invalid) {
      const error = await readError(await postChat(gateway, body, { 'x-moltbot-session-key': 'agent:beta:invalid' }), 400);
      expect(error.type).toBe('invalid_request_error');
      expect(error.param).not.toBeNull();
    }
    expect(upstream.requests).toHaveLength(0);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:invalid')).toEqual([]);
  });

  it('streams to an authenticated client only', async () => {
    const { gateway, upstream } = setup;
    await readError(await postWithAuthorization(gateway, undefined, { model: 'agent:beta', stream: true, messages: [{ role: 'user', content: 'x' }] }), 401);
    expect(upstream.requests).toHaveLength(0);
    const stream = await readStream(await postChat(gateway, { model: 'agent:beta', stream: true, messages: [{ role: 'user', content: 'x' }] }));
    expect(stream.chunks.length).toBeGreaterThan(0);
    expect(upstream.requests).toHaveLength(1);
  });
});
