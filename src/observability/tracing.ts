/**
 * Optional OpenTelemetry tracing: a span per routed HTTP request (its parent the
 * client's W3C `traceparent`, when sent), a child per agent run and a grandchild per
 * upstream call, whose `traceparent` goes to the upstream. On when
 * `gateway.tracing.enabled` (or `OTEL_EXPORTER_OTLP_ENDPOINT` is set); spans go to an
 * OTLP/HTTP collector. Off, nothing of the SDK is loaded: `tracing-sdk.ts` is imported
 * only here, only when on (eslint keeps static imports of the SDK out of `src/`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayConfig } from '../config/types.js';
import type { RunTracer } from '../domain/telemetry.js';

/** The HTTP edge's part: one span per routed request. */
export interface RequestTracer {
  startRequest(headers: IncomingHttpHeaders, method: string, route: string): { context: unknown; end(status: number, aborted: boolean): void };
}

export interface Tracing {
  requests: RequestTracer;
  runs: RunTracer;
  /** Exports what is pending and stops (at shutdown). */
  shutdown(): Promise<void>;
}

/** Starts tracing when the config turns it on; undefined (and nothing loaded) otherwise. */
export async function startTracing(config: GatewayConfig): Promise<Tracing | undefined> {
  const settings = config.gateway.tracing;
  if (!settings.enabled) return undefined;
  const { createTracing } = await import('./tracing-sdk.js');
  return createTracing(settings);
}
