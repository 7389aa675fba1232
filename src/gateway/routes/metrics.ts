/** `GET /metrics`: the gateway's metrics in the Prometheus text format. */
import type { GatewayMetrics } from '../../observability/metrics.js';
import type { OperationHandler } from '../handler.js';

export function createMetricsHandler(metrics: GatewayMetrics | undefined): OperationHandler<'getMetrics'> {
  return async () => {
    // Unreachable without metrics: the route is left out of the router then.
    const text = metrics ? await metrics.render() : '';
    return { kind: 'raw', status: 200, contentType: metrics?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8', body: Buffer.from(text) };
  };
}
