import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ChronicleTelemetry, createChronicle, createInMemoryStorage, type CommandSpanInfo, type TelemetrySpan } from '@chronicle/core';
import { BenchLedger, OpenLedger, Post } from '../domain/bench-ledger.aggregate.js';

/*
 * What one command costs with the SDK on, by component: `node dist/bench/profiling/telemetry-cost.js`.
 * Not a scenario (no target, no result file): the breakdown behind the `telemetry-overhead` figures.
 * Each component is timed alone, in a loop, in CPU time per operation (median of the repetitions),
 * with the SDK set up as that scenario sets it up: always-on sampler, batch span processor to a
 * no-op exporter, a meter provider with a periodic reader, the AsyncLocalStorage context manager.
 * Chronicle's calls (`startCommand`...) are timed next to the bare SDK calls they make, so the
 * difference is Chronicle's share. Options: N=<ops per repetition> REPS=<repetitions>.
 */

const N = Number(process.env.N ?? 200_000);
const REPS = Number(process.env.REPS ?? 7);
const dropSpans: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
const dropMetrics: PushMetricExporter = { export: (_metrics, done) => done({ code: 0 }), forceFlush: async () => undefined, shutdown: async () => undefined };

/** Median CPU nanoseconds per call of `op` (awaited in groups of 64 when it returns a promise). */
async function cpuPerOp(op: (i: number) => unknown): Promise<number> {
  const samples: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const before = process.cpuUsage();
    for (let i = 0; i < N; i += 64) {
      const pending: unknown[] = [];
      for (let k = 0; k < 64; k++) pending.push(op(i + k));
      if (pending[0] instanceof Promise) await Promise.all(pending);
    }
    const used = process.cpuUsage(before);
    samples.push(((used.user + used.system) * 1000) / N);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

/** Promises created per command by the gateway, in memory, with and without telemetry (async_hooks count). */
async function promisesPerCommand(telemetry: ChronicleTelemetry | undefined): Promise<number> {
  const chronicle = createChronicle<unknown>({
    storage: createInMemoryStorage(),
    aggregates: [BenchLedger],
    logger: () => ({ log: () => undefined, warn: () => undefined, error: () => undefined }),
    ...(telemetry ? { telemetry } : {}),
    options: { telemetry: telemetry !== undefined },
  });
  await chronicle.start();
  const ids = Array.from({ length: 64 }, (_, i) => `ledger-${i}`);
  await Promise.all(ids.map((id) => chronicle.execute(new OpenLedger(id, 'bench'))));
  await Promise.all(ids.map((id) => chronicle.execute(new Post(id, 1))));
  let promises = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) }).enable();
  await Promise.all(ids.map(async (id) => { for (let i = 0; i < 20; i++) await chronicle.execute(new Post(id, 1)); }));
  hook.disable();
  await chronicle.stop();
  return promises / (ids.length * 20);
}

