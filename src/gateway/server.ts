/**
 * `createServer(config, deps)`: the Express app serving the gateway, without `listen`
 * (tests listen on port 0).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import express, { type Express } from 'express';
import { operationIds, operationPaths } from '../../generated/operations.js';
import type { AgentCore } from '../agents/core-api.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { memoryAuthFailureCounter, type AuthFailureCounter } from '../domain/auth-failure-counter.js';
import { isLoopback, type AuthLimiterOptions } from '../domain/auth-limiter.js';
import { GATEWAY_VERSION } from '../version.js';
import { createApi } from './api.js';
import { rawErrorResponse } from './error-response.js';
import { clientError } from './http-errors.js';
import { expressClasses } from './express-classes.js';
import { isLingering } from './linger.js';
import { requestIdOf } from './request-id.js';
import { createChatCompletionHandler } from './routes/chat-completions.js';
import { getDocs, getOpenApiDocument } from './routes/docs.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { RequestTracer } from '../observability/tracing.js';
import { createHealthHandler, createReadinessHandler, type ReadinessCheck } from './routes/health.js';
import { createMetricsHandler } from './routes/metrics.js';
import { createModelHandlers } from './routes/models.js';
import { lazyWsGateway } from './ws/lazy-ws-gateway.js';
import type { WsGateway } from './ws/ws-gateway.js';

export interface ServerDeps {
  core: AgentCore;
  logger: Logger;
  /** The gateway's metrics: served on `/metrics` and counted at the edge; without them `/metrics` answers 404. */
  metrics?: GatewayMetrics | undefined;
  /** Whether the gateway is draining (`/readyz` then answers 503 `draining`); never when absent. */
  readiness?: ReadinessCheck | undefined;
  /** A span per request when tracing is on. */
  tracer?: RequestTracer | undefined;
  /** Failed-auth counting (`Runtime.authFailures`); in memory when absent. */
  authFailures?: (options: AuthLimiterOptions) => AuthFailureCounter;
}

/** The operations the spec marks `x-moltbot-endpoint: chatCompletions`: enabled together by `gateway.http.endpoints.chatCompletions.enabled`. */
const CHAT_COMPLETIONS_OPERATIONS = operationIds.filter((id) => operationPaths[id].endpoint === 'chatCompletions');
/** The operations marked `x-moltbot-endpoint: metrics`: served while `gateway.metrics.enabled`. */
const METRICS_OPERATIONS = operationIds.filter((id) => operationPaths[id].endpoint === 'metrics');

/** Each app's WebSocket protocol, attached to the HTTP server by `listen`. */
const wsGateways = new WeakMap<Express, WsGateway>();

/** The WebSocket protocol served beside the app's HTTP API (for shutdown). */
export function wsGatewayOf(app: Express): WsGateway | undefined {
  return wsGateways.get(app);
}

/**
 * The HTTP API, and the WebSocket protocol on the same port (upgrades on any path; the
 * chat endpoint's switch does not affect it). Both take the same secret and count failed
 * attempts in one limiter.
 */
export async function createServer(config: GatewayConfig, deps: ServerDeps): Promise<Express> {
  const { secret } = config.gateway.auth;
  if (!secret) throw new Error('createServer needs a gateway secret');
  // One failed-auth count for both transports (and, on PostgreSQL, for every replica).
  const { rateLimit } = config.gateway.auth;
  const counter = deps.authFailures ?? memoryAuthFailureCounter;
  const limiter = rateLimit.enabled ? counter(Object.assign({}, rateLimit, { exempt: (address: string) => rateLimit.exemptLoopback && isLoopback(address) })) : undefined;
  const models = createModelHandlers(
    config.agents.map((agent) => agent.id),
    config.defaultAgentId,
    Math.floor(Date.now() / 1000),
  );
  const listener = await createApi({
    secret,
    limiter,
    maxBodyBytes: config.gateway.http.maxBodyBytes,
    jsonLimits: { maxStringLength: config.gateway.http.maxStringLength, maxDepth: config.gateway.http.maxDepth },
    keepAliveMs: config.gateway.http.sseKeepAliveSeconds * 1000,
    corsOrigins: config.gateway.http.corsOrigins,
    disabled: [...(config.gateway.http.chatCompletionsEnabled ? [] : CHAT_COMPLETIONS_OPERATIONS), ...(deps.metrics ? [] : METRICS_OPERATIONS)],
    unsecured: config.gateway.metrics.auth === 'none' ? METRICS_OPERATIONS : [],
    handlers: {
      createChatCompletion: createChatCompletionHandler(deps.core, secret),
      listModels: models.listModels,
      retrieveModel: models.retrieveModel,
      getOpenApiDocument,
      getDocs,
      getHealth: createHealthHandler(deps.core),
      getReadiness: createReadinessHandler(deps.core, deps.readiness ?? (() => undefined)),
      getMetrics: createMetricsHandler(deps.metrics),
    },
    logger: deps.logger,
    metrics: deps.metrics,
    tracer: deps.tracer,
  });
  const app = express();
  // Nothing here is cacheable or needs to advertise the framework.
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  app.use((req, res) => listener(req, res));
  const wsOptions = { config, core: deps.core, logger: deps.logger, limiter, version: GATEWAY_VERSION, metrics: deps.metrics?.ws };
  wsGateways.set(app, lazyWsGateway(async () => (await import('./ws/ws-gateway.js')).createWsGateway(wsOptions)));
  return app;
}

/**
 * Requests Node refuses before any handler runs (oversized headers, a slow client past
 * its deadline, malformed HTTP) still get OpenAI's error shape, then the socket closes.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A connection reading out a refused body already has its answer: only close it.
  if (!socket.writable || (err.code === 'ECONNRESET' && !socket.readable) || isLingering(socket as Socket)) {
    socket.destroy();
    return;
  }
  // No request id was read: the answer gets a new one, like every other response.
  socket.end(rawErrorResponse(clientError(err.code, MAX_HEADER_BYTES), requestIdOf(undefined)));
}

/** Header bytes a request may carry; more is refused with 431 before any handler runs. */
const MAX_HEADER_BYTES = 16 * 1024;
/**
 * Connections the kernel may hold for us to accept (capped by `net.core.somaxconn`).
 * Node's 511 made half of a burst of 2,000 new clients wait for a SYN retransmit (1 s
 * and more); many users reconnecting at once (after a restart) is such a burst.
 */
const LISTEN_BACKLOG = 4096;

/**
 * Listens with the slow-client limits: all headers within `headersTimeoutMs`, the whole
 * request within `requestTimeoutMs` (responses may stream for as long as they need),
 * checked every second, so a slowloris client cannot hold connections open. Requests
 * with `Expect: 100-continue` go to the app like any other (`checkContinue`), which
 * sends `100 Continue` only once the request is routed and authenticated.
 */
export async function listen(app: Express, config: GatewayConfig, port = config.gateway.port, host = config.gateway.host): Promise<Server> {
  const server = createHttpServer(
    {
      headersTimeout: config.gateway.http.headersTimeoutMs,
      requestTimeout: config.gateway.http.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
      maxHeaderSize: MAX_HEADER_BYTES,
      ...expressClasses(app),
    },
    app,
  );
  server.on('clientError', answerClientError);
  const ws = wsGateways.get(app);
  if (ws) server.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket, head));
  server.on('checkContinue', app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
