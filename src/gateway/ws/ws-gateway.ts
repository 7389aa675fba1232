/**
 * The Moltbot Gateway WebSocket protocol (v3) on the gateway's HTTP server: upgrades on
 * any path (auth is the `connect` request, as in the reference), caps on open and on
 * unauthenticated connections (503 at the upgrade past them), a `tick` to every
 * connection each `tickIntervalMs`, requests dispatched by method name to the handlers
 * (params validated by the generated validators first, scopes checked), and a graceful
 * stop: `shutdown` event, running turns finish (their finals go out), then close 1001.
 */
import type { IncomingMessage } from 'node:http';
import { hostname, platform } from 'node:os';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { wsEventNames, wsMethodNames, wsMethodScopes, wsParamsValidators, type WsMethod } from '../../../generated/ws/methods.js';
import type { HelloOk, RequestFrame } from '../../../generated/ws/types.js';
import type { AgentCore } from '../../agents/core-api.js';
import type { GatewayConfig } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import type { WsMetrics } from '../../observability/metrics.js';
import type { AuthFailureCounter } from '../../domain/auth-failure-counter.js';
import { createSecretCheck } from '../auth.js';
import { Connection } from './connection.js';
import { PROTOCOL_VERSION } from './handshake.js';
import type { MethodContext, MethodHandler, MethodHandlers } from './methods/context.js';
import { infoMethods } from './methods/info-methods.js';
import { runMethods } from './methods/run-methods.js';
import { sessionMethods } from './methods/session-methods.js';
import { describeSchemaErrors, invalidRequest, schemaErrorField } from './protocol-errors.js';
import { RunRegistry } from './runs.js';
import { mainSessionKey } from './session-keys.js';

export interface WsGatewayOptions {
  config: GatewayConfig;
  core: AgentCore;
  logger: Logger;
  limiter: AuthFailureCounter | undefined;
  version: string;
  /** Connections open and frames each way (`moltbot_ws_*`); nothing is counted without it. */
  metrics?: WsMetrics | undefined;
}

export interface WsGateway {
  /** The HTTP server's `upgrade` listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Graceful stop, first half: refuses new connections and tells every client
   * (`shutdown` event). `closeAll` ends it once turns are done.
   */
  shutdown(reason?: string): void;
  /** Resolves when every run started over this protocol has sent its final (or `timeoutMs` passed). */
  runsSettled(timeoutMs: number): Promise<void>;
  /** Closes every connection with `code` (1001 at shutdown) and stops the timers. */
  closeAll(code?: number, reason?: string): void;
  readonly connections: number;
}

const NO_METRICS: WsMetrics = { connectionOpened: () => undefined, connectionClosed: () => undefined, frame: () => undefined };

const SCOPE_NAMES = { read: 'operator.read', write: 'operator.write', admin: 'operator.admin' } as const;

/** Whether `scopes` allow a method of `needed` scope (the reference's rule: admin all, write implies read). */
function allowed(scopes: ReadonlySet<string>, needed: 'read' | 'write' | 'admin'): boolean {
  if (scopes.has('operator.admin')) return true;
  if (needed === 'read') return scopes.has('operator.read') || scopes.has('operator.write');
  return scopes.has(SCOPE_NAMES[needed]);
}