async function main(): Promise<void> {
  const tracerProvider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new BatchSpanProcessor(dropSpans)] });
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: dropMetrics, exportIntervalMillis: 10_000 })] });
  const telemetry = ChronicleTelemetry.fromApi(api, { tracerProvider, meterProvider });
  const tracer = tracerProvider.getTracer('bare');
  const histogram = meterProvider.getMeter('bare').createHistogram('bare.duration', { unit: 's' });
  const outcome = Object.freeze({ 'chronicle.aggregate.type': 'BenchLedger', 'chronicle.command.outcome': 'accepted' });
  const info = (i: number): CommandSpanInfo => ({ aggregateType: 'BenchLedger', aggregateId: `ledger-${i & 1023}`, commandType: 'Post', commandId: `command-${i}`, expectedVersion: undefined, parent: undefined });
  const attributes = (i: number): api.Attributes => ({ 'chronicle.aggregate.type': 'BenchLedger', 'chronicle.aggregate.id': `ledger-${i & 1023}`, 'chronicle.command.type': 'Post', 'chronicle.command.id': `command-${i}` });
  const startedAt = performance.now();
  const rows: Array<[string, number]> = [];
  const time = async (label: string, op: (i: number) => unknown): Promise<number> => {
    const ns = await cpuPerOp(op);
    rows.push([label, ns]);
    console.log(`${label.padEnd(78)} ${ns.toFixed(0).padStart(6)} ns`);
    return ns;
  };

  const leaf = async (i: number): Promise<number> => i;
  const chain = async (i: number): Promise<number> => (await leaf(i)) + (await leaf(i + 1)) + (await leaf(i + 2));
  const promisesPerChain = await (async () => {
    let count = 0;
    const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && count++) }).enable();
    await chain(0);
    hook.disable();
    return count;
  })();
  const offPromises = await promisesPerCommand(undefined);
  const chainOff = await time(`${promisesPerChain} promises, promise hooks off`, (i) => chain(i));
  // What the SDK does at its first export (context.with around the exporter) with the context manager registered.
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  new AsyncLocalStorage().run(true, () => undefined);
  const chainOn = await time(`${promisesPerChain} promises, promise hooks on (AsyncLocalStorage entered)`, (i) => chain(i));
  const hookPerPromise = (chainOn - chainOff) / promisesPerChain;
  const sdkPromises = await promisesPerCommand(telemetry);

  const chronicleSpan = await time('Chronicle: startCommand + endCommand (span, attributes, duration histogram)', (i) =>
    telemetry.endCommand(telemetry.startCommand(info(i)), { aggregateType: 'BenchLedger', outcome: 'accepted', startedAt, resultingVersion: i, retries: 0, error: undefined }),
  );
  const sdkSpan = await time('  bare SDK: the same span (4 attributes at start, 3 at end) and histogram record', (i) => {
    const span = tracer.startSpan('chronicle.command', { kind: api.SpanKind.INTERNAL, attributes: attributes(i) }, api.context.active());
    span.setAttribute('chronicle.command.outcome', 'accepted');
    span.setAttribute('chronicle.command.retries', 0);
    span.setAttribute('chronicle.command.resulting_version', i);
    span.end();
    histogram.record((performance.now() - startedAt) / 1000, outcome);
  });
  await time('    bare SDK: startSpan (ids, sampler, 4 attributes) + end (batch processor queue)', (i) => tracer.startSpan('chronicle.command', { kind: api.SpanKind.INTERNAL, attributes: attributes(i) }, api.context.active()).end());
  await time('    bare SDK: startSpan without attributes + end', () => tracer.startSpan('chronicle.command', { kind: api.SpanKind.INTERNAL }, api.ROOT_CONTEXT).end());
  const recordWith = await time('    bare SDK: histogram.record with 2 attributes (hashed by the SDK per record)', () => histogram.record(0.001, outcome));
  const recordWithout = await time('    bare SDK: histogram.record without attributes', () => histogram.record(0.001));
  const held: TelemetrySpan[] = Array.from({ length: 8 }, (_, i) => telemetry.startCommand(info(i)));
  const traceparent = await time('Chronicle: traceContextOf (the traceparent stored with the events)', (i) => telemetry.traceContextOf(held[i & 7]!));
  const runIn = await time('Chronicle: runIn (the command span active while it runs)', (i) => telemetry.runIn(held[i & 7]!, () => i));
  const commit8 = await time('Chronicle: startCommit + end, batch of 8 linked commands, per command', (i) => (i & 7) === 0 && telemetry.startCommit(held).end());
  const commit32 = await time('Chronicle: startCommit + end, batch of 32 linked commands, per command', (i) => (i & 31) === 0 && telemetry.startCommit([...held, ...held, ...held, ...held]).end());

  console.log('');
  console.log(`promises per command, in memory: ${offPromises.toFixed(1)} telemetry off, ${sdkPromises.toFixed(1)} SDK on; promise hooks ${hookPerPromise.toFixed(0)} ns per promise`);
  console.log(`per command (µs): span + histogram ${(chronicleSpan / 1000).toFixed(2)} (bare SDK ${(sdkSpan / 1000).toFixed(2)}; attribute hashing ${((recordWith - recordWithout) / 1000).toFixed(2)}),` +
    ` traceparent ${(traceparent / 1000).toFixed(2)}, runIn ${(runIn / 1000).toFixed(2)}, commit span ${(commit32 / 1000).toFixed(2)}-${(commit8 / 1000).toFixed(2)},` +
    ` promise hooks ${((sdkPromises * hookPerPromise) / 1000).toFixed(2)}; sum ${((chronicleSpan + traceparent + runIn + commit8 + sdkPromises * hookPerPromise) / 1000).toFixed(1)} µs before the garbage collector's share`);
  api.context.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
}

await main();
