/**
 * `docs/grafana/moltbot-gateway.json` queries only what the gateway serves: every metric
 * name in every panel's PromQL exists on a live `/metrics` (histograms through their
 * `_bucket` series), and every label a query groups or filters by is one those metrics
 * carry. A renamed metric or label fails here before an operator sees an empty panel.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { postChat, startGateway, TEST_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { scrape, type Scrape } from '../helpers/metrics.js';
import { readCompletion, readStream } from '../helpers/read.js';

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana/moltbot-gateway.json', import.meta.url), 'utf8')) as { panels: Panel[]; templating: { list: { query?: unknown }[] } };
/** Labels Prometheus adds to every scraped series, not the gateway. */
const SCRAPE_LABELS = new Set(['instance', 'job', 'le']);

const exprs = (): { title: string; expr: string }[] => dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ title: panel.title, expr: target.expr })));

/** Metric names in a PromQL expression: this gateway's and the process's are prefixed. */
const metricNames = (expr: string): string[] => [...expr.matchAll(/\b(?:moltbot|process|nodejs)_[a-zA-Z0-9_:]*/gu)].map((m) => m[0]);

/** Labels an expression groups by (`by (...)`) or matches on (`{name=...}`). */
function labelNames(expr: string): string[] {
  const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/gu)].flatMap((m) => (m[1] as string).split(',').map((name) => name.trim()));
  const matched = [...expr.matchAll(/\{([^}]*)\}/gu)].flatMap((m) => [...(m[1] as string).matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/gu)].map((l) => l[1] as string));
  return [...grouped, ...matched].filter((name) => name !== '' && !SCRAPE_LABELS.has(name));
}

let upstream: FakeUpstream;
let gateway: TestGateway;
let live: Scrape;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  gateway = await startGateway({
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl, maxRetries: 1 } } },
    agents: { list: [{ id: 'main', model: 'up/m' }] },
  });
  // Traffic, so that every labelled series has at least one child to show its labels.
  upstream.behaveOnce({ kind: 'status', status: 503, body: { error: { message: 'busy' } }, headers: { 'retry-after-ms': '1' } });
  await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] }));
  await readStream(await postChat(gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  await postChat({ url: gateway.url, token: 'wrong' }, {}).then((res) => res.text());
  live = await scrape(gateway);
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

describe('the Grafana dashboard', () => {
  it('has panels with queries, and covers rates, latency, first byte, runs, tokens, upstream errors, auth failures and WebSocket connections and messages', () => {
    const all = exprs().map((e) => e.expr).join('\n');
    expect(exprs().length).toBeGreaterThan(10);
    for (const name of [
      'moltbot_http_requests_total',
      'moltbot_http_request_duration_seconds_bucket',
      'moltbot_stream_first_byte_seconds_bucket',
      'moltbot_runs_active',
      'moltbot_runs_queued',
      'moltbot_tokens_total',
      'moltbot_upstream_requests_total',
      'moltbot_auth_failures_total',
      'moltbot_ws_connections',
      'moltbot_ws_frames_total',
    ]) {
      expect(all).toContain(name);
    }
  });

  it.each(exprs())('$title: every metric it queries exists on /metrics, with the labels it uses', ({ expr }) => {
    const names = metricNames(expr);
    expect(names.length, expr).toBeGreaterThan(0);
    const labels = new Set<string>();
    for (const name of names) {
      const sampled = live.samples.filter((sample) => sample.name === name);
      expect(sampled.length, `${name} in ${expr}`).toBeGreaterThan(0);
      for (const sample of sampled) for (const label of Object.keys(sample.labels)) labels.add(label);
    }
    for (const label of labelNames(expr)) expect([...labels], `label ${label} in ${expr}`).toContain(label);
  });
});
