import { join } from 'node:path';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { ChronicleTelemetry, createChronicle, createInMemoryStorage, type Chronicle } from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { BenchLedger, OpenLedger, Post } from '../domain/bench-ledger.aggregate.js';
import { closedLoopWithSamples, forEachConcurrent, mergeRounds } from '../support/load.js';
import { POSTGRES_URL, freshSchema, postgresUnavailable } from '../support/postgres.js';
import { formatRatio, ratio, round } from '../support/stats.js';
import type { LoadResult, ResultTable, ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

type Variant = 'off' | 'api' | 'sdk';
const VARIANTS: Variant[] = ['off', 'api', 'sdk'];
const CALLERS = 64;
const LABELS: Record<Variant, string> = {
  off: 'telemetry off (options.telemetry = false)',
  api: '@opentelemetry/api, no SDK registered',
  sdk: 'SDK on: always-on sampler, batch span processor to a no-op exporter, a meter provider with a periodic reader',
};

/** Accepts and drops everything: the cost measured is Chronicle's and the SDK's, not an exporter's I/O. */
const dropSpans: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
const dropMetrics: PushMetricExporter = { export: (_metrics, done) => done({ code: 0 }), forceFlush: async () => undefined, shutdown: async () => undefined };

function telemetryFor(variant: Variant): { telemetry?: ChronicleTelemetry; shutdown: () => Promise<void> } {
  if (variant === 'off') return { shutdown: async () => undefined };
  if (variant === 'api') return { telemetry: ChronicleTelemetry.fromApi(api), shutdown: async () => undefined };
  const tracerProvider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new BatchSpanProcessor(dropSpans)] });
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: dropMetrics, exportIntervalMillis: 10_000 })] });
  return {
    telemetry: ChronicleTelemetry.fromApi(api, { tracerProvider, meterProvider }),
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/**
 * The SDK variant runs with an AsyncLocalStorage context manager, as NodeSDK registers one; the
 * others run without any. On Node 20, once an AsyncLocalStorage has been entered, every promise of
 * the process pays its hooks (about 4 µs per command here) until it is disabled again: left on, the
 * SDK's first round would tax the other variants too and flatter the SDK's ratio.
 */
function contextManagerFor(variant: Variant): void {
  api.context.disable();
  if (variant === 'sdk') api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

type Store = 'memory' | 'sqlite' | 'postgres';
const STORES: Record<Store, string> = { memory: 'in memory', sqlite: 'SQLite', postgres: 'PostgreSQL' };

/** The store of one variant: a DataSource of its own (SQLite file, or PostgreSQL schema), none in memory. */
async function openStore(context: ScenarioContext, store: Store, variant: Variant): Promise<{ dataSource?: DataSource; schema?: string; drop: () => Promise<void> }> {
  if (store === 'memory') return { drop: async () => undefined };
  if (store === 'sqlite') {
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: join(context.tempDir, `${variant}.sqlite`) }).initialize();
    return { dataSource, drop: () => dataSource.destroy() };
  }
  const { schema, drop } = await freshSchema(`${context.mode}_tel_${variant}`);
  // `driver` explicitly, as the demo does; the pool size of the command-throughput scenarios.
  const dataSource = await new DataSource({ type: 'postgres', driver: pg, url: POSTGRES_URL, poolSize: context.params.throughput.poolSize }).initialize();
  return {
    dataSource,
    schema,
    drop: async () => {
      await dataSource.destroy();
      await drop();
    },
  };
}

