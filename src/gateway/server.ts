/**
 * `createServer(config, deps)`: the Express app serving the gateway, without `listen`
 * (tests listen on port 0).
 */
import express, { type Express } from 'express';
import type { AgentCore } from '../agents/core.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { createApi } from './api.js';
import { createChatCompletionHandler } from './routes/chat-completions.js';
import { getDocs, getOpenApiDocument } from './routes/docs.js';
import { getHealth } from './routes/health.js';
import { createModelHandlers } from './routes/models.js';

export interface ServerDeps {
  core: AgentCore;
  logger: Logger;
}

/** The OpenAI endpoints, enabled together by `gateway.http.endpoints.chatCompletions.enabled`. */
const OPENAI_PATHS = ['/v1/chat/completions', '/v1/models', '/v1/models/{model}'];

export async function createServer(config: GatewayConfig, deps: ServerDeps): Promise<Express> {
  const { secret } = config.gateway.auth;
  if (!secret) throw new Error('createServer needs a gateway secret');
  const models = createModelHandlers(
    config.agents.map((agent) => agent.id),
    config.defaultAgentId,
    Math.floor(Date.now() / 1000),
  );
  const listener = await createApi({
    secret,
    maxBodyBytes: config.gateway.http.maxBodyBytes,
    keepAliveMs: config.gateway.http.sseKeepAliveSeconds * 1000,
    corsOrigins: config.gateway.http.corsOrigins,
    disabledPaths: config.gateway.http.chatCompletionsEnabled ? [] : OPENAI_PATHS,
    handlers: {
      createChatCompletion: createChatCompletionHandler(deps.core),
      listModels: models.listModels,
      retrieveModel: models.retrieveModel,
      getOpenApiDocument,
      getDocs,
      getHealth,
    },
    logger: deps.logger,
  });
  const app = express();
  // Nothing here is cacheable or needs to advertise the framework.
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  app.use((req, res) => listener(req, res));
  return app;
}
