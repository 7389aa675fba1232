/**
 * Retries follow the official SDK's rules, including its caps: an upstream's
 * `retry-after` is obeyed only up to 60 s, the waits of one turn add up to 60 s at most
 * and never reach past the run's deadline, and a 429 that asks for longer is passed on at
 * once (502 `upstream_error` with its `Retry-After`) instead of being waited out once per
 * retry. Both adapters: the OpenAI-compatible one and Anthropic's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { postChat, startGateway, TEST_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { contentEvent, finishEvent, sseEvent, startScriptedUpstream, startSse, type ScriptedUpstream } from '../helpers/hostile-upstream.js';
import { within } from '../helpers/process-gateway.js';
import { readCompletion, readError } from '../helpers/read.js';

let upstream: ScriptedUpstream;
let anthropic: FakeAnthropic;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = await startScriptedUpstream();
  anthropic = await startFakeAnthropic();
  const file: ConfigFile = {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: {
      providers: {
        up: { api: 'openai-completions', baseUrl: upstream.baseUrl, maxRetries: 2 },
        claude: { api: 'anthropic-messages', baseUrl: anthropic.baseUrl, apiKey: 'sk-ant-retry', maxRetries: 2 },
      },
    },
    agents: {
      list: [
        { id: 'main', model: 'up/m' },
        { id: 'short', model: 'up/m', timeoutSeconds: 2 },
        { id: 'claude', model: 'claude/claude-test' },
        { id: 'claudeshort', model: 'claude/claude-test', timeoutSeconds: 2 },
      ],
    },
  };
  gateway = await startGateway(file);
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([upstream.close(), anthropic.close()]);
});

/** The scripted upstream answers every request with `status` and `headers` (an OpenAI error body). */
function failWith(status: number, headers: Record<string, string>): void {
  upstream.respond(({ res }) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } }));
  });
}

async function timed(agent: string): Promise<{ res: Response; ms: number }> {
  const started = performance.now();
  const res = await within(postChat(gateway, { model: `moltbot:${agent}`, messages: [{ role: 'user', content: 'hi' }] }), 20_000, `the answer of ${agent}`);
  return { res, ms: performance.now() - started };
}

describe('OpenAI-compatible upstream', () => {
  it('a 429 asking for 120 s is passed on at once: one request, 502 with Retry-After: 120', async () => {
    failWith(429, { 'retry-after': '120' });
    const before = upstream.requests;
    const { res, ms } = await timed('main');
    expect(res.headers.get('retry-after')).toBe('120');
    const error = await readError(res, 502);
    expect(error).toMatchObject({ type: 'upstream_error', code: 'upstream_error' });
    expect(error.message).toContain('answered 429');
    expect(upstream.requests - before).toBe(1);
    console.log(`[retry-caps] 429 retry-after 120: answered in ${ms.toFixed(0)} ms after ${upstream.requests - before} request`);
    expect(ms).toBeLessThan(5000);
  });

  it('a 503 asking for 120 s gets the backoff instead (0.5 s, 1 s), then the 502 carries Retry-After: 120', async () => {
    failWith(503, { 'retry-after': '120' });
    const before = upstream.requests;
    const { res, ms } = await timed('main');
    expect(res.headers.get('retry-after')).toBe('120');
    await readError(res, 502);
    expect(upstream.requests - before).toBe(3);
    // Two backoffs: 0.375-0.5 s and 0.75-1 s.
    expect(ms).toBeGreaterThanOrEqual(1100);
    expect(ms).toBeLessThan(10_000);
  });

  it('a wait that would end past the run deadline is not taken: 429s asking 1.5 s with timeoutSeconds 2 → one retry, then 502 (not 504)', async () => {
    failWith(429, { 'retry-after-ms': '1500' });
    const before = upstream.requests;
    const { res, ms } = await timed('short');
    expect(res.headers.get('retry-after')).toBe('2');
    const error = await readError(res, 502);
    expect(error.code).toBe('upstream_error');
    expect(upstream.requests - before).toBe(2);
    console.log(`[retry-caps] 429 retry-after-ms 1500, run timeout 2 s: ${res.status} in ${ms.toFixed(0)} ms after ${upstream.requests - before} requests`);
  });

  it('a wait within the caps is still taken, and the retry succeeds', async () => {
    let calls = 0;
    upstream.respond(({ res }) => {
      calls += 1;
      if (calls === 1) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '200' });
        res.end(JSON.stringify({ error: { message: 'slow down', type: 'requests', param: null, code: null } }));
        return;
      }
      startSse(res, contentEvent(null), contentEvent('after the wait'), finishEvent());
      res.end(sseEvent('[DONE]'));
    });
    const { res, ms } = await timed('main');
    expect((await readCompletion(res)).choices[0]?.message.content).toBe('after the wait');
    expect(calls).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(190);
  });
});

describe('Anthropic upstream (the gateway retries, not the SDK)', () => {
  const rateLimited = (headers: Record<string, string>) => ({ kind: 'status' as const, status: 429, errorType: 'rate_limit_error', message: 'Rate limited', headers });

  it('a 429 asking for 120 s is passed on at once: one request, 502 with Retry-After: 120', async () => {
    anthropic.behave(rateLimited({ 'retry-after': '120' }));
    const before = anthropic.requests.length;
    const { res, ms } = await timed('claude');
    expect(res.headers.get('retry-after')).toBe('120');
    expect((await readError(res, 502)).message).toContain('answered 429');
    expect(anthropic.requests.length - before).toBe(1);
    console.log(`[retry-caps] Anthropic 429 retry-after 120: answered in ${ms.toFixed(0)} ms after ${anthropic.requests.length - before} request`);
    expect(ms).toBeLessThan(5000);
  });

  it('a wait that would end past the run deadline is not taken (timeoutSeconds 2, 429s asking 1.5 s): two requests, 502', async () => {
    anthropic.behave(rateLimited({ 'retry-after-ms': '1500' }));
    const before = anthropic.requests.length;
    const { res } = await timed('claudeshort');
    expect(res.headers.get('retry-after')).toBe('2');
    expect((await readError(res, 502)).code).toBe('upstream_error');
    expect(anthropic.requests.length - before).toBe(2);
  });

  it('maxRetries still counts: 429s asking 0 s → three requests, then 502', async () => {
    anthropic.behave(rateLimited({ 'retry-after': '0' }));
    const before = anthropic.requests.length;
    const { res } = await timed('claude');
    expect(res.headers.get('retry-after')).toBe('0');
    await readError(res, 502);
    expect(anthropic.requests.length - before).toBe(3);
  });
});
