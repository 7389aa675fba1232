/**
 * The HTTP edge, in this order: request id, CORS, routing by the spec's paths, the
 * failed-auth rate limit and bearer auth, the body's headers (declared length, type),
 * `100 Continue`, then the body (limit enforced while reading), validation against the
 * spec (precompiled validators, one per operation), and the operation's handler. Until
 * a request is authenticated only its headers are looked at: nothing it sends costs
 * more than that. Each step answers for itself, so no unauthenticated or invalid
 * request reaches a handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OperationId } from '../../generated/operations.js';
import { headerParameters } from '../../generated/spec-constants.js';
import { requestValidators } from '../../generated/validators/index.js';
import { CallerGone, type CallerSignal } from '../domain/caller-signal.js';
import { GatewayError } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';
import { createBearerCheck } from './auth.js';
import type { AuthFailureCounter } from '../domain/auth-failure-counter.js';
import { checkBodyHeaders, expectsContinue, readBody } from './body.js';
import { createCors } from './cors.js';
import { sendError } from './error-response.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { RequestTracer } from '../observability/tracing.js';
import type { HandlerResult, OperationHandler, OperationHandlers, RequestFacts } from './handler.js';
import { duplicateHeader, methodNotAllowed, routeNotFound, tooManyAuthFailures, unauthorized } from './http-errors.js';
import { parseJsonBody, type JsonLimits } from './json-body.js';
import { requestIdOf } from './request-id.js';
import { createRouter, targetPath, UNMATCHED_ROUTE } from './router.js';
import { validationError } from './validation-error.js';
import { writeResult } from './write-result.js';

export type { OperationHandlers };

export interface ApiOptions {
  secret: string;
  /** Failed-auth counting, shared with the WebSocket edge (and the replicas on PostgreSQL); none when the limit is off. */
  limiter: AuthFailureCounter | undefined;
  maxBodyBytes: number;
  jsonLimits: JsonLimits;
  keepAliveMs: number;
  corsOrigins: readonly string[];
  /** Operations left out of the served API (a disabled endpoint's answer 404). */
  disabled: readonly OperationId[];
  /** Operations the spec secures that are served without the secret here (`gateway.metrics.auth: none`). */
  unsecured?: readonly OperationId[];
  handlers: OperationHandlers;
  logger: Logger;
  /** Request, first-byte and auth metrics; none are counted without it. */
  metrics?: GatewayMetrics | undefined;
  /** A span per routed request when tracing is on (W3C `traceparent` accepted as its parent). */
  tracer?: RequestTracer | undefined;
}

/** A node-style request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * A header that may appear once but came more than once: two `Authorization` or two
 * `Host` headers make it ambiguous who the request is from or for (Node keeps the first
 * of each silently, a proxy in front may have used the other).
 */
function duplicatedHeader(rawHeaders: readonly string[]): 'authorization' | 'host' | undefined {
  let authorization = 0;
  let host = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization' && (authorization += 1) > 1) return 'authorization';
    if (name.length === 4 && name.toLowerCase() === 'host' && (host += 1) > 1) return 'host';
  }
  return undefined;
}

