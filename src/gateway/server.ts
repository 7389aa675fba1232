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
import { getHealth } from './routes/health.js';

export interface ServerDeps {
  core: AgentCore;
  logger: Logger;
}

const CHAT_COMPLETIONS_PATH = '/v1/chat/completions';

export async function createServer(config: GatewayConfig, deps: ServerDeps): Promise<Express> {
  const { secret } = config.gateway.auth;
  if (!secret) throw new Error('createServer needs a gateway secret');
  const listener = await createApi({
    secret,
    maxBodyBytes: config.gateway.http.maxBodyBytes,
    disabledPaths: config.gateway.http.chatCompletionsEnabled ? [] : [CHAT_COMPLETIONS_PATH],
    handlers: {
      createChatCompletion: createChatCompletionHandler(deps.core),
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
