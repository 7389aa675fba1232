/**
 * Starts a real gateway in-process on 127.0.0.1:0 for a test, with a config built from
 * JSON5-shaped input through the same loader the CLI uses.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createRuntime, type Runtime } from '../../src/app.js';
import { openPostgresStore } from '../../src/sessions/postgres/store.js';
import { parseConfig, resolveGatewayConfig, type GatewayFlags } from '../../src/config/load.js';
import type { ConfigFile, GatewayConfig } from '../../src/config/types.js';
import { createServer, listen, wsGatewayOf } from '../../src/gateway/server.js';
import type { WsGateway } from '../../src/gateway/ws/ws-gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import type { GatewayMetrics } from '../../src/observability/metrics.js';
import { createTelemetry } from '../../src/observability/telemetry.js';
import { startTracing } from '../../src/observability/tracing.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionStore } from '../../src/sessions/store.js';

export const TEST_TOKEN = 'test-token-3b7e1c9d';

export interface TestGateway {
  url: string;
  /** The same port's WebSocket protocol. */
  wsUrl: string;
  /** The WebSocket protocol's server side (shutdown, connection count). */
  ws: WsGateway;
  token: string;
  config: GatewayConfig;
  store: SessionStore;
  /** Every log line the gateway wrote (JSON), captured instead of printed. */
  logs: string[];
  /** The gateway's metrics (undefined with `gateway.metrics.enabled: false`). */
  metrics: GatewayMetrics | undefined;
  close(): Promise<void>;
}

/** The embedded-default shape: endpoint enabled, agent `main` on echo, token auth. */
export function baseConfig(): ConfigFile {
  return {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    agents: { list: [{ id: 'main', systemPrompt: 'You are a test agent.' }] },
  };
}

export async function startGateway(
  file: ConfigFile = baseConfig(),
  options: {
    flags?: GatewayFlags;
    env?: Record<string, string>;
    storePath?: string;
    now?: () => number;
    onSessionWait?: () => void;
    /** Checkpoint the WAL from a worker thread, as `moltbot gateway` does. */
    backgroundCheckpoints?: boolean;
    /** The PostgreSQL store on this URL and schema instead of SQLite (replicas share a schema). */
    postgres?: { url: string; schema: string };
  } = {},
): Promise<TestGateway> {
  const config = resolveGatewayConfig(parseConfig(JSON.stringify(file), options.env ?? {}, 'test'), options.flags ?? {}, options.env ?? {});
  let store: SessionStore;
  let authFailures: Runtime['authFailures'] | undefined;
  let walFile: string | undefined;
  if (options.postgres) {
    const pg = await openPostgresStore({ ...options.postgres, poolSize: 4 });
    [store, authFailures] = [pg, (limits) => pg.authFailureCounter(limits)];
  } else {
    // The real SQLite store, in a fresh directory unless the test reopens one.
    const path = options.storePath ?? join(mkdtempSync(join(tmpdir(), 'moltbot-state-')), 'sessions.sqlite');
    walFile = `${path}-wal`;
    store = openSqliteStore(path, {
      ...(config.store.maxBytes === undefined ? {} : { maxBytes: config.store.maxBytes }),
      ...(options.backgroundCheckpoints ? { backgroundCheckpoints: true } : {}),
    });
  }
  const logs: string[] = [];
  const telemetry = createTelemetry(config, createLogger({ write: (line) => logs.push(line) }), { walFile });
  const tracing = await startTracing(config);
  const runtime = await createRuntime(config, {
    store,
    observer: telemetry.observer,
    ...(tracing ? { tracer: tracing.runs } : {}),
    ...(authFailures ? { authFailures } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.onSessionWait ? { onSessionWait: options.onSessionWait } : {}),
  });
  const app = await createServer(config, {
    core: runtime.core,
    logger: telemetry.logger,
    authFailures: runtime.authFailures,
    metrics: telemetry.metrics,
    tracer: tracing?.requests,
  });
  const server: Server = await listen(app, config, 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  const ws = wsGatewayOf(app) as WsGateway;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    ws,
    token: config.gateway.auth.secret ?? '',
    config,
    store,
    logs,
    metrics: telemetry.metrics,
    async close() {
      ws.closeAll();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await runtime.close();
      await tracing?.shutdown();
    },
  };
}

/** POSTs a chat completion with the test token unless `auth` overrides it. */
export function postChat(
  gateway: { url: string; token: string },
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.token}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
