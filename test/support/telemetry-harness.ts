import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { DataSource, type EntityManager } from 'typeorm';
import { ChronicleTelemetry, createChronicle, type Chronicle, type ChronicleLogger, type ChronicleConfig } from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { Ledger } from '../fixtures/ledger.aggregate.js';

/**
 * A runtime on in-memory SQLite with an in-memory span exporter and metric reader, for the
 * telemetry tests: spans are read back as exported, gauges collected on demand.
 */
export interface TelemetryHarness {
  chronicle: Chronicle<EntityManager>;
  metrics: InMemoryMetricExporter;
  reader: PeriodicExportingMetricReader;
  dataSource: DataSource;
}

export const silentLogger = (): ChronicleLogger => ({ log: () => undefined, warn: () => undefined, error: () => undefined });

/** One tracer provider and context manager for a test file (the global context manager is process-wide). */
export function telemetryFixture(): {
  spans: InMemorySpanExporter;
  tracerProvider: BasicTracerProvider;
  enable(): void;
  disable(): void;
  harness(config?: Partial<ChronicleConfig<EntityManager>>, meter?: { reader: PeriodicExportingMetricReader; metrics: InMemoryMetricExporter; meterProvider: MeterProvider }): Promise<TelemetryHarness>;
  closeAll(): Promise<void>;
  named(name: string): ReadableSpan[];
  gauge(h: TelemetryHarness, name: string, attributes?: Record<string, string>): Promise<number | undefined>;
  meter(): { reader: PeriodicExportingMetricReader; metrics: InMemoryMetricExporter; meterProvider: MeterProvider };
} {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const contextManager = new AsyncLocalStorageContextManager();
  const open: TelemetryHarness[] = [];
  const meter = () => {
    const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 });
    return { metrics, reader, meterProvider: new MeterProvider({ readers: [reader] }) };
  };
  return {
    spans,
    tracerProvider,
    meter,
    enable: () => void api.context.setGlobalContextManager(contextManager.enable()),
    disable: () => api.context.disable(),
    async harness(config = {}, shared = meter()) {
      const dataSource = await new DataSource({ type: 'better-sqlite3', database: ':memory:' }).initialize();
      const chronicle = createChronicle({
        storage: createTypeOrmStorage(dataSource),
        aggregates: [Ledger],
        logger: silentLogger,
        telemetry: ChronicleTelemetry.fromApi(api, { tracerProvider, meterProvider: shared.meterProvider }),
        options: { subscriptions: { pollIntervalMs: 600_000, deadlinePollIntervalMs: 600_000 } },
        ...config,
      } as ChronicleConfig<EntityManager>);
      await chronicle.start();
      const made = { chronicle, metrics: shared.metrics, reader: shared.reader, dataSource };
      open.push(made);
      return made;
    },
    async closeAll() {
      for (const h of open.splice(0)) {
        await h.chronicle.stop();
        if (h.dataSource.isInitialized) await h.dataSource.destroy();
      }
      spans.reset();
    },
    named: (name) => spans.getFinishedSpans().filter((span) => span.name === name),
    async gauge(h, name, attributes = {}) {
      h.metrics.reset();
      await h.reader.forceFlush();
      for (const scope of h.metrics.getMetrics().at(-1)?.scopeMetrics ?? []) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints) {
            if (Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)) return point.value as number;
          }
        }
      }
      return undefined;
    },
  };
}
