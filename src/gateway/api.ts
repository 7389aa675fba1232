/**
 * The HTTP edge: request id, CORS, body (limit enforced while reading), routing by the
 * spec with openapi-backend, bearer auth, validation against the spec, then the
 * operation's handler. openapi-backend fails open without `unauthorizedHandler` and
 * `validationFail`: both are registered here, so neither an unauthenticated nor an
 * invalid request reaches a handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OpenAPIBackend, type Context, type Document } from 'openapi-backend';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openapiDocument } from '../../generated/openapi-document.js';
import { operationIds, operationPaths, type OperationId } from '../../generated/operations.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { createBearerCheck, unauthorized } from './auth.js';
import { createAuthLimiter, isLoopback } from './auth-limiter.js';
import { parseJsonBody, readBody, type JsonLimits } from './body.js';
import { createCors } from './cors.js';
import { sendError } from './error-response.js';
import type { OperationHandler } from './handler.js';
import { requestIdOf } from './request-id.js';
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

/** Per-request state handed to openapi-backend's handlers. */
interface RequestState {
  controller: AbortController;
  /** Why the body cannot be a request; answered after auth, in place of validation. */
  bodyProblem: GatewayError | undefined;
  /** Seconds this client address is blocked for after too many failed attempts. */
  blockedFor: number;
  logger: Logger;
}

type HandlerArgs = [IncomingMessage, ServerResponse, RequestState];

/** The spec as openapi-backend should see it: disabled paths removed, and no `discriminator.mapping` (Ajv rejects it). */
function servedDocument(disabledPaths: readonly string[]): Document {
  const document = structuredClone(openapiDocument) as unknown as Document & { paths: Record<string, unknown> };
  for (const path of disabledPaths) delete document.paths[path];
  const strip = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(strip);
    else if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      const discriminator = record.discriminator as Record<string, unknown> | undefined;
      if (discriminator && typeof discriminator === 'object') delete discriminator.mapping;
      Object.values(record).forEach(strip);
    }
  };
  strip(document);
  return document;
}

function tooManyFailures(seconds: number): GatewayError {
  return new GatewayError({
    status: 429,
    type: 'invalid_request_error',
    code: 'too_many_auth_failures',
    message: `Too many failed authentication attempts from this address; retry after ${seconds} s.`,
    headers: { 'retry-after': String(seconds) },
  });
}

function notFound(method: string, path: string): GatewayError {
  return new GatewayError({ status: 404, type: 'invalid_request_error', code: null, message: `Invalid URL (${method} ${path.slice(0, 200)})` });
}

function methodNotAllowed(method: string, path: string, allow: string): GatewayError {
  return new GatewayError({
    status: 405,
    type: 'invalid_request_error',
    code: 'method_not_allowed',
    message: `Method ${method} is not allowed on ${path}; use ${allow}.`,
  });
}

