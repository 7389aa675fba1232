/**
 * Bearer auth under attack: near-miss secrets are refused, the comparison hashes both
 * sides (checked structurally, never by timing), failed attempts are rate-limited per
 * client address with bounded memory, and no response ever repeats a secret.
 */
import * as crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { createAuthLimiter, type AuthLimiter, type AuthLimiterOptions } from '../../src/domain/auth-limiter.js';
import { createBearerCheck } from '../../src/gateway/auth.js';
import { TEST_TOKEN, baseConfig, startGateway, type TestGateway } from '../helpers/gateway.js';
import { sendFrom } from '../helpers/hostile-http.js';
import { readCompletion, readError } from '../helpers/read.js';

// The real node:crypto, with timingSafeEqual observed (it still does the comparing).
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => actual.timingSafeEqual(a, b)) };
});

const BODY = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] });

type RateLimit = NonNullable<NonNullable<NonNullable<ConfigFile['gateway']>['auth']>['rateLimit']>;

const started: TestGateway[] = [];
async function start(options: { rateLimit?: RateLimit; password?: string } = {}): Promise<TestGateway> {
  const file = baseConfig();
  const auth = options.password === undefined ? { mode: 'token' as const, token: TEST_TOKEN } : { mode: 'password' as const, password: options.password };
  file.gateway = { ...file.gateway, auth: { ...auth, ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}) } };
  const gateway = await startGateway(file);
  started.push(gateway);
  return gateway;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((gateway) => gateway.close()));
});

/** A chat request with exactly this Authorization header (none when undefined), from `localAddress`. */
function chat(gateway: TestGateway, authorization: string | undefined, localAddress?: string): Promise<Response> {
  return sendFrom(`${gateway.url}/v1/chat/completions`, {
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: BODY,
    ...(localAddress ? { localAddress } : {}),
  });
}

async function expect401(res: Response): Promise<void> {
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
  const error = await readError(res, 401);
  expect(error.code).toBe('invalid_api_key');
  expect(error.type).toBe('invalid_request_error');
  expect(error.param).toBeNull();
}

async function expect429(res: Response, maxSeconds: number): Promise<void> {
  expect(res.status, `expected 429, got ${res.status}: ${await res.clone().text()}`).toBe(429);
  const retryAfter = res.headers.get('retry-after');
  expect(retryAfter).toMatch(/^\d+$/u);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(maxSeconds);
  const error = await readError(res, 429);
  expect(error.code).toBe('too_many_auth_failures');
  expect(error.type).toBe('invalid_request_error');
}

describe('near-miss secrets are a 401', () => {
  const sameLength = TEST_TOKEN.replace(/.$/u, (c) => (c === 'x' ? 'y' : 'x'));
  const wrong: [string, string | undefined][] = [
    ['no header', undefined],
    ['a wrong token of the same length', `Bearer ${sameLength}`],
    ['a shorter wrong token', 'Bearer nope'],
    ['a longer wrong token', `Bearer ${'z'.repeat(TEST_TOKEN.length * 3)}`],
    ['a prefix of the token', `Bearer ${TEST_TOKEN.slice(0, -1)}`],
    ['the token plus a char', `Bearer ${TEST_TOKEN}x`],
    ['the token in upper case', `Bearer ${TEST_TOKEN.toUpperCase()}`],
    ['the Basic scheme with the token as password', `Basic ${Buffer.from(`user:${TEST_TOKEN}`).toString('base64')}`],
    ['the Basic scheme with the raw token', `Basic ${TEST_TOKEN}`],
    ['the token without a scheme', TEST_TOKEN],
    ['the scheme alone', 'Bearer'],
    ['the token glued to the scheme', `Bearer${TEST_TOKEN}`],
    ['the token twice', `Bearer ${TEST_TOKEN} ${TEST_TOKEN}`],
    ['a 15 KB token', `Bearer ${'k'.repeat(15 * 1024)}`],
  ];
  it.each(wrong)('%s', async (_name, authorization) => {
    const gateway = await start({ rateLimit: { enabled: false } });
    await expect401(await chat(gateway, authorization));
  });

  it("the scheme is case-insensitive (RFC 7235): 'bearer <token>' and 'BEARER <token>' are accepted", async () => {
    const gateway = await start();
    await readCompletion(await chat(gateway, `bearer ${TEST_TOKEN}`));
    await readCompletion(await chat(gateway, `BEARER ${TEST_TOKEN}`));
    await readCompletion(await chat(gateway, `Bearer ${TEST_TOKEN}`));
  });

  it('password mode refuses near misses of the password the same way', async () => {
    const password = 'correct horse battery staple';
    const gateway = await start({ password, rateLimit: { enabled: false } });
    await readCompletion(await chat(gateway, `Bearer ${password}`));
    for (const authorization of [`Bearer ${password.slice(0, -1)}`, `Bearer ${password}!`, `Basic ${Buffer.from(`u:${password}`).toString('base64')}`, `Bearer ${TEST_TOKEN}`]) {
      await expect401(await chat(gateway, authorization));
    }
  });

  it('an Authorization header of 1 MB never reaches the check: 431 at the header limit', async () => {
    const gateway = await start();
    const res = await chat(gateway, `Bearer ${'m'.repeat(1024 * 1024)}`).catch((err: unknown) => err as Error);
    // Node may reset the connection before the 431 is read; either way it is not accepted.
    if (res instanceof Response) expect((await readError(res, 431)).code).toBe('headers_too_large');
    else expect(res).toBeInstanceOf(Error);
  });
});

