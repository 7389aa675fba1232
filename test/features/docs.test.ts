/**
 * `GET /openapi.yaml` and `GET /docs`: served without auth, the spec byte for byte and
 * the page `npm run build` rendered, and neither reveals the gateway's configuration.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BETA_PROMPT, startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import { readError } from '../helpers/read.js';

const SPEC = readFileSync(new URL('../../openapi.yaml', import.meta.url));

let setup: FeatureSetup;
beforeAll(async () => {
  setup = await startFeatureGateway();
});
afterAll(() => setup.close());

/** Texts the configuration holds that no unauthenticated response may show. */
function secrets(): string[] {
  const { gateway, upstream } = setup;
  const port = new URL(upstream.baseUrl).port;
  return [gateway.token, BETA_PROMPT, 'zebra-42', upstream.baseUrl, `127.0.0.1:${port}`];
}

describe('GET /openapi.yaml', () => {
  it('returns the repository openapi.yaml byte for byte, as YAML, without auth', async () => {
    const res = await fetch(`${setup.gateway.url}/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/yaml/u);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(SPEC.length);
    expect(body.equals(SPEC)).toBe(true);
    expect(Number(res.headers.get('content-length'))).toBe(SPEC.length);
  });

  it('reveals no configuration', async () => {
    const res = await fetch(`${setup.gateway.url}/openapi.yaml`);
    const text = `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await res.text()}`;
    for (const secret of secrets()) expect(text).not.toContain(secret);
  });

  it('is the same with a (wrong) bearer token: no auth is involved', async () => {
    const res = await fetch(`${setup.gateway.url}/openapi.yaml`, { headers: { authorization: 'Bearer wrong' } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(SPEC)).toBe(true);
  });

  it('answers POST with 405 and Allow: GET', async () => {
    const res = await fetch(`${setup.gateway.url}/openapi.yaml`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    await readError(res, 405);
  });
});

describe('GET /docs', () => {
  it('returns the rendered HTML page without auth', async () => {
    const res = await fetch(`${setup.gateway.url}/docs`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/u);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(html.slice(0, 200).toLowerCase()).toMatch(/<!doctype html>|<html/u);
    // Built from our spec.
    expect(html).toContain('Moltbot Gateway API');
    expect(html).toContain('createChatCompletion');
    expect(html).toContain('/v1/chat/completions');
  });

  it('is the page npm run build wrote', async () => {
    const built = readFileSync(new URL('../../dist/docs/index.html', import.meta.url));
    const res = await fetch(`${setup.gateway.url}/docs`);
    expect(Buffer.from(await res.arrayBuffer()).equals(built)).toBe(true);
  });

  it('reveals no configuration', async () => {
    const res = await fetch(`${setup.gateway.url}/docs`);
    const text = `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await res.text()}`;
    for (const secret of secrets()) expect(text).not.toContain(secret);
  });

  it('answers POST with 405 and Allow: GET', async () => {
    const res = await fetch(`${setup.gateway.url}/docs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    await readError(res, 405);
  });
});

describe('docs with the chat endpoint disabled', () => {
  let disabled: FeatureSetup;
  beforeAll(async () => {
    disabled = await startFeatureGateway({ enabled: false });
  });
  afterAll(() => disabled.close());

  it('still serves both', async () => {
    const spec = await fetch(`${disabled.gateway.url}/openapi.yaml`);
    expect(spec.status).toBe(200);
    expect(Buffer.from(await spec.arrayBuffer()).equals(SPEC)).toBe(true);
    const page = await fetch(`${disabled.gateway.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('createChatCompletion');
  });
});
