/**
 * Canary for the proxy harness: Prism's `--errors` proxy in front of an upstream whose
 * answers break the spec must turn them into 500 problem+json. If this stops holding,
 * prism-proxy.test.ts would pass vacuously.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startPrismProxy, type PrismServer } from '../helpers/prism.js';

let upstream: FakeUpstream;
let prism: PrismServer;
beforeAll(async () => {
  // A plain OpenAI-style upstream: its completion lacks `logprobs` and `refusal`, which our spec requires.
  upstream = await startFakeUpstream();
  prism = await startPrismProxy(new URL(upstream.baseUrl).origin);
});
afterAll(async () => {
  await prism?.close();
  await upstream?.close();
});

describe('prism proxy --errors canary', () => {
  it('turns a response that breaks the spec into a 500 problem+json', async () => {
    const res = await fetch(`${prism.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/u);
    expect(upstream.requests).toHaveLength(1);
    expect(text).toMatch(/logprobs|refusal/u);
  });
});
