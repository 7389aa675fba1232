/** `moltbot gateway`: runs the gateway in the foreground until SIGINT/SIGTERM. */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createRuntime, storePath } from '../app.js';
import { assertStartable, type GatewayFlags } from '../config/load.js';
import type { AuthMode } from '../config/types.js';
import { draining } from '../domain/errors.js';
import { guardFileLimit } from '../gateway/file-limit.js';
import { releaseMemoryWhenIdle } from '../gateway/idle-memory.js';
import { trackInFlight } from '../gateway/in-flight.js';
import { createServer, listen, wsGatewayOf } from '../gateway/server.js';
import { describeError, LOG_LEVELS, openLogger, type LogFormat, type LogLevel } from '../observability/logger.js';
import { createTelemetry } from '../observability/telemetry.js';
import { startTracing } from '../observability/tracing.js';
import { startRetention } from '../sessions/retention.js';
import { UsageError, loadConfig, print } from './shared.js';

interface LogFlags {
  format?: LogFormat;
  level?: LogLevel;
}

function parseFlags(argv: string[]): { flags: GatewayFlags; config: string | undefined; log: LogFlags } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      bind: { type: 'string' },
      config: { type: 'string' },
      auth: { type: 'string' },
      token: { type: 'string' },
      password: { type: 'string' },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const flags: GatewayFlags = {};
  if (values.port !== undefined) {
    if (!/^\d+$/u.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port: '${values.port}' is not a port number`);
    flags.port = Number(values.port);
  }
  if (values.auth !== undefined) {
    if (values.auth !== 'token' && values.auth !== 'password') throw new UsageError(`--auth must be 'token' or 'password'`);
    flags.auth = values.auth as AuthMode;
  }
  if (values.bind !== undefined) flags.bind = values.bind;
  if (values.token !== undefined) flags.token = values.token;
  if (values.password !== undefined) flags.password = values.password;
  const log: LogFlags = {};
  const format = values['log-format'];
  if (format !== undefined) {
    if (format !== 'json' && format !== 'pretty') throw new UsageError(`--log-format must be 'json' or 'pretty'`);
    log.format = format;
  }
  const level = values['log-level'];
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
    log.level = level as LogLevel;
  }
  return { flags, config: values.config, log };
}

/** How long finished turns' responses may take to reach slow clients at shutdown. */
const RESPONSE_FLUSH_MS = 2000;

export async function gatewayCommand(argv: string[]): Promise<void> {
  const { flags, config: configPath, log } = parseFlags(argv);
  const config = loadConfig(configPath, flags);
  assertStartable(config);
  const logger = await openLogger(log);
  const telemetry = createTelemetry(config, logger, { walFile: `${storePath(config)}-wal` });
  const tracing = await startTracing(config);
  const runtime = await createRuntime(config, {
    onSessionWait: ({ agentId }) => logger.info({ agentId }, 'a turn waits for a turn of its session running in another process'),
    storeEvents: {
      onUnavailable: (message) => logger.warn({ detail: message }, 'session store unavailable; turns are answered 503 store_unavailable until it returns'),
      onRecovered: () => logger.info('session store available again'),
    },
    observer: telemetry.observer,
    tracer: tracing?.runs,
  });
  let stopping = false;
  const app = await createServer(config, {
    core: runtime.core,
    logger,
    authFailures: runtime.authFailures,
    metrics: telemetry.metrics,
    readiness: () => (stopping ? draining() : undefined),
    tracer: tracing?.requests,
  });
  const server = await listen(app, config);
  guardFileLimit(server, config.limits, logger);
  const inFlight = trackInFlight(server);
  releaseMemoryWhenIdle(server);
  const ws = wsGatewayOf(app);
  const retention = startRetention(runtime.store, config.store.retention, {
    onPruned: (result, ms) => logger.info({ ...result, ms: Math.round(ms) }, 'pruned old sessions'),
    onError: (err) => logger.warn(describeError(err), 'pruning old sessions failed; the next pass tries again'),
  });

  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, pending: runtime.core.pending, graceSeconds: config.gateway.shutdownGraceSeconds }, 'shutting down');
    // WebSocket clients are told (`shutdown` event) and stay connected for their turns' finals.
    ws?.shutdown();
    // The drain is visible: the port stays open while running turns finish (up to the
    // grace period), `/readyz` answers 503 `draining`, new turns 503 `shutting_down`,
    // and every response closes its connection so clients reconnect elsewhere.
    // Idle keep-alive connections are left alone until then: closing one races with a
    // client sending its next request on it, which then fails instead of getting a 503.
    server.prependListener('request', (_req, res: { shouldKeepAlive: boolean }) => {
      res.shouldKeepAlive = false;
    });
    await runtime.core.drain(config.gateway.shutdownGraceSeconds * 1000);
    server.close();
    server.closeIdleConnections();
    // Every turn is recorded; let the responses carrying their endings reach the clients.
    await Promise.all([inFlight.settled(RESPONSE_FLUSH_MS), ws?.runsSettled(RESPONSE_FLUSH_MS)]);
    ws?.closeAll(1001, 'gateway stopping');
    server.closeAllConnections();
    await retention.stop();
    await runtime.close();
    // Spans still batched go out now (the exporter gives up after its own timeout).
    await tracing?.shutdown().catch((err: unknown) => logger.warn(describeError(err), 'exporting the last spans failed'));
    logger.flush();
    process.exit(0);
  };
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));
  // Printed last: whoever waits for this line may signal us right away.
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  print(`listening on http://${host}:${port}`);
}
