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
import { requestValidators } from '../../generated/validators/index.js';
import { GatewayError, duplicateHeader, methodNotAllowed, routeNotFound, tooManyAuthFailures, unauthorized } from '../errors.js';
import type { Logger } from '../log.js';
import { createBearerCheck } from './auth.js';
import { createAuthLimiter, isLoopback } from './auth-limiter.js';
import { checkBodyHeaders, expectsContinue, readBody } from './body.js';
import { createCors } from './cors.js';
import { sendError } from './error-response.js';
import type { OperationHandler } from './handler.js';
import { parseJsonBody, type JsonLimits } from './json-body.js';
import { requestIdOf } from './request-id.js';
import { createRouter, targetPath } from './router.js';
import { validationError } from './validation-error.js';
import { writeResult } from './write-result.js';

/** One handler per operationId in the spec: a missing one is a compile error. */
export type OperationHandlers = { [K in OperationId]: OperationHandler<never> };

export interface ApiOptions {
  secret: string;
  rateLimit: { enabled: boolean; maxFailures: number; windowMs: number; blockMs: number; exemptLoopback: boolean; maxTracked: number };
  maxBodyBytes: number;
  jsonLimits: JsonLimits;
  keepAliveMs: number;
  corsOrigins: readonly string[];
  /** Spec paths left out of the served API (disabled endpoints answer 404). */
  disabledPaths: readonly string[];
  handlers: OperationHandlers;
  logger: Logger;
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
  const { rateLimit } = options;
  const limiter = rateLimit.enabled
    ? createAuthLimiter({ ...rateLimit, exempt: (address) => rateLimit.exemptLoopback && isLoopback(address) })
    : undefined;
  const cors = createCors(options.corsOrigins);
  const router = createRouter(options.disabledPaths);
  const handlers = options.handlers as Record<OperationId, OperationHandler<unknown>>;

  /** Undefined when the request carries the secret; else the error to answer with. */
  function refusal(req: IncomingMessage): GatewayError | undefined {
    const address = req.socket.remoteAddress ?? '';
    // A blocked address is refused even with the right secret: no oracle while blocked.
    const blockedFor = limiter?.blockedFor(address) ?? 0;
    if (blockedFor > 0) return tooManyAuthFailures(blockedFor);
    if (isAuthorized(req.headers.authorization)) return undefined;
    limiter?.failed(address);
    return unauthorized();
  }

  return async (req, res) => {
    const started = performance.now();
    const path = targetPath(req.url ?? '/');
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const logger = options.logger.child({ requestId });
    const controller = new AbortController();
    // A client that leaves before the response is complete aborts the run.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
      logger.log('info', 'request', {
        method: req.method,
        path: path.slice(0, 200),
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        ...(res.writableFinished ? {} : { aborted: true }),
      });
    });
    if (cors.handle(req, res)) return;
    try {
      const method = req.method ?? 'GET';
      const duplicated = duplicatedHeader(req.rawHeaders);
      if (duplicated) throw duplicateHeader(duplicated);
      const route = router.match(method, path);
      if (route.kind === 'notFound') throw routeNotFound(method.toUpperCase(), path);
      if (route.kind === 'methodNotAllowed') throw methodNotAllowed(method.toUpperCase(), path, route.allow);
      if (route.secured) {
        const refused = refusal(req);
        if (refused) throw refused;
      }
      let body: unknown;
      if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') {
        checkBodyHeaders(req, options.maxBodyBytes);
        // Only now may the client send its body (the server answers `checkContinue` with this listener).
        if (expectsContinue(req)) res.writeContinue();
        body = parseJsonBody(await readBody(req, options.maxBodyBytes), options.jsonLimits);
      }
      const validate = requestValidators[route.operationId];
      if (!validate({ header: req.headers, path: route.params, requestBody: body })) throw validationError(validate.errors);
      const result = await handlers[route.operationId]({
        body,
        headers: req.headers as Record<string, string | undefined>,
        params: route.params,
        signal: controller.signal,
      });
      await writeResult(res, result, { signal: controller.signal, logger, keepAliveMs: options.keepAliveMs });
    } catch (err) {
      if (controller.signal.aborted && !(err instanceof GatewayError)) return;
      // A body left unread (refused before it was read) is discarded after the answer.
      sendError(res, err, logger, {}, req);
    }
  };
}
