import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as api from '@opentelemetry/api';
import type { EntityManager } from 'typeorm';
import { On, OnBatch, Projection, type ProjectionBatchContext, type ProjectionBatchEvent, type ProjectionContext } from '@chronicle/core';
import { LedgerOpened, OpenLedger } from '../fixtures/ledger.aggregate.js';
import { telemetryFixture } from '../support/telemetry-harness.js';

/** Exactly-once (the default): the method runs in the checkpoint transaction. */
@Projection({ name: 'strict', maxAttempts: 1 })
class Strict {
  failOn: string | undefined;
  readonly seen = new Map<string, string | undefined>();
  @On(LedgerOpened) async opened(event: LedgerOpened, _ctx: ProjectionContext<EntityManager>): Promise<void> {
    this.seen.set(event.ledgerId, api.trace.getActiveSpan()?.spanContext().traceId);
    if (event.ledgerId === this.failOn) throw new Error(`cannot project ${event.ledgerId}`);
  }
}

/** Exactly-once and batched: one call per chunk, its work in the checkpoint transaction. */
@Projection({ name: 'strict-batch', maxAttempts: 1 })
class StrictBatch {
  failOn: string | undefined;
  active: string | undefined;
  @OnBatch(LedgerOpened)
  async project(events: ProjectionBatchEvent[], _ctx: ProjectionBatchContext<EntityManager>): Promise<void> {
    this.active = api.trace.getActiveSpan()?.spanContext().spanId;
    for (const { event } of events) if ((event as LedgerOpened).ledgerId === this.failOn) throw new Error('cannot project the batch');
  }
}

const traceA = '0af7651916cd43dd8448eb211c80319c';
const traceB = '4bf92f3577b34da6a3ce929d0e0e4736';

const otel = telemetryFixture();
beforeAll(() => otel.enable());
afterEach(() => otel.closeAll());
afterAll(() => otel.disable());

describe('The CONSUMER span of an exactly-once delivery', () => {
  it('is marked as an error when the projection fails in the checkpoint transaction', async () => {
    const strict = new Strict();
    strict.failOn = 'x-2';
    const h = await otel.harness({ projections: [strict] });
    await h.chronicle.execute(new OpenLedger('x-1', 'ada'));
    await h.chronicle.execute(new OpenLedger('x-2', 'bob'));
    await h.chronicle.flush();
    expect(await otel.gauge(h, 'chronicle.subscription.parked', { 'chronicle.subscription': 'projection:strict' })).toBe(1);
    const spans = otel.named('process projection:strict');
    const failed = spans.filter((span) => span.attributes['chronicle.stream.id'] === 'ledger-x-2');
    expect(failed.length).toBeGreaterThan(0);
    for (const span of failed) expect(span.status.code).toBe(api.SpanStatusCode.ERROR);
    const passed = spans.filter((span) => span.attributes['chronicle.stream.id'] === 'ledger-x-1');
    expect(passed.at(-1)?.status.code).not.toBe(api.SpanStatusCode.ERROR);
  });

  it('is the active span while the projection runs: each event is handled in its own command\'s trace', async () => {
    const strict = new Strict();
    const h = await otel.harness({ projections: [strict] });
    await Promise.all([
      h.chronicle.execute(new OpenLedger('a', 'ada'), { traceparent: `00-${traceA}-b7ad6b7169203331-01` }),
      h.chronicle.execute(new OpenLedger('b', 'bob'), { traceparent: `00-${traceB}-00f067aa0ba902b7-01` }),
    ]);
    await h.chronicle.flush();
    expect(strict.seen.get('a')).toBe(traceA);
    expect(strict.seen.get('b')).toBe(traceB);
    // The span covers the work: it ends after the projection ran, so the work's span is a child of it.
    const spans = otel.named('process projection:strict');
    expect(spans.map((span) => span.spanContext().traceId).sort()).toEqual([traceA, traceB].sort());
  });

  it('of a batch covers the batch\'s work and is marked as an error when it fails', async () => {
    const batch = new StrictBatch();
    const h = await otel.harness({ projections: [batch] });
    await h.chronicle.execute(new OpenLedger('y-1', 'ada'));
    await h.chronicle.flush();
    const [ok] = otel.named('process projection:strict-batch');
    expect(ok?.spanContext().spanId).toBe(batch.active);
    expect(ok?.status.code).not.toBe(api.SpanStatusCode.ERROR);
    otel.spans.reset();
    batch.failOn = 'y-2';
    await h.chronicle.execute(new OpenLedger('y-2', 'bob'));
    await h.chronicle.flush();
    const failed = otel.named('process projection:strict-batch');
    expect(failed.length).toBeGreaterThan(0);
    for (const span of failed) expect(span.status.code).toBe(api.SpanStatusCode.ERROR);
  });
});
