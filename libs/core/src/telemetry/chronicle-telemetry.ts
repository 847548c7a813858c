import type * as Otel from '@opentelemetry/api';
import type { RecordedEvent } from '../events/recorded-event.js';
import type { OutboxEntry } from '../ports/outbox-store.port.js';
import { validTraceContext, type TraceContextCarrier } from './trace-context.js';

/**
 * A span Chronicle started; opaque outside the telemetry facade.
 * @internal
 */
export interface TelemetrySpan {
  end(): void;
}

/**
 * How a command ended, as `chronicle.command.outcome` reports it.
 * @internal
 */
export type CommandSpanOutcome = 'accepted' | 'rejected' | 'replayed' | 'conflict' | 'error';

/**
 * What `chronicle.command` describes, known before the command runs.
 * @internal
 */
export interface CommandSpanInfo {
  aggregateType: string;
  aggregateId: string;
  commandType: string;
  commandId: string;
  expectedVersion?: number | undefined;
  /** A context the caller passed explicitly (command metadata); the active context otherwise. */
  parent?: TraceContextCarrier | undefined;
}

/**
 * How a command ended: what `chronicle.command` and `chronicle.command.duration` record.
 * @internal
 */
export interface CommandSpanEnd {
  aggregateType: string;
  outcome: CommandSpanOutcome;
  /** `performance.now()` when the command started. */
  startedAt: number;
  resultingVersion?: number | undefined;
  retries: number;
  error?: unknown;
}

/**
 * An outbox message as the publish span describes it: the fields of the one outbox record it reads.
 * @internal
 */
export type PublishSpanInfo = Pick<OutboxEntry, 'id' | 'eventType' | 'streamId' | 'version' | 'metadata'>;

/**
 * One observable gauge: its fixed name, what it measures and its unit.
 * @internal
 */
export interface GaugeSpec {
  name: string;
  description: string;
  unit?: string;
}

/**
 * Records one gauge value with its attributes, inside a collection.
 * @internal
 */
export type GaugeRecorder = (name: string, value: number, attributes?: Record<string, string>) => void;

/**
 * Tracer and meter providers to use instead of the globally registered ones (tests, several SDKs),
 * and the name of the runtime when several share one.
 */
export interface TelemetryProviders {
  /** An OpenTelemetry `TracerProvider`. @default the global one */
  tracerProvider?: object;
  /** An OpenTelemetry `MeterProvider`. @default the global one */
  meterProvider?: object;
  /**
   * Names this runtime (a tenant, a schema, a database) in the `chronicle.instance` attribute of
   * every gauge it reports. Needed when several runtimes of one process share a `MeterProvider`:
   * their gauges have the same names and attributes otherwise, so each collection keeps whichever
   * runtime reported last. Counters and histograms add up across runtimes and do not carry it.
   * @default no `chronicle.instance` attribute
   */
  instance?: string;
}

const SCOPE = '@chronicle/core';
/**
 * Bucket boundaries of the duration histograms, in seconds (the SDK's default boundaries are meant
 * for milliseconds: every command would fall in the first one). From half a millisecond (a cached
 * command in memory) to ten seconds (a publisher timing out).
 */
const DURATION_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
let loading: Promise<typeof Otel | undefined> | undefined;

/** Loads `@opentelemetry/api` once per process; undefined when it is not installed. */
function loadApi(): Promise<typeof Otel | undefined> {
  loading ??= import('@opentelemetry/api').then(
    (module) => module,
    () => undefined,
  );
  return loading;
}

/** `traceparent` flags as two hex digits, by value. */
const FLAGS_HEX = Array.from({ length: 256 }, (_, flags) => flags.toString(16).padStart(2, '0'));

/** The `chronicle.command.duration` attributes of one aggregate type, one object per outcome. */
type OutcomeAttributes = Record<CommandSpanOutcome, Otel.Attributes>;