/** Builds the request listener for the spec's operations. */
export async function createApi(options: ApiOptions): Promise<RequestListener> {
  const isAuthorized = createBearerCheck(options.secret);
  const { limiter } = options;
  const cors = createCors(options.corsOrigins);
  const router = createRouter(options.disabled, options.unsecured);
  const { handlers, metrics, tracer } = options;

  /**
   * Validates a routed request against its operation's spec and hands the typed request
   * to the operation's handler.
   */
  function dispatch<K extends OperationId>(
    operationId: K,
    parts: { header: unknown; path: unknown; requestBody: unknown },
    context: { signal: CallerSignal; requestId: string; facts: RequestFacts },
  ): Promise<HandlerResult<K>> {
    const validate = requestValidators[operationId];
    if (!validate(parts)) throw validationError(validate.errors);
    const handler: OperationHandler<K> = handlers[operationId];
    return handler({ body: parts.requestBody, headers: parts.header, params: parts.path, ...context });
  }

  /**
   * Undefined when the request carries the secret; else the error to answer with. A
   * request with the right secret costs no I/O; only a failure is counted (on
   * PostgreSQL, in one statement shared by the replicas).
   */
  async function refusal(req: IncomingMessage): Promise<GatewayError | undefined> {
    const address = req.socket.remoteAddress ?? '';
    // A blocked address is refused even with the right secret: no oracle while blocked.
    const blockedFor = limiter?.blockedFor(address) ?? 0;
    if (blockedFor > 0) {
      metrics?.authBlocked();
      return tooManyAuthFailures(blockedFor);
    }
    const { authorization } = req.headers;
    if (isAuthorized(authorization)) return undefined;
    // Blocked already (on another replica): refused as blocked, not told the secret was wrong.
    const blockedBefore = (await limiter?.failed(address)) ?? 0;
    if (blockedBefore > 0) {
      metrics?.authBlocked();
      return tooManyAuthFailures(blockedBefore);
    }
    metrics?.authFailure(authorization === undefined ? 'missing' : 'invalid');
    return unauthorized();
  }

  return async (req, res) => {
    const started = performance.now();
    const path = targetPath(req.url ?? '/');
    const requestId = requestIdOf(req.headers[headerParameters.RequestIdHeader]);
    res.setHeader(headerParameters.RequestIdHeader, requestId);
    // A child logger costs ~1.5 us to make; only a failing request logs through it.
    let child: Logger | undefined;
    const logger = (): Logger => (child ??= options.logger.child({ requestId }));
    // What the handler and the core's run are told when the client leaves: not an
    // AbortController (the run makes the one a turn needs; `caller-signal.ts`).
    const gone = new CallerGone();
    const facts: RequestFacts = {};
    let route = UNMATCHED_ROUTE;
    let span: ReturnType<RequestTracer['startRequest']> | undefined;
    let firstByteMs: number | undefined;
    const onFirstByte = (): void => {
      firstByteMs = performance.now() - started;
      metrics?.streamFirstByte(firstByteMs / 1000);
    };
    // A client that leaves before the response is complete aborts the run.
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
      const ms = performance.now() - started;
      metrics?.httpRequest(route, req.method ?? 'GET', res.statusCode, ms / 1000);
      span?.end(res.statusCode, !res.writableFinished);
      if (!options.logger.isLevelEnabled('info')) return;
      // On the gateway's logger with the id as a field: a child's line costs ~40% more.
      options.logger.info(
        {
          requestId,
          method: req.method,
          route,
          path: path.slice(0, 200),
          status: res.statusCode,
          ms: Math.round(ms),
          ...(firstByteMs === undefined ? {} : { firstByteMs: Math.round(firstByteMs) }),
          ...facts,
          ...(facts.sessionKeyHash ? { sessionKeyHash: facts.sessionKeyHash() } : {}),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      );
    });
    if (cors.handle(req, res)) return;
    try {
      const method = req.method ?? 'GET';
      const duplicated = duplicatedHeader(req.rawHeaders);
      if (duplicated) throw duplicateHeader(duplicated);
      const match = router.match(method, path);
      if (match.kind === 'notFound') throw routeNotFound(method.toUpperCase(), path);
      if (match.kind === 'methodNotAllowed') throw methodNotAllowed(method.toUpperCase(), path, match.allow);
      route = match.route;
      span = tracer?.startRequest(req.headers, method.toUpperCase(), route);
      if (match.secured) {
        const refused = await refusal(req);
        if (refused) throw refused;
      }
      let body: unknown;
      if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') {
        checkBodyHeaders(req, options.maxBodyBytes);
        // Only now may the client send its body (the server answers `checkContinue` with this listener).
        if (expectsContinue(req)) res.writeContinue();
        body = parseJsonBody(await readBody(req, options.maxBodyBytes), options.jsonLimits);
      }
      const context = { signal: gone, requestId, facts, ...(span ? { traceContext: span.context } : {}) };
      const result = await dispatch(match.operationId, { header: req.headers, path: match.params, requestBody: body }, context);
      await writeResult(res, result, { signal: gone, logger, keepAliveMs: options.keepAliveMs, onFirstByte });
    } catch (err) {
      if (gone.aborted && !(err instanceof GatewayError)) return;
      // A body left unread (refused before it was read) is discarded after the answer.
      sendError(res, err, logger(), {}, req);
    }
  };
}
