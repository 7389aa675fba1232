/**
 * `GET /metrics`: traffic of every kind (ok JSON and streamed, 401 missing and invalid,
 * 429 queue_full, an upstream 500 retried, a stream the client aborts, a blocked address)
 * moves each counter by exactly what it did, the text parses with an independent parser,
 * and no label carries a session key or a user. The endpoint needs the secret unless
 * `gateway.metrics.auth` is `none`, and is gone with `gateway.metrics.enabled: false`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { DEFAULT_USAGE, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { postChat, startGateway, TEST_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { moved, scrape } from '../helpers/metrics.js';
import { openStream } from '../helpers/open-stream.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';

const ROUTE = { route: '/v1/chat/completions', method: 'POST' };
const SECRET_USER = 'user-alice-7d1f';
const SECRET_KEY = 'session-key-b52c';

function config(baseUrl: string, extra: Partial<NonNullable<ConfigFile['gateway']>> = {}): ConfigFile {
  return {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } }, ...extra },
    session: { reset: { mode: 'never' } },
    models: { providers: { up: { api: 'openai-completions', baseUrl, maxRetries: 2 } } },
    // One run at a time and no queue, so a held turn makes the next one a 429.
    agents: { defaults: { maxConcurrent: 1, maxQueued: 0 }, list: [{ id: 'main', model: 'up/m' }] },
  };
}

const hi = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ model: 'moltbot', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('GET /metrics', () => {
  let upstream: FakeUpstream;
  let gateway: TestGateway;
  beforeAll(async () => {
    upstream = await startFakeUpstream({ kind: 'reply', deltas: ['Hello', ' there'] });
    gateway = await startGateway(config(upstream.baseUrl));
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('serves the fixed names, the process metrics and the SQLite WAL size', async () => {
    const first = await scrape(gateway);
    for (const name of [
      'moltbot_http_requests_total',
      'moltbot_http_request_duration_seconds',
      'moltbot_stream_first_byte_seconds',
      'moltbot_runs_active',
      'moltbot_runs_queued',
      'moltbot_runs_total',
      'moltbot_queue_rejections_total',
      'moltbot_tokens_total',
      'moltbot_upstream_requests_total',
      'moltbot_upstream_duration_seconds',
      'moltbot_upstream_retries_total',
      'moltbot_auth_failures_total',
      'moltbot_auth_blocked_total',
      'moltbot_store_write_duration_seconds',
      'moltbot_store_wal_bytes',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(first.families.has(name), name).toBe(true);
    }
    expect(first.value('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('a JSON turn and a streamed turn: requests, runs, tokens from real usage, upstream calls, first byte, store writes', async () => {
    const before = await scrape(gateway);
    await readCompletion(await postChat(gateway, hi({ user: SECRET_USER })));
    await readStream(await postChat(gateway, hi({ stream: true }), { 'x-moltbot-session-key': SECRET_KEY }));
    // The access line (and its count) is written as the server side of the response closes.
    await vi.waitFor(async () => expect(moved(before, await scrape(gateway), 'moltbot_http_requests_total', { ...ROUTE, status: '200' })).toBe(2));
    const after = await scrape(gateway);
    expect(moved(before, after, 'moltbot_http_request_duration_seconds', { route: ROUTE.route })).toBe(2);
    expect(moved(before, after, 'moltbot_stream_first_byte_seconds')).toBe(1);
    expect(moved(before, after, 'moltbot_runs_total', { agent: 'main', status: 'ok' })).toBe(2);
    expect(moved(before, after, 'moltbot_tokens_total', { agent: 'main', kind: 'prompt' })).toBe(2 * DEFAULT_USAGE.prompt_tokens);
    expect(moved(before, after, 'moltbot_tokens_total', { agent: 'main', kind: 'completion' })).toBe(2 * DEFAULT_USAGE.completion_tokens);
    expect(moved(before, after, 'moltbot_upstream_requests_total', { provider: 'up', status: '200' })).toBe(2);
    expect(moved(before, after, 'moltbot_upstream_duration_seconds', { provider: 'up' })).toBe(2);
    expect(moved(before, after, 'moltbot_store_write_duration_seconds', { op: 'finish' })).toBe(2);
    expect(moved(before, after, 'moltbot_store_write_duration_seconds', { op: 'begin' })).toBe(2);
    expect(after.value('moltbot_runs_active', { agent: 'main' })).toBe(0);
    expect(after.value('moltbot_runs_queued')).toBe(0);
    // Bounded labels: neither the user nor the session key (nor the key derived from the user) is anywhere.
    expect(after.text).not.toContain(SECRET_USER);
    expect(after.text).not.toContain(SECRET_KEY);
  });

  it('401 without a secret and with a wrong one, counted by reason; /metrics itself needs the secret', async () => {
    const before = await scrape(gateway);
    await readError(await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', body: '{}' }), 401);
    await readError(await postChat({ url: gateway.url, token: 'wrong-secret' }, hi()), 401);
    await readError(await fetch(`${gateway.url}/metrics`), 401);
    await vi.waitFor(async () => expect(moved(before, await scrape(gateway), 'moltbot_http_requests_total', { status: '401' })).toBe(3));
    const after = await scrape(gateway);
    expect(moved(before, after, 'moltbot_auth_failures_total', { reason: 'missing' })).toBe(2);
    expect(moved(before, after, 'moltbot_auth_failures_total', { reason: 'invalid' })).toBe(1);
    expect(moved(before, after, 'moltbot_http_requests_total', { route: '/metrics', method: 'GET', status: '401' })).toBe(1);
    expect(moved(before, after, 'moltbot_runs_total')).toBe(0);
    expect(after.text).not.toContain('wrong-secret');
  });

  it('an upstream 500 retried once: one 500 and one 200 attempt, one retry, one ok run', async () => {
    upstream.behaveOnce({ kind: 'status', status: 500, body: { error: { message: 'boom' } }, headers: { 'retry-after-ms': '1' } });
    const before = await scrape(gateway);
    await readCompletion(await postChat(gateway, hi()));
    await vi.waitFor(async () => expect(moved(before, await scrape(gateway), 'moltbot_http_requests_total', ROUTE)).toBe(1));
    const after = await scrape(gateway);
    expect(moved(before, after, 'moltbot_upstream_requests_total', { provider: 'up', status: '500' })).toBe(1);
    expect(moved(before, after, 'moltbot_upstream_requests_total', { provider: 'up', status: '200' })).toBe(1);
    expect(moved(before, after, 'moltbot_upstream_retries_total', { provider: 'up' })).toBe(1);
    expect(moved(before, after, 'moltbot_runs_total', { agent: 'main', status: 'ok' })).toBe(1);
  });

  it('a held run is active; the next turn is a 429 queue_full; the client aborting the stream records it aborted', async () => {
    upstream.behaveOnce({ kind: 'hold', deltas: ['held'] });
    const before = await scrape(gateway);
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(hi({ stream: true })),
      signal: controller.signal,
    });
    const stream = openStream(response);
    await stream.waitFor((raw) => raw.includes('held'));
    const during = await scrape(gateway);
    expect(during.value('moltbot_runs_active', { agent: 'main' })).toBe(1);
    expect(during.value('moltbot_runs_queued')).toBe(0);

    expect(await readError(await postChat(gateway, hi()), 429)).toMatchObject({ code: 'queue_full' });
    controller.abort();
    await stream.ended;
    await vi.waitFor(async () => expect(moved(before, await scrape(gateway), 'moltbot_runs_total', { agent: 'main', status: 'aborted' })).toBe(1));
    const after = await scrape(gateway);
    expect(moved(before, after, 'moltbot_queue_rejections_total')).toBe(1);
    expect(moved(before, after, 'moltbot_http_requests_total', { ...ROUTE, status: '429' })).toBe(1);
    expect(after.value('moltbot_runs_active', { agent: 'main' })).toBe(0);
    expect(after.value('moltbot_runs_queued')).toBe(0);
    upstream.release();
  });
});

describe('/metrics settings', () => {
  it("auth 'none': served without the secret, also to a blocked address, which is counted", async () => {
    const upstream = await startFakeUpstream();
    const gateway = await startGateway(
      config(upstream.baseUrl, {
        metrics: { auth: 'none' },
        auth: { mode: 'token', token: TEST_TOKEN, rateLimit: { maxFailures: 2, exemptLoopback: false } },
      }),
    );
    try {
      const before = await scrape(gateway, null);
      for (let i = 0; i < 2; i += 1) await readError(await postChat({ url: gateway.url, token: 'nope' }, hi()), 401);
      // Blocked now, even with the right secret.
      expect(await readError(await postChat(gateway, hi()), 429)).toMatchObject({ code: 'too_many_auth_failures' });
      await vi.waitFor(async () => expect(moved(before, await scrape(gateway, null), 'moltbot_http_requests_total', ROUTE)).toBe(3));
      const after = await scrape(gateway, null);
      expect(moved(before, after, 'moltbot_auth_failures_total', { reason: 'invalid' })).toBe(2);
      expect(moved(before, after, 'moltbot_auth_blocked_total')).toBe(1);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });

  it('enabled: false: /metrics answers 404 like any unknown route', async () => {
    const upstream = await startFakeUpstream();
    const gateway = await startGateway(config(upstream.baseUrl, { metrics: { enabled: false } }));
    try {
      expect(gateway.metrics).toBeUndefined();
      await readError(await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } }), 404);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});