async function measure(context: ScenarioContext, store: Store): Promise<Map<Variant, LoadResult>> {
  const params = context.params.telemetryOverhead;
  const ids = Array.from({ length: params.aggregates }, (_, i) => `agg-${String(i).padStart(6, '0')}`);
  const handles: Array<{ variant: Variant; chronicle: Chronicle<unknown>; drop: () => Promise<void>; shutdown: () => Promise<void> }> = [];
  const rounds = new Map<Variant, Array<Awaited<ReturnType<typeof closedLoopWithSamples>>>>();
  try {
    for (const variant of VARIANTS) {
      const { dataSource, schema, drop } = await openStore(context, store, variant);
      const { telemetry, shutdown } = telemetryFor(variant);
      const chronicle = createChronicle<unknown>({
        storage: dataSource
          ? (createTypeOrmStorage(dataSource, schema ? { schema } : {}) as unknown as ReturnType<typeof createInMemoryStorage>)
          : createInMemoryStorage(),
        aggregates: [BenchLedger],
        logger: () => ({ log: () => undefined, warn: () => undefined, error: () => undefined }),
        ...(telemetry ? { telemetry } : {}),
        options: { telemetry: variant !== 'off' },
      });
      await chronicle.start();
      await forEachConcurrent(ids, 32, (id) => chronicle.execute(new OpenLedger(id, 'bench')));
      handles.push({ variant, chronicle, drop, shutdown });
    }
    // A first pass nobody measures warms the process (JIT, SQLite's page cache) for every variant.
    for (const handle of handles) {
      contextManagerFor(handle.variant);
      await closedLoopWithSamples({ label: 'warm-up', callers: CALLERS, warmupMs: 0, durationMs: params.warmupMs, op: (caller) => handle.chronicle.execute(new Post(ids[caller]!, 1)) });
    }
    for (let pass = 1; pass <= params.rounds; pass++) {
      // Each round starts with another variant, so none is always measured first.
      const order = handles.map((_, index) => handles[(index + pass - 1) % handles.length]!);
      for (const handle of order) {
        contextManagerFor(handle.variant);
        const measured = await closedLoopWithSamples({
          label: `${handle.variant} c${CALLERS}`,
          callers: CALLERS,
          warmupMs: params.warmupMs,
          durationMs: params.durationMs,
          op: (caller, iteration) => handle.chronicle.execute(new Post(ids[caller + CALLERS * (iteration % Math.floor(ids.length / CALLERS))]!, 1)),
        });
        rounds.set(handle.variant, [...(rounds.get(handle.variant) ?? []), measured]);
        context.log(`${store} round ${pass}/${params.rounds} ${handle.variant.padEnd(4)} ${Math.round(measured.result.opsPerSec)} cmd/s  CPU ${Math.round(measured.result.cpuUsPerOp)} µs/cmd  p50 ${round(measured.result.p50Ms)} ms  errors ${measured.result.errors}`);
      }
    }
  } finally {
    for (const handle of handles) {
      await handle.chronicle.stop().catch(() => undefined);
      await handle.shutdown().catch(() => undefined);
      await handle.drop().catch(() => undefined);
    }
  }
  return new Map<Variant, LoadResult>(VARIANTS.map((variant) => [variant, mergeRounds(rounds.get(variant) ?? [])]));
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const params = context.params.telemetryOverhead;
  const measured = new Map<Store, Map<Variant, LoadResult>>();
  try {
    const pgMissing = await postgresUnavailable();
    if (pgMissing) context.log(`PostgreSQL skipped: ${pgMissing}`);
    for (const store of Object.keys(STORES) as Store[]) {
      if (store === 'postgres' && pgMissing) continue;
      measured.set(store, await measure(context, store));
    }
  } finally {
    api.context.disable();
  }
  const tables: ResultTable[] = [];
  const targets: TargetCheck[] = [];
  for (const [store, results] of measured) {
    const { table, checks } = report(store, results);
    tables.push(table);
    targets.push(...checks);
  }
  return {
    settings: { storages: 'in memory, then SQLite (one file per variant), then PostgreSQL (one schema per variant, a pool of throughput.poolSize connections each)', callers: CALLERS, contextManager: 'AsyncLocalStorage, registered only while the SDK variant runs (disabled for the others)', aggregates: params.aggregates, rounds: params.rounds, warmupMs: params.warmupMs, durationMs: params.durationMs, variants: LABELS },
    metrics: Object.fromEntries([...measured].map(([store, results]) => [store, Object.fromEntries(results)])),
    tables,
    charts: [],
    targets,
    notes: [
      'In memory, the command path is CPU-bound: the telemetry share of each command is at its largest. On SQLite and PostgreSQL the write takes most of a command, and the ratios sit closer to the rounds\' spread.',
    ],
  };
}

