/**
 * The HTTP edge: reads the body (limit enforced while reading), routes by the spec with
 * openapi-backend, checks bearer auth, validates against the spec, and writes handler
 * results. openapi-backend fails open without `unauthorizedHandler` and `validationFail`:
 * both are registered here, so neither an unauthenticated nor an invalid request reaches
 * a handler.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OpenAPIBackend, type Context, type Document } from 'openapi-backend';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openapiDocument } from '../../generated/openapi-document.js';
import { operationIds, operationPaths, type OperationId } from '../../generated/operations.js';
import { GatewayError, RunAbortedError, toGatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { createBearerCheck, unauthorized } from './auth.js';
import { parseJsonBody, readBody, type BodyProblem } from './body.js';
import { errorBody, logFailure, sendError } from './error-response.js';
import type { HandlerResult, OperationHandler, StreamResult } from './handler.js';
import { SSE_HEADERS, endStream, writeEvent } from './sse.js';
import { validationError } from './validation-error.js';

/** One handler per operationId in the spec: a missing one is a compile error. */
export type OperationHandlers = { [K in OperationId]: OperationHandler<never> };

export interface ApiOptions {
  secret: string;
  maxBodyBytes: number;
  /** Spec paths left out of the served API (disabled endpoints answer 404). */
  disabledPaths: readonly string[];
  handlers: OperationHandlers;
  logger: Logger;
}

/** A node-style request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

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

function notFound(method: string, path: string): GatewayError {
  return new GatewayError({
    status: 404,
    type: 'invalid_request_error',
    code: null,
    message: `Invalid URL (${method} ${path.slice(0, 200)})`,
  });
}

function methodNotAllowed(method: string, path: string, allow: string): GatewayError {
  return new GatewayError({
    status: 405,
    type: 'invalid_request_error',
    code: 'method_not_allowed',
    message: `Method ${method} is not allowed on ${path}; use ${allow}.`,
  });
}

/** Resolves when the socket can take more, or the client is gone. */
function drained(res: ServerResponse): Promise<unknown> {
  return Promise.race([once(res, 'drain'), once(res, 'close')]);
}

async function writeStream(res: ServerResponse, result: StreamResult, signal: AbortSignal, logger: Logger): Promise<void> {
  const iterator = result.events[Symbol.asyncIterator]();
  try {
    let next: IteratorResult<unknown>;
    try {
      next = await iterator.next();
    } catch (err) {
      if (!signal.aborted) sendError(res, err, logger, result.headers);
      return;
    }
    res.writeHead(200, { ...SSE_HEADERS, ...result.headers });
    try {
      for (; !next.done; next = await iterator.next()) {
        if (signal.aborted) return;
        writeEvent(res, next.value);
        if (res.writableNeedDrain) await drained(res);
      }
      endStream(res);
    } catch (err) {
      if (signal.aborted || err instanceof RunAbortedError) return;
      const failure = toGatewayError(err);
      logFailure(logger, failure, err);
      writeEvent(res, errorBody(failure));
      endStream(res);
    }
  } finally {
    await iterator.return?.();
  }
}

async function writeResult(res: ServerResponse, result: HandlerResult, signal: AbortSignal, logger: Logger): Promise<void> {
  if (result.kind === 'sse') return writeStream(res, result, signal, logger);
  let value: unknown;
  try {
    value = await result.body;
  } catch (err) {
    if (signal.aborted) return;
    // The result's headers (the session key) tell the client where the failed turn went.
    sendError(res, err, logger, result.headers);
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(result.status, {
    ...result.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Per-request state handed to openapi-backend's handlers. */
interface RequestState {
  controller: AbortController;
  bodyProblem: BodyProblem | undefined;
}

type HandlerArgs = [IncomingMessage, ServerResponse, RequestState];

/** Builds the request listener for the spec's operations. */
export async function createApi(options: ApiOptions): Promise<RequestListener> {
  const { logger } = options;
  const isAuthorized = createBearerCheck(options.secret);
  const document = servedDocument(options.disabledPaths);
  const allowed = (path: string): string =>
    Object.keys((document.paths as Record<string, object>)[path] ?? {})
      .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map((m) => m.toUpperCase())
      .join(', ');

  const api = new OpenAPIBackend({
    definition: document,
    strict: false,
    // Skip openapi-backend's own definition check: it knows OAS 3.0 only (Redocly lints the spec).
    validate: true,
    quick: true,
    customizeAjv: (_ajv: unknown, ajvOpts: object) => {
      const ajv = new Ajv2020({ ...ajvOpts, strict: false, allErrors: true, discriminator: true });
      addFormats.default(ajv);
      return ajv as never;
    },
    securityHandlers: {
      bearerAuth: (context: Context) => isAuthorized(context.request.headers.authorization as string | undefined),
    },
    handlers: {
      notFound: (context: Context, _req: IncomingMessage, res: ServerResponse) => {
        sendError(res, notFound(context.request.method.toUpperCase(), context.request.path), logger);
      },
      methodNotAllowed: (context: Context, _req: IncomingMessage, res: ServerResponse) => {
        const allow = allowed(context.request.path);
        sendError(res, methodNotAllowed(context.request.method.toUpperCase(), context.request.path, allow), logger, { allow });
      },
      unauthorizedHandler: (_context: Context, _req: IncomingMessage, res: ServerResponse) => {
        sendError(res, unauthorized(), logger, { 'www-authenticate': 'Bearer' });
      },
      validationFail: (context: Context, _req: IncomingMessage, res: ServerResponse, state: RequestState) => {
        sendError(res, validationError(context.validation.errors, state.bodyProblem), logger);
      },
    },
  });
  // Only operations still in the served document: disabled ones have no route.
  for (const operationId of operationIds.filter((id) => !options.disabledPaths.includes(operationPaths[id].path))) {
    const handler = options.handlers[operationId] as OperationHandler<unknown>;
    api.register(operationId, async (context: Context, _req: IncomingMessage, res: ServerResponse, { controller }: RequestState) => {
      const result = await handler({
        body: context.request.requestBody,
        headers: context.request.headers as Record<string, string | undefined>,
        signal: controller.signal,
      });
      await writeResult(res, result, controller.signal, logger);
    });
  }
  await api.init();

  return async (req, res) => {
    const controller = new AbortController();
    // A client that leaves before the response is complete aborts the run.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const state: RequestState = { controller, bodyProblem: undefined };
    try {
      let body: unknown;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const parsed = parseJsonBody(await readBody(req, options.maxBodyBytes));
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
