/**
 * Optional tracing: with `gateway.tracing` on, a request that carries a W3C `traceparent`
 * gets a server span in the client's trace, the agent run a child span, the upstream
 * call a grandchild whose `traceparent` reaches the upstream; the spans arrive at an
 * OTLP/HTTP collector (a real one on loopback, reading the JSON the exporter sends).
 * Off (the default), the upstream gets no `traceparent` from us.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { postChat, startGateway, TEST_TOKEN } from '../helpers/gateway.js';
import { readCompletion, readStream } from '../helpers/read.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** A collector on 127.0.0.1:0 keeping every span it is sent (OTLP/HTTP JSON). */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const resource of payload.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(tracing: Record<string, unknown> | undefined): Promise<{ upstream: FakeUpstream; gateway: Awaited<ReturnType<typeof startGateway>> }> {
  const upstream = await startFakeUpstream();
  cleanups.push(() => upstream.close());
  const gateway = await startGateway({
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } }, ...(tracing ? { tracing } : {}) },
    models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl, maxRetries: 0 } } },
    agents: { list: [{ id: 'main', model: 'up/m' }] },
  });
  return { upstream, gateway };
}

describe('tracing', () => {
  it('on: request -> run -> upstream spans in the client trace, traceparent passed to the upstream, exported over OTLP', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const { upstream, gateway } = await setup({ enabled: true, endpoint: collector.url, serviceName: 'gw-under-test' });
    const traceparent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
    await readStream(await postChat(gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'trace me' }] }, { traceparent }));
    // A request without a traceparent starts a trace of its own.
    await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'no parent' }] }));
    // Closing the gateway exports what the batch processor holds.
    await gateway.close();
    await vi.waitFor(() => expect(collector.spans.length).toBeGreaterThanOrEqual(6));

    const inTrace = collector.spans.filter((span) => span.traceId === TRACE_ID);
    const request = inTrace.find((span) => span.parentSpanId === CLIENT_SPAN);
    expect(request).toMatchObject({ name: 'POST /v1/chat/completions', kind: 2 });
    const run = inTrace.find((span) => span.name === 'moltbot.run');
    expect(run?.parentSpanId).toBe(request?.spanId);
    const call = inTrace.find((span) => span.name === 'chat up');
    expect(call).toMatchObject({ kind: 3, parentSpanId: run?.spanId });
    expect(inTrace).toHaveLength(3);

    const sent = upstream.requests[0]?.headers.traceparent;
    expect(sent).toBe(`00-${TRACE_ID}-${call?.spanId}-01`);
    const other = upstream.requests[1]?.headers.traceparent as string;
    expect(other).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/u);
    expect(other).not.toContain(TRACE_ID);
  });

  it('off (the default): no traceparent goes upstream, even when the client sent one', async () => {
    const { upstream, gateway } = await setup(undefined);
    cleanups.push(() => gateway.close());
    expect(gateway.config.gateway.tracing.enabled).toBe(false);
    await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] }, { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` }));
    expect(upstream.requests[0]?.headers.traceparent).toBeUndefined();
  });
});