/** Builds the request listener for the spec's operations. */
export async function createApi(options: ApiOptions): Promise<RequestListener> {
  const isAuthorized = createBearerCheck(options.secret);
  const { rateLimit } = options;
  const limiter = rateLimit.enabled
    ? createAuthLimiter({ ...rateLimit, exempt: (address) => rateLimit.exemptLoopback && isLoopback(address) })
    : undefined;
  const cors = createCors(options.corsOrigins);
  const document = servedDocument(options.disabledPaths);
  // For a 405, the methods of the path template the request's path fits.
  const templates = Object.entries(document.paths as Record<string, Record<string, unknown>>).map(([template, item]) => ({
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/gu, '\\$&').replace(/\{[^}]+\}/gu, '[^/]+')}$`, 'u'),
    methods: Object.keys(item)
      .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map((m) => m.toUpperCase())
      .join(', '),
  }));
  const allowed = (path: string): string => templates.find((t) => t.pattern.test(path))?.methods ?? '';

  const api = new OpenAPIBackend({
    definition: document,
    strict: false,
    // openapi-backend's own definition check knows OAS 3.0 only; Redocly lints the spec.
    validate: true,
    quick: true,
    customizeAjv: (_ajv: unknown, ajvOpts: object) => {
      // `verbose` keeps each error's schema, so a 400 can list the accepted values.
      const ajv = new Ajv2020({ ...ajvOpts, strict: false, allErrors: true, discriminator: true, verbose: true });
      addFormats.default(ajv);
      return ajv as never;
    },
    securityHandlers: {
      bearerAuth: (context: Context, req: IncomingMessage, _res: ServerResponse, state: RequestState) => {
        const address = req.socket.remoteAddress ?? '';
        // A blocked address is refused even with the right secret: no oracle while blocked.
        state.blockedFor = limiter?.blockedFor(address) ?? 0;
        if (state.blockedFor > 0) return false;
        const ok = isAuthorized(context.request.headers.authorization as string | undefined);
        if (!ok) limiter?.failed(address);
        return ok;
      },
    },
    handlers: {
      notFound: (context: Context, _req: IncomingMessage, res: ServerResponse, state: RequestState) => {
        sendError(res, notFound(context.request.method.toUpperCase(), context.request.path), state.logger);
      },
      methodNotAllowed: (context: Context, _req: IncomingMessage, res: ServerResponse, state: RequestState) => {
        const allow = allowed(context.request.path);
        sendError(res, methodNotAllowed(context.request.method.toUpperCase(), context.request.path, allow), state.logger, { allow });
      },
      unauthorizedHandler: (_context: Context, _req: IncomingMessage, res: ServerResponse, state: RequestState) => {
        if (state.blockedFor > 0) sendError(res, tooManyFailures(state.blockedFor), state.logger);
        else sendError(res, unauthorized(), state.logger, { 'www-authenticate': 'Bearer' });
      },
      validationFail: (context: Context, _req: IncomingMessage, res: ServerResponse, state: RequestState) => {
        sendError(res, state.bodyProblem ?? validationError(context.validation.errors), state.logger);
      },
    },
  });
  // Only operations still in the served document: disabled ones have no route.
  for (const operationId of operationIds.filter((id) => !options.disabledPaths.includes(operationPaths[id].path))) {
    const handler = options.handlers[operationId] as OperationHandler<unknown>;
    api.register(operationId, async (context: Context, _req: IncomingMessage, res: ServerResponse, state: RequestState) => {
      const result = await handler({
        body: context.request.requestBody,
        headers: context.request.headers as Record<string, string | undefined>,
        params: context.request.params as Record<string, string | undefined>,
        signal: state.controller.signal,
      });
      await writeResult(res, result, { signal: state.controller.signal, logger: state.logger, keepAliveMs: options.keepAliveMs });
    });
  }
  await api.init();

  return async (req, res) => {
    const started = performance.now();
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const logger = options.logger.child({ requestId });
    const controller = new AbortController();
    // A client that leaves before the response is complete aborts the run.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
      logger.log('info', 'request', {
        method: req.method,
        path: (req.url ?? '').split('?', 1)[0]?.slice(0, 200),
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        ...(res.writableFinished ? {} : { aborted: true }),
      });
    });
    if (cors.handle(req, res)) return;
    const state: RequestState = { controller, bodyProblem: undefined, blockedFor: 0, logger };
    try {
      let body: unknown;
      if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
        const parsed = parseJsonBody(await readBody(req, options.maxBodyBytes), req.headers['content-type'], options.jsonLimits);
        body = parsed.body;
        state.bodyProblem = parsed.problem;
      }
      const [path = '/'] = (req.url ?? '/').split('?', 1);
      await api.handleRequest(
        { method: req.method ?? 'GET', path, headers: req.headers as Record<string, string>, query: {}, body },
        ...([req, res, state] satisfies HandlerArgs),
      );
    } catch (err) {
      if (controller.signal.aborted && !(err instanceof GatewayError)) return;
      const failure = toGatewayError(err);
      // Refused bodies are not read to the end: close the connection after answering.
      sendError(res, failure, logger, failure.status === 413 ? { connection: 'close' } : {});
    }
  };
}
