/**
 * The OpenTelemetry SDK side of tracing, imported only when tracing is on
 * (`tracing.ts`): a tracer provider exporting in batches over OTLP/HTTP (JSON), W3C trace
 * context in and out. Contexts are passed explicitly (request span -> `traceContext` ->
 * run span -> upstream headers): no context manager, no monkey-patched modules.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { GatewayConfig } from '../config/types.js';
import type { RunSpan, RunTracer } from '../domain/telemetry.js';
import type { RequestTracer, Tracing } from './tracing.js';

export function createTracing(settings: GatewayConfig['gateway']['tracing']): Tracing {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.tracesUrl }))],
  });
  const tracer = provider.getTracer('moltbot-gateway');
  const propagator = new W3CTraceContextPropagator();

  const requests: RequestTracer = {
    startRequest(headers, method, route) {
      // A malformed traceparent is ignored by the propagator: the span starts a new trace.
      const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
      const span = tracer.startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'http.route': route } }, parent);
      return {
        context: trace.setSpan(parent, span),
        end(status, aborted) {
          span.setAttribute('http.response.status_code', status);
          if (aborted) span.setAttribute('moltbot.client_aborted', true);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
  };

  const runs: RunTracer = {
    startRun(turn, parent): RunSpan {
      const parentContext = (parent as Context | undefined) ?? ROOT_CONTEXT;
      const span = tracer.startSpan('moltbot.run', { attributes: { 'moltbot.agent': turn.agentId, 'moltbot.provider': turn.provider } }, parentContext);
      const runContext = trace.setSpan(parentContext, span);
      return {
        upstream() {
          const call = tracer.startSpan(`chat ${turn.provider}`, { kind: SpanKind.CLIENT, attributes: { 'gen_ai.system': turn.provider } }, runContext);
          const headers: Record<string, string> = {};
          propagator.inject(trace.setSpan(runContext, call), headers, defaultTextMapSetter);
          return {
            headers,
            end(error) {
              if (error) call.setStatus({ code: SpanStatusCode.ERROR, message: error });
              call.end();
            },
          };
        },
        end(status) {
          span.setAttribute('moltbot.run.status', status);
          if (status !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: status });
          span.end();
        },
      };
    },
  };

  return { requests, runs, shutdown: () => provider.shutdown() };
}
