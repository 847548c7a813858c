import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { On, Projection } from '@chronicle/core';
import { LedgerOpened, OpenLedger, Post } from '../fixtures/ledger.aggregate.js';
import { telemetryFixture } from '../support/telemetry-harness.js';

/** At-least-once; its first delivery waits for a gate while set, so the subscription falls behind. */
@Projection({ name: 'slow', delivery: 'at-least-once', maxAttempts: 1 })
class Slow {
  gate: Promise<void> | undefined;
  reached: () => void = () => undefined;
  @On(LedgerOpened) async opened(): Promise<void> {
    this.reached();
    if (this.gate) await this.gate;
  }
}

const otel = telemetryFixture();
beforeAll(() => otel.enable());
afterEach(() => otel.closeAll());
afterAll(() => otel.disable());

describe('Gauges of an instance that stopped measuring', () => {
  it('reports a lag of 0 once another instance holds the lease, instead of its last lag for ever', async () => {
    const slow = new Slow();
    const h = await otel.harness({ projections: [slow] });
    const attributes = { 'chronicle.subscription': 'projection:slow' };
    let release!: () => void;
    slow.gate = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (slow.reached = resolve));
    for (const id of ['l-1', 'l-2', 'l-3']) await h.chronicle.execute(new OpenLedger(id, 'ada'));
    await reached;
    expect(await otel.gauge(h, 'chronicle.subscription.lag', attributes)).toBe(3);

    // Another instance takes the lease over (this one paused past its lease, say).
    const [table] = (await h.dataSource.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%checkpoints'`)) as Array<{ name: string }>;
    await h.dataSource.query(`UPDATE "${table!.name}" SET lease_owner = 'other-instance', lease_until = '2999-01-01T00:00:00.000Z' WHERE name = 'projection:slow'`);
    const runner = h.chronicle.subscriptions.get('projection:slow')!;
    slow.gate = undefined;
    release();
    await runner.wake();
    await h.chronicle.flush();
    expect(runner.isActive).toBe(false);
    expect(await otel.gauge(h, 'chronicle.subscription.lag', attributes)).toBe(0);
    expect(await otel.gauge(h, 'chronicle.subscription.lag_seconds', attributes)).toBe(0);
  });

  it('reports a cache hit ratio of 0 for a collection interval without lookups, not the last ratio', async () => {
    const h = await otel.harness();
    await h.chronicle.execute(new OpenLedger('c-1', 'ada'));
    await h.chronicle.execute(new OpenLedger('c-2', 'bob'));
    await h.chronicle.execute(new Post('c-1', 5));
    const busy = await otel.gauge(h, 'chronicle.cache.hit_ratio');
    expect(busy).toBeGreaterThan(0);
    expect(await otel.gauge(h, 'chronicle.cache.hit_ratio')).toBe(0);
  });
});
