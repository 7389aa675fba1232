/**
 * The gateway's telemetry, built once per gateway from its config: the logger, the
 * metrics (when `gateway.metrics.enabled`) and the observer the agent core reports to.
 */
import type { GatewayConfig } from '../config/types.js';
import type { CoreObserver } from '../domain/telemetry.js';
import { createCoreObserver } from './core-observer.js';
import type { Logger } from './logger.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';

export interface Telemetry {
  logger: Logger;
  metrics: GatewayMetrics | undefined;
  observer: CoreObserver;
}

export function createTelemetry(config: GatewayConfig, logger: Logger, options: { walFile?: string | undefined } = {}): Telemetry {
  const metrics = config.gateway.metrics.enabled ? createMetrics({ walFile: options.walFile }) : undefined;
  return { logger, metrics, observer: createCoreObserver(logger, metrics) };
}