interface Instruments {
  api: typeof Otel;
  tracer: Otel.Tracer;
  meter: Otel.Meter;
  commandDuration: Otel.Histogram;
  commitBatchSize: Otel.Histogram;
  conflicts: Otel.Counter;
  publishDuration: Otel.Histogram;
}

/**
 * Chronicle's one door to OpenTelemetry. `@opentelemetry/api` is an optional peer: until
 * `activate()` finds it (or `fromApi` is given it), `enabled` is false and every instrumented
 * place skips its telemetry after one property read, allocating nothing. With the API but no SDK,
 * the API's own no-op tracer and meter answer.
 *
 * Spans: `chronicle.command`, `chronicle.commit`, `publish <handler>` (PRODUCER) and
 * `process <subscription>` (CONSUMER). Metrics: the `chronicle.*` instruments listed in the README.
 */
export class ChronicleTelemetry {
  private instruments: Instruments | undefined;
  /**
   * Metric attributes built once per aggregate type (and outcome), not per command: the SDK keys
   * its series by them and keeps them, so they are never mutated.
   */
  private readonly durationAttributes = new Map<string, OutcomeAttributes>();
  private readonly conflictAttributes = new Map<string, Otel.Attributes>();

  constructor(private readonly providers: TelemetryProviders = {}) {}

  /**
   * Telemetry through a given `@opentelemetry/api` module (`import * as api from '@opentelemetry/api'`),
   * enabled at once, with the global providers unless others are given.
   */
  static fromApi(api: object, providers: TelemetryProviders = {}): ChronicleTelemetry {
    const telemetry = new ChronicleTelemetry(providers);
    telemetry.install(api as typeof Otel);
    return telemetry;
  }

  /** Whether spans and metrics are recorded: the API was found and an SDK registered (or providers given). */
  get enabled(): boolean {
    return this.instruments !== undefined;
  }

  /**
   * Loads `@opentelemetry/api` (once per process) when installed; returns whether telemetry is on.
   * Register the SDK before: without one, telemetry stays off.
   */
  async activate(): Promise<boolean> {
    if (this.instruments) return true;
    const api = await loadApi();
    if (api && !this.instruments) this.install(api);
    return this.enabled;
  }

