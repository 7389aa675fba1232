/**
 * The reference page in a real browser: headless Chromium (Debian's, which .ci/run
 * installs) opens `/docs` on a real gateway, the page renders the chat operation, and
 * every request it makes goes to the gateway's own origin: the spec promises a
 * self-contained page that "loads nothing from elsewhere" (no CDN logo or font, no
 * telemetry). A screenshot goes to /tmp/docs.png for a person to look at.
 *
 * Some requests a page makes are on its own timers (a telemetry exporter batches for
 * seconds). The page runs on Playwright's clock, which the test moves forward, so such
 * requests are made, deterministically, before the test judges them.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsMethodNames } from '../../generated/ws/methods.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/docs.png';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];
const TOKEN = 'browser-test-token-5d1e';
const PROMPT = 'You are main, keeper of the okapi-77 secret.';

let gateway: TestGateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const requests: string[] = [];
const failed: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  }
  gateway = await startGateway({
    gateway: { auth: { mode: 'token', token: TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    session: { reset: { mode: 'never' } },
    agents: { list: [{ id: 'main', systemPrompt: PROMPT }] },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.clock.install();
  context.on('request', (request) => requests.push(request.url()));
  context.on('requestfailed', (request) => failed.push(`${request.url()} (${request.failure()?.errorText ?? 'failed'})`));
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await gateway?.close();
});

describe('/docs in headless Chromium', () => {
  it('renders the chat operation', { timeout: 60_000 }, async () => {
    const response = await page.goto(`${gateway.url}/docs`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/u);

    // Redoc renders client-side: the chat tag (below the WebSocket protocol section, so
    // folded at first) lists its operation as a link...
    const tag = page.locator('a', { hasText: /^chat$/u }).first();
    await tag.waitFor({ timeout: 30_000 });
    await tag.click();
    const operation = page.locator('a', { hasText: '/v1/chat/completions' }).first();
    await operation.waitFor({ timeout: 30_000 });
    // ...which opens the operation, with its summary as a heading.
    await operation.click();
    const summary = page.getByRole('heading', { name: 'Run one agent turn' }).first();
    await summary.waitFor({ timeout: 30_000 });
    await summary.scrollIntoViewIfNeeded();
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: SCREENSHOT });

    const text = (await page.locator('body').textContent()) ?? '';
    expect(text).toContain('Moltbot Gateway');
    expect(text).toContain('/v1/models');
    // The WebSocket protocol's section, written from asyncapi.yaml: every method is listed.
    expect(text).toContain('WebSocket protocol');
    for (const method of wsMethodNames) expect(text).toContain(method);
    for (const secret of [TOKEN, PROMPT, 'okapi-77']) expect(text).not.toContain(secret);
  });

  it('makes requests only to the gateway itself: no CDN, no telemetry', { timeout: 60_000 }, async () => {
    expect(requests.length, 'the page was not loaded').toBeGreaterThan(0);
    // Give the page's own timers (batching exporters, lazy loaders) a minute of page time.
    await page.clock.runFor(60_000);
    await page.waitForLoadState('networkidle');
    const origin = new URL(gateway.url).origin;
    const foreign = [...new Set(requests.filter((url) => /^https?:/iu.test(url) && new URL(url).origin !== origin))];
    expect(foreign, `the page loaded from other origins: ${foreign.join(', ')}`).toEqual([]);
    expect(failed, 'requests that failed').toEqual([]);
  });

  it('throws no errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