describe('createBearerCheck compares digests, not the values', () => {
  const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);
  beforeEach(() => {
    timingSafeEqual.mockClear();
  });

  it('a 1 MB presented token does not throw and is rejected', () => {
    const check = createBearerCheck(TEST_TOKEN);
    expect(check(`Bearer ${'x'.repeat(1024 * 1024)}`)).toBe(false);
    expect(check(`Bearer ${TEST_TOKEN}${'x'.repeat(1024 * 1024)}`)).toBe(false);
  });

  it('every check, whatever the presented length (or none), compares two 32-byte SHA-256 digests exactly once', () => {
    const check = createBearerCheck(TEST_TOKEN);
    const presented = [undefined, '', 'Bearer', 'Bearer a', `Bearer ${TEST_TOKEN.slice(0, -1)}`, `Bearer ${TEST_TOKEN}`, `Bearer ${TEST_TOKEN}x`, `Basic ${TEST_TOKEN}`, `Bearer ${'y'.repeat(1024 * 1024)}`];
    for (const header of presented) {
      timingSafeEqual.mockClear();
      const accepted = check(header);
      expect(accepted).toBe(header === `Bearer ${TEST_TOKEN}`);
      expect(timingSafeEqual).toHaveBeenCalledTimes(1);
      const [a, b] = timingSafeEqual.mock.calls[0] as [Buffer, Buffer];
      expect(a.byteLength).toBe(32);
      expect(b.byteLength).toBe(32);
      // The expected side is the digest of the secret, not the secret.
      const secretDigest = crypto.createHash('sha256').update(TEST_TOKEN, 'utf8').digest();
      expect([Buffer.from(a.buffer, a.byteOffset, 32), Buffer.from(b.buffer, b.byteOffset, 32)].some((d) => d.equals(secretDigest))).toBe(true);
    }
  });

  it('the gateway goes through the same check for every request', async () => {
    const gateway = await start({ rateLimit: { enabled: false } });
    timingSafeEqual.mockClear();
    await expect401(await chat(gateway, `Bearer ${'q'.repeat(9000)}`));
    await expect401(await chat(gateway, undefined));
    await readCompletion(await chat(gateway, `Bearer ${TEST_TOKEN}`));
    expect(timingSafeEqual).toHaveBeenCalledTimes(3);
  });
});