  private install(api: typeof Otel): void {
    const tracerProvider = (this.providers.tracerProvider as Otel.TracerProvider | undefined) ?? api.trace.getTracerProvider();
    const meterProvider = (this.providers.meterProvider as Otel.MeterProvider | undefined) ?? api.metrics.getMeterProvider();
    const meter = meterProvider.getMeter(SCOPE);
    // The API without an SDK only hands out no-op tracers and meters: staying off then costs nothing
    // per command (a caller's traceparent is still stored, as with telemetry off).
    if (isNoopTracerProvider(api, tracerProvider) && meter instanceof api.createNoopMeter().constructor) return;
    this.instruments = {
      api,
      tracer: tracerProvider.getTracer(SCOPE),
      meter,
      commandDuration: meter.createHistogram('chronicle.command.duration', {
        description: 'Time from a command reaching the gateway to its outcome.',
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
      }),
      commitBatchSize: meter.createHistogram('chronicle.commit.batch_size', {
        description: 'Commands written by one group-commit transaction.',
        unit: '{command}',
        advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256] },
      }),
      conflicts: meter.createCounter('chronicle.command.conflicts', {
        description: 'Optimistic-concurrency conflicts met by commands (each retry and each conflict reported).',
        unit: '{conflict}',
      }),
      publishDuration: meter.createHistogram('chronicle.outbox.publish.duration', {
        description: 'Time one outbox batch spent in its publisher.',
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
      }),
    };
  }

  /**
   * Starts `chronicle.command`, a child of the explicit parent or of the active context.
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  startCommand(info: CommandSpanInfo): TelemetrySpan {
    const { api, tracer } = this.require();
    const attributes: Otel.Attributes = {
      'chronicle.aggregate.type': info.aggregateType,
      'chronicle.aggregate.id': info.aggregateId,
      'chronicle.command.type': info.commandType,
      'chronicle.command.id': info.commandId,
    };
    if (info.expectedVersion !== undefined) attributes['chronicle.command.expected_version'] = info.expectedVersion;
    const parent = (info.parent && this.remoteContext(info.parent)) ?? api.context.active();
    return tracer.startSpan('chronicle.command', { kind: api.SpanKind.INTERNAL, attributes }, parent);
  }

  /**
   * Runs `work` with `span` as the active span (so what it starts, or dispatches, is its child).
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  runIn<T>(span: TelemetrySpan, work: () => T): T {
    const { api } = this.require();
    // Only an invalid span (the API's no-op tracer: no SDK for traces) is skipped, at no cost. A
    // sampled-out span is valid and must still become active: its children then inherit "not
    // sampled" (parent-based sampling) instead of starting new sampled roots, and the lines of the
    // traced logger still name its trace. A recording span answers first: the ids are not tested.
    const otelSpan = span as Otel.Span;
    if (!otelSpan.isRecording() && !api.isSpanContextValid(otelSpan.spanContext())) return work();
    return api.context.with(api.trace.setSpan(api.context.active(), otelSpan), work);
  }

  /**
   * Runs `work(arg)` in the root context: for work a commit merely triggers (the wake-up of the
   * relay and the runners), which must not run, nor log, as part of the committing command's trace.
   * What it goes on to do belongs to the traces stored with the events it handles. Telemetry off,
   * `work(arg)` is called as is (no closure is needed for the argument).
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  runDetached<A, T>(work: (arg: A) => T, arg: A): T {
    if (!this.instruments) return work(arg);
    const { api } = this.instruments;
    return api.context.with(api.ROOT_CONTEXT, work, undefined, arg);
  }

  /**
   * Ends `chronicle.command` and records `chronicle.command.duration` and the conflicts.
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  endCommand(span: TelemetrySpan, end: CommandSpanEnd): void {
    const { api, commandDuration, conflicts } = this.require();
    const otelSpan = span as Otel.Span;
    if (otelSpan.isRecording()) {
      otelSpan.setAttribute('chronicle.command.outcome', end.outcome);
      otelSpan.setAttribute('chronicle.command.retries', end.retries);
      if (end.resultingVersion !== undefined) otelSpan.setAttribute('chronicle.command.resulting_version', end.resultingVersion);
      if (end.outcome === 'error' || end.outcome === 'conflict') {
        if (end.error instanceof Error) otelSpan.recordException(end.error);
        otelSpan.setStatus({ code: api.SpanStatusCode.ERROR, message: end.error instanceof Error ? end.error.message : String(end.error) });
      }
    }
    otelSpan.end();
    commandDuration.record((performance.now() - end.startedAt) / 1000, this.durationAttributesOf(end.aggregateType)[end.outcome]);
    const conflictCount = end.retries + (end.outcome === 'conflict' ? 1 : 0);
    if (conflictCount > 0) conflicts.add(conflictCount, this.conflictAttributesOf(end.aggregateType));
  }

  /**
   * The W3C trace context of a span, for event metadata and message headers; undefined when invalid (no SDK, no parent).
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  traceContextOf(span: TelemetrySpan): TraceContextCarrier | undefined {
    const { api } = this.require();
    const context = (span as Otel.Span).spanContext();
    if (!api.isSpanContextValid(context)) return undefined;
    // Built from a valid span context, so well-formed by construction: no parse needed.
    const traceparent = `00-${context.traceId}-${context.spanId}-${FLAGS_HEX[context.traceFlags & 0xff]}`;
    if (context.traceState === undefined) return { traceparent };
    return validTraceContext(traceparent, context.traceState.serialize());
  }

  /** The trace id of the span active in the current context, when there is a valid one. */
  activeTraceId(): string | undefined {
    const { api } = this.require();
    const context = api.trace.getActiveSpan()?.spanContext();
    return context && api.isSpanContextValid(context) ? context.traceId : undefined;
  }

  /**
   * Starts `chronicle.commit` for one group-commit batch, linked to the commands it carries.
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  startCommit(commands: ReadonlyArray<TelemetrySpan | undefined>): TelemetrySpan {
    const { api, tracer, commitBatchSize } = this.require();
    const links: Otel.Link[] = [];
    for (const command of commands) if (command) links.push({ context: (command as Otel.Span).spanContext() });
    commitBatchSize.record(commands.length);
    // A root of its own: the batch serves several commands, none of them is its parent.
    return tracer.startSpan('chronicle.commit', { kind: api.SpanKind.INTERNAL, root: true, links, attributes: { 'chronicle.commit.batch_size': commands.length } });
  }

  /**
   * Ends a span, marked failed when `error` is given.
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  endSpan(span: TelemetrySpan, error?: unknown): void {
    const otelSpan = span as Otel.Span;
    if (error !== undefined) {
      const { api } = this.require();
      if (error instanceof Error) otelSpan.recordException(error);
      otelSpan.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    otelSpan.end();
  }

  /**
   * Starts the PRODUCER span of one outbox message, a child of the context stored with its event.
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  startPublish(handler: string, message: PublishSpanInfo): TelemetrySpan {
    const { api, tracer } = this.require();
    const stored = validTraceContext(message.metadata.traceparent, message.metadata.tracestate);
    const parent = (stored && this.remoteContext(stored)) ?? api.ROOT_CONTEXT;
    return tracer.startSpan(
      `publish ${handler}`,
      {
        kind: api.SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'chronicle',
          'messaging.operation.type': 'publish',
          'messaging.operation.name': 'publish',
          'messaging.destination.name': handler,
          'messaging.message.id': message.id,
          'chronicle.event.type': message.eventType,
          'chronicle.stream.id': message.streamId,
          'chronicle.event.version': message.version,
        },
      },
      parent,
    );
  }

  /**
   * Records `chronicle.outbox.publish.duration` of one batch.
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  recordPublish(handler: string, startedAt: number): void {
    this.require().publishDuration.record((performance.now() - startedAt) / 1000, { 'chronicle.outbox.handler': handler });
  }

  /**
   * Starts the CONSUMER span of one event's delivery: a child of the context stored with the event
   * (so a projection update joins the command's trace) and linked to it. The runner keeps it open
   * over the transactional work the handler returns (see `runIn`, `endSpan`).
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  startConsume(subscription: string, envelope: RecordedEvent): TelemetrySpan {
    const { api, tracer } = this.require();
    const stored = validTraceContext(envelope.metadata.traceparent, envelope.metadata.tracestate);
    const remote = stored && this.remoteContext(stored);
    const links: Otel.Link[] = remote ? [{ context: api.trace.getSpanContext(remote)! }] : [];
    return tracer.startSpan(
      `process ${subscription}`,
      {
        kind: api.SpanKind.CONSUMER,
        links,
        attributes: {
          'messaging.system': 'chronicle',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': subscription,
          'messaging.message.id': envelope.eventId,
          'chronicle.event.type': envelope.type,
          'chronicle.stream.id': envelope.streamId,
          'chronicle.event.version': envelope.version,
          'chronicle.event.position': envelope.position,
        },
      },
      remote ?? api.ROOT_CONTEXT,
    );
  }

  /**
   * Starts the CONSUMER span of a batch of events, linked to the context stored with each event
   * (a batch has many parents: it links them instead of choosing one).
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  startConsumeBatch(subscription: string, envelopes: readonly RecordedEvent[]): TelemetrySpan {
    const { api, tracer } = this.require();
    const links: Otel.Link[] = [];
    for (const envelope of envelopes) {
      const stored = validTraceContext(envelope.metadata.traceparent, envelope.metadata.tracestate);
      const remote = stored && this.remoteContext(stored);
      if (remote) links.push({ context: api.trace.getSpanContext(remote)! });
    }
    return tracer.startSpan(`process ${subscription}`, {
      kind: api.SpanKind.CONSUMER,
      root: true,
      links,
      attributes: {
        'messaging.system': 'chronicle',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': subscription,
        'messaging.batch.message_count': envelopes.length,
      },
    });
  }

  /**
   * Registers observable gauges read by one callback at each collection (never on the hot path).
   * Returns a function that unregisters them.
   * For Chronicle's own components (gateway, batcher, relay, runners), not for applications.
   * @internal
   */
  observeGauges(specs: readonly GaugeSpec[], collect: (record: GaugeRecorder) => Promise<void>): () => void {
    const { meter } = this.require();
    const gauges = new Map<string, Otel.ObservableGauge>();
    for (const spec of specs) {
      gauges.set(spec.name, meter.createObservableGauge(spec.name, { description: spec.description, ...(spec.unit ? { unit: spec.unit } : {}) }));
    }
    const instance = this.providers.instance;
    const callback: Otel.BatchObservableCallback = async (result) => {
      await collect((name, value, attributes) => {
        const gauge = gauges.get(name);
        if (!gauge) return;
        // Collection time only (never a command's path): a new object per point is fine here.
        result.observe(gauge, value, instance === undefined ? attributes : { ...attributes, 'chronicle.instance': instance });
      });
    };
    const observables = [...gauges.values()];
    meter.addBatchObservableCallback(callback, observables);
    return () => meter.removeBatchObservableCallback(callback, observables);
  }

  private durationAttributesOf(aggregateType: string): OutcomeAttributes {
    let attributes = this.durationAttributes.get(aggregateType);
    if (!attributes) {
      const of = (outcome: CommandSpanOutcome): Otel.Attributes =>
        Object.freeze({ 'chronicle.aggregate.type': aggregateType, 'chronicle.command.outcome': outcome });
      attributes = { accepted: of('accepted'), rejected: of('rejected'), replayed: of('replayed'), conflict: of('conflict'), error: of('error') };
      this.durationAttributes.set(aggregateType, attributes);
    }
    return attributes;
  }

  private conflictAttributesOf(aggregateType: string): Otel.Attributes {
    let attributes = this.conflictAttributes.get(aggregateType);
    if (!attributes) {
      attributes = Object.freeze({ 'chronicle.aggregate.type': aggregateType });
      this.conflictAttributes.set(aggregateType, attributes);
    }
    return attributes;
  }

  /** A context whose span is the remote one a carrier describes; undefined when it is not valid. */
  private remoteContext(carrier: TraceContextCarrier): Otel.Context | undefined {
    const { api } = this.require();
    const valid = validTraceContext(carrier.traceparent, carrier.tracestate);
    if (!valid?.traceparent) return undefined;
    const [, traceId, spanId, flags] = valid.traceparent.split('-') as [string, string, string, string];
    let traceState: Otel.TraceState | undefined;
    try {
      traceState = valid.tracestate ? api.createTraceState(valid.tracestate) : undefined;
    } catch {
      traceState = undefined;
    }
    return api.trace.setSpanContext(api.ROOT_CONTEXT, {
      traceId,
      spanId,
      traceFlags: Number.parseInt(flags, 16),
      isRemote: true,
      ...(traceState ? { traceState } : {}),
    });
  }

  private require(): Instruments {
    if (!this.instruments) throw new Error('Chronicle telemetry is off: check `enabled` before recording.');
    return this.instruments;
  }
}

/** Whether a tracer provider is the API's own no-op one, or a proxy to it (no SDK registered). */
function isNoopTracerProvider(api: typeof Otel, provider: Otel.TracerProvider): boolean {
  const noop = new api.ProxyTracerProvider().getDelegate();
  if (provider === noop) return true;
  return provider instanceof api.ProxyTracerProvider && provider.getDelegate() === noop;
}
