import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { withCommandMetadata, type OutboxMessage, type OutboxPublisher } from '@chronicle/core';
import { OutboxAdmin, OutboxHandler, OutboxMonitor } from '@chronicle/nestjs';
import { OpenLedger, Post, Reverse } from '../fixtures/ledger.aggregate.js';
import { OutboxTestApps, outboxStoreOf, waitUntil } from '../support/outbox-test-apps.js';
import { describePostgres } from '../support/services.js';

await describePostgres('the outbox on PostgreSQL through EventSourcingModule', () => {
  let apps: OutboxTestApps;
  const boot = (...args: Parameters<OutboxTestApps['boot']>) => apps.boot(...args);
  const store = outboxStoreOf;

  beforeEach(async () => {
    apps = new OutboxTestApps();
    await apps.open();
  });
  afterEach(() => apps.close());

  it('writes entries only for committed commands: a rejected or conflicting command leaves none', async () => {
    const seen: string[] = [];
    @Injectable()
    @OutboxHandler({ name: 'memo', events: '*' })
    class Memo implements OutboxPublisher {
      async publish(batch: readonly OutboxMessage[]): Promise<void> {
        seen.push(...batch.map((m) => `${m.streamId}@${m.version}`));
      }
    }
    const app = await boot([Memo], { relay: false });
    const bus = app.get(CommandBus);
    await bus.execute(new OpenLedger('L1', 'ann'));
    await expect(bus.execute(new Reverse('L1', 5))).rejects.toThrow(/cannot reverse/);
    await expect(bus.execute(withCommandMetadata(new Post('L1', 5), { expectedVersion: 7 }))).rejects.toThrow(/expected at version 7/);
    expect(await store(app).stats('memo')).toEqual([expect.objectContaining({ handler: 'memo', pending: 1 })]);
  });

  it('dead-letters a poison entry after maxAttempts, lets other aggregates flow, holds its own, and re-drives it in order', async () => {
    const delivered: string[] = [];
    const broken = { ledger: 'L-bad' };
    @Injectable()
    @OutboxHandler({ name: 'picky', events: '*', maxAttempts: 3, backoff: { initialMs: 10, maxMs: 20, jitter: 0 } })
    class Picky implements OutboxPublisher {
      async publish(batch: readonly OutboxMessage[]) {
        const failed: Array<{ id: string; error: unknown }> = [];
        const stopped = new Set<string>();
        for (const m of batch) {
          if (stopped.has(m.streamId)) continue;
          if (m.aggregateId === broken.ledger && m.version === 2) {
            failed.push({ id: m.id, error: new Error('downstream rejects this one') });
            stopped.add(m.streamId);
          } else delivered.push(`${m.aggregateId}@${m.version}`);
        }
        return { failed };
      }
    }
    const app = await boot([Picky]);
    const bus = app.get(CommandBus);
    await bus.execute(new OpenLedger('L-bad', 'x'));
    await bus.execute(new Post('L-bad', 1));
    await bus.execute(new Post('L-bad', 2));
    await bus.execute(new OpenLedger('L-ok', 'y'));
    await bus.execute(new Post('L-ok', 1));
    const admin = app.get(OutboxAdmin);
    await waitUntil(async () => (await admin.deadLetters('picky')).length === 1, 10_000, 'the dead letter');
    const [dead] = await admin.deadLetters('picky');
    expect(dead).toMatchObject({ aggregateId: 'L-bad', version: 2, attempts: 3 });
    expect(dead?.lastError).toMatch(/downstream rejects this one/);
    await waitUntil(() => delivered.includes('L-ok@2'), 10_000, 'the healthy aggregate');
    expect(delivered.filter((d) => d.startsWith('L-bad'))).toEqual(['L-bad@1']);
    const monitor = await app.get(OutboxMonitor).status();
    expect(monitor).toEqual([expect.objectContaining({ handler: 'picky', deadLettered: 1, pending: 1 })]);

    broken.ledger = 'none';
    expect(await admin.redrive('picky')).toBe(1);
    await waitUntil(() => delivered.includes('L-bad@3'), 10_000, 'the re-driven aggregate');
    expect(delivered.filter((d) => d.startsWith('L-bad'))).toEqual(['L-bad@1', 'L-bad@2', 'L-bad@3']);
  });

  it('gives a handler added later with startFrom beginning the whole history, in order', async () => {
    const first = await boot([]);
    for (const id of ['A', 'B']) {
      await first.get(CommandBus).execute(new OpenLedger(id, id));
      for (let i = 0; i < 4; i++) await first.get(CommandBus).execute(new Post(id, 1));
    }
    const delivered: string[] = [];
    @Injectable()
    @OutboxHandler({ name: 'late', events: '*', startFrom: 'beginning' })
    class Late implements OutboxPublisher {
      async publish(batch: readonly OutboxMessage[]): Promise<void> {
        delivered.push(...batch.map((m) => `${m.aggregateId}@${m.version}`));
      }
    }
    const second = await boot([Late]);
    await second.get(CommandBus).execute(new Post('A', 1));
    await waitUntil(() => delivered.length >= 11, 10_000, 'history and the new event');
    expect(delivered.filter((d) => d.startsWith('A@'))).toEqual(['A@1', 'A@2', 'A@3', 'A@4', 'A@5', 'A@6']);
    expect(delivered.filter((d) => d.startsWith('B@'))).toEqual(['B@1', 'B@2', 'B@3', 'B@4', 'B@5']);
  });

  it('wakes on NOTIFY: with polling effectively off, a committed event is still relayed', async () => {
    const delivered: string[] = [];
    @Injectable()
    @OutboxHandler({ name: 'notified', events: '*' })
    class Notified implements OutboxPublisher {
      async publish(batch: readonly OutboxMessage[]): Promise<void> {
        delivered.push(...batch.map((m) => `${m.aggregateId}@${m.version}`));
      }
    }
    const app = await boot([Notified], { pollIntervalMs: 3_600_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await app.get(CommandBus).execute(new OpenLedger('N1', 'x'));
    await waitUntil(() => delivered.includes('N1@1'), 10_000, 'the notified relay');
  });

  it('graceful shutdown finishes the batch in flight and leaves no entry leased', async () => {
    const delivered: string[] = [];
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    @Injectable()
    @OutboxHandler({ name: 'slow', events: '*' })
    class Slow implements OutboxPublisher {
      async publish(batch: readonly OutboxMessage[]): Promise<void> {
        entered();
        await new Promise((resolve) => setTimeout(resolve, 300));
        delivered.push(...batch.map((m) => `${m.aggregateId}@${m.version}`));
      }
    }
    const app = await boot([Slow]);
    const observer = await boot([], { relay: false });
    await app.get(CommandBus).execute(new OpenLedger('S1', 'x'));
    await inside;
    expect((await store(observer).stats('slow'))[0]).toMatchObject({ leased: 1 });
    await apps.closeOne(app);
    expect(delivered).toEqual(['S1@1']);
    expect((await store(observer).stats('slow'))[0]).toMatchObject({ leased: 0, pending: 0 });
  });
});
