import type { IncomingMessage, ServerResponse } from 'node:http';
import * as api from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { DemoTelemetryConfig } from '../config/demo-config.js';

/** The OpenTelemetry SDK of the demo process, started by {@link startDemoTelemetry}. */
export interface DemoTelemetry {
  /** Answers `GET /metrics` in Prometheus' text format; present with `metrics: 'prometheus'`. */
  metricsHandler?: (request: IncomingMessage, response: ServerResponse) => void;
  /** Flushes what is buffered (spans, a last metric export) and unregisters the SDK. */
  shutdown(): Promise<void>;
}

const DEFAULT_METRIC_EXPORT_INTERVAL_MS = 60_000;

/**
 * Registers the OpenTelemetry SDK of the demo process as the global providers, before Chronicle
 * starts (Chronicle's `start()` looks for them once). Traces: a batch span processor to OTLP/HTTP.
 * Metrics: a periodic OTLP/HTTP reader, and/or the SDK's Prometheus exporter as a pull reader
 * served by the demo's own HTTP server (no second port). Returns undefined, registering nothing,
 * when neither exporter is configured: telemetry then stays off in Chronicle.
 *
 * The SDK packages are the demo's dependencies; the Chronicle libraries only use `@opentelemetry/api`.
 */
export function startDemoTelemetry(config: DemoTelemetryConfig | undefined): DemoTelemetry | undefined {
  if (!config || (!config.otlpEndpoint && !config.metrics)) return undefined;
  const resource = resourceFromAttributes({ 'service.name': config.serviceName ?? 'chronicle-demo' });
  const base = config.otlpEndpoint?.replace(/\/+$/, '');

  // Traces are recorded only when they have somewhere to go: Prometheus alone is metrics only.
  const tracerProvider = base
    ? new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))] })
    : undefined;
  // Sets the global tracer provider, the AsyncLocalStorage context manager and the W3C propagator.
  tracerProvider?.register();

  const readers: IMetricReader[] = [];
  if (base) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
        exportIntervalMillis: config.metricExportIntervalMs ?? DEFAULT_METRIC_EXPORT_INTERVAL_MS,
      }),
    );
  }
  // `preventServerStart`: the exporter's request handler is mounted on the demo's server instead.
  const prometheus = config.metrics === 'prometheus' ? new PrometheusExporter({ preventServerStart: true }) : undefined;
  if (prometheus) readers.push(prometheus);
  const meterProvider = new MeterProvider({ resource, readers });
  api.metrics.setGlobalMeterProvider(meterProvider);

  let stopped: Promise<void> | undefined;
  return {
    ...(prometheus ? { metricsHandler: (request, response) => prometheus.getMetricsRequestHandler(request, response) } : {}),
    shutdown: () =>
      (stopped ??= (async () => {
        await Promise.allSettled([tracerProvider?.shutdown(), meterProvider.shutdown()]);
        // Unregistered, so that a later SDK in the same process (a test) can register its own.
        api.metrics.disable();
        if (tracerProvider) {
          api.trace.disable();
          api.context.disable();
          api.propagation.disable();
        }
      })()),
  };
}