describe('failed-auth rate limit over HTTP', () => {
  it('defaults: 20 failures from loopback, then the 21st request is a 429 even with the right token', async () => {
    const gateway = await start();
    expect(gateway.config.gateway.auth.rateLimit).toMatchObject({ enabled: true, maxFailures: 20, windowMs: 60_000, blockMs: 60_000, exemptLoopback: false });
    for (let i = 1; i <= 20; i += 1) await expect401(await chat(gateway, i % 2 === 0 ? 'Bearer wrong' : undefined));
    await expect429(await chat(gateway, `Bearer ${TEST_TOKEN}`), 60);
    await expect429(await chat(gateway, 'Bearer wrong'), 60);
    // Every authenticated route is refused; the health probe needs no auth and still answers.
    await expect429(await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } }), 60);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });

  it('the limit is per address: another loopback address is not blocked', async () => {
    const gateway = await start({ rateLimit: { maxFailures: 3 } });
    for (let i = 0; i < 3; i += 1) await expect401(await chat(gateway, 'Bearer wrong', '127.0.0.1'));
    await expect429(await chat(gateway, `Bearer ${TEST_TOKEN}`, '127.0.0.1'), 60);
    await readCompletion(await chat(gateway, `Bearer ${TEST_TOKEN}`, '127.0.0.2'));
  });

  it('a blocked address that keeps trying stays blocked while other addresses rotate through the table', async () => {
    const gateway = await start({ rateLimit: { maxFailures: 1, maxTracked: 2 } });
    await expect401(await chat(gateway, 'Bearer wrong', '127.0.0.1'));
    for (let i = 2; i <= 6; i += 1) {
      await expect401(await chat(gateway, 'Bearer wrong', `127.0.0.${i}`));
      await expect429(await chat(gateway, `Bearer ${TEST_TOKEN}`, '127.0.0.1'), 60);
    }
  });

  it('exemptLoopback: true never answers 429 to loopback', async () => {
    const gateway = await start({ rateLimit: { exemptLoopback: true } });
    for (let i = 0; i < 30; i += 1) await expect401(await chat(gateway, 'Bearer wrong'));
    await readCompletion(await chat(gateway, `Bearer ${TEST_TOKEN}`));
  });

  it('enabled: false never answers 429', async () => {
    const gateway = await start({ rateLimit: { enabled: false } });
    for (let i = 0; i < 30; i += 1) await expect401(await chat(gateway, 'Bearer wrong'));
    await readCompletion(await chat(gateway, `Bearer ${TEST_TOKEN}`));
  });
});

describe('createAuthLimiter (injected clock)', () => {
  const defaults = { maxFailures: 20, windowMs: 60_000, blockMs: 60_000, maxTracked: 10_000 };
  function limiter(options: Partial<AuthLimiterOptions> = {}): { limiter: AuthLimiter; clock: { now: number } } {
    const clock = { now: 1_000_000 };
    return { limiter: createAuthLimiter({ ...defaults, exempt: () => false, now: () => clock.now, ...options }), clock };
  }
  const fail = (l: AuthLimiter, address: string, times: number): void => {
    for (let i = 0; i < times; i += 1) l.failed(address);
  };

  it('blocks at maxFailures within the window, for blockMs, rounding Retry-After up', () => {
    const { limiter: l, clock } = limiter();
    fail(l, 'a', 19);
    expect(l.blockedFor('a')).toBe(0);
    l.failed('a');
    expect(l.blockedFor('a')).toBe(60);
    clock.now += 59_001;
    expect(l.blockedFor('a')).toBe(1);
    clock.now += 998;
    expect(l.blockedFor('a')).toBe(1);
    clock.now += 1;
    expect(l.blockedFor('a')).toBe(0);
  });

  it('failures in an expired window no longer count: a fresh window starts after windowMs', () => {
    const { limiter: l, clock } = limiter();
    fail(l, 'a', 19);
    clock.now += 60_000;
    l.failed('a');
    expect(l.blockedFor('a')).toBe(0);
    fail(l, 'a', 18);
    expect(l.blockedFor('a')).toBe(0);
    l.failed('a');
    expect(l.blockedFor('a')).toBe(60);
  });

  it('failures spread over just under the window still block', () => {
    const { limiter: l, clock } = limiter();
    fail(l, 'a', 19);
    clock.now += 59_999;
    l.failed('a');
    expect(l.blockedFor('a')).toBe(60);
  });

  it('after a block expires, it takes maxFailures new failures to block again', () => {
    const { limiter: l, clock } = limiter({ maxFailures: 3, blockMs: 1_500 });
    fail(l, 'a', 3);
    expect(l.blockedFor('a')).toBe(2);
    clock.now += 1_500;
    expect(l.blockedFor('a')).toBe(0);
    fail(l, 'a', 2);
    expect(l.blockedFor('a')).toBe(0);
    l.failed('a');
    expect(l.blockedFor('a')).toBe(2);
  });

  it('exempt addresses are never blocked nor remembered', () => {
    const { limiter: l } = limiter({ exempt: (address) => address === '127.0.0.1' });
    fail(l, '127.0.0.1', 100);
    expect(l.blockedFor('127.0.0.1')).toBe(0);
    expect(l.size).toBe(0);
  });

  it('memory is bounded: 10,000 distinct addresses with maxTracked 100 keep size ≤ 100', () => {
    const { limiter: l } = limiter({ maxTracked: 100 });
    for (let i = 0; i < 10_000; i += 1) {
      l.failed(`10.0.${i >> 8}.${i & 255}`);
      expect(l.size).toBeLessThanOrEqual(100);
    }
    expect(l.size).toBe(100);
  });

  it('the least recently failed addresses are forgotten first', () => {
    const { limiter: l } = limiter({ maxTracked: 100, maxFailures: 2 });
    for (let i = 0; i < 150; i += 1) l.failed(`a${i}`);
    // a50..a149 are remembered: a second failure blocks them.
    l.failed('a149');
    expect(l.blockedFor('a149')).toBe(60);
    l.failed('a50');
    expect(l.blockedFor('a50')).toBe(60);
    // a0..a49 were forgotten: a second failure is a first one again.
    l.failed('a49');
    expect(l.blockedFor('a49')).toBe(0);
    l.failed('a0');
    expect(l.blockedFor('a0')).toBe(0);
    expect(l.size).toBe(100);
  });

  it('a blocked address that keeps trying stays blocked while 10,000 others rotate (it is recently used)', () => {
    const { limiter: l } = limiter({ maxTracked: 100 });
    fail(l, 'attacker', 20);
    expect(l.blockedFor('attacker')).toBe(60);
    for (let i = 0; i < 10_000; i += 1) {
      l.failed(`rotating-${i}`);
      // The attacker's next attempt: refused while blocked.
      expect(l.blockedFor('attacker'), `after ${i + 1} other addresses`).toBe(60);
    }
    expect(l.size).toBeLessThanOrEqual(100);
  });
});

