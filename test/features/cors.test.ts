/**
 * CORS: off unless `gateway.http.cors.origins` lists origins; preflights for the headers
 * OpenAI's browser SDKs send are answered without auth; only listed origins get CORS
 * headers; the actual response exposes the request id and session key; `*` works.
 * Requests go through node:http so `Origin` and the preflight headers are sent as given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import { httpCall, type RawAnswer } from '../helpers/http-raw.js';
import { readCompletion, readError } from '../helpers/read.js';
import { jsonHeaders } from '../helpers/scenarios.js';

const APP = 'http://app.example';
const REQUESTED_HEADERS = ['authorization', 'content-type', 'x-stainless-os', 'x-stainless-lang', 'x-moltbot-agent-id', 'x-moltbot-session-key'];
const HI = { model: 'moltbot', messages: [{ role: 'user', content: 'hi there' }] };

function preflight(url: string, origin: string, requestHeaders = REQUESTED_HEADERS.join(', ')): Promise<RawAnswer> {
  return httpCall(`${url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });
}

function post(url: string, token: string, origin: string): Promise<RawAnswer> {
  return httpCall(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...jsonHeaders(token), origin },
    body: JSON.stringify(HI),
  });
}

function corsHeaders(res: RawAnswer): string[] {
  return [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));
}

function list(value: string | null): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);
}

describe('CORS off (default)', () => {
  let setup: FeatureSetup;
  beforeAll(async () => {
    setup = await startFeatureGateway();
  });
  afterAll(() => setup.close());

  it('does not answer a preflight with 204, and sends no access-control-* headers', async () => {
    const res = await preflight(setup.gateway.url, APP);
    expect([404, 405]).toContain(res.status);
    expect(corsHeaders(res)).toEqual([]);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    await readError(res.response(), res.status);
  });

  it('adds no CORS headers to a real request with an Origin', async () => {
    const res = await post(setup.gateway.url, setup.gateway.token, APP);
    expect(corsHeaders(res)).toEqual([]);
    await readCompletion(res.response());
  });
});

describe('CORS for one origin', () => {
  let setup: FeatureSetup;
  beforeAll(async () => {
    setup = await startFeatureGateway({ http: { cors: { origins: [APP] } } });
  });
  afterAll(() => setup.close());

  it('answers the preflight with 204, no auth, allowing POST and every requested header', async () => {
    const res = await preflight(setup.gateway.url, APP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(list(res.headers.get('access-control-allow-methods'))).toContain('post');
    const allowed = list(res.headers.get('access-control-allow-headers'));
    for (const header of REQUESTED_HEADERS) expect(allowed, header).toContain(header);
    expect(list(res.headers.get('vary'))).toContain('origin');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.body).toBe('');
  });

  it('answers a preflight for the models list too', async () => {
    const res = await httpCall(`${setup.gateway.url}/v1/models`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(list(res.headers.get('access-control-allow-methods'))).toContain('get');
    expect(list(res.headers.get('access-control-allow-headers'))).toContain('authorization');
  });

  it('gives a disallowed origin no CORS headers', async () => {
    const pre = await preflight(setup.gateway.url, 'http://evil.example');
    expect(pre.status).not.toBe(204);
    expect(corsHeaders(pre)).toEqual([]);
    const res = await post(setup.gateway.url, setup.gateway.token, 'http://evil.example');
    expect(corsHeaders(res)).toEqual([]);
    await readCompletion(res.response());
  });

  it('does not treat a look-alike origin as allowed', async () => {
    for (const origin of ['http://app.example.evil', 'https://app.example', 'http://app.example:8080']) {
      const res = await preflight(setup.gateway.url, origin);
      expect(corsHeaders(res), origin).toEqual([]);
    }
  });

  it('allows the origin on the actual POST and exposes x-request-id and x-moltbot-session-key', async () => {
    const res = await post(setup.gateway.url, setup.gateway.token, APP);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    const exposed = list(res.headers.get('access-control-expose-headers'));
    expect(exposed).toContain('x-request-id');
    expect(exposed).toContain('x-moltbot-session-key');
    expect(res.headers.get('x-moltbot-session-key')).toBeTruthy();
    await readCompletion(res.response());
  });

  it('lets a browser read an error too: a 401 from the allowed origin carries the CORS headers', async () => {
    const res = await post(setup.gateway.url, 'wrong-token', APP);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(list(res.headers.get('access-control-expose-headers'))).toContain('x-request-id');
    await readError(res.response(), 401);
  });
});

describe('CORS for any origin (*)', () => {
  let setup: FeatureSetup;
  beforeAll(async () => {
    setup = await startFeatureGateway({ http: { cors: { origins: ['*'] } } });
  });
  afterAll(() => setup.close());

  it('answers a preflight from any origin', async () => {
    const res = await preflight(setup.gateway.url, 'http://anything.example:3000');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const allowed = list(res.headers.get('access-control-allow-headers'));
    for (const header of REQUESTED_HEADERS) expect(allowed, header).toContain(header);
  });

  it('allows and exposes on the actual POST', async () => {
    const res = await post(setup.gateway.url, setup.gateway.token, 'http://other.example');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(list(res.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['x-request-id', 'x-moltbot-session-key']));
    await readCompletion(res.response());
  });
});
