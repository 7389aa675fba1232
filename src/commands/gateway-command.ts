/** `moltbot gateway`: runs the gateway in the foreground until SIGINT/SIGTERM. */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createRuntime } from '../app.js';
import { assertStartable, type GatewayFlags } from '../config/load.js';
import type { AuthMode } from '../config/types.js';
import { guardFileLimit } from '../gateway/file-limit.js';
import { trackInFlight } from '../gateway/in-flight.js';
import { createServer, listen, wsGatewayOf } from '../gateway/server.js';
import { createLogger, describeError } from '../log.js';
import { startRetention } from '../sessions/retention.js';
import { UsageError, loadConfig, print } from './shared.js';

function parseFlags(argv: string[]): { flags: GatewayFlags; config: string | undefined } {
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
  return { flags, config: values.config };
}

/** How long finished turns' responses may take to reach slow clients at shutdown. */
const RESPONSE_FLUSH_MS = 2000;

export async function gatewayCommand(argv: string[]): Promise<void> {
  const { flags, config: configPath } = parseFlags(argv);
  const config = loadConfig(configPath, flags);
  assertStartable(config);
  const logger = createLogger();
  const runtime = await createRuntime(config, {
    onSessionWait: ({ agentId }) => logger.log('info', 'a turn waits for a turn of its session running in another process', { agentId }),
    storeEvents: {
      onUnavailable: (message) => logger.log('warn', 'session store unavailable; turns are answered 503 store_unavailable until it returns', { detail: message }),
      onRecovered: () => logger.log('info', 'session store available again'),
    },
  });
  const app = await createServer(config, { core: runtime.core, logger, authFailures: runtime.authFailures });
  const server = await listen(app, config);
  guardFileLimit(server, config.limits, logger);
  const inFlight = trackInFlight(server);
  const ws = wsGatewayOf(app);
  const retention = startRetention(runtime.store, config.store.retention, {
    onPruned: (result, ms) => logger.log('info', 'pruned old sessions', { ...result, ms: Math.round(ms) }),
    onError: (err) => logger.log('warn', 'pruning old sessions failed; the next pass tries again', describeError(err)),
  });

  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log('info', 'shutting down', { signal, pending: runtime.core.pending, graceSeconds: config.gateway.shutdownGraceSeconds });
    // Stop accepting; running turns may finish within the grace period, then are aborted.
    // WebSocket clients are told (`shutdown` event) and stay connected for their turns' finals.
    ws?.shutdown();
    server.close();
    server.closeIdleConnections();
    await runtime.core.drain(config.gateway.shutdownGraceSeconds * 1000);
    // Every turn is recorded; let the responses carrying their endings reach the clients.
    await Promise.all([inFlight.settled(RESPONSE_FLUSH_MS), ws?.runsSettled(RESPONSE_FLUSH_MS)]);
    ws?.closeAll(1001, 'gateway stopping');
    server.closeAllConnections();
    await retention.stop();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));
  // Printed last: whoever waits for this line may signal us right away.
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  print(`listening on http://${host}:${port}`);
}
