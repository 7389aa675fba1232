/** What every method handler gets, and the handler table's type (keyed by the generated method names). */
import type { WsMethod, WsMethodParams, WsMethodResults } from '../../../../generated/ws/methods.js';
import type { AgentCore } from '../../../agents/core-api.js';
import type { GatewayConfig } from '../../../config/types.js';
import type { Connection } from '../connection.js';
import type { RunRegistry } from '../runs.js';

export interface MethodContext {
  connection: Connection;
  /** Sends a response under this request's id before the handler's own (the `agent` method's `accepted`). */
  respond(payload: unknown): void;
}

export interface MethodDeps {
  core: AgentCore;
  runs: RunRegistry;
  config: GatewayConfig;
  /** The gateway's version, for results that name it. */
  version: string;
  /** When the gateway started (epoch ms). */
  startedAt: number;
}

export type MethodHandler<M extends WsMethod> = (params: WsMethodParams[M], context: MethodContext) => Promise<WsMethodResults[M]>;

/** One handler per method of asyncapi.yaml: a method without one does not compile. */
export type MethodHandlers = { readonly [M in WsMethod]: MethodHandler<M> };
