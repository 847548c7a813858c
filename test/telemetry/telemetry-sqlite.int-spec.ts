import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { DataSource, type EntityManager } from 'typeorm';
import {
  ChronicleTelemetry,
  On,
  OnDeadline,
  OutboxHandler,
  Projection,
  Saga,
  StartsSaga,
  createChronicle,
  outboxTraceHeaders,
  type Chronicle,
  type ChronicleLogger,
  type Clock,
  type OutboxMessage,
  type OutboxPublisher,
  type PublishReport,
  type SagaContext,
  type SagaDeadline,
} from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted } from '../fixtures/ledger.aggregate.js';

const silent = (): ChronicleLogger => ({ log: () => undefined, warn: () => undefined, error: () => undefined });

@OutboxHandler({ name: 'broker', events: '*', maxAttempts: 1 })
class RecordingPublisher implements OutboxPublisher {
  readonly headers: Array<{ eventType: string; traceparent?: string; tracestate?: string }> = [];
  constructor(private readonly poisonLedger?: string) {}
  async publish(batch: readonly OutboxMessage[]): Promise<void | PublishReport> {
    const failed: PublishReport['failed'] = [];
    for (const message of batch) {
      if (message.aggregateId === this.poisonLedger) failed.push({ id: message.id, error: new Error('the broker refuses this one') });
      else this.headers.push({ eventType: message.eventType, ...outboxTraceHeaders(message) });
    }
    return failed.length > 0 ? { failed } : undefined;
  }
}

@Projection({ name: 'totals', delivery: 'at-least-once', maxAttempts: 1 })
class Totals {
  readonly totals = new Map<string, number>();
  /** While set, the first delivery waits for it: the projection falls behind. */
  gate: Promise<void> | undefined;
  reached: () => void = () => undefined;
  failOn: string | undefined;
  @On(LedgerOpened) async opened(event: LedgerOpened): Promise<void> {
    this.reached();
    if (this.gate) await this.gate;
    if (event.ledgerId === this.failOn) throw new Error(`cannot project ${event.ledgerId}`);
    this.totals.set(event.ledgerId, 0);
  }
  @On(Posted) posted(event: Posted): void {
    this.totals.set(event.ledgerId, (this.totals.get(event.ledgerId) ?? 0) + event.amount);
  }
}

/** Every ledger opened by the owner "saga" gets a first posting of 1, dispatched by the saga. */
@Saga({ name: 'opening-bonus' })
class OpeningBonus {
  @StartsSaga(LedgerOpened, { associate: 'ledgerId' })
  async opened(event: LedgerOpened, ctx: SagaContext): Promise<void> {
    if (event.owner === 'saga') await ctx.dispatch(new Post(event.ledgerId, 1));
    // A reminder already due: overdue until the deadline runner fires it.
    if (event.owner === 'late') ctx.schedule('reminder', new Date(Date.now() - 60_000));
    else ctx.complete();
  }

  @OnDeadline('reminder')
  remind(_deadline: SagaDeadline, ctx: SagaContext): void {
    ctx.complete();
  }
}

const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const tracer = tracerProvider.getTracer('test-http');
const contextManager = new AsyncLocalStorageContextManager();

interface Harness {
  chronicle: Chronicle<EntityManager>;
  publisher: RecordingPublisher;
  totals: Totals;
  metrics: InMemoryMetricExporter;
  reader: PeriodicExportingMetricReader;
  dataSource: DataSource;
}

const open: Harness[] = [];
const extraSources: DataSource[] = [];

async function harness(options: { relay?: boolean; clock?: Clock; dataSource?: DataSource; sagas?: boolean; logs?: string[] } = {}): Promise<Harness> {
  const dataSource = options.dataSource ?? (await new DataSource({ type: 'better-sqlite3', database: ':memory:' }).initialize());
  const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Collected on demand (forceFlush) only: an hour never passes in a test.
  const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const publisher = new RecordingPublisher('poison');
  const totals = new Totals();
  const chronicle = createChronicle({
    storage: createTypeOrmStorage(dataSource),
    aggregates: [Ledger],
    outboxHandlers: [publisher],
    projections: [totals],
    sagas: options.sagas ? [new OpeningBonus()] : [],
    logger: options.logs ? () => ({ log: () => undefined, warn: (line: string) => options.logs!.push(line), error: (line: string) => options.logs!.push(line) }) : silent,
    telemetry: ChronicleTelemetry.fromApi(api, { tracerProvider, meterProvider }),
    ...(options.clock ? { clock: options.clock } : {}),
    options: { outbox: { relay: options.relay ?? true, pollIntervalMs: 600_000 }, subscriptions: { pollIntervalMs: 600_000, deadlinePollIntervalMs: 600_000 } },
  });
  await chronicle.start();
  const made = { chronicle, publisher, totals, metrics, reader, dataSource };
  open.push(made);
  return made;
}

