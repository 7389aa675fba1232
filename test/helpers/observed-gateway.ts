/**
 * Like `startGateway`, for long runs: a view of the server's own connections (how many
 * are open, a promise that resolves once none is) — for tests that count handles after
 * load and must know the server has closed the sockets of clients that went away — and a
 * log that keeps only warnings and errors (info lines are counted, not kept, so the test
 * does not grow its own memory while measuring the gateway's).
 */
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '../../src/app.js';
import { parseConfig, resolveGatewayConfig } from '../../src/config/load.js';
import type { ConfigFile, GatewayConfig } from '../../src/config/types.js';
import { createServer, listen } from '../../src/gateway/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionStore } from '../../src/sessions/store.js';

export interface ObservedGateway {
  url: string;
  token: string;
  config: GatewayConfig;
  store: SessionStore;
  /** Log lines above `info`, as JSON text. */
  problems: string[];
  /** Log lines written, of any level. */
  readonly logLines: number;
  close(): Promise<void>;
  /** Connections the server has open now. */
  readonly openConnections: number;
  /** Resolves once the server has no open connection. */
  connectionsClosed(): Promise<void>;
}

export async function startObservedGateway(file: ConfigFile): Promise<ObservedGateway> {
  const config = resolveGatewayConfig(parseConfig(JSON.stringify(file), {}, 'test'), {}, {});
  const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), 'moltbot-state-')), 'sessions.sqlite'));
  const runtime = await createRuntime(config, { store });
  const problems: string[] = [];
  let logLines = 0;
  const write = (line: string): void => {
    logLines += 1;
    if (!line.includes('"level":"info"')) problems.push(line);
  };
  const app = await createServer(config, { core: runtime.core, logger: createLogger({ write }) });
  const server: Server = await listen(app, config, 0, '127.0.0.1');
  const sockets = new Set<Socket>();
  let onEmpty: (() => void) | undefined;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) onEmpty?.();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token: config.gateway.auth.secret ?? '',
    config,
    store,
    problems,
    get logLines() {
      return logLines;
    },
    get openConnections() {
      return sockets.size;
    },
    connectionsClosed() {
      if (sockets.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onEmpty = () => {
          onEmpty = undefined;
          resolve();
        };
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await runtime.close();
    },
  };
}