function report(store: Store, results: Map<Variant, LoadResult>): { table: ResultTable; checks: TargetCheck[] } {
  const off = results.get('off')!;
  const table: ResultTable = {
    title: `${STORES[store]}, ${CALLERS} callers: command throughput by telemetry setting`,
    columns: ['variant', 'cmd/s', 'vs off (rounds merged)', 'vs off per round: median (min–max)', 'CPU µs/cmd', 'p50 ms', 'p99 ms', 'rounds (cmd/s)', 'errors'],
    rows: VARIANTS.map((variant) => {
      const r = results.get(variant)!;
      return [
        LABELS[variant],
        Math.round(r.opsPerSec),
        formatRatio(ratio(r.opsPerSec, off.opsPerSec)),
        perRound(r, off),
        Math.round(r.cpuUsPerOp),
        round(r.p50Ms),
        round(r.p99Ms),
        (r.roundOpsPerSec ?? [r.opsPerSec]).map((value) => Math.round(value)).join(', '),
        r.errors,
      ];
    }),
    caption: 'After an unmeasured warm-up pass of each, rounds interleave the variants, each round starting with another one; each variant has its own store with the same 1,000 aggregates. The target is checked on the median of the per-round ratios (each round runs the three back to back); the merged ratio and CPU per command are shown beside it.',
  };
  const checks: TargetCheck[] = (
    [
      ['sdk', 0.85],
      ['api', 0.98],
    ] as const
  ).map(([variant, wanted]) => {
    const measured = results.get(variant)!;
    const value = roundRatios(measured, off).median;
    return {
      scenario: 'telemetry-overhead',
      name: `${STORES[store]}, ${CALLERS} callers: ${variant === 'sdk' ? 'SDK on' : 'API without SDK'} vs telemetry off`,
      target: `≥ ${wanted}×`,
      measured: `${formatRatio(value)} (${roundsLabel(measured.roundOpsPerSec?.length ?? 1)}; merged ${Math.round(measured.opsPerSec)} vs ${Math.round(off.opsPerSec)} cmd/s, CPU ${Math.round(off.cpuUsPerOp)} → ${Math.round(measured.cpuUsPerOp)} µs/cmd)`,
      status: value >= wanted ? 'PASS' : 'MISS',
    };
  });
  return { table, checks };
}

/** The telemetry overhead targets: command throughput at 64 callers with the SDK on, and with the API alone, against telemetry off. */
export const telemetryOverhead: Scenario = {
  id: 'telemetry-overhead',
  title: 'Telemetry overhead: commands at 64 callers with telemetry off, the API alone, and the SDK on (in memory, SQLite, PostgreSQL)',
  needs: [],
  timeoutMs: { quick: 180_000, full: 420_000 },
  run,
};

/**
 * The variant's throughput over telemetry off's in each round (the three run back to back), and
 * the median of those ratios. A slow spell of the host that hits one variant's 1.5 s slot of a
 * round moves that round's ratio a long way; the median of seven rounds leaves such rounds out,
 * where merged rounds carry them into the figure. With an even number of rounds the median is the
 * mean of the two middle ratios.
 */
function roundRatios(r: LoadResult, off: LoadResult): { median: number; min: number; max: number } {
  const own = r.roundOpsPerSec ?? [r.opsPerSec];
  const base = off.roundOpsPerSec ?? [off.opsPerSec];
  const ratios = own.map((ops, index) => ratio(ops, base[index] ?? off.opsPerSec)).sort((a, b) => a - b);
  const middle = Math.floor(ratios.length / 2);
  const median = ratios.length % 2 === 1 ? ratios[middle]! : (ratios[middle - 1]! + ratios[middle]!) / 2;
  return { median, min: ratios[0]!, max: ratios[ratios.length - 1]! };
}

function perRound(r: LoadResult, off: LoadResult): string {
  const { median, min, max } = roundRatios(r, off);
  return `${formatRatio(median)} (${formatRatio(min)}–${formatRatio(max)})`;
}

function roundsLabel(rounds: number): string {
  return rounds === 1 ? 'one round' : `median of ${rounds} rounds`;
}
