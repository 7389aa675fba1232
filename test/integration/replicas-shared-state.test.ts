/**
 * Two gateway replicas on one PostgreSQL (in-process): failed-auth counters are shared
 * (a brute force spread over both is blocked on both), and a lost database is answered
 * with 503 `store_unavailable` (OpenAI shape, `Retry-After`) and `/healthz` says
 * `degraded`, until the database is back and the gateway has reconnected by itself.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { baseConfig, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { DATABASE_URL, HAS_POSTGRES, dropSchemas, freshSchema } from '../helpers/postgres.js';
import { readCompletion, readError } from '../helpers/read.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const gateways: TestGateway[] = [];
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close();
});
afterAll(dropSchemas);

async function replica(file: ConfigFile, postgres: { url: string; schema: string }): Promise<TestGateway> {
  const gateway = await startGateway(file, { postgres });
  gateways.push(gateway);
  return gateway;
}

const body = { model: 'moltbot', user: 'rita', messages: [{ role: 'user', content: 'hello' }] };

describe.skipIf(!HAS_POSTGRES)('replicas on one PostgreSQL', () => {
  it('failures spread over two replicas block the address on both (429, also for the right secret)', async () => {
    const file: ConfigFile = { ...baseConfig(), gateway: { ...baseConfig().gateway, auth: { mode: 'token', token: 'test-token-3b7e1c9d', rateLimit: { maxFailures: 4, windowSeconds: 60, blockSeconds: 60 } } } };
    const postgres = { url: DATABASE_URL ?? '', schema: freshSchema('auth') };
    const [a, b] = [await replica(file, postgres), await replica(file, postgres)];
    const wrong = (gateway: TestGateway): Promise<Response> => postChat({ url: gateway.url, token: 'wrong-guess' }, body);
    // Two failures on each: none alone reaches 4.
    for (const gateway of [a, b, a]) expect((await readError(await wrong(gateway), 401)).code).toBe('invalid_api_key');
    expect((await readError(await wrong(b), 401)).code).toBe('invalid_api_key');
    // The address is now blocked for both: B counted the 4th failure, A learns it at its next failure.
    const blockedOnB = await postChat(b, body);
    expect(Number(blockedOnB.headers.get('retry-after'))).toBeGreaterThan(50);
    expect((await readError(blockedOnB, 429)).code).toBe('too_many_auth_failures');
    expect((await readError(await wrong(a), 429)).code).toBe('too_many_auth_failures');
    expect((await readError(await postChat(a, body), 429)).code).toBe('too_many_auth_failures');
  });

  it('database lost: 503 store_unavailable with Retry-After, /healthz degraded and /readyz 503; back: served again without a restart', async () => {
    const proxy = await startTcpProxy(Number(new URL(DATABASE_URL ?? '').port));
    try {
      const url = new URL(DATABASE_URL ?? '');
      url.port = String(proxy.port);
      const gateway = await replica(baseConfig(), { url: url.toString(), schema: freshSchema('down') });
      await readCompletion(await postChat(gateway, body));
      expect(await (await fetch(`${gateway.url}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${gateway.url}/readyz`)).json()).toEqual({ status: 'ready' });
      // The WAL gauge is SQLite's: a PostgreSQL gateway has none.
      const metrics = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${gateway.token}` } })).text();
      expect(metrics).toContain('moltbot_store_write_duration_seconds');
      expect(metrics).not.toContain('moltbot_store_wal_bytes');

      proxy.cut();
      const refused = await postChat(gateway, body);
      expect(refused.headers.get('retry-after')).toBe('2');
      expect(await readError(refused, 503)).toEqual({
        message: "The gateway's session store is unavailable, so this turn could not be run or recorded. Retry after the time in Retry-After.",
        type: 'server_error',
        param: null,
        code: 'store_unavailable',
      });
      const health = await fetch(`${gateway.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'degraded', store: 'unavailable' });
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.headers.get('retry-after')).toBe('2');
      expect(await readError(ready, 503)).toMatchObject({ type: 'server_error', code: 'store_unavailable' });
      // Nothing about the database reaches the log but where it is.
      expect(gateway.logs.join('\n')).not.toContain(url.password);

      proxy.restore();
      await expect.poll(async () => (await postChat(gateway, body)).status, { timeout: 15_000 }).toBe(200);
      await expect.poll(async () => (await (await fetch(`${gateway.url}/healthz`)).json()) as unknown, { timeout: 15_000 }).toEqual({ status: 'ok' });
      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
      const turns = await gateway.store.loadTurns('main', 'agent:main:openai-user:rita');
      expect(turns.filter((t) => t.status === 'ok').length).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });
});