/** The last collected value of a gauge for the given attributes (undefined when not observed). */
async function gauge(h: Harness, name: string, attributes: Record<string, string> = {}): Promise<number | undefined> {
  h.metrics.reset();
  await h.reader.forceFlush();
  const collected = h.metrics.getMetrics().at(-1);
  for (const scope of collected?.scopeMetrics ?? []) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints) {
        if (Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)) return point.value as number;
      }
    }
  }
  return undefined;
}

function named(name: string): ReadableSpan[] {
  return spans.getFinishedSpans().filter((span) => span.name === name);
}

function traceparentOf(span: ReadableSpan): string {
  const context = span.spanContext();
  return `00-${context.traceId}-${context.spanId}-01`;
}

beforeAll(() => {
  api.context.setGlobalContextManager(contextManager.enable());
});

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.chronicle.stop();
    if (h.dataSource.isInitialized && !extraSources.includes(h.dataSource)) await h.dataSource.destroy();
  }
  for (const source of extraSources.splice(0)) if (source.isInitialized) await source.destroy();
  spans.reset();
});

afterAll(() => {
  api.context.disable();
});

describe('Telemetry on SQLite: spans and their links', () => {
  it('follows an HTTP-like parent through the command, its event metadata, the relay (PRODUCER) and a projection (CONSUMER)', async () => {
    const h = await harness();
    const http = tracer.startSpan('POST /ledgers', { kind: api.SpanKind.SERVER });
    await api.context.with(api.trace.setSpan(api.context.active(), http), async () => {
      await h.chronicle.execute(new OpenLedger('l-1', 'ada'), { commandId: 'open-l-1' });
      await h.chronicle.execute(new Post('l-1', 7));
    });
    http.end();
    await h.chronicle.flush();

    const traceId = http.spanContext().traceId;
    const commands = named('chronicle.command');
    expect(commands).toHaveLength(2);
    const [opening, posting] = commands as [ReadableSpan, ReadableSpan];
    for (const command of commands) {
      expect(command.spanContext().traceId).toBe(traceId);
      expect(command.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
    }
    expect(opening.attributes).toMatchObject({
      'chronicle.aggregate.type': 'ledger',
      'chronicle.aggregate.id': 'l-1',
      'chronicle.command.type': 'OpenLedger',
      'chronicle.command.id': 'open-l-1',
      'chronicle.command.resulting_version': 1,
      'chronicle.command.outcome': 'accepted',
      'chronicle.command.retries': 0,
    });
    expect(posting.attributes['chronicle.command.resulting_version']).toBe(2);

    // The command's context is stored with its events.
    const stored = await h.chronicle.storage.journal.readStream('ledger-l-1');
    expect(stored.map((event) => event.metadata.traceparent)).toEqual([traceparentOf(opening), traceparentOf(posting)]);

    // The relay publishes each message in a PRODUCER span, a child of the command, and the
    // publisher puts that span's context in the message headers.
    const publishes = named('publish broker');
    expect(publishes).toHaveLength(2);
    for (const publish of publishes) {
      expect(publish.kind).toBe(api.SpanKind.PRODUCER);
      expect(publish.spanContext().traceId).toBe(traceId);
      expect(publish.attributes).toMatchObject({ 'messaging.operation.type': 'publish', 'messaging.destination.name': 'broker' });
    }
    expect(publishes.map((span) => span.parentSpanContext?.spanId).sort()).toEqual(
      [opening.spanContext().spanId, posting.spanContext().spanId].sort(),
    );
    expect(h.publisher.headers.map((header) => header.traceparent).sort()).toEqual(publishes.map(traceparentOf).sort());

    // The projection handles each event in a CONSUMER span of the same trace, linked to the stored context.
    const processed = named('process projection:totals');
    expect(processed).toHaveLength(2);
    for (const span of processed) {
      expect(span.kind).toBe(api.SpanKind.CONSUMER);
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.attributes['messaging.operation.type']).toBe('process');
    }
    expect(processed.map((span) => span.links[0]?.context.spanId).sort()).toEqual([opening.spanContext().spanId, posting.spanContext().spanId].sort());
    expect(h.totals.totals.get('l-1')).toBe(7);
  });

  it('writes one chronicle.commit per group-commit batch, linked to every command it carried', async () => {
    const h = await harness();
    await Promise.all(['a', 'b', 'c'].map((id) => h.chronicle.execute(new OpenLedger(`g-${id}`, id))));
    const commits = named('chronicle.commit');
    const commandIds = named('chronicle.command').map((span) => span.spanContext().spanId).sort();
    expect(commandIds).toHaveLength(3);
    expect(commits.flatMap((commit) => commit.links.map((link) => link.context.spanId)).sort()).toEqual(commandIds);
    expect(commits.reduce((sum, commit) => sum + Number(commit.attributes['chronicle.commit.batch_size']), 0)).toBe(3);
    // Three commands ready in one turn share one transaction.
    expect(commits).toHaveLength(1);
  });

  it('makes the commands a saga dispatches children of the saga step that sent them', async () => {
    const h = await harness({ sagas: true });
    await h.chronicle.execute(new OpenLedger('s-1', 'saga'));
    await h.chronicle.flush();
    const step = named('process saga:opening-bonus').find((span) => span.attributes['chronicle.stream.id'] === 'ledger-s-1');
    expect(step).toBeDefined();
    const dispatched = named('chronicle.command').find((span) => span.attributes['chronicle.command.type'] === 'Post');
    expect(dispatched?.parentSpanContext?.spanId).toBe(step!.spanContext().spanId);
    expect(dispatched?.spanContext().traceId).toBe(step!.spanContext().traceId);
    // ...and so in the trace of the command that opened the ledger.
    const opening = named('chronicle.command').find((span) => span.attributes['chronicle.command.type'] === 'OpenLedger');
    expect(dispatched?.spanContext().traceId).toBe(opening?.spanContext().traceId);
  });

  it('continues a valid traceparent given with the command and ignores a malformed one or an oversized tracestate', async () => {
    const h = await harness();
    const remote = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await h.chronicle.execute(new OpenLedger('t-1', 'ada'), { traceparent: remote, tracestate: 'vendor=ok' });
    await h.chronicle.execute(new OpenLedger('t-2', 'bob'), { traceparent: 'not-a-traceparent', tracestate: 'x'.repeat(600) });
    await h.chronicle.execute(new OpenLedger('t-3', 'cy'), { traceparent: remote, tracestate: `vendor=${'x'.repeat(600)}` });

    const [continued, fresh, trimmed] = named('chronicle.command') as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(continued.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(continued.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(continued.spanContext().traceState?.serialize()).toBe('vendor=ok');
    expect(fresh.parentSpanContext).toBeUndefined();
    expect(fresh.attributes['chronicle.command.outcome']).toBe('accepted');
    expect(trimmed.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(trimmed.spanContext().traceState).toBeUndefined();

    const [t1] = await h.chronicle.storage.journal.readStream('ledger-t-1');
    expect(t1?.metadata).toMatchObject({ traceparent: traceparentOf(continued), tracestate: 'vendor=ok' });
    const [t2] = await h.chronicle.storage.journal.readStream('ledger-t-2');
    expect(t2?.metadata.traceparent).toBe(traceparentOf(fresh));
    expect(t2?.metadata.tracestate).toBeUndefined();
  });

  it('names the command and its trace in a log line written during the command (a snapshot that could not be saved)', async () => {
    const logs: string[] = [];
    const h = await harness({ logs });
    // The snapshot store fails: the command still commits, and the warning says which command and trace.
    h.chronicle.storage.snapshots.save = () => Promise.reject(new Error('disk full'));
    await h.chronicle.execute(new OpenLedger('snap-1', 'ada'));
    for (let i = 0; i < 9; i++) await h.chronicle.execute(new Post('snap-1', 1), i === 8 ? { commandId: 'tenth' } : {});
    await h.chronicle.stop(); // waits for the snapshot saves in flight
    const tenth = named('chronicle.command').find((span) => span.attributes['chronicle.command.id'] === 'tenth')!;
    expect(logs.filter((line) => line.includes('was not saved'))).toEqual([
      expect.stringContaining(`Snapshot of "ledger-snap-1" at version 10 (command tenth, trace ${tenth.spanContext().traceId}) was not saved: disk full`),
    ]);
  });

  it('records a rejected command as such', async () => {
    const h = await harness();
    await h.chronicle.execute(new OpenLedger('r-1', 'ada'));
    await expect(h.chronicle.execute(new OpenLedger('r-1', 'ada'))).rejects.toThrow(/already exists/);
    const [, rejected] = named('chronicle.command');
    expect(rejected?.attributes['chronicle.command.outcome']).toBe('rejected');
  });
});

describe('Telemetry on SQLite: command and commit metrics', () => {
  /** The histogram or counter points of a metric, with their attributes. */
  async function points(h: Harness, name: string): Promise<Array<{ attributes: Record<string, unknown>; value: unknown }>> {
    h.metrics.reset();
    await h.reader.forceFlush();
    const scopes = h.metrics.getMetrics().at(-1)?.scopeMetrics ?? [];
    return scopes.flatMap((scope) =>
      scope.metrics
        .filter((metric) => metric.descriptor.name === name)
        .flatMap((metric) => (metric.dataPoints as ReadonlyArray<{ attributes: Record<string, unknown>; value: unknown }>).slice()),
    );
  }

  it('records each command by aggregate type and outcome, the batch sizes, and every conflict', async () => {
    const h = await harness();
    await h.chronicle.execute(new OpenLedger('m-1', 'ada'));
    await h.chronicle.execute(new Post('m-1', 1));
    await expect(h.chronicle.execute(new Post('m-1', 1), { expectedVersion: 1 })).rejects.toThrow(/version/);
    await expect(h.chronicle.execute(new OpenLedger('m-1', 'ada'))).rejects.toThrow(/already exists/);

    const durations = await points(h, 'chronicle.command.duration');
    const count = (outcome: string) =>
      durations
        .filter((point) => point.attributes['chronicle.aggregate.type'] === 'ledger' && point.attributes['chronicle.command.outcome'] === outcome)
        .reduce((sum, point) => sum + (point.value as { count: number }).count, 0);
    expect([count('accepted'), count('conflict'), count('rejected')]).toEqual([2, 1, 1]);
    const conflicts = await points(h, 'chronicle.command.conflicts');
    expect(conflicts.map((point) => [point.attributes['chronicle.aggregate.type'], point.value])).toEqual([['ledger', 1]]);
    const batches = await points(h, 'chronicle.commit.batch_size');
    // The two accepted commands wrote; the conflict was refused before writing, and a rejection
    // without a command id records nothing.
    expect(batches.reduce((sum, point) => sum + (point.value as { sum: number }).sum, 0)).toBe(2);
    const conflict = named('chronicle.command').find((span) => span.attributes['chronicle.command.outcome'] === 'conflict');
    expect(conflict?.status.code).toBe(api.SpanStatusCode.ERROR);
    expect(conflict?.attributes['chronicle.command.expected_version']).toBe(1);
  });
});

describe('Telemetry on SQLite: gauges read from the stores', () => {
  it('shows the outbox backlog rising while no relay runs, then falling to zero once one has run; a poisoned entry stays dead-lettered', async () => {
    let now = Date.parse('2026-12-06T12:00:00Z');
    const clock: Clock = { now: () => new Date(now) };
    const writer = await harness({ relay: false, clock });
    const attributes = { 'chronicle.outbox.handler': 'broker' };
    expect(await gauge(writer, 'chronicle.outbox.pending', attributes)).toBe(0);

    await writer.chronicle.execute(new OpenLedger('o-1', 'ada'));
    await writer.chronicle.execute(new Post('o-1', 3));
    await writer.chronicle.execute(new OpenLedger('poison', 'eve'));
    now += 5_000;
    expect(await gauge(writer, 'chronicle.outbox.pending', attributes)).toBe(3);
    expect(await gauge(writer, 'chronicle.outbox.oldest_age', attributes)).toBeGreaterThanOrEqual(5);
    expect(await gauge(writer, 'chronicle.outbox.dead_lettered', attributes)).toBe(0);

    // A relaying instance on the same database drains the backlog.
    const relay = await harness({ dataSource: writer.dataSource });
    extraSources.push(writer.dataSource);
    await relay.chronicle.flush();
    expect(await gauge(writer, 'chronicle.outbox.pending', attributes)).toBe(0);
    expect(await gauge(writer, 'chronicle.outbox.oldest_age', attributes)).toBe(0);
    expect(await gauge(writer, 'chronicle.outbox.dead_lettered', attributes)).toBe(1);
    expect(await gauge(writer, 'chronicle.cache.size')).toBe(2);
  });

  it('counts a parked event in chronicle.subscription.parked; the log line names its command and trace', async () => {
    const logs: string[] = [];
    const h = await harness({ logs });
    h.totals.failOn = 'p-2';
    const attributes = { 'chronicle.subscription': 'projection:totals' };
    await h.chronicle.execute(new OpenLedger('p-1', 'ada'));
    await h.chronicle.flush();
    expect(await gauge(h, 'chronicle.subscription.parked', attributes)).toBe(0);
    await h.chronicle.execute(new OpenLedger('p-2', 'bob'), { commandId: 'open-p-2' });
    await h.chronicle.flush();
    expect(await gauge(h, 'chronicle.subscription.parked', attributes)).toBe(1);
    const traceId = named('chronicle.command').find((span) => span.attributes['chronicle.command.id'] === 'open-p-2')!.spanContext().traceId;
    expect(logs.filter((line) => line.includes('parked ledger.opened ledger-p-2'))).toEqual([
      expect.stringContaining(`(command open-p-2, trace ${traceId})`),
    ]);
    const failed = named('process projection:totals').find((span) => span.attributes['chronicle.stream.id'] === 'ledger-p-2');
    expect(failed?.status.code).toBe(api.SpanStatusCode.ERROR);
  });

  it('counts saga instances by status, and a due deadline as overdue until it fires', async () => {
    const h = await harness({ sagas: true });
    const saga = { 'chronicle.saga': 'opening-bonus' };
    await h.chronicle.execute(new OpenLedger('d-1', 'late'));
    await h.chronicle.execute(new OpenLedger('d-2', 'bob'));
    // The commit woke the saga's runner; its deadline runner only polls (every ten minutes here).
    const runner = h.chronicle.subscriptions.get('saga:opening-bonus')!;
    await runner.wake();
    expect(await gauge(h, 'chronicle.saga.deadlines_overdue', saga)).toBe(1);
    expect(await gauge(h, 'chronicle.saga.instances', { ...saga, 'chronicle.saga.status': 'active' })).toBe(1);
    expect(await gauge(h, 'chronicle.saga.instances', { ...saga, 'chronicle.saga.status': 'completed' })).toBe(1);

    await h.chronicle.flush();
    expect(await gauge(h, 'chronicle.saga.deadlines_overdue', saga)).toBe(0);
    expect(await gauge(h, 'chronicle.saga.instances', { ...saga, 'chronicle.saga.status': 'active' })).toBe(0);
    expect(await gauge(h, 'chronicle.saga.instances', { ...saga, 'chronicle.saga.status': 'completed' })).toBe(2);
  });

  it('shows the lag of a subscription that fell behind, and zero once it caught up', async () => {
    const h = await harness();
    const attributes = { 'chronicle.subscription': 'projection:totals' };
    let open!: () => void;
    h.totals.gate = new Promise<void>((resolve) => (open = resolve));
    const reached = new Promise<void>((resolve) => (h.totals.reached = resolve));
    await h.chronicle.execute(new OpenLedger('lag-1', 'ada'));
    await h.chronicle.execute(new Post('lag-1', 1));
    await h.chronicle.execute(new Post('lag-1', 2));
    await reached; // the runner holds the first event: three events behind the head
    expect(await gauge(h, 'chronicle.subscription.lag', attributes)).toBe(3);

    h.totals.gate = undefined;
    open();
    await h.chronicle.flush();
    expect(h.totals.totals.get('lag-1')).toBe(3);
    expect(await gauge(h, 'chronicle.subscription.lag', attributes)).toBe(0);
    expect(await gauge(h, 'chronicle.subscription.lag_seconds', attributes)).toBe(0);
  });
});