describe('secrets are never echoed', () => {
  /** Body, status text and every header value of a response, as one string. */
  async function everything(res: Response): Promise<string> {
    return [res.statusText, ...[...res.headers].map(([name, value]) => `${name}: ${value}`), await res.text()].join('\n');
  }
  const presented = ['Bearer presented-wrong-secret-4d2f', `Bearer ${TEST_TOKEN.slice(0, -2)}`, 'Basic dXNlcjpwcmVzZW50ZWQtYmFzaWM=', 'presented-raw-value-99'];

  it('401 and 429 bodies and headers contain neither the configured token nor the presented value', async () => {
    const gateway = await start({ rateLimit: { maxFailures: presented.length } });
    for (const authorization of presented) {
      const res = await chat(gateway, authorization);
      const seen = await everything(res.clone());
      await expect401(res);
      expect(seen).not.toContain(TEST_TOKEN);
      expect(seen).not.toContain(TEST_TOKEN.slice(0, -2));
      expect(seen).not.toContain(authorization.replace(/^\w+ /u, ''));
    }
    for (const authorization of [`Bearer ${TEST_TOKEN}`, ...presented]) {
      const res = await chat(gateway, authorization);
      const seen = await everything(res.clone());
      await expect429(res, 60);
      expect(seen).not.toContain(TEST_TOKEN);
      expect(seen).not.toContain(authorization.replace(/^\w+ /u, ''));
    }
    const logs = gateway.logs.join('\n');
    expect(logs).not.toContain(TEST_TOKEN.slice(0, -2));
    for (const authorization of presented) expect(logs).not.toContain(authorization.replace(/^\w+ /u, ''));
  });

  it('in password mode, the configured password is never echoed either', async () => {
    const password = 'pw-Zebra-7781-secret';
    const gateway = await start({ password, rateLimit: { maxFailures: 2 } });
    for (const authorization of [`Bearer ${password}x`, `Bearer ${password.slice(1)}`, `Bearer ${password}`]) {
      const res = await chat(gateway, authorization);
      const seen = await everything(res);
      expect([401, 429]).toContain(res.status);
      expect(seen).not.toContain(password.slice(1));
    }
    expect(gateway.logs.join('\n')).not.toContain(password.slice(1));
  });
});