export function createWsGateway(options: WsGatewayOptions): WsGateway {
  const { config, core, logger } = options;
  const metrics = options.metrics ?? NO_METRICS;
  const settings = config.gateway.ws;
  const startedAt = Date.now();
  const runs = new RunRegistry();
  const deps = { core, runs, config, version: options.version, startedAt };
  const handlers: MethodHandlers = Object.assign({}, infoMethods(deps), sessionMethods(deps), runMethods(deps));
  const all = new Set<Connection>();
  let unauthenticated = 0;
  let stopping = false;
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxPayloadBytes, perMessageDeflate: false, clientTracking: false });
  const checkSecret = createSecretCheck(config.gateway.auth.secret ?? '');

  const tick = setInterval(() => {
    const payload = { ts: Date.now() };
    for (const connection of all) if (connection.peer) connection.event('tick', payload, true);
  }, settings.tickIntervalMs);
  tick.unref();

  function hello(connection: Connection): HelloOk {
    return {
      type: 'hello-ok',
      protocol: PROTOCOL_VERSION,
      server: { version: options.version, host: hostname(), connId: connection.id },
      features: { methods: [...wsMethodNames], events: [...wsEventNames] },
      snapshot: {
        presence: [{ host: hostname(), version: options.version, platform: platform(), mode: 'gateway', reason: 'self', text: 'moltbot gateway', ts: Date.now() }],
        health: {},
        stateVersion: { presence: 1, health: 1 },
        uptimeMs: Date.now() - startedAt,
        sessionDefaults: { defaultAgentId: core.defaultAgentId, mainKey: 'main', mainSessionKey: mainSessionKey(core.defaultAgentId), scope: 'per-sender' },
      },
      policy: { maxPayload: settings.maxPayloadBytes, maxBufferedBytes: settings.maxBufferedBytes, tickIntervalMs: settings.tickIntervalMs },
    };
  }

  async function dispatch(connection: Connection, frame: RequestFrame): Promise<unknown> {
    if (frame.method === 'connect') throw invalidRequest('connect is only valid as the first request');
    if (!(wsMethodNames as readonly string[]).includes(frame.method)) throw invalidRequest(`unknown method: ${frame.method.slice(0, 100)}`);
    const method = frame.method as WsMethod;
    if (!allowed(connection.peer?.scopes ?? new Set(), wsMethodScopes[method])) throw invalidRequest(`missing scope: ${SCOPE_NAMES[wsMethodScopes[method]]}`);
    const params = frame.params ?? {};
    const validate = wsParamsValidators[method];
    if (!validate(params)) {
      const param = schemaErrorField(validate.errors);
      throw invalidRequest(`invalid ${method} params: ${describeSchemaErrors(validate.errors)}`, param === undefined ? undefined : { param });
    }
    const context: MethodContext = { connection, respond: (payload) => connection.respond(frame.id, true, payload) };
    return (handlers[method] as MethodHandler<typeof method>)(params as never, context);
  }

  function refuseUpgrade(socket: Duplex, status: number, message: string): void {
    const body = JSON.stringify({ error: { message, type: 'server_error', param: null, code: 'too_many_connections' } });
    socket.end(`HTTP/1.1 ${status} Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  return {
    get connections() {
      return all.size;
    },
    handleUpgrade(req, socket, head) {
      if (stopping) return refuseUpgrade(socket, 503, 'The gateway is shutting down.');
      if (all.size >= settings.maxConnections) return refuseUpgrade(socket, 503, `The gateway has ${settings.maxConnections} WebSocket connections open, its limit; retry shortly.`);
      if (unauthenticated >= settings.maxUnauthenticated) return refuseUpgrade(socket, 503, 'Too many WebSocket connections are waiting to authenticate; retry shortly.');
      const remoteAddress = req.socket.remoteAddress ?? '';
      // Counted from the upgrade on, so a burst of upgrades cannot pass the caps before any completes.
      unauthenticated += 1;
      let counted = true;
      const uncount = (): void => {
        if (counted) unauthenticated -= 1;
        counted = false;
      };
      socket.once('close', uncount);
      wss.handleUpgrade(req, socket, head, (ws) => {
        // Counted before the connection's first frame (the challenge) goes out; uncounted once, in onClosed.
        metrics.connectionOpened();
        const connection = new Connection(ws, {
          maxBufferedBytes: settings.maxBufferedBytes,
          handshakeTimeoutMs: settings.handshakeTimeoutMs,
          maxInFlight: settings.maxInFlightPerConnection,
          logger,
          metrics,
          hello,
          dispatch,
          handshake: { remoteAddress, mode: config.gateway.auth.mode, checkSecret, limiter: options.limiter },
          onAuthenticated: uncount,
          socket,
          onClosed: (c) => {
            metrics.connectionClosed();
            uncount();
            all.delete(c);
          },
        });
        if (connection.open) all.add(connection);
        if (stopping) connection.close(1001, 'gateway stopping');
      });
    },
    shutdown(reason = 'gateway stopping') {
      if (stopping) return;
      stopping = true;
      for (const connection of all) if (connection.peer) connection.event('shutdown', { reason });
    },
    async runsSettled(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.all(runs.active().map((r) => r.done)), timeout]);
      clearTimeout(timer);
      // Let the finals' frames go out before the close frames.
      await new Promise((resolve) => setImmediate(resolve));
    },
    closeAll(code = 1001, reason = 'gateway stopping') {
      stopping = true;
      clearInterval(tick);
      runs.close();
      for (const connection of all) connection.close(code, reason);
      all.clear();
    },
  };
}
